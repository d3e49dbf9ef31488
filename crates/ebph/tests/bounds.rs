//! Bounded under attack: what an anomaly storm and a huge event log cost the daemon.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ebph_test_support::as_root;
use ebph_test_support::daemon::Daemon;
use ebph_test_support::programs::{compile, copy_program, run, s};
use ebph_test_support::wait_until;

/// The engine tests' storm program (`storm train`, `storm storm N`), compiled into `dir`.
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
    let storm = compile(dir.path(), "storm");
    let daemon = Daemon::start(dir.path());
    daemon.train(&storm, &["train"], 3);
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
    let summaries: Vec<_> = daemon
        .events()
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

/// Runs `program` as user nobody (65534).
fn run_as_nobody(program: &Path) {
    use std::os::unix::process::CommandExt;
    let status = Command::new(program)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{} as nobody", program.display());
}

const NOBODY: u32 = 65534;

/// The status of the profile of `path`, if it has one.

#[test]
fn nobody_cannot_push_roots_programs_out_of_a_full_table() {
    use std::os::unix::fs::{chown, symlink, PermissionsExt};
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join("ebph.toml"),
        "[capacity]\nprofiles = 64\n[settings]\nuser-profiles = 0\n",
    )
    .unwrap();
    // Root's programs: one made normal before the attack, one run only after it.
    let kept = copy_program(dir.path(), "kept", "/bin/true");
    let later = copy_program(dir.path(), "later", "/bin/true");
    let daemon = Daemon::start(dir.path());
    daemon.train(&kept, &[], 3);

    // Nobody's: 150 copies of a binary, 50 scripts, and 100 symlinks to one script, all in
    // a directory of its own.
    let attack = dir.path().join("attack");
    std::fs::create_dir(&attack).unwrap();
    chown(&attack, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut programs = Vec::new();
    for i in 0..150 {
        programs.push(copy_program(&attack, &format!("bin{i}"), "/bin/true"));
    }
    for i in 0..50 {
        let script = attack.join(format!("script{i}.sh"));
        std::fs::write(&script, format!("#!/bin/sh\n# {i}\nexit 0\n")).unwrap();
        programs.push(script);
    }
    let one = attack.join("one.sh");
    std::fs::write(&one, "#!/bin/sh\nexit 0\n").unwrap();
    for i in 0..100 {
        let link = attack.join(format!("link{i}"));
        symlink(&one, &link).unwrap();
        programs.push(link);
    }
    for p in programs.iter().chain([&one]) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).ok();
        std::os::unix::fs::lchown(p, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    for p in &programs {
        run_as_nobody(p);
    }

    // Root's next program still gets a profile, and the normal one is still there. (Run
    // again while waiting: root's other programs on this machine may take the reserve too,
    // and then it is eviction, once a second, that makes room.)
    wait_until(5, "a profile for root's new program", || {
        run(&later, &[]);
        daemon.status_of(&later).is_some()
    });
    assert_eq!(daemon.status_of(&kept).as_deref(), Some("normal"));
    // The hundred symlinks are one script: one profile, by the script's own path.
    let profiles = daemon.json(&["profiles", "--json"]);
    let links = profiles
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["path"].as_str().unwrap().contains("/attack/link"))
        .count();
    assert_eq!(links, 0, "a script is named by its own path: {profiles}");
    // Room was made by evicting nobody's profiles, which were counted and reported.
    wait_until(5, "evictions reported", || {
        daemon.json(&["status", "--json"])["engine"]["profiles_evicted"]
            .as_u64()
            .unwrap()
            > 0
    });
    let status = daemon.json(&["status", "--json"]);
    let engine = &status["engine"];
    assert!(engine["profiles_evicted"].as_u64().unwrap() > 0, "{status}");
    let evicted: Vec<_> = daemon
        .events()
        .into_iter()
        .filter(|e| e["type"] == "profile_evicted")
        .collect();
    assert!(!evicted.is_empty());
    assert!(
        evicted
            .iter()
            .all(|e| e["path"].as_str().unwrap().contains("/attack/")),
        "only nobody's profiles are evicted: {evicted:?}"
    );
    assert!(daemon.ok(&["status"]).contains("evicted    "));

    // With a budget, nobody's new programs beyond it run untracked, and that is said.
    daemon.ok(&["set", "user-profiles", "10"]);
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    for i in 0..30 {
        let p = copy_program(&fresh, &format!("f{i}"), "/bin/true");
        std::os::unix::fs::chown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
        run_as_nobody(&p);
    }
    daemon.wait_for_events(5, "the budget reported", |e| {
        e["type"] == "profile_budget_spent" && e["uid"] == NOBODY && e["budget"] == 10
    });
    let denied = daemon.json(&["status", "--json"])["engine"]["budget_denied"]
        .as_u64()
        .unwrap();
    assert!(denied >= 20, "{denied}");
    daemon.stop();
}

#[test]
fn profiles_unused_for_longer_than_profile_expiry_are_deleted() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let old = copy_program(dir.path(), "old", "/bin/true");
    let recent = copy_program(dir.path(), "recent", "/bin/true");
    let daemon = Daemon::start(dir.path());
    run(&old, &[]);
    run(&recent, &[]);
    wait_until(5, "both profiles", || {
        daemon.status_of(&old).is_some() && daemon.status_of(&recent).is_some()
    });
    daemon.stop();
    // As if `old` had last run 200 days ago.
    let db = dir.path().join("state/ebph.db");
    let mut store = ebph_daemon::Store::open(&db).unwrap();
    let mut profiles = store.load_profiles().unwrap();
    let day = 24 * 3600 * 1_000_000_000u64;
    for p in &mut profiles {
        assert!(p.origin.last_used > 0, "{}: last use saved", p.path);
        if p.path == s(&old) {
            p.origin.last_used -= 200 * day;
        }
    }
    store.save_profiles(&profiles).unwrap();
    drop(store);

    std::fs::write(dir.path().join("ebph.toml"), "profile-expiry = \"90d\"\n").unwrap();
    let daemon = Daemon::start(dir.path());
    wait_until(5, "the old profile expired", || {
        daemon.status_of(&old).is_none()
    });
    assert!(daemon.status_of(&recent).is_some(), "used recently: kept");
    let expired: Vec<_> = daemon
        .events()
        .into_iter()
        .filter(|e| e["type"] == "profile_evicted")
        .collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["reason"], "expired");
    assert_eq!(expired[0]["path"], s(&old));
    assert_eq!(
        daemon.json(&["status", "--json"])["engine"]["profiles_expired"],
        1
    );
    // Gone from the database too: a restart does not bring it back.
    daemon.stop();
    let left = ebph_daemon::Store::open(&db)
        .unwrap()
        .load_profiles()
        .unwrap();
    assert!(left.iter().all(|p| p.path != s(&old)));
    assert!(left.iter().any(|p| p.path == s(&recent)));
}
