//! The trace formats ebph reads.

use std::fmt;
use std::str::FromStr;

/// A format of recorded system-call traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// One process per file: system-call numbers separated by white space (the ADFA-LD data
    /// set's layout).
    Adfa,
    /// Lines of `PID SYSCALL_NUMBER`; several processes may interleave in one file (the UNM
    /// data sets' layout).
    Unm,
    /// The text that `strace -f -o FILE` writes: one call per line, by name, each line
    /// starting with the process id when several processes were traced.
    Strace,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Adfa, Format::Unm, Format::Strace];

    /// The format's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Adfa => "adfa",
            Format::Unm => "unm",
            Format::Strace => "strace",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown trace format {s:?} (expected adfa, unm or strace)"))
    }
}
