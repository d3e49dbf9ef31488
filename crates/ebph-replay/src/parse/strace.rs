//! `strace`: the output of `strace -f -o FILE`, one call per line, by name.
//!
//! Each line may start with a process id (`1234  `, or `[pid 1234] ` as strace prints on a
//! terminal) and a timestamp (`-t`, `-tt`, `-ttt`, `-r`). A call interrupted by another
//! process's output is printed twice (`... <unfinished ...>` then `<... NAME resumed>`); it
//! counts once, where it started. Signal lines (`--- SIGCHLD ... ---`), exit lines
//! (`+++ exited with 0 +++`), strace's own messages and `-k` stack frames are skipped: strace
//! cannot tell whether a signal ran a handler, so no signal frame is pushed.

use ebph_core::Arch;

use super::{shown, ProcessTrace, Processes};
use crate::ParseError;

pub(super) fn parse(text: &[u8], arch: Arch) -> Result<Vec<ProcessTrace>, ParseError> {
    let mut processes = Processes::default();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = String::from_utf8_lossy(raw);
        let Some((pid, name)) = call_of(&line).map_err(|m| ParseError::new(line_no, m))? else {
            continue;
        };
        let call = arch.number(name).ok_or_else(|| {
            ParseError::new(
                line_no,
                format!("unknown system call {name:?} for {arch} (is --arch right?)"),
            )
        })?;
        processes.push(pid, call);
    }
    Ok(processes.finish())
}

/// The process id and call name of a line that starts a call; `None` for lines to skip.
fn call_of(line: &str) -> Result<Option<(Option<u32>, &str)>, String> {
    let mut rest = line.trim();
    let mut pid = None;
    if let Some(after) = rest.strip_prefix("[pid") {
        let (number, after) = after
            .split_once(']')
            .ok_or_else(|| format!("unclosed \"[pid\" in {}", shown(line.as_bytes())))?;
        pid = Some(process_id(number.trim(), line)?);
        rest = after.trim_start();
    } else if let Some((number, after)) = leading_token(rest, |c| c.is_ascii_digit()) {
        pid = Some(process_id(number, line)?);
        rest = after;
    }
    if let Some((stamp, after)) =
        leading_token(rest, |c| c.is_ascii_digit() || c == ':' || c == '.')
    {
        if stamp.contains([':', '.']) {
            rest = after;
        }
    }
    if rest.is_empty()
        || ["---", "+++", "<...", "strace:", ">"]
            .iter()
            .any(|p| rest.starts_with(p))
    {
        return Ok(None);
    }
    let name = match rest.split_once('(') {
        Some((name, _)) if is_call_name(name) => name,
        _ => {
            return Err(format!(
                "expected a system call like \"read(...) = 0\", found {}",
                shown(rest.as_bytes())
            ))
        }
    };
    Ok(Some((pid, name)))
}

/// Splits off a leading run of characters matching `keep` that is followed by white space.
fn leading_token(s: &str, keep: impl Fn(char) -> bool) -> Option<(&str, &str)> {
    let end = s.find(|c: char| !keep(c)).unwrap_or(s.len());
    let after = &s[end..];
    (end > 0 && after.starts_with([' ', '\t'])).then(|| (&s[..end], after.trim_start()))
}

fn process_id(number: &str, line: &str) -> Result<u32, String> {
    number
        .parse()
        .map_err(|_| format!("bad process id {number:?} in {}", shown(line.as_bytes())))
}

fn is_call_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    type Named = Vec<(Option<u32>, Vec<String>)>;

    fn calls(text: &str) -> Result<Named, ParseError> {
        Ok(parse(text.as_bytes(), Arch::X86_64)?
            .into_iter()
            .map(|t| {
                let names = t
                    .calls
                    .iter()
                    .map(|&c| Arch::X86_64.display_name(c))
                    .collect();
                (t.pid, names)
            })
            .collect())
    }

    #[test]
    fn reads_a_single_process_without_pids() {
        let text = "execve(\"/bin/true\", [\"true\"], 0x7ffd /* 20 vars */) = 0\n\
                    brk(NULL)                               = 0x55d1\n\
                    exit_group(0)                           = ?\n\
                    +++ exited with 0 +++\n";
        let got = calls(text).unwrap();
        assert_eq!(
            got,
            [(
                None,
                vec!["execve".into(), "brk".into(), "exit_group".into()]
            )]
        );
    }

    #[test]
    fn follows_forked_processes_and_resumed_calls() {
        let text = "100   clone(child_stack=NULL, flags=SIGCHLD) = 101\n\
                    101   getpid( <unfinished ...>\n\
                    100   wait4(-1,  <unfinished ...>\n\
                    101   <... getpid resumed>)      = 101\n\
                    101   exit_group(0)             = ?\n\
                    101   +++ exited with 0 +++\n\
                    100   <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 101\n\
                    100   --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101} ---\n\
                    [pid   100] rt_sigreturn({mask=[]}) = 101\n";
        let got = calls(text).unwrap();
        assert_eq!(
            got,
            [
                (
                    Some(100),
                    vec!["clone".into(), "wait4".into(), "rt_sigreturn".into()]
                ),
                (Some(101), vec!["getpid".into(), "exit_group".into()]),
            ]
        );
    }

    #[test]
    fn skips_timestamps_and_strace_messages() {
        let text = "200 12:00:01.123456 read(3, \"\", 4096) = 0\n\
                    200 1700000000.000001 close(3) = 0\n\
                    strace: Process 201 attached\n\
                    201      0.000123 getuid() = 0\n\
                    10:11:12 write(1, \"x\", 1) = 1\n\
                    1700000000.5 syscall_0x1f0(0x1) = -1 ENOSYS\n";
        let got = calls(text).unwrap();
        assert_eq!(got[0], (Some(200), vec!["read".into(), "close".into()]));
        assert_eq!(got[1], (Some(201), vec!["getuid".into()]));
        assert_eq!(got[2], (None, vec!["write".into(), "syscall_496".into()]));
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let cases = [
            ("read(0) = 0\nhello world\n", 2, "expected a system call"),
            (
                "read(0) = 0\nfrobnicate(1) = 0\n",
                2,
                "unknown system call \"frobnicate\"",
            ),
            ("[pid 12 read(0) = 0\n", 1, "unclosed"),
            ("99999999999 read(0) = 0\n", 1, "bad process id"),
            (
                "read(0) = 0\n\n\nsyscall_0x999(1) = 0\n",
                4,
                "unknown system call",
            ),
        ];
        for (text, line, message) in cases {
            let err = calls(text).unwrap_err();
            assert_eq!(err.line, line, "{err}");
            assert!(err.message.contains(message), "{err}");
        }
    }

    #[test]
    fn names_follow_the_chosen_architecture() {
        let traces = parse(b"openat(AT_FDCWD, \"x\", O_RDONLY) = 3\n", Arch::I386).unwrap();
        assert_eq!(traces[0].calls[0].nr(), 295);
    }
}
