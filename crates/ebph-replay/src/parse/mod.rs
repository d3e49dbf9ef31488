//! Parsing recorded traces into processes' system-call sequences.

mod adfa;
mod strace;
mod unm;

use std::collections::HashMap;

use ebph_core::{Arch, Syscall};

use crate::{Format, ParseError};

/// The calls one process made, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessTrace {
    /// The process id the trace gave, if the format names processes.
    pub pid: Option<u32>,
    /// The calls, oldest first.
    pub calls: Vec<Syscall>,
}

/// Parses the text of one trace file into its processes, in order of first appearance.
///
/// `arch` gives the numbering of calls named in the text (`strace`); numbers in `adfa` and
/// `unm` are taken as they are. Every call must be below [`ebph_core::MAX_SYSCALLS`].
pub fn parse(format: Format, text: &[u8], arch: Arch) -> Result<Vec<ProcessTrace>, ParseError> {
    match format {
        Format::Adfa => adfa::parse(text),
        Format::Unm => unm::parse(text),
        Format::Strace => strace::parse(text, arch),
    }
}

/// Collects calls into per-process traces, in order of each process's first call.
#[derive(Default)]
struct Processes {
    traces: Vec<ProcessTrace>,
    index: HashMap<Option<u32>, usize>,
    /// The last process seen and its index: consecutive lines mostly share a process.
    last: Option<(Option<u32>, usize)>,
}

impl Processes {
    #[inline]
    fn push(&mut self, pid: Option<u32>, call: Syscall) {
        let i = match self.last {
            Some((last, i)) if last == pid => i,
            _ => {
                let traces = &mut self.traces;
                let i = *self.index.entry(pid).or_insert_with(|| {
                    traces.push(ProcessTrace {
                        pid,
                        calls: Vec::new(),
                    });
                    traces.len() - 1
                });
                self.last = Some((pid, i));
                i
            }
        };
        self.traces[i].calls.push(call);
    }

    fn finish(self) -> Vec<ProcessTrace> {
        self.traces
    }
}

/// Shows a piece of a malformed line, shortened and made printable.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('…');
    }
    format!("{s:?}")
}

/// A decimal system-call number.
#[inline]
fn syscall_number(token: &[u8], line: usize) -> Result<Syscall, ParseError> {
    let number = decimal(token).ok_or_else(|| {
        ParseError::new(
            line,
            format!("{} is not a system-call number", shown(token)),
        )
    })?;
    Syscall::from_u64(number).ok_or_else(|| {
        ParseError::new(
            line,
            format!(
                "system-call number {number} is out of range (0..={})",
                ebph_core::MAX_SYSCALLS - 1
            ),
        )
    })
}

/// A decimal number of at most 18 digits.
#[inline]
fn decimal(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 18 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in token {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"0042"), Some(42));
        assert_eq!(decimal(b""), None);
        assert_eq!(decimal(b"-1"), None);
        assert_eq!(decimal(b"1a"), None);
        assert_eq!(decimal(b"9999999999999999999"), None);
    }

    #[test]
    fn long_tokens_are_shortened_when_shown() {
        let long = [b'x'; 100];
        assert_eq!(shown(&long).chars().count(), 43);
        assert_eq!(shown(b"ab\xff"), "\"ab\u{fffd}\"");
    }
}
