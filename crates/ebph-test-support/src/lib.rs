//! ebph's one test harness, shared by every test suite.
//!
//! - Tests that load eBPF programs attach them system-wide, so they run one at a time
//!   ([`one_at_a_time`]); they need root ([`as_root`]), and may skip without it only outside
//!   CI, saying why ([`skip_or_fail`]): under `CI=true` a missing capability fails.
//! - [`daemon`]: a real daemon on temporary paths, driven through the CLI; training a
//!   program until normal, waiting for events, its metrics.
//! - [`lab`]: the engine lab: an engine loaded for a test, programs of its own, the model fed
//!   what the engine recorded, training until normal in both.
//! - [`programs`]: the C programs of `programs/` the tests run, copies of system programs.
//! - [`wait_until`], what the kernel matrix expects of a kernel, reading a metrics scrape.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub mod daemon;
pub mod lab;
pub mod programs;

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

/// Waits until `f` holds, or fails (saying `what` it waited for) after `seconds`.
pub fn wait_until(seconds: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The execve suspension this kernel must use, when the caller says (`scripts/kernel-matrix`
/// sets `EBPH_EXPECT_EXECVE_SUSPENSION=bpf-lsm` in its guests booted with BPF-LSM), so that a
/// fallback cannot pass unseen.
pub fn expected_execve_suspension() -> Option<String> {
    std::env::var("EBPH_EXPECT_EXECVE_SUSPENSION")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The value of the sample `name` (with `label`, if given) of a Prometheus scrape.
pub fn sample(
    scrape: &prometheus_parse::Scrape,
    name: &str,
    label: Option<(&str, &str)>,
) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
