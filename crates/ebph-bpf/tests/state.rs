//! Profiles loaded into a fresh engine, and the tasks an engine tracks.

use std::process::{Command, Stdio};

use ebph_bpf::{AdminOp, Capacity, Engine, EngineError, ProfileUse};
use ebph_core::{ProfileStatus, Settings};
use ebph_test_support::lab::{assert_same_profile, engine, test_capacity, Lab, Recorder};
use ebph_test_support::one_at_a_time;

#[test]
fn a_saved_profile_loads_back_bit_for_bit_and_keeps_learning_like_the_model() {
    let _one = one_at_a_time();
    // Limits that let the profile stay normal through new behaviour.
    let settings = Settings {
        anomaly_limit: 1_000_000,
        tolerize_limit: 128,
        ..Settings::default()
    };
    let lab = Lab::new();
    let key = lab.key("ls");

    // Learn, normalize, learn some more: train and test differ, and share some rows.
    let saved = {
        let Some(first) = engine(&settings, false) else {
            return;
        };
        lab.run(&lab.path("ls"), &["/etc"]);
        let slot = first.slot_of(&key).unwrap().unwrap();
        first.admin(AdminOp::Normalize, slot).unwrap();
        lab.run(&lab.path("ls"), &["-la", "/usr"]);
        let saved = first.profile(slot).unwrap();
        assert_eq!(saved.status, ProfileStatus::Normal);
        assert_ne!(saved.train, saved.test);
        (saved, first.profile_memory(slot).unwrap())
    };
    let (saved, memory) = saved;

    let capacity = Capacity {
        record_bytes: 32 << 20,
        ..test_capacity()
    };
    let Some(mut second) = ebph_test_support::lab::load(&capacity) else {
        return;
    };
    let usage = ProfileUse {
        tasks: 0,
        last_used: 12345,
        unprivileged: true,
        uid: 65534,
    };
    let slot = second.insert_profile(&key, &saved, &usage).unwrap();
    assert_eq!(second.profile_use(slot).unwrap(), usage, "usage kept");
    assert!(matches!(
        second.insert_profile(&key, &saved, &usage),
        Err(EngineError::Duplicate(_))
    ));
    assert_eq!(second.profile(slot).unwrap(), saved, "loaded bit for bit");
    assert_eq!(
        second.profile_memory(slot).unwrap(),
        memory,
        "rows shared as before"
    );

    second.set_settings(&settings);
    second.set_recording(true);
    second.attach().unwrap();
    // Attached and running, a profile is loaded just the same (an import).
    let cat = second
        .insert_profile(&lab.key("cat"), &saved, &ProfileUse::default())
        .unwrap();
    assert_eq!(second.profile(cat).unwrap(), saved, "loaded while attached");
    assert!(matches!(
        second.insert_profile(&lab.key("cat"), &saved, &ProfileUse::default()),
        Err(EngineError::Duplicate(_))
    ));
    let recorder = Recorder::new(&second);
    lab.run(&lab.path("ls"), &["-R", "/etc/apt"]);
    let records = recorder.finish();
    let mut model = ebph_core::Model::new(settings.clone(), ebph_core::Arch::X86_64);
    model.insert_profile(key, saved.clone());
    for r in &records {
        ebph_test_support::lab::apply_record(&mut model, r);
    }
    assert_same_profile(&second, &model, &key, "ls after loading");
}

#[test]
fn tracked_tasks_are_listed_with_their_profile_and_lfc() {
    let _one = one_at_a_time();
    let lab = Lab::new();
    let Some(engine) = engine(&Settings::default(), false) else {
        return;
    };
    let (mut child, task) = waiting_sh(&lab, &engine);
    let pid = child.id();
    assert_eq!(task.tid, pid);
    assert_eq!(Some(task.profile), engine.slot_of(&lab.key("sh")).unwrap());
    assert_eq!(task.lfc, 0);
    drop(child.stdin.take());
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(
        engine.tasks().unwrap().iter().all(|t| t.pid != pid),
        "an exited task is still listed"
    );
}

#[test]
fn processes_running_before_the_engine_are_associated() {
    let _one = one_at_a_time();
    let lab = Lab::new();
    // Started before the engine exists.
    let mut early = Command::new(lab.path("sh"))
        .args(["-c", "read x"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let Some(engine) = engine(&Settings::default(), false) else {
        drop(early.stdin.take());
        early.wait().unwrap();
        return;
    };
    assert!(engine.tasks().unwrap().iter().all(|t| t.pid != early.id()));
    let added = engine.associate_running().unwrap();
    assert!(added > 0);
    let tasks = engine.tasks().unwrap();
    let task = tasks
        .iter()
        .find(|t| t.pid == early.id())
        .expect("the early process is tracked");
    assert_eq!(Some(task.profile), engine.slot_of(&lab.key("sh")).unwrap());
    // Kernel threads (kthreadd is pid 2) are not.
    assert!(tasks.iter().all(|t| t.pid != 2));
    // A second pass adds nothing.
    assert_eq!(engine.associate_running().unwrap(), 0);
    // Its calls now train its profile.
    let slot = task.profile;
    let before = engine.profile(slot).unwrap().train_count;
    use std::io::Write;
    early.stdin.take().unwrap().write_all(b"go\n").unwrap();
    early.wait().unwrap();
    assert!(engine.profile(slot).unwrap().train_count > before);
}

#[test]
fn a_profile_no_task_uses_is_deleted_and_its_room_returned() {
    let _one = one_at_a_time();
    let lab = Lab::new();
    let Some(engine) = engine(&Settings::default(), false) else {
        return;
    };
    let ls = lab.path("ls");
    lab.run(&ls, &["-R", "/etc/apt"]);
    let key = lab.key("ls");
    let slot = engine.slot_of(&key).unwrap().unwrap();
    let learned = engine.profile(slot).unwrap();
    let rows_before = engine.stats().rows_used;
    assert!(!learned.train.is_empty());

    engine.delete_profile(slot).unwrap();
    assert_eq!(engine.slot_of(&key).unwrap(), None);
    assert!(
        engine.stats().rows_used < rows_before,
        "its rows went back to the pool"
    );
    assert!(matches!(
        engine.delete_profile(slot),
        Err(EngineError::NoSuchProfile(_))
    ));
    // Its program's next run starts a new profile.
    lab.run(&ls, &["/"]);
    let again = engine.slot_of(&key).unwrap().expect("a new profile");
    assert!(engine.profile(again).unwrap().train_count < learned.train_count);

    // A profile a running task uses is refused, and deleted once the task is gone.
    let (mut child, _) = waiting_sh(&lab, &engine);
    let sh = engine.slot_of(&lab.key("sh")).unwrap().unwrap();
    assert!(matches!(
        engine.delete_profile(sh),
        Err(EngineError::InUse(_))
    ));
    drop(child.stdin.take());
    child.wait().unwrap();
    engine.delete_profile(sh).unwrap();
    assert_eq!(engine.slot_of(&lab.key("sh")).unwrap(), None);
}

/// The lab's `sh` waiting on its input, once the engine tracks it, and its task. The caller
/// closes its input and waits for it.
#[allow(clippy::zombie_processes)] // returned to the caller, who waits
fn waiting_sh(lab: &Lab, engine: &Engine) -> (std::process::Child, ebph_bpf::TaskInfo) {
    let mut child = Command::new(lab.path("sh"))
        .args(["-c", "read x"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the engine has seen the exec.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(t) = engine.tasks().unwrap().into_iter().find(|t| t.pid == pid) {
            return (child, t);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pid {pid} never listed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
