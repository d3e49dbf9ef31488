//! Homeostasis end to end: delays, execve suspension, and releasing held processes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ebph_test_support::daemon::{metric, scrape, Daemon};
use ebph_test_support::programs::{compile, free_port, is_stopped, s};
use ebph_test_support::wait_until;
use ebph_test_support::{as_root, expected_execve_suspension};
use serde_json::Value;

/// A daemon with `spree` trained on its ordinary runs, then made normal.
fn trained(dir: &Path, exec: bool) -> (Daemon, std::path::PathBuf) {
    trained_with(dir, exec, &[])
}

/// [`trained`], with more flags for the daemon.
fn trained_with(dir: &Path, exec: bool, flags: &[&str]) -> (Daemon, std::path::PathBuf) {
    let spree = compile(dir, "spree");
    let daemon = Daemon::start_with(dir, flags);
    train(&daemon, &spree, exec);
    (daemon, spree)
}

/// Runs `spree` until trained, then makes its profile normal. The tests hold from LFC 1 on,
/// as pH does (`delay-threshold 0`), unless they say otherwise.
fn train(daemon: &Daemon, spree: &Path, exec: bool) {
    daemon.ok(&["set", "delay-threshold", "0"]);
    for _ in 0..8 {
        let mut cmd = Command::new(spree);
        if exec {
            cmd.env("SPREE_EXEC", "1");
        }
        assert!(cmd.stdout(Stdio::null()).status().unwrap().success());
    }
    daemon.normalize(spree);
}

/// [`trained`], then holding anomalous processes for long: 40 s at LFC 1, up to 1 h.
fn holding_for_long(dir: &Path) -> (Daemon, std::path::PathBuf) {
    let (daemon, spree) = trained(dir, false);
    daemon.ok(&[
        "set",
        "max-delay",
        "1h",
        "delay-factor",
        "20s",
        "response",
        "delay",
    ]);
    (daemon, spree)
}

fn of_pid(events: &[Value], kind: &str, pid: u32) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == kind && e["pid"] == pid)
        .cloned()
        .collect()
}

/// The holds of `pid` in `events`: (LFC, milliseconds held).
fn holds_of(events: &[Value], pid: u32) -> Vec<(u64, f64)> {
    of_pid(events, "delay", pid)
        .iter()
        .map(|d| (d["lfc"].as_u64().unwrap(), d["delay_ms"].as_f64().unwrap()))
        .collect()
}

/// Asserts that every hold lasted `delay-factor * 2^LFC` (a `delay-factor` of 1 ms), capped
/// at `max_ms` (`max-delay`).
fn assert_held_two_to_the_lfc(holds: &[(u64, f64)], max_ms: f64) {
    for &(lfc, ms) in holds {
        let expected = 2f64.powi(lfc as i32).min(max_ms);
        assert!(
            (ms - expected).abs() < 0.01,
            "LFC {lfc}: held {ms} ms, expected {expected}"
        );
    }
}

/// Runs `spree ARGS` to its end (it must succeed, held or not); returns its pid.
fn run_spree(spree: &Path, args: &[&str]) -> u32 {
    let child = Command::new(spree)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(
        child.wait_with_output().unwrap().status.success(),
        "spree {args:?} did not complete (a held process still completes)"
    );
    pid
}

#[test]
fn anomalous_processes_are_held_longer_as_their_lfc_grows_and_normal_ones_never() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = trained(dir.path(), false);
    daemon.ok(&["set", "delay-factor", "1ms"]);
    daemon.ok(&["set", "max-delay", "40ms"]);
    daemon.ok(&["set", "response", "delay"]);

    let normal_pid = run_spree(&spree, &[]);

    let start = Instant::now();
    let odd_pid = run_spree(&spree, &["spree"]);
    let took = start.elapsed();

    // Every delay was reported before its hold began; wait until the daemon has read them
    // (under emulation it may lag the program). If they never come, say whether the kernel
    // skipped runs of the engine (an exec it never saw leaves the run under another profile).
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while of_pid(&daemon.events(), "delay", odd_pid).len() < 5 {
        if Instant::now() > deadline {
            let status = daemon.json(&["status", "--json"]);
            panic!(
                "the delays were not reported; engine runs the kernel skipped: {}; events of the run: {:?}",
                status["engine"]["runs_missed"],
                daemon.events()
                    .iter()
                    .filter(|e| e["pid"].as_u64() == Some(u64::from(odd_pid)))
                    .collect::<Vec<_>>()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let all = daemon.events();
    assert!(
        of_pid(&all, "delay", normal_pid).is_empty(),
        "a normal run was held"
    );
    let mut by_lfc = holds_of(&all, odd_pid);
    assert!(by_lfc.len() >= 5, "too few delays: {by_lfc:?}");
    by_lfc.sort_by(|a, b| a.partial_cmp(b).unwrap());
    for pair in by_lfc.windows(2) {
        assert!(
            pair[0].1 <= pair[1].1,
            "the delay did not grow with the LFC: {by_lfc:?}"
        );
    }
    assert_held_two_to_the_lfc(&by_lfc, 40.0);
    assert!(by_lfc.last().unwrap().1 > by_lfc[0].1);
    let held: f64 = by_lfc.iter().map(|(_, ms)| ms).sum();
    assert!(
        took.as_secs_f64() * 1000.0 >= held * 0.9,
        "held {held} ms but ran in {took:?}"
    );
    daemon.stop();
}

/// Runs `spree` with an exec at its end; returns its pid and what it did.
/// Asserts that `pid`, which ended with `out`, had its exec refused the way this kernel
/// refuses (`how`: `bpf-lsm`, EPERM and spree goes on; else killed at its exec), and that
/// it was reported once; returns the report.
fn assert_refused(daemon: &Daemon, how: &str, pid: u32, out: &std::process::Output) -> Vec<Value> {
    use std::os::unix::process::ExitStatusExt;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match how {
        "bpf-lsm" => assert!(
            out.status.success()
                && stdout.contains("exec refused: Operation not permitted")
                && stdout.contains("still running"),
            "expected EPERM and a live process: {out:?}"
        ),
        _ => assert_eq!(out.status.signal(), Some(9), "not killed: {out:?}"),
    }
    let refused = daemon.wait_for_events(20, "the refusal to be reported", |e| {
        e["type"] == "execve_refused" && e["pid"] == pid
    });
    assert_eq!(refused.len(), 1, "{refused:?}");
    refused
}

/// Runs `spree` (with `arg`), which then execs `program` (`1`: /bin/true); returns its pid
/// and what it did.
fn spree_exec_of(spree: &Path, arg: Option<&str>, program: &str) -> (u32, std::process::Output) {
    let child = Command::new(spree)
        .args(arg)
        .env("SPREE_EXEC", program)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    (pid, child.wait_with_output().unwrap())
}

fn spree_exec(spree: &Path, arg: Option<&str>) -> (u32, std::process::Output) {
    spree_exec_of(spree, arg, "1")
}

#[test]
fn delays_begin_only_when_the_lfc_exceeds_delay_threshold() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = trained(dir.path(), false);
    daemon.ok(&[
        "set",
        "delay-threshold",
        "3",
        "delay-factor",
        "1ms",
        "max-delay",
        "40ms",
        "response",
        "delay",
    ]);
    let pid = run_spree(&spree, &["spree"]);
    daemon.wait_for_events(60, "the delays to be reported", |e| {
        e["type"] == "delay" && e["pid"] == pid
    });
    let all = daemon.events();
    // Its LFC went from 1 past 3: the anomalies at 1, 2 and 3 were not held, every later one
    // was, delay-factor * 2^LFC as without a threshold.
    let anomalies: Vec<u64> = of_pid(&all, "anomaly", pid)
        .iter()
        .map(|e| e["lfc"].as_u64().unwrap())
        .collect();
    assert!(
        anomalies.contains(&1) && anomalies.iter().any(|&l| l > 3),
        "{anomalies:?}"
    );
    let delays = holds_of(&all, pid);
    assert!(delays.iter().all(|&(lfc, _)| lfc > 3), "{delays:?}");
    assert_held_two_to_the_lfc(&delays, 40.0);
    // (An exiting task is never held.)
    let held_calls = of_pid(&all, "anomaly", pid)
        .iter()
        .filter(|e| !e["syscall"].as_str().unwrap().starts_with("exit"))
        .map(|e| e["lfc"].as_u64().unwrap())
        .collect::<Vec<_>>();
    for lfc in held_calls.iter().filter(|&&l| l > 3) {
        assert!(
            delays.iter().any(|&(l, _)| l == *lfc),
            "the anomaly at LFC {lfc} was not held: {delays:?}"
        );
    }

    // A process whose LFC stays at or below the threshold is never held: `spree once` reaches
    // 3 (its unusual call, the `write` after it, its exit).
    let once_pid = run_spree(&spree, &["once"]);
    wait_until(20, "its anomalies to be reported", || {
        of_pid(&daemon.events(), "anomaly", once_pid).len() >= 2
    });
    let all = daemon.events();
    assert!(
        of_pid(&all, "anomaly", once_pid)
            .iter()
            .all(|e| e["lfc"].as_u64() <= Some(3)),
        "{:?}",
        of_pid(&all, "anomaly", once_pid)
    );
    assert!(of_pid(&all, "delay", once_pid).is_empty(), "it was held");
    daemon.stop();
}

#[test]
fn execve_suspension_refuses_anomalous_execs_only_and_stops_with_monitor() {
    let Some(_one) = as_root() else {
        return;
    };
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let (daemon, spree) = trained_with(dir.path(), true, &["--metrics-listen", &listen]);

    // How this kernel suspends execs, as `ebph status` tells it, and the reason for a fallback.
    let kernel = daemon.json(&["status", "--json"])["kernel"].clone();
    let how = kernel["execve_suspension"].as_str().unwrap().to_owned();
    if let Some(expected) = expected_execve_suspension() {
        assert_eq!(
            how, expected,
            "this kernel was expected to use {expected}: {kernel}"
        );
    }
    match how.as_str() {
        "bpf-lsm" => {
            assert!(kernel["bpf_lsm"] == true && kernel.get("bpf_lsm_unavailable").is_none())
        }
        "sigkill" => assert!(
            kernel["bpf_lsm"] == false
                && kernel["bpf_lsm_unavailable"]
                    .as_str()
                    .is_some_and(|why| !why.is_empty()),
            "a fallback must say why: {kernel}"
        ),
        other => panic!("unknown execve suspension {other:?}"),
    }

    // The same, for people.
    let text = daemon.ok(&["status"]);
    let line = text
        .lines()
        .find(|l| l.starts_with("kernel"))
        .unwrap_or_else(|| panic!("no kernel line in ebph status: {text}"));
    let said = if how == "bpf-lsm" {
        "execve suspension by BPF-LSM".to_owned()
    } else {
        format!(
            "execve suspension by SIGKILL at exec (BPF-LSM unavailable: {})",
            kernel["bpf_lsm_unavailable"].as_str().unwrap()
        )
    };
    assert!(line.contains(&said), "{line}");

    // Delays too short to matter (a delay-factor of 0 is refused: monitor holds nothing).
    daemon.ok(&["set", "max-delay", "1us", "delay-factor", "1us"]);
    daemon.ok(&["set", "suspend-execve", "2"]);
    // Setting the mode says what it does on this kernel.
    let set = daemon.cli(&["set", "response", "enforce"]);
    assert!(set.status.success());
    let note = String::from_utf8_lossy(&set.stderr);
    let promised = if how == "bpf-lsm" { "EPERM" } else { "SIGKILL" };
    assert!(
        note.contains(promised),
        "ebph set response enforce said: {note}"
    );
    let refusals = || metric(&scrape(port), "ebph_execve_refused_total", None);
    assert_eq!(refusals(), 0.0);

    // Normal behaviour may always exec.
    let mut normal_pids = Vec::new();
    for _ in 0..3 {
        let (pid, out) = spree_exec(&spree, None);
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("exec refused"),
            "a normal exec was refused: {stdout}"
        );
        normal_pids.push(pid);
    }

    // Far out of line: the exec fails with EPERM and the process lives on (BPF-LSM), or the
    // process is killed at its exec (elsewhere).
    let (pid, out) = spree_exec(&spree, Some("spree"));
    let refused = assert_refused(&daemon, &how, pid, &out);
    assert!(refused[0]["lfc"].as_u64().unwrap() > 2, "{refused:?}");
    let all = daemon.events();
    for normal in &normal_pids {
        assert!(of_pid(&all, "execve_refused", *normal).is_empty());
    }
    wait_until(20, "the metric to count the refusal", || refusals() == 1.0);

    // Back to monitoring: the same run execs again at once.
    daemon.ok(&["set", "response", "monitor"]);
    let (pid, out) = spree_exec(&spree, Some("spree"));
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("exec refused"),
        "refused in monitor mode: {stdout}"
    );
    // Its exec of /bin/true is reported after anything about the exec itself.
    wait_until(20, "the exec to be reported", || {
        of_pid(&daemon.events(), "exec", pid).len() >= 2
    });
    assert!(of_pid(&daemon.events(), "execve_refused", pid).is_empty());
    assert_eq!(refusals(), 1.0);
    daemon.stop();
}

#[test]
fn a_novel_exec_is_refused_in_enforce_mode_only() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = trained(dir.path(), true);
    let other = ebph_test_support::programs::copy_program(dir.path(), "other", "/bin/true");
    let how = daemon.json(&["status", "--json"])["kernel"]["execve_suspension"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = |program: &Path| spree_exec_of(&spree, None, s(program));
    // Delays too short to matter: what is tested is the refusal.
    daemon.ok(&["set", "max-delay", "1us", "delay-factor", "1us"]);
    daemon.ok(&["set", "response", "enforce"]);

    // What it learned to run, it runs.
    let (pid, out) = run(Path::new("/bin/true"));
    assert!(out.status.success(), "{out:?}");
    // Something new: refused before it runs (BPF-LSM: EPERM, and spree goes on), or killed
    // at its exec.
    let (novel_pid, out) = run(&other);
    let refused = assert_refused(&daemon, &how, novel_pid, &out);
    assert_eq!(refused[0]["executable"], s(&other), "{refused:?}");
    let all = daemon.events();
    let novel = of_pid(&all, "novel_exec", novel_pid);
    assert_eq!(novel.len(), 1, "{novel:?}");
    assert_eq!(novel[0]["path"], s(&spree));
    assert!(of_pid(&all, "execve_refused", pid).is_empty());
    assert!(of_pid(&all, "novel_exec", pid).is_empty());

    // Allowlisted, or in monitor mode, it is only reported.
    daemon.ok(&["set", "allowlist", s(&spree)]);
    let (pid, out) = run(&other);
    assert!(out.status.success(), "allowlisted: {out:?}");
    daemon.ok(&["set", "allowlist", "", "response", "monitor"]);
    let (pid2, out) = run(&other);
    assert!(out.status.success(), "monitor: {out:?}");
    wait_until(20, "the novel execs to be reported", || {
        let all = daemon.events();
        !of_pid(&all, "novel_exec", pid).is_empty() && !of_pid(&all, "novel_exec", pid2).is_empty()
    });
    let all = daemon.events();
    assert!(of_pid(&all, "execve_refused", pid).is_empty());
    assert!(of_pid(&all, "execve_refused", pid2).is_empty());
    daemon.stop();
}

/// A child process that is killed if the test fails, so none is left stopped.
struct Spawned(std::process::Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(spree: &Path, arg: &str) -> Spawned {
    Spawned(
        Command::new(spree)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Starts `spree spree` and waits until the engine holds it.
fn held_spree(spree: &Path) -> Spawned {
    let child = spawn(spree, "spree");
    let pid = child.0.id();
    wait_until(10, "the process to be held", || is_stopped(pid));
    child
}

fn finishes_within(mut child: Spawned, seconds: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            assert!(status.success(), "{what}: {status:?}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still not done (stopped: {})",
            is_stopped(child.0.id())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn monitor_mode_the_daemon_stopping_and_release_free_held_processes() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = holding_for_long(dir.path());

    // ebph ps shows it held; switching to monitor releases it at once.
    let child = held_spree(&spree);
    let ps = daemon.json(&["ps", "--json"]);
    let row = ps
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == child.0.id())
        .cloned()
        .unwrap();
    assert!(row["held_ms"].as_u64().unwrap() > 1000, "{row}");
    daemon.ok(&["set", "response", "monitor"]);
    finishes_within(child, 5, "switching to monitor");

    // ebph release frees one process: it runs on, and is held again only for a new anomaly
    // (`write` after the unusual `getppid` is one; `exit_group` is never held).
    daemon.ok(&["set", "response", "delay"]);
    let child = spawn(&spree, "once");
    let pid = child.0.id();
    wait_until(10, "the process to be held", || is_stopped(pid));
    let delays = || of_pid(&daemon.events(), "delay", pid);
    wait_until(10, "the hold to be reported", || delays().len() == 1);
    daemon.ok(&["release", "--pid", &pid.to_string()]);
    wait_until(10, "the process to be held again", || delays().len() == 2);
    let anomalies = of_pid(&daemon.events(), "anomaly", pid);
    assert_eq!(
        anomalies.last().unwrap()["syscall"],
        "write",
        "{anomalies:?}"
    );
    daemon.ok(&["release", "--pid", &pid.to_string()]);
    finishes_within(child, 5, "ebph release");

    // Stopping the daemon releases everything.
    let child = held_spree(&spree);
    daemon.stop();
    finishes_within(child, 5, "stopping the daemon");
}

#[test]
fn the_allowlist_is_honoured() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = trained(dir.path(), false);
    daemon.ok(&["set", "max-delay", "1h"]);
    daemon.ok(&["set", "delay-factor", "20s"]);
    daemon.ok(&["set", "response", "enforce"]);
    daemon.ok(&["set", "allowlist", s(&spree)]);
    let child = spawn(&spree, "spree");
    let pid = child.0.id();
    finishes_within(child, 5, "an allowlisted program");
    std::thread::sleep(Duration::from_millis(100));
    let all = daemon.events();
    assert!(!of_pid(&all, "anomaly", pid).is_empty(), "it was anomalous");
    assert!(of_pid(&all, "delay", pid).is_empty(), "it was held");
    // Off the list, the same run is held.
    daemon.ok(&["set", "allowlist", ""]);
    let child = held_spree(&spree);
    daemon.ok(&["set", "response", "monitor"]);
    finishes_within(child, 5, "after monitor");
    daemon.stop();
}

/// Sends `signal` to `pid`.
fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
}

/// The daemon's keeper, from `ebph status`.
fn keeper_pid(daemon: &Daemon) -> u32 {
    let status = daemon.json(&["status", "--json"]);
    status["keeper_pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no keeper: {status}")) as u32
}

#[test]
fn a_held_process_goes_on_when_the_daemon_is_killed_or_reloads() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = holding_for_long(dir.path());
    let keeper = keeper_pid(&daemon);

    // kill -9: the keeper continues it at once, long before its 40 s are up.
    daemon.ok(&["save"]);
    let child = held_spree(&spree);
    daemon.kill();
    finishes_within(child, 2, "after the daemon was killed");
    wait_until(5, "the keeper to exit", || {
        !Path::new(&format!("/proc/{keeper}")).exists()
    });

    // SIGHUP reloads: the daemon stays, and a 2 s hold ends on time. `spree once` is held
    // twice (its unusual call, and the `write` after it, itself new): 4 s in all.
    let daemon = Daemon::start(dir.path());
    daemon.ok(&["set", "max-delay", "2s", "delay-factor", "1s"]);
    let start = Instant::now();
    let child = spawn(&spree, "once");
    wait_until(10, "the process to be held", || is_stopped(child.0.id()));
    signal(daemon.pid() as u32, rustix::process::Signal::HUP);
    finishes_within(child, 6, "after SIGHUP");
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    wait_until(5, "the reload to be logged", || {
        daemon.log().contains("SIGHUP: reloading")
    });
    assert!(daemon.cli(&["status"]).status.success(), "{}", daemon.log());
    daemon.stop();
}

#[test]
fn a_restarted_daemon_continues_what_an_earlier_run_left_stopped() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = holding_for_long(dir.path());
    // One unusual call, held: what follows it (write, exit_group) is ordinary, so that if the
    // new engine is attached before the continued process has run on, and tracks it with a
    // fresh window, it finds nothing to hold it for again. (After `spree spree` the rest of
    // the spree would be held again, rightly, and the process would not finish.)
    let child = spawn(&spree, "once");
    let pid = child.0.id();
    wait_until(10, "the process to be held", || is_stopped(pid));
    // Daemon and keeper both die: the daemon stopped first, so that it cannot start another
    // keeper, then the keeper killed, then the daemon.
    daemon.ok(&["save"]);
    let keeper = keeper_pid(&daemon);
    signal(daemon.pid() as u32, rustix::process::Signal::STOP);
    signal(keeper, rustix::process::Signal::KILL);
    // (A zombie until its parent, stopped, can reap it.)
    wait_until(5, "the keeper to be gone", || {
        std::fs::read_to_string(format!("/proc/{keeper}/stat")).map_or(true, |s| {
            s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z')
        })
    });
    daemon.kill();
    std::thread::sleep(Duration::from_millis(500));
    assert!(is_stopped(pid), "nobody was left to continue it");
    let ledgers = std::fs::read_dir(dir.path().join("state/holds"))
        .unwrap()
        .count();
    assert_eq!(ledgers, 1, "the dead keeper's record of what it held");

    let daemon = Daemon::start(dir.path());
    finishes_within(child, 5, "after a new daemon started");
    assert!(
        daemon.log().contains("left stopped by an ebph that died"),
        "{}",
        daemon.log()
    );
    // Only the new keeper's record is left.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("state/holds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [keeper_pid(&daemon).to_string()]);
    daemon.stop();
    assert_eq!(
        std::fs::read_dir(dir.path().join("state/holds"))
            .unwrap()
            .count(),
        0,
        "a keeper that exits in order leaves no record"
    );
}

#[test]
fn the_call_after_an_anomalous_one_waits_for_the_hold() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = holding_for_long(dir.path());
    let marker = dir.path().join("marker");
    let child = Spawned(
        Command::new(&spree)
            .arg("once")
            .env("SPREE_MARKER", &marker)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    wait_until(10, "the process to be held", || is_stopped(pid));
    // The hold began with the unusual call (getppid) itself: the call after it, which would
    // create the marker, has not run, and does not while the process is held.
    std::thread::sleep(Duration::from_millis(300));
    assert!(is_stopped(pid));
    assert!(!marker.exists(), "the call after the anomalous one ran");
    let anomalies = of_pid(&daemon.events(), "anomaly", pid);
    assert_eq!(anomalies.len(), 1, "{anomalies:?}");
    assert_eq!(anomalies[0]["syscall"], "getppid");
    daemon.ok(&["set", "response", "monitor"]);
    finishes_within(child, 5, "after monitor");
    assert!(marker.exists());
    daemon.stop();
}

#[test]
fn a_process_whose_anomalous_call_is_its_exit_is_not_held() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = holding_for_long(dir.path());
    let child = spawn(&spree, "exit");
    let pid = child.0.id();
    finishes_within(child, 5, "an exiting process");
    daemon.wait_for_events(10, "the anomaly to be reported", |e| {
        e["type"] == "anomaly" && e["pid"] == pid
    });
    let all = daemon.events();
    assert_eq!(of_pid(&all, "anomaly", pid)[0]["syscall"], "exit_group");
    assert!(of_pid(&all, "delay", pid).is_empty(), "reported as held");
    assert_eq!(daemon.json(&["status", "--json"])["held"], 0);
    daemon.stop();
}

#[test]
fn a_process_continued_early_by_someone_else_is_stopped_again() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = holding_for_long(dir.path());
    let child = held_spree(&spree);
    let pid = child.0.id();
    wait_until(10, "the hold to be reported", || {
        of_pid(&daemon.events(), "delay", pid).len() == 1
    });
    for _ in 0..3 {
        signal(pid, rustix::process::Signal::CONT);
        // It runs its next call, and is stopped again at its end, to the same deadline.
        wait_until(10, "the process to be stopped again", || is_stopped(pid));
    }
    assert_eq!(
        of_pid(&daemon.events(), "delay", pid).len(),
        1,
        "a stop again is the same hold"
    );
    daemon.ok(&["set", "response", "monitor"]);
    finishes_within(child, 5, "after monitor");
    daemon.stop();
}

/// A stop makes a call that was about to sleep, and every fork, start again from its
/// beginning: the engine sees it enter again. Held again each time, it would never run.
#[test]
fn a_held_call_that_restarts_runs_once_its_hold_is_over() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (daemon, spree) = trained(dir.path(), false);
    daemon.ok(&[
        "set",
        "max-delay",
        "1ms",
        "delay-factor",
        "1ms",
        "response",
        "delay",
    ]);
    let child = spawn(&spree, "forks");
    let pid = child.0.id();
    finishes_within(child, 60, "ten forks while held");
    daemon.wait_for_events(10, "the holds to be reported", |e| {
        e["type"] == "delay" && e["pid"] == pid
    });
    // Every call it made with its LFC above 0 was held, and a restarted one at most once
    // more: 30 or so calls, not thousands of holds.
    let delays = of_pid(&daemon.events(), "delay", pid).len();
    assert!((10..200).contains(&delays), "{delays} holds");
    daemon.stop();
}

/// The capabilities the systemd unit leaves the daemon (`CapabilityBoundingSet=`), as
/// `setpriv` names them (`bpf`, `kill`, ...), with their numbers.
fn unit_capabilities() -> Vec<(String, u32)> {
    let unit = include_str!("../../../packaging/ebph.service");
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("the unit limits the daemon's capabilities");
    // linux/capability.h
    let number = |name: &str| match name {
        "dac_read_search" => 2,
        "kill" => 5,
        "sys_ptrace" => 19,
        "sys_admin" => 21,
        "sys_resource" => 24,
        "perfmon" => 38,
        "bpf" => 39,
        other => panic!("the unit names a capability this test does not know: {other}"),
    };
    line.split_whitespace()
        .map(|c| {
            let name = c.strip_prefix("CAP_").unwrap().to_lowercase();
            let n = number(&name);
            (name, n)
        })
        .collect()
}

#[test]
fn the_daemon_works_with_only_what_its_systemd_unit_allows() {
    let Some(_one) = as_root() else {
        return;
    };
    // systemd is not needed to give the daemon the unit's capabilities and no new
    // privileges: setpriv does the same.
    let caps = unit_capabilities();
    let bounding = std::iter::once("-all".to_owned())
        .chain(caps.iter().map(|(c, _)| format!("+{c}")))
        .collect::<Vec<_>>()
        .join(",");
    let dir = tempfile::tempdir().unwrap();
    // Others (user nobody) may run the test program.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let spree = compile(dir.path(), "spree");
    // A script of user nobody's, in a directory only nobody may read, running already.
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    let script = private.join("waits.sh");
    std::fs::write(&script, "#!/bin/sh\nsleep 60\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    rustix::fs::chown(&script, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
    rustix::fs::chown(&private, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
    let waiting = Spawned(
        Command::new("setsid")
            .args([
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ])
            .arg(&script)
            .spawn()
            .unwrap(),
    );
    // Running as a script: the kernel made its interpreter argv[0] (before that, setsid and
    // setpriv name it too).
    wait_until(60, "the script to run", || {
        std::fs::read_to_string(format!("/proc/{}/cmdline", waiting.0.id()))
            .is_ok_and(|c| c.starts_with("/bin/sh\0") && c.contains("waits.sh"))
    });
    let daemon = Daemon::start_wrapped(
        dir.path(),
        &[
            "setpriv",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set",
            &bounding,
            "--",
        ],
        &[],
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .unwrap();
    let expected = caps.iter().fold(0u64, |bits, (_, n)| bits | 1 << n);
    assert_eq!(effective, expected, "the daemon has other capabilities");
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "{status}");
    // It found the script that was running (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH): where
    // the interpreter's file system is not an overlay, on which what /proc shows and what
    // the kernel sees of the interpreter differ (the kernel matrix's guests run on one).
    let overlay = rustix::fs::statfs("/bin/sh").unwrap().f_type as i64 == 0x794c_7630;
    if overlay {
        eprintln!("not checked: a script running at start, on an overlay root");
    } else {
        let profiles = daemon.ok(&["profiles", "--json"]);
        assert!(profiles.contains(s(&script)), "{profiles}");
    }
    drop(waiting);

    // It tracks and learns...
    train(&daemon, &spree, false);
    daemon.ok(&[
        "set",
        "delay-factor",
        "20s",
        "max-delay",
        "1h",
        "response",
        "delay",
    ]);
    // ...holds an anomalous process of another user, in a session of its own (where only
    // CAP_KILL lets the keeper continue it)...
    let child = Command::new("setsid")
        .args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .arg(&spree)
        .arg("spree")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let child = Spawned(child);
    wait_until(10, "the process to be held", || is_stopped(pid));
    let ps = daemon.json(&["ps", "--json"]);
    assert!(
        ps.as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == pid && p["lfc"].as_u64() > Some(0)),
        "{ps}"
    );
    // ...and lets it go.
    daemon.ok(&["set", "response", "monitor"]);
    finishes_within(child, 5, "switching to monitor");
    assert!(
        !daemon.log().contains("ERROR"),
        "the daemon had trouble: {}",
        daemon.log()
    );
    daemon.stop();
}
