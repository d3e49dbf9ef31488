//! Heap growth by `mmap`: the calls `skip-heap-mmap` does not see.
//!
//! An allocator gets memory from the kernel with `brk` and, for large blocks and new arenas,
//! with an `mmap` of anonymous memory. Where those calls fall in a program's loops depends on
//! how much its input made it allocate, not on what it does: in everyday work they land at a
//! new place in a directory loop or a sort in every run, and each is a false alarm. Such an
//! `mmap` is told apart by its arguments, which the engine reads at `sys_enter` and a recorded
//! trace may show (`strace`): anonymous memory (`MAP_ANONYMOUS`), not executable (no
//! `PROT_EXEC`: code staged in memory stays seen), and not at a fixed address (no
//! `MAP_FIXED`, `MAP_FIXED_NOREPLACE`: what the dynamic loader does while it maps a library,
//! part of the order of calls that loading one has). The engine then reports the call as
//! [`crate::Syscall::HEAP_MMAP`], which [`crate::Settings::seen_as`] drops with
//! `skip-heap-mmap`, or sees as `mmap` without.

/// `PROT_EXEC`.
pub const PROT_EXEC: u64 = 0x4;
/// `MAP_FIXED`.
pub const MAP_FIXED: u64 = 0x10;
/// `MAP_ANONYMOUS`.
pub const MAP_ANONYMOUS: u64 = 0x20;
/// `MAP_FIXED_NOREPLACE`.
pub const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

/// Whether an `mmap` with protection `prot` and flags `flags` grows the heap (see the
/// module's documentation).
pub fn is_heap_mmap(prot: u64, flags: u64) -> bool {
    flags & MAP_ANONYMOUS != 0
        && flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) == 0
        && prot & PROT_EXEC == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_anonymous_data_at_no_fixed_address_is_heap() {
        let (rw, private) = (0x3, 0x2);
        assert!(is_heap_mmap(rw, private | MAP_ANONYMOUS));
        assert!(
            is_heap_mmap(0, private | MAP_ANONYMOUS),
            "PROT_NONE reservations"
        );
        assert!(!is_heap_mmap(rw, private), "a file");
        assert!(
            !is_heap_mmap(rw | PROT_EXEC, private | MAP_ANONYMOUS),
            "code"
        );
        assert!(
            !is_heap_mmap(rw, private | MAP_ANONYMOUS | MAP_FIXED),
            "a library's bss"
        );
        assert!(!is_heap_mmap(
            rw,
            private | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE
        ));
    }
}
