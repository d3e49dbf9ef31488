//! Parsing recorded traces into processes' system-call sequences.

mod adfa;
mod strace;
mod unm;

use std::collections::HashMap;
use std::fmt;

use ebph_core::{Arch, Endpoint, Syscall};

use crate::{Format, ParseError};

/// The calls one process made, in order, and what else it was seen to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessTrace {
    /// The process id the trace gave, if the format names processes.
    pub pid: Option<u32>,
    /// The calls, oldest first.
    pub calls: Vec<Syscall>,
    /// What the process did beyond its calls, in order (only `strace` traces show it).
    pub observations: Vec<Observation>,
}

impl ProcessTrace {
    /// A process known only by its calls.
    pub fn of_calls(calls: Vec<Syscall>) -> ProcessTrace {
        ProcessTrace {
            pid: None,
            calls,
            observations: Vec::new(),
        }
    }
}

/// Something a process did, seen at one of its calls, that a profile learns beside the order
/// of calls (the `watch-execs` and `watch-endpoints` settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The index in [`ProcessTrace::calls`] of the call that did it (`execve`, `connect`,
    /// ...).
    pub call: usize,
    /// What it did.
    pub what: Observed,
}

/// What an [`Observation`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The process executed the program at this path: an exec that succeeded. Its later calls
    /// belong to that program's profile, so a parsed trace ends the process here.
    Exec(String),
    /// The process bound, connected or sent to this endpoint.
    Endpoint(Endpoint),
}

impl serde::Serialize for Observed {
    /// As it is shown: `"exec /bin/sh"`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Observed {
    /// `exec /bin/sh`, `connect inet public:4444`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observed::Exec(path) => write!(f, "exec {path}"),
            Observed::Endpoint(e) => write!(f, "{e}"),
        }
    }
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
        let i = self.index_of(pid);
        self.traces[i].calls.push(call);
    }

    /// Notes what process `pid`'s latest call did.
    fn observe(&mut self, pid: Option<u32>, what: Observed) {
        let i = self.index_of(pid);
        let trace = &mut self.traces[i];
        let call = trace.calls.len().saturating_sub(1);
        trace.observations.push(Observation { call, what });
    }

    /// Whether process `pid` has made exactly one call and was the first process seen: the
    /// trace's first call.
    fn at_first_call(&self, pid: Option<u32>) -> bool {
        self.traces.len() == 1 && self.traces[0].pid == pid && self.traces[0].calls.len() == 1
    }

    #[inline]
    fn index_of(&mut self, pid: Option<u32>) -> usize {
        match self.last {
            Some((last, i)) if last == pid => i,
            _ => {
                let traces = &mut self.traces;
                let i = *self.index.entry(pid).or_insert_with(|| {
                    traces.push(ProcessTrace {
                        pid,
                        ..ProcessTrace::default()
                    });
                    traces.len() - 1
                });
                self.last = Some((pid, i));
                i
            }
        }
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
