//! System-call numbers and their names for the architectures ebph understands.

use std::fmt;
use std::str::FromStr;

/// Size of one dimension of a lookahead table: system-call numbers `0..MAX_SYSCALLS` are
/// tracked, but for the last three, [`Syscall::HEAP_MMAP`], [`Syscall::ENDPOINT`] and
/// [`Syscall::EXEC`]. This covers
/// every x86_64 and i386 system call of Linux 6.x; numbers outside the range (x32 calls,
/// invalid numbers) are not part of the model.
pub const MAX_SYSCALLS: usize = 512;

/// A system-call number known to be inside `0..MAX_SYSCALLS`.
///
/// Every table lookup in the model is indexed by it, so the range is checked once, here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Syscall(u16);

impl Syscall {
    /// Not a system call: the row of a lookahead table that holds what the program executed
    /// (see [`crate::exec_bits`]). No x86_64 or i386 call has this number; a call numbered so
    /// is not seen ([`crate::Settings::seen_as`]), as the kernel engine ignores it.
    pub const EXEC: Syscall = Syscall(MAX_SYSCALLS as u16 - 1);

    /// Not a system call: the row of a lookahead table that holds the network endpoints the
    /// program used (see [`crate::Endpoint`]); as for [`Syscall::EXEC`], a call numbered so
    /// is not seen.
    pub const ENDPOINT: Syscall = Syscall(MAX_SYSCALLS as u16 - 2);

    /// Not a system call: an `mmap` that grows the heap ([`crate::is_heap_mmap`]), as the
    /// kernel engine reports it, and a recorded trace where it shows. Never a row of a table:
    /// [`crate::Settings::seen_as`] drops it with `skip-heap-mmap`, and sees it as the
    /// architecture's `mmap` without.
    pub const HEAP_MMAP: Syscall = Syscall(MAX_SYSCALLS as u16 - 3);

    /// Whether this number is a row of its own ([`Syscall::EXEC`], [`Syscall::ENDPOINT`])
    /// rather than a call.
    pub fn is_pseudo(self) -> bool {
        self == Syscall::EXEC || self == Syscall::ENDPOINT
    }

    /// The call numbered `nr`, or `None` when `nr` is not below [`MAX_SYSCALLS`].
    #[inline]
    pub fn new(nr: u16) -> Option<Syscall> {
        ((nr as usize) < MAX_SYSCALLS).then_some(Syscall(nr))
    }

    /// The call numbered `nr` taken from a wider integer, or `None` when out of range.
    #[inline]
    pub fn from_u64(nr: u64) -> Option<Syscall> {
        u16::try_from(nr).ok().and_then(Syscall::new)
    }

    /// The number of this call.
    #[inline]
    pub fn nr(self) -> u16 {
        self.0
    }

    /// The number as an index into a table row.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The system-call numbering of one architecture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Arch {
    /// 64-bit x86 (`x86_64`, also called amd64).
    #[default]
    X86_64,
    /// 32-bit x86 (`i386`); also the numbering of the Linux traces of the UNM data sets.
    I386,
}

/// The error of parsing an [`Arch`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown architecture {0:?} (expected x86_64 or i386)")]
pub struct ArchParseError(pub String);

impl Arch {
    /// Every architecture, in the order they are documented.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::I386];

    /// The architecture this program was compiled for, if ebph knows its numbering.
    pub fn native() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "x86") {
            Some(Arch::I386)
        } else {
            None
        }
    }

    /// The canonical name of the architecture (`x86_64` or `i386`).
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I386 => "i386",
        }
    }

    /// The name of call `nr`, if the architecture defines one.
    pub fn name(self, nr: u16) -> Option<&'static str> {
        match self {
            Arch::X86_64 => syscalls::x86_64::Sysno::new(nr as usize).map(|s| s.name()),
            Arch::I386 => syscalls::x86::Sysno::new(nr as usize).map(|s| s.name()),
        }
    }

    /// The name of `call` for display: its name, or `syscall_N` for a number without one.
    pub fn display_name(self, call: Syscall) -> String {
        match self.name(call.nr()) {
            Some(name) => name.to_owned(),
            None => format!("syscall_{}", call.nr()),
        }
    }

    /// The call named `name`. Also accepts `syscall_N` and `syscall_0xN` for unnamed numbers,
    /// as `strace` prints them.
    pub fn number(self, name: &str) -> Option<Syscall> {
        let nr = match self {
            Arch::X86_64 => name
                .parse::<syscalls::x86_64::Sysno>()
                .ok()
                .map(|s| s.id() as u64),
            Arch::I386 => name
                .parse::<syscalls::x86::Sysno>()
                .ok()
                .map(|s| s.id() as u64),
        };
        let nr = nr.or_else(|| {
            let digits = name.strip_prefix("syscall_")?;
            match digits.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => digits.parse().ok(),
            }
        })?;
        Syscall::from_u64(nr)
    }

    /// Whether `call` is `brk`, which grows or shrinks the heap.
    pub fn is_brk(self, call: Syscall) -> bool {
        match self {
            Arch::X86_64 => call.nr() == syscalls::x86_64::Sysno::brk.id() as u16,
            Arch::I386 => call.nr() == syscalls::x86::Sysno::brk.id() as u16,
        }
    }

    /// The call that maps memory: `mmap` (x86_64), `mmap2` (i386).
    pub fn mmap(self) -> Syscall {
        let nr = match self {
            Arch::X86_64 => syscalls::x86_64::Sysno::mmap.id(),
            Arch::I386 => syscalls::x86::Sysno::mmap2.id(),
        };
        Syscall(nr as u16)
    }

    /// Whether `call` returns from a signal handler (and so pops a signal frame).
    pub fn is_sigreturn(self, call: Syscall) -> bool {
        match self {
            Arch::X86_64 => call.nr() == syscalls::x86_64::Sysno::rt_sigreturn.id() as u16,
            Arch::I386 => {
                call.nr() == syscalls::x86::Sysno::rt_sigreturn.id() as u16
                    || call.nr() == syscalls::x86::Sysno::sigreturn.id() as u16
            }
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Arch {
    type Err = ArchParseError;

    fn from_str(s: &str) -> Result<Arch, ArchParseError> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Ok(Arch::X86_64),
            "i386" | "i686" | "x86" => Ok(Arch::I386),
            _ => Err(ArchParseError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_range_is_checked() {
        assert_eq!(Syscall::new(0).map(Syscall::nr), Some(0));
        assert_eq!(Syscall::new(511).map(Syscall::nr), Some(511));
        assert_eq!(Syscall::new(512), None);
        assert_eq!(Syscall::from_u64(u64::MAX), None);
        assert_eq!(Syscall::from_u64(70_000), None);
    }

    #[test]
    fn names_follow_each_architecture() {
        assert_eq!(Arch::X86_64.name(0), Some("read"));
        assert_eq!(Arch::X86_64.name(59), Some("execve"));
        assert_eq!(Arch::I386.name(3), Some("read"));
        assert_eq!(Arch::I386.name(11), Some("execve"));
        assert_eq!(Arch::X86_64.number("openat").map(Syscall::nr), Some(257));
        assert_eq!(Arch::I386.number("openat").map(Syscall::nr), Some(295));
        assert_eq!(Arch::X86_64.number("no_such_call"), None);
    }

    #[test]
    fn unnamed_numbers_round_trip_through_display() {
        let call = Syscall::new(500).unwrap();
        let shown = Arch::X86_64.display_name(call);
        assert_eq!(Arch::X86_64.number(&shown), Some(call));
        assert_eq!(Arch::X86_64.number("syscall_0x1f4"), Some(call));
        assert_eq!(Arch::X86_64.number("syscall_9999"), None);
    }

    #[test]
    fn sigreturn_is_known_per_architecture() {
        let nr = |a: Arch, n: &str| a.number(n).unwrap();
        assert!(Arch::X86_64.is_sigreturn(nr(Arch::X86_64, "rt_sigreturn")));
        assert!(!Arch::X86_64.is_sigreturn(nr(Arch::X86_64, "read")));
        assert!(Arch::I386.is_sigreturn(nr(Arch::I386, "rt_sigreturn")));
        assert!(Arch::I386.is_sigreturn(nr(Arch::I386, "sigreturn")));
        assert!(!Arch::I386.is_sigreturn(nr(Arch::I386, "write")));
    }

    #[test]
    fn arch_parses_common_spellings() {
        assert_eq!("x86_64".parse(), Ok(Arch::X86_64));
        assert_eq!("amd64".parse(), Ok(Arch::X86_64));
        assert_eq!("i386".parse(), Ok(Arch::I386));
        assert!("arm".parse::<Arch>().is_err());
        for arch in Arch::ALL {
            assert_eq!(arch.to_string().parse(), Ok(arch));
        }
    }
}
