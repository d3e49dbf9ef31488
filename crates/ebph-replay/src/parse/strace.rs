//! `strace`: the output of `strace -f -o FILE`, one call per line, by name.
//!
//! Each line may start with a process id (`1234  `, or `[pid 1234] ` as strace prints on a
//! terminal) and a timestamp (`-t`, `-tt`, `-ttt`, `-r`). A call interrupted by another
//! process's output is printed twice (`... <unfinished ...>` then `<... NAME resumed>`); it
//! counts once, where it started. Signal lines (`--- SIGCHLD ... ---`), exit lines
//! (`+++ exited with 0 +++`), strace's own messages and `-k` stack frames are skipped: strace
//! cannot tell whether a signal ran a handler, so no signal frame is pushed.
//!
//! Beside the calls, the text shows what a profile learns with `watch-execs` and
//! `watch-endpoints` ([`Observed`]):
//! - an `execve` or `execveat` that returned 0 executed the program at its path. The first
//!   call of the trace, when it is one, is not counted: it started the traced program (strace
//!   ran it), it is not something the program did. The process's later calls are the new
//!   program's, and so are the processes forked by it after that, and theirs: they are left
//!   out (they belong to other programs' profiles). A trace of a shell script thus holds the
//!   shell's own calls, and the programs it runs are its execs;
//! - the address of a `connect` or `bind`, printed as strace decodes it
//!   (`{sa_family=AF_INET, sin_port=htons(5432), sin_addr=inet_addr("127.0.0.1")}`), is an
//!   endpoint, whatever the call returned (the engine sees the call as it starts). Other
//!   families, and addresses strace did not decode, are not endpoints.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ebph_core::{Arch, Direction, Endpoint, Syscall};

use super::{shown, Observed, ProcessTrace, Processes};
use crate::ParseError;

pub(super) fn parse(text: &[u8], arch: Arch) -> Result<Vec<ProcessTrace>, ParseError> {
    let mut processes = Processes::default();
    let mut lineage = Lineage::default();
    // Execs printed as unfinished, by process: the path, until the result shows.
    let mut execs: HashMap<Option<u32>, String> = HashMap::new();
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = String::from_utf8_lossy(raw);
        match line_of(&line).map_err(|m| ParseError::new(line_no, m))? {
            Line::Skip => {}
            Line::Resumed { pid, name, rest } => {
                if is_fork(name) {
                    lineage.forked(pid, result(rest));
                } else if is_exec(name) {
                    if let Some(path) = execs.remove(&pid) {
                        if result(rest) == Some("0") {
                            processes.observe(pid, Observed::Exec(path));
                            lineage.execed.insert(pid);
                        }
                    }
                }
            }
            Line::Call { pid, name, args } => {
                let mut call = arch.number(name).ok_or_else(|| {
                    ParseError::new(
                        line_no,
                        format!("unknown system call {name:?} for {arch} (is --arch right?)"),
                    )
                })?;
                if call == arch.mmap() && grows_the_heap(args) {
                    call = Syscall::HEAP_MMAP;
                }
                if is_fork(name) {
                    lineage.forking(pid);
                    if !unfinished(args) {
                        lineage.forked(pid, result(args));
                    }
                }
                if lineage.execed.contains(&pid) {
                    // Another program's call.
                    continue;
                }
                processes.push(pid, call);
                if is_exec(name) {
                    let Some(path) = exec_path(name, args) else {
                        continue;
                    };
                    if processes.at_first_call(pid) {
                        continue;
                    }
                    if unfinished(args) {
                        execs.insert(pid, path);
                    } else if result(args) == Some("0") {
                        processes.observe(pid, Observed::Exec(path));
                        lineage.execed.insert(pid);
                    }
                } else if let Some(direction) = ebph_core::endpoint_direction(name) {
                    if let Some(e) = endpoint_of(name, direction, args) {
                        processes.observe(pid, Observed::Endpoint(e));
                    }
                }
            }
        }
    }
    let mut traces = processes.finish();
    traces.retain(|t| !lineage.runs_another_program(t.pid));
    Ok(traces)
}

/// Which processes run the traced program. A process that executes another program runs it
/// from then on; a process forked by one that had done so, or by such a process, never ran
/// the traced program. (A child's lines may come before its parent's fork returns, so this
/// is settled at the end.)
#[derive(Default)]
struct Lineage {
    /// Processes that executed another program.
    execed: HashSet<Option<u32>>,
    /// Forks not yet returned, by process: whether it had executed another program.
    forking: HashMap<Option<u32>, bool>,
    /// Each child's parent, and whether the parent had executed another program by then.
    parents: HashMap<u32, (Option<u32>, bool)>,
}

impl Lineage {
    /// `pid` starts a fork (`clone`, `fork`, ...).
    fn forking(&mut self, pid: Option<u32>) {
        let execed = self.execed.contains(&pid);
        self.forking.insert(pid, execed);
    }

    /// `pid`'s fork returned `result`: a child's id, or an error.
    fn forked(&mut self, pid: Option<u32>, result: Option<&str>) {
        let Some(execed) = self.forking.remove(&pid) else {
            return;
        };
        if let Some(child) = result
            .and_then(|r| r.parse::<u32>().ok())
            .filter(|&c| c > 0)
        {
            self.parents.insert(child, (pid, execed));
        }
    }

    fn runs_another_program(&self, pid: Option<u32>) -> bool {
        let mut pid = pid;
        // Bounded: a trace that reuses process ids could make a loop.
        for _ in 0..=self.parents.len() {
            match pid.and_then(|p| self.parents.get(&p)) {
                Some(&(_, true)) => return true,
                Some(&(parent, false)) => pid = parent,
                None => return false,
            }
        }
        false
    }
}

/// What a line of strace's output is.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    /// A call starts: its process, its name and the rest of the line after `NAME(`.
    Call {
        pid: Option<u32>,
        name: &'a str,
        args: &'a str,
    },
    /// An unfinished call of `pid` resumes: the rest of the line after `resumed>`.
    Resumed {
        pid: Option<u32>,
        name: &'a str,
        rest: &'a str,
    },
    /// Anything else (signals, exits, strace's messages, stack frames, empty lines).
    Skip,
}

/// Reads one line.
fn line_of(line: &str) -> Result<Line<'_>, String> {
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
    if let Some(resumed) = rest.strip_prefix("<...") {
        return Ok(match resumed.trim_start().split_once(" resumed>") {
            Some((name, rest)) => Line::Resumed { pid, name, rest },
            None => Line::Skip,
        });
    }
    if rest.is_empty()
        || ["---", "+++", "strace:", ">"]
            .iter()
            .any(|p| rest.starts_with(p))
    {
        return Ok(Line::Skip);
    }
    match rest.split_once('(') {
        Some((name, args)) if is_call_name(name) => Ok(Line::Call { pid, name, args }),
        _ => Err(format!(
            "expected a system call like \"read(...) = 0\", found {}",
            shown(rest.as_bytes())
        )),
    }
}

fn is_exec(name: &str) -> bool {
    name == "execve" || name == "execveat"
}

fn is_fork(name: &str) -> bool {
    matches!(name, "clone" | "clone3" | "fork" | "vfork")
}

/// Whether the call whose line ends with `tail` has not returned yet.
fn unfinished(tail: &str) -> bool {
    tail.trim_end().ends_with("<unfinished ...>")
}

/// What the call whose line ends with `tail` returned (`0`, `-1`, `1234`, `?`); `None` when
/// it has not returned yet or the line shows no result.
fn result(tail: &str) -> Option<&str> {
    if unfinished(tail) {
        return None;
    }
    let (_, result) = tail
        .rsplit_once(") = ")
        .or_else(|| tail.rsplit_once(" = "))?;
    result.split_whitespace().next()
}

/// The path an `execve` (first argument) or `execveat` (second) names; `None` when strace
/// did not print it as a string. An empty `execveat` path (`AT_EMPTY_PATH`) names its
/// directory descriptor.
fn exec_path(name: &str, args: &str) -> Option<String> {
    let (fd, args) = if name == "execveat" {
        let (fd, rest) = args.split_once(',')?;
        (Some(fd.trim()), rest.trim_start())
    } else {
        (None, args)
    };
    let path = quoted(args)?;
    Some(match fd {
        Some(fd) if path.is_empty() => format!("(descriptor {fd})"),
        _ => path,
    })
}

/// What follows the C string strace printed at the start of `s` (`"..."`, with its escapes,
/// and the `...` of one it cut short).
fn after_quoted(s: &str) -> Option<&str> {
    let body = s.strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(&body[i + 1..]),
            _ => {}
        }
    }
    None
}

/// The C string strace printed at the start of `s` (`"..."`, with its escapes), undone.
fn quoted(s: &str) -> Option<String> {
    let mut bytes = Vec::new();
    let mut it = s.strip_prefix('"')?.bytes().peekable();
    loop {
        match it.next()? {
            b'"' => break,
            b'\\' => {
                let b = it.next()?;
                let byte = match b {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'v' => 0x0b,
                    b'f' => 0x0c,
                    b'x' => {
                        let hex = [it.next()?, it.next()?];
                        u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?
                    }
                    b'0'..=b'7' => {
                        let mut n = u32::from(b - b'0');
                        for _ in 0..2 {
                            match it.peek() {
                                Some(&d @ b'0'..=b'7') => {
                                    n = n * 8 + u32::from(d - b'0');
                                    it.next();
                                }
                                _ => break,
                            }
                        }
                        u8::try_from(n).ok()?
                    }
                    other => other,
                };
                bytes.push(byte);
            }
            b => bytes.push(b),
        }
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether an `mmap` with arguments `args` (`NULL, 135168, PROT_READ|PROT_WRITE,
/// MAP_PRIVATE|MAP_ANONYMOUS, -1, 0`) grows the heap ([`ebph_core::is_heap_mmap`]).
fn grows_the_heap(args: &str) -> bool {
    let mut fields = args.split(", ");
    let (Some(prot), Some(flags)) = (fields.nth(2), fields.next()) else {
        return false;
    };
    let bits = |text: &str| {
        text.split('|')
            .map(|name| match name.trim() {
                "PROT_EXEC" => ebph_core::PROT_EXEC,
                "MAP_FIXED" => ebph_core::MAP_FIXED,
                "MAP_ANONYMOUS" | "MAP_ANON" => ebph_core::MAP_ANONYMOUS,
                "MAP_FIXED_NOREPLACE" => ebph_core::MAP_FIXED_NOREPLACE,
                other => other
                    .strip_prefix("0x")
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                    .unwrap_or(0),
            })
            .fold(0, |all, bit| all | bit)
    };
    ebph_core::is_heap_mmap(bits(prot), bits(flags))
}

/// The endpoint in the address strace decoded for call `name` (one that may name one, see
/// [`ebph_core::endpoint_direction`]): `connect`'s and `bind`'s address, `sendto`'s
/// destination (after the data, which is the program's to write and so is not searched),
/// `sendmsg`'s `msg_name` and that of `sendmmsg`'s first message.
fn endpoint_of(name: &str, direction: Direction, args: &str) -> Option<Endpoint> {
    let args = match name {
        "sendto" => after_quoted(args.split_once(", ")?.1)?,
        // The message header follows the descriptor at once, its name first; the data,
        // which may say anything, comes after.
        "sendmsg" => args.split_once(", ")?.1.strip_prefix("{msg_name={")?,
        "sendmmsg" => args
            .split_once(", ")?
            .1
            .strip_prefix("[{msg_hdr={msg_name={")?,
        _ => args,
    };
    let family = field(args, "sa_family=", [',', '}'])?;
    let address: IpAddr = match family {
        "AF_INET" => field(args, "inet_addr(\"", ['"'])?.parse().ok()?,
        "AF_INET6" => field(args, "inet_pton(AF_INET6, \"", ['"'])?.parse().ok()?,
        _ => return None,
    };
    let port = field(args, "_port=htons(", [')'])?.parse().ok()?;
    Some(Endpoint::of_address(direction, address, port))
}

/// The text after the first `start` in `s`, up to the first of `ends`.
fn field<'a, const N: usize>(s: &'a str, start: &str, ends: [char; N]) -> Option<&'a str> {
    let (_, after) = s.split_once(start)?;
    let end = after.find(ends)?;
    Some(&after[..end])
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

    /// Each process and its observations, as (call index, text).
    type Seen = Vec<(Option<u32>, Vec<(usize, String)>)>;

    fn observed(text: &str) -> Seen {
        parse(text.as_bytes(), Arch::X86_64)
            .unwrap()
            .into_iter()
            .map(|t| {
                let seen = t
                    .observations
                    .iter()
                    .map(|o| (o.call, o.what.to_string()))
                    .collect();
                (t.pid, seen)
            })
            .collect()
    }

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

    #[test]
    fn execs_that_succeed_are_observed_but_not_the_traced_program_s_own() {
        let text = "100   execve(\"/srv/service\", [\"service\"], 0x7ffd /* 9 vars */) = 0\n\
                    100   clone(child_stack=NULL, flags=SIGCHLD) = 101\n\
                    101   execve(\"/bin/sh\", [\"sh\", \"-c\", \"id\"], 0x7ffd /* 9 vars */ <unfinished ...>\n\
                    100   execve(\"/nope\", [\"nope\"], 0x7ffd /* 9 vars */) = -1 ENOENT (No such file or directory)\n\
                    101   <... execve resumed>)      = 0\n\
                    101   brk(NULL) = 0x55d1\n\
                    101   clone(child_stack=NULL, flags=SIGCHLD) = 103\n\
                    103   getpid() = 103\n\
                    100   vfork( <unfinished ...>\n\
                    102   execve(\"/tmp/we\\\"ird\\303\\251 \\x41\", [], NULL) = 0 <0.000123>\n\
                    102   brk(NULL) = 0x55d1\n\
                    100   <... vfork resumed>) = 102\n\
                    100   execveat(3, \"\", [\"x\"], 0x7ffd /* 9 vars */, AT_EMPTY_PATH) = 0\n\
                    100   getpid() = 100\n";
        assert_eq!(
            observed(text),
            [
                (Some(100), vec![(4, "exec (descriptor 3)".into())]),
                (Some(101), vec![(0, "exec /bin/sh".into())]),
                (Some(102), vec![(0, "exec /tmp/we\"irdé A".into())]),
            ]
        );
        // After its exec a process's calls are the new program's, and 103 is sh's child.
        let got = calls(text).unwrap();
        let lengths: Vec<_> = got.iter().map(|(pid, c)| (*pid, c.len())).collect();
        assert_eq!(lengths, [(Some(100), 5), (Some(101), 1), (Some(102), 1)]);
    }

    #[test]
    fn a_failed_exec_resumed_later_is_not_observed() {
        let text = "7 execve(\"/bin/sh\", [\"sh\"], 0x1 <unfinished ...>\n\
                    8 getpid() = 8\n\
                    7 <... execve resumed>) = -1 EACCES (Permission denied)\n";
        assert_eq!(observed(text), [(Some(7), vec![]), (Some(8), vec![])]);
    }

    #[test]
    fn connect_and_bind_addresses_are_endpoints() {
        let text = "socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n\
                    connect(3, {sa_family=AF_INET, sin_port=htons(5432), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0\n\
                    connect(3, {sa_family=AF_INET, sin_port=htons(4444), sin_addr=inet_addr(\"93.184.216.34\")}, 16 <unfinished ...>\n\
                    bind(4, {sa_family=AF_INET6, sin6_port=htons(8080), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::\", &sin6_addr), sin6_scope_id=0}, 28) = 0\n\
                    connect(5, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::ffff:10.0.0.1\", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED (Connection refused)\n\
                    connect(6, {sa_family=AF_UNIX, sun_path=\"/run/nscd/socket\"}, 110) = -1 ENOENT\n\
                    connect(7, 0x7ffd1234, 16) = 0\n\
                    bind(8, {sa_family=AF_INET, sin_port=htons(99999), sin_addr=inet_addr(\"1.2.3.4\")}, 16) = 0\n";
        assert_eq!(
            observed(text),
            [(
                None,
                vec![
                    (1, "connect inet loopback:5432".into()),
                    (2, "connect inet public:4444".into()),
                    (3, "bind inet6 any:8080".into()),
                    (4, "connect inet6 private:53".into()),
                ]
            )]
        );
    }

    #[test]
    fn sends_with_an_address_are_endpoints_and_the_data_is_never_read_as_one() {
        let text = "sendto(3, \"\\x12\\x34\", 2, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 2\n\
                    sendto(4, \"abc\", 3, MSG_FASTOPEN, {sa_family=AF_INET, sin_port=htons(8443), sin_addr=inet_addr(\"10.1.2.3\")}, 16) = 3\n\
                    sendto(5, \"{sa_family=AF_INET, sin_port=htons(7), sin_addr=inet_addr(\\\"8.8.8.8\\\")} \\\"\", 60, 0, NULL, 0) = 60\n\
                    sendmsg(6, {msg_name={sa_family=AF_INET6, sin6_port=htons(123), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}, msg_namelen=28, msg_iov=[{iov_base=\"x\", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 1\n\
                    sendmsg(7, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"msg_name={sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\\\"8.8.8.8\\\")}\", iov_len=60}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 60\n\
                    sendmmsg(8, [{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(5353), sin_addr=inet_addr(\"224.0.0.251\")}, msg_namelen=16, msg_iov=[{iov_base=\"q\", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=1}], 1, 0) = 1\n\
                    sendto(9, \"abc\", 3, 0, NULL, 0) = 3\n";
        assert_eq!(
            observed(text),
            [(
                None,
                vec![
                    (0, "connect inet loopback:53".into()),
                    (1, "connect inet private:8443".into()),
                    (3, "connect inet6 loopback:123".into()),
                    (5, "connect inet multicast:5353".into()),
                ]
            )]
        );
    }

    #[test]
    fn an_mmap_that_grows_the_heap_is_told_apart() {
        let text = "mmap(NULL, 135168, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f00\n\
                    mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = 0x7f00\n\
                    mmap(NULL, 4096, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f00\n\
                    mmap(0x7f10, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) = 0x7f10\n\
                    mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f00\n\
                    mmap(NULL, 4096, PROT_READ|PROT_WRITE, 0x22, -1, 0) = 0x7f00\n";
        let traces = parse(text.as_bytes(), Arch::X86_64).unwrap();
        let heap: Vec<bool> = traces[0]
            .calls
            .iter()
            .map(|&c| c == Syscall::HEAP_MMAP)
            .collect();
        assert_eq!(heap, [true, true, false, false, false, true]);
        assert!(traces[0]
            .calls
            .iter()
            .all(|&c| c == Syscall::HEAP_MMAP || c == Arch::X86_64.mmap()));
    }
}
