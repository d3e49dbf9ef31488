//! Bounded under attack: what an anomaly storm and a huge event log cost the daemon.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{compile_from, events, s, Daemon};
use ebph_test_support::as_root;

/// The engine tests' storm program (`storm train`, `storm storm N`), compiled into `dir`.
fn storm(dir: &Path) -> PathBuf {
    compile_from(dir, "storm", "../ebph-bpf/tests/programs")
}

fn run(program: &Path, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(status.success(), "{} {args:?}", program.display());
}

/// Bytes in every file under `dir`.
fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                dir_size(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// A `kB` line of `/proc/PID/status` (`VmRSS`, `VmHWM`), in bytes.
fn memory(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

const MIB: u64 = 1024 * 1024;

#[test]
fn an_anomaly_storm_costs_little_disk_and_memory_and_is_counted() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let storm = storm(dir.path());
    let daemon = Daemon::start(dir.path());
    for _ in 0..3 {
        run(&storm, &["train"]);
    }
    daemon.ok(&["normalize", "--profile", s(&storm)]);
    // Nothing stops the storm: no anomaly limit to speak of, no tolerizing.
    daemon.ok(&[
        "set",
        "anomaly-limit",
        "1000000000",
        "tolerize-limit",
        "128",
    ]);
    daemon.ok(&["save"]);
    let state = dir.path().join("state");
    let before = dir_size(&state);

    let start = Instant::now();
    let mut runs = 0;
    while start.elapsed() < Duration::from_secs(5) {
        run(&storm, &["storm", "200000"]);
        runs += 1;
    }
    // A later second: its first anomaly brings the count of those not reported.
    std::thread::sleep(Duration::from_millis(1100));
    run(&storm, &["storm", "100"]);
    daemon.ok(&["save"]);

    let status = daemon.json(&["status", "--json"]);
    let total = status["engine"]["anomalies"].as_u64().unwrap();
    let suppressed = status["engine"]["anomalies_suppressed"].as_u64().unwrap();
    eprintln!("{runs} runs: {total} anomalies, {suppressed} not reported one by one");
    assert!(total > 100_000, "not a storm: {total} anomalies");
    assert!(suppressed > total * 9 / 10, "{suppressed} of {total}");
    let grown = dir_size(&state).saturating_sub(before);
    let peak = memory(daemon.pid(), "VmHWM:");
    eprintln!("the state directory grew by {grown} bytes; the daemon's RSS peaked at {peak}");
    assert!(
        grown <= 5 * MIB,
        "the state directory grew by {grown} bytes"
    );
    assert!(peak < 64 * MIB, "the daemon's RSS peaked at {peak} bytes");
    let summaries: Vec<_> = events(&daemon)
        .into_iter()
        .filter(|e| e["type"] == "anomalies_suppressed")
        .collect();
    assert!(!summaries.is_empty(), "no anomalies_suppressed event");
    assert!(summaries
        .iter()
        .all(|e| e["suppressed"].as_u64().unwrap() > 0));
    assert!(daemon
        .ok(&["status"])
        .contains("anomalies not reported one by one"));
    daemon.stop();
}

#[test]
fn a_huge_event_log_does_not_raise_start_up_memory() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // 300 MB of events, the newest last.
    let line = r#"{"type":"anomaly","time":"2026-11-24T02:05:22.490Z","pid":10869,"tid":10869,"key":"254:0:10010721","path":"/tmp/anomaly","syscall":"write","misses":3,"lfc":4,"sequence":["mprotect","prlimit64","munmap","newfstatat","getrandom","brk","brk","write","write"],"anomalies":4}"#;
    {
        use std::io::Write;
        let file = std::fs::File::create(state.join("events.jsonl")).unwrap();
        let mut w = std::io::BufWriter::new(file);
        let mut written = 0;
        while written < 300 * MIB {
            writeln!(w, "{line}").unwrap();
            written += line.len() as u64 + 1;
        }
        writeln!(w, "{}", line.replace("/tmp/anomaly", "/tmp/the-last-one")).unwrap();
    }
    let daemon = Daemon::start(dir.path());
    let peak = memory(daemon.pid(), "VmHWM:");
    eprintln!("with a 300 MB event log, start-up peaked at {peak} bytes");
    assert!(peak < 64 * MIB, "start-up peaked at {peak} bytes");
    let logs = daemon.ok(&["logs", "--type", "anomaly"]);
    assert!(
        logs.lines().last().unwrap().contains("/tmp/the-last-one"),
        "{logs}"
    );
    daemon.stop();
}
