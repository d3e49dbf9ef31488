//! What the engine reports, end to end: the thesis's anomaly, the daemon left alone, and full
//! maps counted while everything else goes on.

use std::process::Command;
use std::time::{Duration, Instant};

use ebph_bpf::{Capacity, Engine, Event, EventType};
use ebph_core::{Arch, ProfileStatus, Settings};
use ebph_test_support::lab::{engine, events_during, normalize, Lab};
use ebph_test_support::one_at_a_time;

#[test]
fn the_thesis_anomaly_is_detected_end_to_end() {
    let _one = one_at_a_time();
    // pH's windows: the thesis's anomaly is one more turn of a write loop, which folding
    // would hide by design.
    let settings = Settings {
        normal_wait: Duration::from_secs(1),
        ..Settings::ph()
    };
    let lab = Lab::new();
    let Some(mut engine) = engine(&settings, false) else {
        return;
    };
    let anomaly = lab.path("anomaly");
    let key = lab.key("anomaly");

    // Train until the profile freezes.
    let events = events_during(&engine, || {
        for _ in 0..200 {
            lab.run(&anomaly, &[]);
            let slot = engine.slot_of(&key).unwrap().unwrap();
            if engine.profile(slot).unwrap().status == ProfileStatus::Frozen {
                break;
            }
        }
    });
    let slot = engine
        .slot_of(&key)
        .unwrap()
        .expect("a profile for anomaly");
    assert_eq!(engine.profile(slot).unwrap().status, ProfileStatus::Frozen);
    let mine = |e: &&Event| e.key == key;
    assert!(events
        .iter()
        .filter(mine)
        .any(|e| e.kind == EventType::PROFILE_CREATED && e.path == anomaly.to_str().unwrap()));
    assert!(events
        .iter()
        .filter(mine)
        .any(|e| e.kind == EventType::EXEC));
    assert!(events
        .iter()
        .filter(mine)
        .any(|e| e.kind == EventType::FROZEN));

    // Once normal_wait has passed, ordinary runs make it normal, with no anomaly.
    std::thread::sleep(Duration::from_millis(1100));
    let deadline = Instant::now() + Duration::from_secs(20);
    let events = events_during(&engine, || {
        while engine.profile(slot).unwrap().status != ProfileStatus::Normal {
            assert!(Instant::now() < deadline, "anomaly never became normal");
            lab.run(&anomaly, &[]);
        }
        lab.run(&anomaly, &[]);
    });
    assert!(events
        .iter()
        .filter(mine)
        .any(|e| e.kind == EventType::NORMAL));
    assert!(!events
        .iter()
        .filter(mine)
        .any(|e| e.kind == EventType::ANOMALY));

    // With an argument it prints one more line: an anomaly ending in writes.
    let events = events_during(&engine, || {
        let out = lab.run(&anomaly, &["x"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Oops!\nHello world!\n"
        );
    });
    let anomalies: Vec<&Event> = events
        .iter()
        .filter(mine)
        .filter(|e| e.kind == EventType::ANOMALY)
        .collect();
    assert!(!anomalies.is_empty(), "no anomaly event: {events:?}");
    let write = Arch::X86_64.number("write").unwrap().nr();
    let first = anomalies[0];
    assert!(first.misses > 0 && first.lfc >= 1, "{first:?}");
    assert_eq!(first.sequence.len(), 9, "a full window: {first:?}");
    assert_eq!(first.sequence.last(), Some(&first.syscall));
    assert!(
        anomalies
            .iter()
            .any(|e| e.sequence.ends_with(&[write, write])),
        "no anomaly's sequence ends in write calls: {anomalies:?}"
    );
    let named: Vec<String> = first
        .sequence
        .iter()
        .map(|&n| Arch::X86_64.display_name(ebph_core::Syscall::new(n).unwrap()))
        .collect();
    eprintln!(
        "anomaly: {} misses, LFC {}, sequence {}",
        first.misses,
        first.lfc,
        named.join(" ")
    );
    assert!(engine.profile(slot).unwrap().anomalies >= anomalies.len() as u64);
    assert!(engine.stats().anomalies >= anomalies.len() as u64);

    // With accept-after 2, two more runs that repeat the extra line make it normal.
    engine.set_settings(&Settings {
        accept_after: 2,
        ..settings
    });
    let events = events_during(&engine, || {
        for _ in 0..2 {
            lab.run(&anomaly, &["x"]);
        }
    });
    let accepted: Vec<&Event> = events
        .iter()
        .filter(mine)
        .filter(|e| e.kind == EventType::ACCEPTED)
        .collect();
    assert_eq!(accepted.len(), 1, "{events:?}");
    assert!(accepted[0].pid > 0);
    let events = events_during(&engine, || {
        lab.run(&anomaly, &["x"]);
    });
    assert!(
        !events
            .iter()
            .filter(mine)
            .any(|e| e.kind == EventType::ANOMALY),
        "the accepted behaviour is normal: {events:?}"
    );
}

#[test]
fn the_daemon_is_never_traced() {
    let _one = one_at_a_time();
    let lab = Lab::new();
    let Some(mut engine) = engine(&Settings::default(), false) else {
        return;
    };
    // A stand-in daemon: a shell that waits, then execs ls in the same process.
    let mut child = Command::new(lab.path("sh"))
        .args([
            "-c",
            &format!("read x; exec {} /", lab.path("ls").display()),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    engine.set_daemon_pid(child.id());
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        engine.slot_of(&lab.key("ls")).unwrap(),
        None,
        "the daemon's exec was tracked"
    );
    // Anyone else running the same program is.
    lab.run(&lab.path("ls"), &["/"]);
    assert!(engine.slot_of(&lab.key("ls")).unwrap().is_some());
}

#[test]
fn full_maps_are_counted_and_the_rest_keeps_working() {
    let _one = one_at_a_time();
    let lab = Lab::new();
    let capacity = Capacity {
        profiles: 3,
        indexes: 2,
        rows: 8,
        tasks: 4,
        record_bytes: 0,
    };
    let Some(mut engine) = ebph_test_support::lab::load(&capacity) else {
        return;
    };
    engine.attach().unwrap();
    // Six tasks at once: more than the engine may track.
    let out = Command::new(lab.path("sh"))
        .args(["-c", "for i in 1 2 3 4 5; do sleep 0.3 & done; wait"])
        .output()
        .unwrap();
    assert!(out.status.success());
    for name in ["threads", "ls", "cat", "wc", "tr", "true"] {
        let program = lab.path(name);
        let args: &[&str] = match name {
            "ls" | "cat" => &["/etc/hostname"],
            "tr" => &["a", "b"],
            _ => &[],
        };
        // Every program still runs normally.
        let out = Command::new(&program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{name} failed under a full engine");
    }
    let stats = engine.stats();
    assert!(stats.profiles_full > 0, "{stats:?}");
    assert!(stats.rows_full > 0, "{stats:?}");
    assert!(stats.tasks_full > 0, "{stats:?}");
    assert!(stats.profiles_created <= 3, "{stats:?}");
    let slots = engine.profile_slots().unwrap();
    assert!(!slots.is_empty() && slots.len() <= 3);
    for (_, slot) in slots {
        engine.profile(slot).unwrap();
    }
}

#[test]
fn an_anomaly_storm_is_reported_a_hundred_a_second_and_counted_in_full() {
    let _one = one_at_a_time();
    // Nothing stops the storm: no anomaly limit, no tolerizing.
    let settings = Settings {
        anomaly_limit: u32::MAX,
        tolerize_limit: 128,
        ..Settings::default()
    };
    let lab = Lab::new();
    let Some(engine) = engine(&settings, false) else {
        return;
    };
    let storm = lab.path("storm");
    let key = lab.key("storm");
    for _ in 0..3 {
        lab.run(&storm, &["train"]);
    }
    normalize(&engine, &key);
    let slot = engine.slot_of(&key).unwrap().unwrap();
    let before = engine.stats().anomalies_suppressed;

    let mine = |events: &[Event], kind: EventType| {
        events
            .iter()
            .filter(|e| e.key == key && e.kind == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    // Thousands of anomalies in a few milliseconds: a hundred reported, the rest counted.
    let events = events_during(&engine, || {
        lab.run(&storm, &["storm", "20000"]);
    });
    let anomalies = engine.profile(slot).unwrap().anomalies;
    assert!(anomalies > 1000, "not a storm: {anomalies} anomalies");
    assert_eq!(mine(&events, EventType::ANOMALY).len(), 100);
    assert!(mine(&events, EventType::ANOMALIES_SUPPRESSED).is_empty());
    let suppressed = engine.stats().anomalies_suppressed - before;
    assert_eq!(suppressed, anomalies - 100);

    // In a later second, the first anomaly brings the count of the ones not reported.
    std::thread::sleep(Duration::from_millis(1100));
    let events = events_during(&engine, || {
        lab.run(&storm, &["storm", "50"]);
    });
    let summary = mine(&events, EventType::ANOMALIES_SUPPRESSED);
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert_eq!(u64::from(summary[0].misses), suppressed);
    assert!(!mine(&events, EventType::ANOMALY).is_empty());
}

#[test]
fn a_script_is_its_file_however_it_is_run() {
    let _one = one_at_a_time();
    let lab = Lab::new();
    let script = lab.script("s.sh", "echo one > /dev/null\n");
    for link in ["a", "b"] {
        std::os::unix::fs::symlink(&script, lab.path(link)).unwrap();
    }
    let Some(engine) = engine(&Settings::default(), false) else {
        return;
    };
    let run = |program: &str, args: &[&str]| {
        let status = Command::new(program)
            .args(args)
            .current_dir(lab.path(""))
            .status()
            .unwrap();
        assert!(status.success(), "{program} {args:?}");
    };
    let events = events_during(&engine, || {
        run(lab.path("a").to_str().unwrap(), &[]);
        run(lab.path("b").to_str().unwrap(), &[]);
        run("./s.sh", &[]);
        // The shell reading a file is the shell.
        run(lab.path("sh").to_str().unwrap(), &["s.sh"]);
        // A program run by a relative path is stored by its absolute one.
        run("./true", &[]);
    });
    let true_created = events
        .iter()
        .find(|e| e.kind == EventType::PROFILE_CREATED && e.key == lab.key("true"))
        .expect("a profile for true");
    assert_eq!(
        true_created.path,
        std::fs::canonicalize(lab.path("true"))
            .unwrap()
            .to_str()
            .unwrap()
    );
    let key = lab.script_key("s.sh");
    let created: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == EventType::PROFILE_CREATED && e.key.ino == key.ino)
        .collect();
    assert_eq!(created.len(), 1, "one profile for the script: {created:?}");
    assert_eq!(created[0].key, key);
    let real = std::fs::canonicalize(&script).unwrap();
    assert_eq!(created[0].path, real.to_str().unwrap(), "its absolute path");
    let execs = events
        .iter()
        .filter(|e| e.kind == EventType::EXEC && e.key == key)
        .count();
    assert_eq!(execs, 3, "three runs under the script's profile");
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventType::EXEC && e.key == lab.key("sh")),
        "`sh s.sh` runs as sh"
    );
    assert_eq!(engine.stats().scripts_unseen, 0);
}

#[test]
fn a_script_running_before_the_engine_gets_its_own_profile() {
    let _one = one_at_a_time();
    let lab = Lab::new();
    let script = lab.script("waiting.sh", "read x\n");
    let mut child = Command::new(&script)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let comm = || std::fs::read_to_string(format!("/proc/{}/comm", child.id())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while comm() != "waiting.sh\n" {
        assert!(Instant::now() < deadline, "the script never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let Some(engine) = engine(&Settings::default(), false) else {
        drop(child.stdin.take());
        child.wait().unwrap();
        return;
    };
    let events = events_during(&engine, || {
        engine.associate_running().unwrap();
    });
    let key = lab.script_key("waiting.sh");
    let slot = engine
        .slot_of(&key)
        .unwrap()
        .expect("a profile for the running script");
    let task = engine
        .tasks()
        .unwrap()
        .into_iter()
        .find(|t| t.pid == child.id())
        .expect("the script's process is tracked");
    assert_eq!(task.profile, slot, "under the script's profile");
    assert!(events.iter().any(|e| e.kind == EventType::PROFILE_CREATED
        && e.key == key
        && e.path == std::fs::canonicalize(&script).unwrap().to_str().unwrap()));
    drop(child.stdin.take());
    child.wait().unwrap();
}

#[test]
fn other_users_get_a_budget_and_never_the_reserve() {
    use std::os::unix::fs::{chown, PermissionsExt};
    use std::os::unix::process::CommandExt;
    const NOBODY: u32 = 65534;
    let _one = one_at_a_time();
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Sixteen profiles: the last two (an eighth) are kept for root's executables.
    let capacity = Capacity {
        profiles: 16,
        indexes: 256,
        rows: 4096,
        tasks: 1024,
        record_bytes: 0,
    };
    let Some(mut engine) = ebph_test_support::lab::load(&capacity) else {
        return;
    };
    engine.set_settings(&Settings {
        user_profiles: 5,
        ..Settings::default()
    });
    engine.attach().unwrap();
    let mut n = 0;
    let mut run_new_as_nobody = |count: usize| {
        for _ in 0..count {
            let program = dir.path().join(format!("p{n}"));
            n += 1;
            std::fs::copy(lab.path("true"), &program).unwrap();
            chown(&program, Some(NOBODY), Some(NOBODY)).unwrap();
            let status = Command::new(&program)
                .uid(NOBODY)
                .gid(NOBODY)
                .status()
                .unwrap();
            assert!(status.success());
        }
    };
    // The budget: 5 new profiles this minute, then refusals and one event.
    let events = events_during(&engine, || run_new_as_nobody(8));
    // (Other programs may run on the machine meanwhile: only nobody's are counted.)
    let nobodys = |engine: &Engine| {
        engine
            .profile_slots()
            .unwrap()
            .into_iter()
            .map(|(_, s)| engine.profile_use(s).unwrap())
            .filter(|u| u.uid == NOBODY)
            .collect::<Vec<_>>()
    };
    let stats = engine.stats();
    assert_eq!(nobodys(&engine).len(), 5, "{stats:?}");
    assert_eq!(stats.budget_denied, 3, "{stats:?}");
    let spent: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventType::PROFILE_BUDGET_SPENT)
        .collect();
    assert_eq!(spent.len(), 1, "{events:?}");
    assert_eq!((spent[0].uid, spent[0].misses), (NOBODY, 5));
    let mine: Vec<_> = events
        .iter()
        .filter(|e| {
            e.kind == EventType::PROFILE_CREATED && e.path.starts_with(dir.path().to_str().unwrap())
        })
        .collect();
    assert_eq!(mine.len(), 5, "{events:?}");
    assert!(mine.iter().all(|e| e.uid == NOBODY), "{mine:?}");
    // No budget: nobody's executables fill the table up to the reserve, and no further.
    engine.set_settings(&Settings {
        user_profiles: 0,
        ..Settings::default()
    });
    run_new_as_nobody(12);
    let stats = engine.stats();
    let unprivileged = engine
        .profile_slots()
        .unwrap()
        .into_iter()
        .filter(|&(_, s)| engine.profile_use(s).unwrap().unprivileged)
        .count();
    assert!(unprivileged <= 14, "{stats:?}");
    assert!(nobodys(&engine).len() >= 12, "{stats:?}");
    assert!(stats.reserve_denied >= 3, "{stats:?}");
    // Root's program still gets a profile; each of nobody's is marked as theirs.
    let status = Command::new(lab.path("true")).status().unwrap();
    assert!(status.success());
    let slot = engine
        .slot_of(&lab.key("true"))
        .unwrap()
        .expect("a profile for root's program");
    let root = engine.profile_use(slot).unwrap();
    assert!(!root.unprivileged && root.uid == 0, "{root:?}");
    assert!(nobodys(&engine).iter().all(|u| u.unprivileged));
}
