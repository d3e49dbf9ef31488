//! `unm`: lines of `PID SYSCALL_NUMBER`; processes may interleave.

use super::{decimal, shown, syscall_number, ProcessTrace, Processes};
use crate::ParseError;

pub(super) fn parse(text: &[u8]) -> Result<Vec<ProcessTrace>, ParseError> {
    let mut processes = Processes::default();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let mut tokens = line
            .split(u8::is_ascii_whitespace)
            .filter(|t| !t.is_empty());
        let (pid, call) = match (tokens.next(), tokens.next(), tokens.next()) {
            (None, _, _) => continue,
            (Some(pid), Some(call), None) => (pid, call),
            _ => {
                return Err(ParseError::new(
                    line_no,
                    format!(
                        "expected \"PID SYSCALL\", found {}",
                        shown(line.trim_ascii())
                    ),
                ))
            }
        };
        let pid = decimal(pid)
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(|| {
                ParseError::new(line_no, format!("{} is not a process id", shown(pid)))
            })?;
        processes.push(Some(pid), syscall_number(call, line_no)?);
    }
    Ok(processes.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_interleaved_processes_in_order_of_appearance() {
        let text = b"509 90\n509 125\n510 5\n509\t106\r\n\n510 3\n";
        let traces = parse(text).unwrap();
        let got: Vec<(Option<u32>, Vec<u16>)> = traces
            .iter()
            .map(|t| (t.pid, t.calls.iter().map(|c| c.nr()).collect()))
            .collect();
        assert_eq!(
            got,
            [(Some(509), vec![90, 125, 106]), (Some(510), vec![5, 3])]
        );
    }

    #[test]
    fn empty_text_has_no_process() {
        assert!(parse(b"").unwrap().is_empty());
        assert!(parse(b"\n \n").unwrap().is_empty());
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases: [(&[u8], usize, &str); 6] = [
            (b"1 2\n3\n", 2, "expected \"PID SYSCALL\", found \"3\""),
            (b"1 2\n1 2 3\n", 2, "expected \"PID SYSCALL\""),
            (b"x 2\n", 1, "\"x\" is not a process id"),
            (b"99999999999 2\n", 1, "is not a process id"),
            (
                b"1 2\n\n1 read\n",
                3,
                "\"read\" is not a system-call number",
            ),
            (b"1 512\n", 1, "out of range"),
        ];
        for (text, line, message) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{err}");
            assert!(err.message.contains(message), "{err}");
        }
    }
}
