//! `adfa`: one process per file, system-call numbers separated by white space.

use super::{syscall_number, ProcessTrace};
use crate::ParseError;

pub(super) fn parse(text: &[u8]) -> Result<Vec<ProcessTrace>, ParseError> {
    let mut calls = Vec::with_capacity(text.len() / 3);
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        for token in line
            .split(u8::is_ascii_whitespace)
            .filter(|t| !t.is_empty())
        {
            calls.push(syscall_number(token, i + 1)?);
        }
    }
    Ok(vec![ProcessTrace::of_calls(calls)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nrs(text: &str) -> Result<Vec<u16>, ParseError> {
        let traces = parse(text.as_bytes())?;
        assert_eq!(traces.len(), 1);
        Ok(traces[0].calls.iter().map(|c| c.nr()).collect())
    }

    #[test]
    fn reads_numbers_across_lines_and_spaces() {
        assert_eq!(
            nrs("6 6 63 6 42 \n120 6\t195\r\n").unwrap(),
            [6, 6, 63, 6, 42, 120, 6, 195]
        );
        assert_eq!(nrs("").unwrap(), Vec::<u16>::new());
        assert_eq!(nrs("\n\n  \n").unwrap(), Vec::<u16>::new());
    }

    #[test]
    fn malformed_files_name_the_line() {
        let err = nrs("1 2 3\n4 five 6\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.message.contains("\"five\" is not a system-call number"),
            "{err}"
        );
        let err = nrs("1\n2\n\n600").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.message.contains("out of range"), "{err}");
        assert_eq!(nrs("-3").unwrap_err().line, 1);
        assert_eq!(nrs("3,4").unwrap_err().line, 1);
    }
}
