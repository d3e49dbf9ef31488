//! What ebph's test suites share. Tests that load eBPF programs attach them system-wide, so
//! they run one at a time ([`one_at_a_time`]); they need root, and may skip without it only
//! outside CI, saying why ([`skip_or_fail`]): under `CI=true` a missing capability fails.

use std::sync::{Mutex, MutexGuard};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Holds the lock that keeps BPF tests of this test binary from overlapping.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Skips the test outside CI, saying why; fails it under `CI=true`, where it must run.
pub fn skip_or_fail(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("{why}: CI must run this test");
    }
    eprintln!("skipping: {why}");
}

/// For a test that needs root and BPF: the lock of [`one_at_a_time`] when it can run, or
/// `None` after [`skip_or_fail`] when it cannot.
pub fn as_root() -> Option<MutexGuard<'static, ()>> {
    let one = one_at_a_time();
    if effective_uid() == Some(0) {
        return Some(one);
    }
    skip_or_fail("this test needs root (it loads eBPF programs)");
    None
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
