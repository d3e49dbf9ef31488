//! The overhead benchmark's driver (run it through `bench/overhead`).
//!
//! Runs the per-call workload (`bench/syscalls.c`) and a real C build in four modes, in
//! turns, several rounds: nothing attached, the floor (an empty `sys_enter` program), ebph
//! with the workload's profile training, and ebph with it normal. Prints one table of medians
//! with the added cost of each mode, the ratio of ebph's added cost to the floor's, and the
//! kernel memory of typical profiles.
//!
//! Usage: overhead SYSCALLS_BINARY [ROUNDS] [BUILD_COMMAND]

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ebph_bpf::{AdminOp, Capacity, Engine, Floor};
use ebph_core::{ProfileKey, Settings};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Nothing,
    Floor,
    Training,
    Normal,
}

const MODES: [Mode; 4] = [Mode::Nothing, Mode::Floor, Mode::Training, Mode::Normal];

/// The settings measured: the defaults, with `EBPH_BENCH_SET` ("name=value ...") applied.
fn bench_settings() -> Settings {
    let text = std::env::var("EBPH_BENCH_SET").unwrap_or_default();
    let values = text.split_whitespace().map(|pair| {
        pair.split_once('=')
            .unwrap_or_else(|| panic!("EBPH_BENCH_SET: {pair:?} is not name=value"))
    });
    Settings::default()
        .with_values(values)
        .unwrap_or_else(|e| panic!("EBPH_BENCH_SET: {e}"))
}

/// The exec-heavy workload.
const EXEC_LOOP: &str = "i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done";

/// Attaches what `mode` measures; it stays attached while the returned value lives.
fn attach(mode: Mode) -> Option<Box<dyn std::any::Any>> {
    match mode {
        Mode::Nothing => None,
        Mode::Floor => Some(Box::new(Floor::attach().expect("attach the floor"))),
        Mode::Training | Mode::Normal => {
            let mut engine = Engine::load(&Capacity::default()).expect("load ebph");
            let base = bench_settings();
            let settings = Settings {
                // Normal as soon as stable: the workload's calls are then also tested.
                normal_wait: if mode == Mode::Normal {
                    Duration::ZERO
                } else {
                    base.normal_wait
                },
                ..base
            };
            engine.set_settings(&settings);
            engine.attach().expect("attach ebph");
            // Events are read as the daemon reads them (waking it costs the kernel too).
            let source = engine.event_source().expect("the event ring buffer");
            let stop = Arc::new(AtomicBool::new(false));
            let stopped = stop.clone();
            let reader = std::thread::spawn(move || {
                let subscription = source.subscribe(|_| {}).expect("subscribe");
                while !stopped.load(Ordering::Relaxed) {
                    subscription
                        .poll(Duration::from_millis(100))
                        .expect("read events");
                }
            });
            Some(Box::new(Attached {
                _engine: engine,
                stop,
                reader: Some(reader),
            }))
        }
    }
}

/// The engine, and a thread reading its events.
struct Attached {
    _engine: Engine,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the event reader");
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn run_workload(binary: &str) -> Vec<(String, f64)> {
    let out = Command::new(binary).output().expect("run the workload");
    assert!(out.status.success(), "the workload failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, ns) = l.rsplit_once(' ')?;
            Some((name.to_owned(), ns.parse().ok()?))
        })
        .collect()
}

fn run_build(command: &str) -> f64 {
    let start = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .status()
        .expect("run the build");
    assert!(status.success(), "the build failed: {command}");
    start.elapsed().as_secs_f64()
}

/// Kernel memory of the profiles of `ls` and `bash` after a few runs, training and normal.
fn profile_memory() -> Vec<(String, usize, usize)> {
    let mut engine = Engine::load(&Capacity::default()).expect("load ebph");
    engine.set_settings(&bench_settings());
    engine.attach().expect("attach ebph");
    let programs: [(&str, &[&str]); 2] = [
        ("/bin/ls", &["-la", "/usr", "/etc"]),
        (
            "/bin/bash",
            &[
                "-c",
                "for i in 1 2 3; do echo $i; done | cat > /dev/null; ls / > /dev/null",
            ],
        ),
    ];
    let mut out = Vec::new();
    for (path, args) in programs {
        for _ in 0..5 {
            Command::new(path)
                .args(args)
                .output()
                .expect("run a program");
        }
        let meta = std::fs::metadata(std::fs::canonicalize(path).unwrap()).unwrap();
        use std::os::unix::fs::MetadataExt;
        let key = ProfileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            script: 0,
        };
        let slot = engine.slot_of(&key).unwrap().expect("profile exists");
        let training = engine.profile_memory(slot).unwrap();
        engine.admin(AdminOp::Normalize, slot).unwrap();
        let normal = engine.profile_memory(slot).unwrap();
        out.push((path.to_owned(), training, normal));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let binary = args
        .get(1)
        .expect("usage: overhead SYSCALLS_BINARY [ROUNDS] [BUILD_COMMAND]");
    let rounds: usize = args
        .get(2)
        .map_or(3, |r| r.parse().expect("ROUNDS is a number"));
    let build = args.get(3);

    let mut results: Vec<Vec<(String, f64)>> = vec![Vec::new(); MODES.len()];
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for (i, &mode) in MODES.iter().enumerate() {
            let attached = attach(mode);
            let mut measured = run_workload(binary);
            // Exec-heavy: a shell starting 1,000 short programs, one after another.
            measured.push(("exec loop (s)".to_owned(), run_build(EXEC_LOOP)));
            if let Some(build) = build {
                measured.push(("C build (s)".to_owned(), run_build(build)));
            }
            drop(attached);
            results[i].extend(measured);
        }
    }

    if rounds > 0 {
        print_table(&results, rounds);
    }
    println!(
        "{:<14} {:>18} {:>18}",
        "PROFILE", "TRAINING (KIB)", "NORMAL (KIB)"
    );
    for (path, training, normal) in profile_memory() {
        println!(
            "{:<14} {:>18.1} {:>18.1}",
            path,
            training as f64 / 1024.0,
            normal as f64 / 1024.0
        );
    }
    println!();
    println!(
        "Kernel memory of the profile after five runs: its entry, index blocks and lookahead rows."
    );
}

fn print_table(results: &[Vec<(String, f64)>], rounds: usize) {
    let names: Vec<String> = {
        let mut seen = Vec::new();
        for (name, _) in &results[0] {
            if !seen.contains(name) {
                seen.push(name.clone());
            }
        }
        seen
    };
    let value = |mode: usize, name: &str| {
        median(
            results[mode]
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .collect(),
        )
    };
    println!(
        "{:<14} {:>12} {:>18} {:>18} {:>18} {:>10}",
        "OPERATION", "NOTHING", "FLOOR", "EBPH (TRAINING)", "EBPH (NORMAL)", "EBPH/FLOOR"
    );
    for name in &names {
        let base = value(0, name);
        let cell = |mode: usize| {
            let v = value(mode, name);
            let unit = if name.ends_with("(s)") { "s" } else { "ns" };
            format!("{v:.1}{unit} {:+.0}%", (v / base - 1.0) * 100.0)
        };
        let added_floor = value(1, name) - base;
        let added_ebph = value(2, name) - base;
        // Where the floor adds less than the noise (2% here), a ratio to it means nothing.
        let ratio = if added_floor > 0.02 * base {
            format!("{:.2}x", added_ebph / added_floor)
        } else {
            "~".into()
        };
        let unit = if name.ends_with("(s)") { "s" } else { "ns" };
        println!(
            "{:<14} {:>12} {:>18} {:>18} {:>18} {:>10}",
            name,
            format!("{base:.1}{unit}"),
            cell(1),
            cell(2),
            cell(3),
            ratio
        );
    }
    println!();
    println!("Medians of {rounds} rounds; modes run in turns. EBPH/FLOOR = ebph's added time over the empty program's (~ where the floor adds less than 2%).");
    println!();
    // The macro workloads' spread: every round, per mode.
    for macro_name in names.iter().filter(|n| n.ends_with("(s)")) {
        println!(
            "{:<18} {:>10} {:>10} {:>10} {:>12}",
            macro_name.to_uppercase(),
            "MIN",
            "MEDIAN",
            "MAX",
            "VS NOTHING"
        );
        let labels = ["nothing", "floor", "ebph (training)", "ebph (normal)"];
        let base = value(0, macro_name);
        for (mode, label) in labels.iter().enumerate() {
            let all: Vec<f64> = results[mode]
                .iter()
                .filter(|(n, _)| n == macro_name)
                .map(|(_, v)| *v)
                .collect();
            let min = all.iter().copied().fold(f64::INFINITY, f64::min);
            let max = all.iter().copied().fold(0.0, f64::max);
            let mid = value(mode, macro_name);
            println!(
                "{label:<18} {min:>10.3} {mid:>10.3} {max:>10.3} {:>+11.2}%",
                (mid / base - 1.0) * 100.0
            );
        }
        println!();
    }
}
