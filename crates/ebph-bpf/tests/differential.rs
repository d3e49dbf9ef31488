//! The kernel engine and the model, fed the same calls of real workloads, must build the same
//! profiles bit for bit.

use std::time::Duration;

use ebph_bpf::{AdminOp, Engine};
use ebph_core::{Detector, ProfileStatus, Settings, Syscall};
use ebph_test_support::lab::{
    apply_record, assert_same_profile, engine, events_during, model_of, train_until_normal, Lab,
    Recorder,
};
use ebph_test_support::one_at_a_time;

#[test]
fn ls_and_shell_pipelines_match_the_model() {
    let _one = one_at_a_time();
    let settings = Settings::default();
    let lab = Lab::new();
    let Some(engine) = engine(&settings, true) else {
        return;
    };
    let recorder = Recorder::new(&engine);
    lab.run(&lab.path("ls"), &["/etc"]);
    lab.run(&lab.path("ls"), &["-la", "/usr"]);
    for text in ["a b c", "hello world", "ebph"] {
        let out = lab.run(
            &lab.path("sh"),
            &["-c", &format!("echo {text} | tr a-z A-Z | wc -c")],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            (text.len() + 1).to_string()
        );
        recorder.drain();
    }
    let records = recorder.finish();
    let model = model_of(&records, &settings);
    let brk = ebph_core::Arch::X86_64.number("brk").unwrap();
    for name in ["ls", "sh", "tr", "wc"] {
        let p = assert_same_profile(&engine, &model, &lab.key(name), name);
        assert!(
            p.train_count > 20 && p.train.lookahead_pairs() > 20 && p.train.ngram_bits_set() > 20,
            "{name} learned little: {p:?}"
        );
        // skip-brk: the heap grew (ls calls brk), and no table knows it.
        assert!(
            p.train.row(brk).is_none() && p.train.entries().all(|(_, prev, _)| prev != brk),
            "{name} learned brk"
        );
    }
    assert!(
        records
            .iter()
            .any(|r| r.kind == ebph_bpf::RecordKind::Call && r.arg == u32::from(brk.nr())),
        "the workload made no brk call"
    );
    // watch-execs: sh learned what it ran, and nothing else did.
    let sh = model.profile(&lab.key("sh")).unwrap();
    assert!(sh.train.knows_exec(&lab.key("tr")) && sh.train.knows_exec(&lab.key("wc")));
    assert!(!sh.train.knows_exec(&lab.key("ls")));
    assert!(!model.profile(&lab.key("ls")).unwrap().train.has_execs());
    let stats = engine.stats();
    assert_eq!(
        (stats.rows_full, stats.indexes_full, stats.events_lost),
        (0, 0, 0)
    );
}

#[test]
fn scripts_get_profiles_of_their_own() {
    let _one = one_at_a_time();
    let settings = Settings::default();
    // A kernel that runs tracepoint programs preemptibly may skip a run of one (counted as a
    // recursion miss, `runs_missed`): then the engine did not see all of the workload, and
    // the comparison says nothing. That is reported and the workload runs again.
    for attempt in 1..=3 {
        let lab = Lab::new();
        let first = lab.script("first.sh", "for i in 1 2 3; do echo $i; done | wc -l\n");
        let second = lab.script(
            "second.sh",
            "cat /etc/hostname > /dev/null\nls / | tr a-z A-Z > /dev/null\n",
        );
        let Some(engine) = engine(&settings, true) else {
            return;
        };
        let recorder = Recorder::new(&engine);
        lab.run(&first, &[]);
        lab.run(&second, &[]);
        lab.run(&lab.path("sh"), &["-c", "true"]);
        let records = recorder.finish();
        let missed = engine.runs_missed();
        if missed > 0 {
            eprintln!("attempt {attempt}: the kernel skipped {missed} runs of the engine's programs; running again");
            continue;
        }
        check_scripts(&engine, &lab, &model_of(&records, &settings));
        return;
    }
    panic!("the kernel skipped runs of the engine's programs in every attempt");
}

fn check_scripts(engine: &Engine, lab: &Lab, model: &ebph_core::Model) {
    let keys = [
        lab.script_key("first.sh"),
        lab.script_key("second.sh"),
        lab.key("sh"),
    ];
    assert!(keys[0] != keys[1] && keys[0] != keys[2] && keys[1] != keys[2]);
    for (key, what) in keys.iter().zip(["first.sh", "second.sh", "sh"]) {
        assert_same_profile(engine, model, key, what);
    }
    for name in ["wc", "cat", "ls", "tr"] {
        assert_same_profile(engine, model, &lab.key(name), name);
    }
}

#[test]
fn threads_fork_exec_chains_and_signal_handlers_match_the_model() {
    let _one = one_at_a_time();
    let settings = Settings::default();
    let lab = Lab::new();
    let Some(engine) = engine(&settings, true) else {
        return;
    };
    let recorder = Recorder::new(&engine);
    lab.run(&lab.path("threads"), &[]);
    lab.run(&lab.path("chain"), &["3"]);
    lab.run(&lab.path("signals"), &[]);
    lab.run(&lab.path("signals"), &[]);
    let records = recorder.finish();
    let model = model_of(&records, &settings);
    for name in ["threads", "chain", "true", "signals"] {
        assert_same_profile(&engine, &model, &lab.key(name), name);
    }
    // The signal handlers' calls were learned in frames of their own: getuid (in the
    // SIGUSR2 handler) never directly follows kill in the main program's window... but it
    // does inside the handler after getppid.
    let signals = model.profile(&lab.key("signals")).unwrap();
    let nr = |name| ebph_core::Arch::X86_64.number(name).unwrap();
    assert_eq!(signals.train.get(nr("getuid"), nr("getppid")) & 1, 1);
    assert_eq!(signals.train.get(nr("getuid"), nr("kill")) & 1, 0);
}

#[test]
fn normal_anomalies_and_the_tolerize_limit_match_the_model() {
    anomalies_match_the_model(Detector::Pairs, 7, 0);
}

#[test]
fn the_ngram_detectors_match_the_model() {
    // Short n-grams: the first calls of a run, with short windows, are covered too.
    anomalies_match_the_model(Detector::Ngrams, 4, 0);
    anomalies_match_the_model(Detector::Both, 9, 0);
}

#[test]
fn folded_loops_match_the_model() {
    // Two depths, the deepest among them, so that every compare of the engine is used. (At
    // depth 1 the dynamic loader's openat/newfstatat loop is not folded, and with
    // `normal-wait 0` the profile turns normal before the first run is over.)
    anomalies_match_the_model(Detector::Pairs, 7, 2);
    anomalies_match_the_model(Detector::Both, 6, ebph_core::FOLD_MAX);
}

/// Trains a program until normal, then runs it with an extra line and ls with new arguments:
/// anomalies, leaving normal and the tolerize limit, with detector `detector`.
fn anomalies_match_the_model(detector: Detector, ngram_length: u8, fold_loops: u8) {
    let _one = one_at_a_time();
    // Normal as soon as frozen; low limits, so every transition happens in a short run.
    let settings = Settings {
        normal_wait: Duration::ZERO,
        anomaly_limit: 3,
        tolerize_limit: 2,
        detector,
        ngram_length,
        fold_loops,
        ..Settings::default()
    };
    let lab = Lab::new();
    let Some(engine) = engine(&settings, true) else {
        return;
    };
    let recorder = Recorder::new(&engine);
    for _ in 0..12 {
        lab.run(&lab.path("anomaly"), &[]);
    }
    lab.run(&lab.path("anomaly"), &["x"]);
    lab.run(&lab.path("ls"), &["/"]);
    for _ in 0..3 {
        lab.run(&lab.path("ls"), &["-l", "/usr"]);
    }
    recorder.drain();
    let anomaly = lab.key("anomaly");
    let records = recorder.finish();
    let model = model_of(&records, &settings);
    let p = assert_same_profile(&engine, &model, &anomaly, "anomaly");
    if fold_loops > 0 {
        // The extra line only turns the program's write loop once more.
        assert_eq!(p.anomalies, 0, "{detector}: a longer loop is folded: {p:?}");
    } else {
        assert!(
            p.anomalies > 0,
            "{detector}: the extra line was an anomaly: {p:?}"
        );
    }
    // More anomalies than the limit send the profile back to training.
    assert_eq!(p.status == ProfileStatus::Normal, p.anomalies <= 3, "{p:?}");
    assert!(p.train.ngram_bits_set() > 0 || p.train_count == 0, "{p:?}");
    assert_same_profile(&engine, &model, &lab.key("ls"), "ls");
}

#[test]
fn repeated_new_behaviour_is_accepted_as_the_model_says() {
    let _one = one_at_a_time();
    // Every call seen (the extra line is new) and no limit in the way: the runs alone decide.
    let settings = Settings {
        anomaly_limit: 1000,
        accept_after: 2,
        ..Settings::ph()
    };
    let lab = Lab::new();
    let Some(engine) = engine(&settings, true) else {
        return;
    };
    let anomaly = lab.path("anomaly");
    let key = lab.key("anomaly");
    let mut model = train_until_normal(&engine, &lab, "anomaly", &[], 5, &settings);
    let slot = engine.slot_of(&key).unwrap().unwrap();

    // The first run with the extra line teaches it; the next two repeat it.
    let recorder = Recorder::new(&engine);
    let mut anomalies = Vec::new();
    for _ in 0..4 {
        lab.run(&anomaly, &["x"]);
        recorder.drain();
        anomalies.push(engine.profile_counters(slot).unwrap().anomalies);
    }
    for r in recorder.finish() {
        apply_record(&mut model, &r);
    }
    let p = assert_same_profile(&engine, &model, &key, "anomaly");
    assert!(anomalies[0] > 0, "the extra line is new: {anomalies:?}");
    assert!(
        anomalies[1] > anomalies[0],
        "and still new when repeated: {anomalies:?}"
    );
    assert_eq!(
        anomalies[2..],
        [0, 0],
        "accepted at the end of the third run, normal in the fourth"
    );
    assert_eq!(p.status, ProfileStatus::Normal);
    assert!(p.train.includes(&p.test) && p.test.includes(&p.train));
    assert_eq!((p.repeats, p.train_partial), (0, false));
}

#[test]
fn novel_execs_are_flagged_as_the_model_says() {
    let _one = one_at_a_time();
    let settings = Settings {
        anomaly_limit: 1000,
        ..Settings::default()
    };
    let lab = Lab::new();
    let Some(engine) = engine(&settings, true) else {
        return;
    };
    let sh = lab.path("sh");
    let pipeline = |program: &str| format!("echo abc | {program} > /dev/null");
    let trained = pipeline("tr a-z A-Z");
    let mut model = train_until_normal(&engine, &lab, "sh", &["-c", &trained], 3, &settings);
    let key = lab.key("sh");
    let slot = engine.slot_of(&key).unwrap().unwrap();

    // The same pipeline again, then one that runs a program sh never ran.
    let recorder = Recorder::new(&engine);
    let mut before = 0;
    let events = events_during(&engine, || {
        lab.run(&sh, &["-c", &pipeline("tr a-z A-Z")]);
        recorder.drain();
        before = engine.profile_counters(slot).unwrap().anomalies;
        lab.run(&sh, &["-c", &pipeline("wc -c")]);
    });
    for r in recorder.finish() {
        apply_record(&mut model, &r);
    }
    let p = assert_same_profile(&engine, &model, &key, "sh");
    assert_eq!(before, 0, "nothing new in the trained pipeline: {p:?}");
    assert!(p.anomalies > 0, "the novel exec is an anomaly");
    assert!(p.test.knows_exec(&lab.key("tr")) && !p.test.knows_exec(&lab.key("wc")));
    assert!(p.train.knows_exec(&lab.key("wc")), "learned all the same");
    let novel: Vec<_> = events
        .into_iter()
        .filter(|e| e.kind == ebph_bpf::EventType::NOVEL_EXEC)
        .collect();
    assert_eq!(novel.len(), 1, "{novel:?}");
    assert_eq!(novel[0].key, key, "reported as sh's");
    assert!(novel[0].path.ends_with("wc"), "{:?}", novel[0].path);
    assert_eq!(novel[0].lfc, 1, "wc starts with it in its locality frame");
}

/// The engine tells an mmap that grows the heap from the others as `ebph_core::is_heap_mmap`
/// does, and the model, fed what it recorded, agrees on every table with `skip-heap-mmap` and
/// without.
#[test]
fn heap_mmaps_are_told_apart_as_the_model_says() {
    let _one = one_at_a_time();
    let arch = ebph_core::Arch::X86_64;
    let (mmap, getppid) = (arch.mmap(), arch.number("getppid").unwrap());
    for skip in [true, false] {
        let settings = Settings {
            skip_heap_mmap: skip,
            fold_loops: 0,
            ..Settings::default()
        };
        let lab = Lab::new();
        let Some(engine) = engine(&settings, true) else {
            return;
        };
        let heap = lab.path("heap");
        let recorder = Recorder::new(&engine);
        for _ in 0..3 {
            assert!(lab.run(&heap, &[]).status.success());
        }
        let records = recorder.finish();
        let model = model_of(&records, &settings);
        let p = assert_same_profile(&engine, &model, &lab.key("heap"), "heap");
        // Between the markers: heap, code, fixed, file, heap.
        let calls: Vec<Syscall> = records
            .iter()
            .filter(|r| r.kind == ebph_bpf::RecordKind::Call)
            .map(|r| Syscall::new(r.arg as u16).unwrap())
            .collect();
        let start = calls.iter().position(|&c| c == getppid).unwrap();
        let end = start
            + 1
            + calls[start + 1..]
                .iter()
                .position(|&c| c == getppid)
                .unwrap();
        assert_eq!(
            calls[start + 1..end],
            [Syscall::HEAP_MMAP, mmap, mmap, mmap, Syscall::HEAP_MMAP],
            "skip-heap-mmap {skip}"
        );
        // The mmaps the profile saw after the first marker, at distances 1, 2, ...: three,
        // or all five without the setting.
        let seen = p.train.get(mmap, getppid);
        assert_eq!(
            seen,
            if skip { 0b111 } else { 0b11111 },
            "skip-heap-mmap {skip}"
        );
    }
}

#[test]
fn endpoints_are_classed_and_flagged_as_the_model_says() {
    let _one = one_at_a_time();
    // Nothing in the way of the novel endpoints: no anomaly limit, no tolerizing.
    let settings = Settings {
        anomaly_limit: 1000,
        tolerize_limit: 128,
        ..Settings::default()
    };
    let lab = Lab::new();
    let Some(engine) = engine(&settings, true) else {
        return;
    };
    let net = lab.path("net");
    let usual = [
        "c:127.0.0.1:5432",
        "b:0.0.0.0:0",
        "c:[::1]:80",
        "s:127.0.0.1:5310",
        "m:[::1]:5311",
        "M:127.0.0.1:5312",
        "f:127.0.0.1:5313",
    ];
    let mut model = train_until_normal(&engine, &lab, "net", &usual, 3, &settings);
    let key = lab.key("net");

    // The usual ones again, then one of every other class.
    let new = [
        ("c:10.1.2.3:53", "connect inet private:53"),
        ("c:8.8.8.8:53", "connect inet public:53"),
        ("c:[fe80::1]:9", "connect inet6 link-local:9"),
        ("c:[::ffff:127.0.0.1]:5432", "connect inet6 loopback:5432"),
        ("b:[::]:8080", "bind inet6 any:8080"),
        ("c:169.254.1.1:1", "connect inet link-local:1"),
        ("c:224.0.0.1:1", "connect inet multicast:1"),
        // Datagrams and TCP Fast Open reach remote endpoints too: each send to a port it
        // never sent to (on loopback: nothing leaves the machine).
        ("s:127.0.0.1:5300", "connect inet loopback:5300"),
        ("m:[::1]:5301", "connect inet6 loopback:5301"),
        ("M:127.0.0.1:5302", "connect inet loopback:5302"),
        ("f:127.0.0.1:5303", "connect inet loopback:5303"),
    ];
    // A datagram to the endpoint it connects to as usual is that endpoint: not new.
    let same = ("s:127.0.0.1:5432", "connect inet loopback:5432");
    let args: Vec<&str> = usual
        .iter()
        .copied()
        .chain([same.0])
        .chain(new.iter().map(|(arg, _)| *arg))
        .collect();
    let recorder = Recorder::new(&engine);
    let events = events_during(&engine, || {
        lab.run(&net, &args);
    });
    let records = recorder.finish();
    for r in &records {
        apply_record(&mut model, r);
    }
    let p = assert_same_profile(&engine, &model, &key, "net");

    // The engine classed every address as ebph_core does.
    let named: Vec<String> = records
        .iter()
        .filter(|r| r.kind == ebph_bpf::RecordKind::Endpoint)
        .map(|r| {
            ebph_core::Endpoint::from_id(r.endpoint)
                .unwrap()
                .to_string()
        })
        .collect();
    let trained = [
        "connect inet loopback:5432",
        "bind inet any:0",
        "connect inet6 loopback:80",
        "connect inet loopback:5310",
        "connect inet6 loopback:5311",
        "connect inet loopback:5312",
        "connect inet loopback:5313",
    ];
    let expected: Vec<&str> = trained
        .into_iter()
        .chain(new.iter().map(|(_, class)| *class))
        .collect();
    let mut named_expected = trained.to_vec();
    named_expected.push(same.1);
    named_expected.extend(new.iter().map(|(_, class)| *class));
    assert_eq!(named, named_expected);
    // Each new class is a novel endpoint, reported with its endpoint; the usual ones are not.
    let novel: Vec<String> = events
        .into_iter()
        .filter(|e| e.kind == ebph_bpf::EventType::NOVEL_ENDPOINT)
        .map(|e| {
            ebph_core::Endpoint::from_id(e.endpoint)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(novel, expected[trained.len()..]);
    assert!(p.anomalies >= new.len() as u64, "{p:?}");
    let listed: Vec<String> = p.train.endpoints().iter().map(|e| e.to_string()).collect();
    assert_eq!(listed, expected, "listed in the order learned");
    assert!(p.test.endpoints().len() == trained.len());
}

#[test]
fn admin_operations_match_the_model() {
    let _one = one_at_a_time();
    let settings = Settings::default();
    let lab = Lab::new();
    let Some(engine) = engine(&settings, true) else {
        return;
    };
    let recorder = Recorder::new(&engine);
    lab.run(&lab.path("ls"), &["/etc"]);
    let key = lab.key("ls");
    let slot = engine.slot_of(&key).unwrap().unwrap();
    let records = recorder.finish();
    let mut model = model_of(&records, &settings);

    engine.admin(AdminOp::Normalize, slot).unwrap();
    model.profile_mut(&key).unwrap().normalize();
    let p = assert_same_profile(&engine, &model, &key, "normalized ls");
    assert_eq!(p.status, ProfileStatus::Normal);
    assert!(!p.test.is_empty());

    engine.admin(AdminOp::Sensitize, slot).unwrap();
    model.profile_mut(&key).unwrap().sensitize();
    let p = assert_same_profile(&engine, &model, &key, "sensitized ls");
    assert!(p.train.is_empty() && !p.test.is_empty());

    engine.admin(AdminOp::Tolerize, slot).unwrap();
    model.profile_mut(&key).unwrap().tolerize();
    let p = assert_same_profile(&engine, &model, &key, "tolerized ls");
    assert_eq!(p.status, ProfileStatus::Training);
    assert!(p.test.is_empty());

    // Pools get their rows back: only what the engine still holds is in use.
    let stats = engine.stats();
    assert!(stats.rows_used > 0);
    assert!(engine.admin(AdminOp::Normalize, 99_999).is_err());
}
