//! The engine lab: programs with inodes (so profiles) of their own, an engine loaded for a
//! test that records what it sees, the model fed the same records, and training a program
//! until it is normal in both.

use std::cell::RefCell;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::rc::Rc;
use std::time::Duration;

use ebph_bpf::{AdminOp, Capacity, Engine, EngineError, Event, Record, RecordKind};
use ebph_core::{Arch, Model, ModelEvent, Profile, ProfileKey, Settings, Syscall};

use crate::skip_or_fail;

/// Capacity small enough for tests, with room to record.
pub fn test_capacity() -> Capacity {
    Capacity {
        profiles: 2048,
        indexes: 2048,
        rows: 16_384,
        tasks: 8192,
        record_bytes: 32 << 20,
    }
}

/// An engine loaded with `capacity`, not attached, or None (after [`skip_or_fail`]) where
/// this machine cannot load one.
pub fn load(capacity: &Capacity) -> Option<Engine> {
    match Engine::load(capacity) {
        Ok(engine) => Some(engine),
        Err(e @ (EngineError::NotRoot | EngineError::NoBtf)) => {
            skip_or_fail(&e.to_string());
            None
        }
        Err(e) => panic!("the engine failed to load: {e}"),
    }
}

/// A loaded, attached engine with `settings`, or None (after [`skip_or_fail`]).
pub fn engine(settings: &Settings, recording: bool) -> Option<Engine> {
    let capacity = Capacity {
        record_bytes: if recording {
            test_capacity().record_bytes
        } else {
            0
        },
        ..test_capacity()
    };
    let mut engine = load(&capacity)?;
    engine.set_settings(settings);
    engine.set_recording(recording);
    engine.attach().expect("attach");
    Some(engine)
}

/// A directory of programs with inodes of their own, so their profiles are theirs alone.
pub struct Lab {
    dir: tempfile::TempDir,
}

impl Default for Lab {
    fn default() -> Lab {
        Lab::new()
    }
}

impl Lab {
    /// A new lab: copies of `ls`, `sh`, `tr`, `wc`, `cat` and `true`, and the engine's
    /// programs of `programs/` compiled.
    pub fn new() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("ebph-lab")
            .tempdir()
            .unwrap();
        let lab = Lab { dir };
        for (name, from) in [
            ("ls", "/bin/ls"),
            ("sh", "/bin/sh"),
            ("tr", "/usr/bin/tr"),
            ("wc", "/usr/bin/wc"),
            ("cat", "/bin/cat"),
            ("true", "/bin/true"),
        ] {
            let from = std::fs::canonicalize(from).unwrap();
            std::fs::copy(&from, lab.path(name)).unwrap();
        }
        for name in [
            "threads", "chain", "signals", "anomaly", "storm", "net", "heap",
        ] {
            crate::programs::compile(lab.dir.path(), name);
        }
        lab
    }

    /// The program `name` of the lab.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes an executable script run by the lab's `sh`.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        std::fs::write(&path, format!("#!{}\n{body}", self.path("sh").display())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Runs `program` pinned to CPU 0, so that the engine sees its calls in one total order,
    /// with the lab first on PATH.
    pub fn run(&self, program: &Path, args: &[&str]) -> Output {
        let path = format!("{}:/usr/bin:/bin", self.dir.path().display());
        let out = Command::new("taskset")
            .args(["-c", "0"])
            .arg(program)
            .args(args)
            .env("PATH", path)
            .env("CHAIN_LAST", self.path("true"))
            .output()
            .expect("run taskset");
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The profile key of a program of the lab.
    pub fn key(&self, name: &str) -> ProfileKey {
        key_of(&self.path(name))
    }

    /// The profile key of a script of the lab (run by the lab's `sh`).
    pub fn script_key(&self, name: &str) -> ProfileKey {
        self.key(name).script_of(&self.key("sh"))
    }
}

/// The profile key of the executable at `path`.
pub fn key_of(path: &Path) -> ProfileKey {
    let meta = std::fs::metadata(path).unwrap();
    ProfileKey {
        dev: meta.dev(),
        ino: meta.ino(),
        script: 0,
    }
}

/// Collects the engine's records while workloads run.
pub struct Recorder<'a> {
    records: Rc<RefCell<Vec<Record>>>,
    sub: ebph_bpf::Subscription<'a>,
    engine: &'a Engine,
}

impl<'a> Recorder<'a> {
    /// Records from now on.
    pub fn new(engine: &'a Engine) -> Recorder<'a> {
        let records = Rc::new(RefCell::new(Vec::new()));
        let sink = records.clone();
        let sub = engine
            .subscribe_records(move |r| sink.borrow_mut().push(r))
            .unwrap();
        Recorder {
            records,
            sub,
            engine,
        }
    }

    /// Reads everything recorded so far.
    pub fn drain(&self) {
        self.sub.consume().unwrap();
    }

    /// Every record, in the engine's order; fails if any was lost.
    pub fn finish(self) -> Vec<Record> {
        std::thread::sleep(Duration::from_millis(20));
        self.drain();
        assert_eq!(self.engine.stats().records_lost, 0, "records were lost");
        let mut records = self.records.take();
        records.sort_by_key(|r| r.seq);
        records
    }
}

/// The model, fed every record.
pub fn model_of(records: &[Record], settings: &Settings) -> Model {
    let mut model = Model::new(settings.clone(), Arch::X86_64);
    for r in records {
        apply_record(&mut model, r);
    }
    model
}

/// Feeds one record to the model.
pub fn apply_record(model: &mut Model, r: &Record) {
    {
        let event = match r.kind {
            RecordKind::Exec => ModelEvent::Exec {
                tid: r.tid,
                key: r.key,
            },
            RecordKind::Fork => ModelEvent::Fork {
                parent: r.tid,
                child: r.arg,
            },
            RecordKind::Signal => ModelEvent::Signal { tid: r.tid },
            RecordKind::Exit => ModelEvent::Exit { tid: r.tid },
            RecordKind::Endpoint => ModelEvent::Endpoint {
                tid: r.tid,
                endpoint: ebph_core::Endpoint::from_id(r.endpoint)
                    .expect("the engine records endpoints ebph_core reads"),
            },
            RecordKind::Call => ModelEvent::Syscall {
                tid: r.tid,
                call: Syscall::new(r.arg as u16).expect("the engine records calls below 512"),
                now: r.now,
            },
        };
        model.apply(event);
    }
}

/// Describes how two profiles differ (empty when equal), briefly.
pub fn differences(kernel: &Profile, model: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    let fields = [
        ("train_count", kernel.train_count, model.train_count),
        (
            "last_mod_count",
            kernel.last_mod_count,
            model.last_mod_count,
        ),
        ("sequences", kernel.sequences, model.sequences),
        ("anomalies", kernel.anomalies, model.anomalies),
        ("normal_time", kernel.normal_time, model.normal_time),
        ("repeats", kernel.repeats.into(), model.repeats.into()),
        (
            "train_partial",
            kernel.train_partial.into(),
            model.train_partial.into(),
        ),
    ];
    for (name, k, m) in fields {
        if k != m {
            out.push(format!("{name}: kernel {k}, model {m}"));
        }
    }
    if kernel.status != model.status {
        out.push(format!(
            "status: kernel {}, model {}",
            kernel.status, model.status
        ));
    }
    for (name, k, m) in [
        ("train", &kernel.train, &model.train),
        ("test", &kernel.test, &model.test),
    ] {
        let ke: Vec<_> = k.entries().collect();
        let me: Vec<_> = m.entries().collect();
        let only_k: Vec<_> = ke.iter().filter(|e| !me.contains(e)).take(5).collect();
        let only_m: Vec<_> = me.iter().filter(|e| !ke.contains(e)).take(5).collect();
        if !only_k.is_empty() || !only_m.is_empty() {
            out.push(format!(
                "{name} table: {} entries in the kernel, {} in the model; only in kernel {only_k:?}; only in model {only_m:?}",
                ke.len(),
                me.len()
            ));
        }
        let kn: Vec<_> = k.ngram_entries().collect();
        let mn: Vec<_> = m.ngram_entries().collect();
        if kn != mn {
            let only_k: Vec<_> = kn.iter().filter(|e| !mn.contains(e)).take(5).collect();
            let only_m: Vec<_> = mn.iter().filter(|e| !kn.contains(e)).take(5).collect();
            out.push(format!(
                "{name} n-grams: {} bits in the kernel, {} in the model; only in kernel {only_k:?}; only in model {only_m:?}",
                kn.len(),
                mn.len()
            ));
        }
    }
    out
}

/// Requires the kernel's profile of `key` to equal the model's, bit for bit.
pub fn assert_same_profile(
    engine: &Engine,
    model: &Model,
    key: &ProfileKey,
    what: &str,
) -> Profile {
    let slot = engine.slot_of(key).unwrap().unwrap_or_else(|| {
        panic!(
            "{what}: the engine has no profile {key}; it has {:?}, {:?}, {} runs missed",
            engine.profile_slots().unwrap(),
            engine.stats(),
            engine.runs_missed()
        )
    });
    let kernel = engine.profile(slot).unwrap();
    let expected = model
        .profile(key)
        .unwrap_or_else(|| panic!("{what}: the model has no profile {key}"));
    let diff = differences(&kernel, expected);
    assert!(
        diff.is_empty(),
        "{what} ({key}) differs:\n  {}",
        diff.join("\n  ")
    );
    assert_eq!(&kernel, expected);
    kernel
}

/// Collects events while `f` runs, then a little longer.
pub fn events_during(engine: &Engine, f: impl FnOnce()) -> Vec<Event> {
    let events = Rc::new(RefCell::new(Vec::new()));
    let sink = events.clone();
    let sub = engine
        .subscribe(move |e| sink.borrow_mut().push(e))
        .unwrap();
    f();
    sub.poll(Duration::from_millis(50)).unwrap();
    sub.consume().unwrap();
    drop(sub);
    events.take()
}

/// Makes the profile of `key` normal now in `engine` (it must have one).
pub fn normalize(engine: &Engine, key: &ProfileKey) {
    let slot = engine
        .slot_of(key)
        .unwrap()
        .unwrap_or_else(|| panic!("the engine has no profile {key}"));
    engine.admin(AdminOp::Normalize, slot).unwrap();
}

/// Trains the lab's program `name` on `runs` runs of it with `args` while `engine` records,
/// then makes its profile normal in the engine and in the model fed the same records: the
/// model, to go on with.
pub fn train_until_normal(
    engine: &Engine,
    lab: &Lab,
    name: &str,
    args: &[&str],
    runs: usize,
    settings: &Settings,
) -> Model {
    let recorder = Recorder::new(engine);
    for _ in 0..runs {
        lab.run(&lab.path(name), args);
        recorder.drain();
    }
    let mut model = model_of(&recorder.finish(), settings);
    let key = lab.key(name);
    normalize(engine, &key);
    model
        .profile_mut(&key)
        .unwrap_or_else(|| panic!("the model has no profile of {name}"))
        .normalize();
    model
}
