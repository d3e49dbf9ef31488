//! `ebph replay`, driven through the binary as a user would.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn ebph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebph"))
        .args(args)
        .output()
        .expect("run ebph")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ebph failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

/// `PID SYSCALL` lines for one process.
fn unm(pid: u32, calls: &[u16]) -> String {
    calls.iter().map(|c| format!("{pid} {c}\n")).collect()
}

#[test]
fn json_reports_each_test_process_then_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = write(
        d,
        "train/a.int",
        &(unm(1, &[1, 2, 3, 4]) + &unm(2, &[1, 2, 3, 5])),
    );
    let test = write(
        d,
        "test/b.int",
        &(unm(7, &[1, 2, 3, 4]) + &unm(8, &[1, 3, 2, 4, 6])),
    );
    let out = ebph(&[
        "replay",
        "--format",
        "unm",
        "--train",
        s(&train),
        "--test",
        s(&test),
        "--json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    let first = stdout(&out).lines().next().unwrap().to_owned();
    assert!(
        first.starts_with("{\"trace\":"),
        "trace comes first: {first}"
    );
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["anomalous_calls", "calls", "max_lfc", "novel", "trace"]
    );
    assert_eq!(lines[0]["trace"], format!("{}:7", test.display()));
    assert_eq!(
        (
            lines[0]["calls"].as_u64(),
            lines[0]["anomalous_calls"].as_u64()
        ),
        (Some(4), Some(0))
    );
    // 1 3 2 4 6: 3 after 1 (1 miss), 2 after 3 1 (2 misses), 4 after 2 3 1 (2), 6 new (4).
    assert_eq!(lines[1]["trace"], format!("{}:8", test.display()));
    assert_eq!(lines[1]["calls"], 5);
    assert_eq!(lines[1]["anomalous_calls"], 4);
    assert_eq!(lines[1]["max_lfc"], 4);
    let summary = &lines[2]["summary"];
    assert_eq!(summary["train_count"], 8);
    assert_eq!(summary["sequences"], 4);
    assert_eq!(summary["lookahead_pairs"], 9);
    assert_eq!(summary["train_processes"], 2);
    assert_eq!(summary["test_processes"], 2);
    assert_eq!(summary["anomalous_processes"], 1);
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn results_do_not_depend_on_test_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = write(d, "train.int", &unm(1, &[5, 6, 7, 8, 5, 6, 7, 8, 9]));
    let x = write(d, "x.int", &unm(2, &[5, 7, 6, 8, 9, 9, 1]));
    let y = write(d, "y.int", &unm(3, &[5, 6, 7, 8, 1, 2, 3]));
    let run = |first: &Path, second: &Path| {
        let out = ebph(&[
            "replay",
            "-f",
            "unm",
            "--train",
            s(&train),
            "--test",
            s(first),
            s(second),
            "--json",
        ]);
        let mut lines = json_lines(&out);
        lines.pop();
        lines.sort_by_key(|l| l["trace"].as_str().unwrap().to_owned());
        lines
    };
    let forward = run(&x, &y);
    assert_eq!(forward, run(&y, &x));
    assert!(forward
        .iter()
        .all(|l| l["anomalous_calls"].as_u64().unwrap() > 0));
}

#[test]
fn training_traces_test_clean_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "adfa/UTD-0001.txt",
        "6 6 63 6 42 120 6 195 120 6 6 114 162\n",
    );
    write(d, "adfa/UTD-0002.txt", "3 4 5 3 4 5 6 7\n8 9\n");
    let out = ebph(&[
        "replay",
        "-f",
        "adfa",
        "--train",
        s(&d.join("adfa")),
        "--test",
        s(&d.join("adfa")),
        "--json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert!(lines[0]["trace"]
        .as_str()
        .unwrap()
        .ends_with("UTD-0001.txt"));
    assert_eq!(lines[1]["calls"], 10);
    assert!(lines[..2].iter().all(|l| l["anomalous_calls"] == 0));

    let strace = write(
        d,
        "ls.strace",
        "300   execve(\"/bin/ls\", [\"ls\"], 0x7ffc /* 9 vars */) = 0\n\
         300   brk(NULL)                = 0x5581\n\
         300   openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3\n\
         300   --- SIGCHLD {si_signo=SIGCHLD} ---\n\
         300   close(3)                 = 0\n\
         300   exit_group(0)            = ?\n\
         300   +++ exited with 0 +++\n",
    );
    let out = ebph(&[
        "replay",
        "-f",
        "strace",
        "--train",
        s(&strace),
        "--test",
        s(&strace),
        "--json",
    ]);
    let lines = json_lines(&out);
    assert_eq!(lines[0]["trace"], format!("{}:300", strace.display()));
    assert_eq!(
        (
            lines[0]["calls"].as_u64(),
            lines[0]["anomalous_calls"].as_u64()
        ),
        (Some(5), Some(0))
    );
    assert_eq!(lines[0]["novel"], serde_json::json!([]));
}

#[test]
fn the_table_is_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "t.int", &unm(1, &[1, 2, 3]));
    let out = stdout(&ebph(&[
        "replay",
        "-f",
        "unm",
        "--train",
        s(&train),
        "--test",
        s(&train),
    ]));
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["TRACE", "CALLS", "ANOMALOUS", "MAX_LFC"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        [format!("{}:1", train.display()).as_str(), "3", "0", "0"]
    );
    assert!(
        out.contains("Trained on 1 processes (3 calls): 2 sequences learned, 3 lookahead pairs."),
        "{out}"
    );
}

#[test]
fn malformed_input_is_a_clear_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_unm = write(d, "good.int", &unm(1, &[1, 2, 3]));
    let good_adfa = write(d, "good.txt", "1 2 3\n");
    let good_strace = write(d, "good.strace", "read(0) = 1\n");
    let cases = [
        (
            "unm",
            &good_unm,
            write(d, "bad.int", "1 2\n1 2\n1 two\n"),
            "bad.int:3: \"two\" is not a system-call number",
        ),
        (
            "unm",
            &good_unm,
            write(d, "big.int", "1 2\n1 4096\n"),
            "big.int:2: system-call number 4096 is out of range",
        ),
        (
            "unm",
            &good_unm,
            write(d, "short.int", "1 2\n\n3\n"),
            "short.int:3: expected \"PID SYSCALL\", found \"3\"",
        ),
        (
            "adfa",
            &good_adfa,
            write(d, "bad.txt", "1 2 3\n4 5 x6\n"),
            "bad.txt:2: \"x6\" is not a system-call number",
        ),
        (
            "strace",
            &good_strace,
            write(d, "bad.strace", "read(0) = 1\nflurb(2) = 0\n"),
            "bad.strace:2: unknown system call \"flurb\"",
        ),
        (
            "strace",
            &good_strace,
            write(d, "junk.strace", "read(0) = 1\n\x00\x01junk\n"),
            "junk.strace:2: expected a system call",
        ),
    ];
    for (format, good, bad, message) in cases {
        for (train, test) in [(&bad, good), (good, &bad)] {
            let out = ebph(&[
                "replay",
                "-f",
                format,
                "--train",
                s(train),
                "--test",
                s(test),
            ]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains(message), "expected {message:?} in {err:?}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    let missing = d.join("missing");
    let out = ebph(&["replay", "-f", "unm", "--train", s(&missing)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such file or directory"));
}

#[test]
fn settings_can_be_changed_for_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "t.int", &unm(1, &[1, 2, 3, 4, 5, 6]));
    let pairs = |window: &str| {
        let out = ebph(&[
            "replay",
            "-f",
            "unm",
            "--set",
            &format!("window={window}"),
            "--train",
            s(&train),
            "--json",
        ]);
        json_lines(&out)[0]["summary"]["lookahead_pairs"]
            .as_u64()
            .unwrap()
    };
    // 6 calls: distances 1..=w-1 give 5 + 4 + ... pairs.
    assert_eq!(pairs("2"), 5);
    assert_eq!(pairs("3"), 9);
    assert_eq!(pairs("9"), 15);
    let out = ebph(&[
        "replay",
        "-f",
        "unm",
        "--set",
        "window=12",
        "--train",
        s(&train),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid window: must be 2..=9, not 12"));
    let out = ebph(&[
        "replay",
        "-f",
        "unm",
        "--set",
        "windows=3",
        "--train",
        s(&train),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting \"windows\""));
}

/// The public UNM data sets, when they are beside the repository (as in CI).
fn unm_dataset(name: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/unm");
    let archive = root.join(format!("{name}.tar.gz"));
    if !archive.exists() {
        ebph_test_support::skip_or_fail(&format!(
            "the UNM data set {} is not there",
            archive.display()
        ));
        return None;
    }
    let dir = std::env::temp_dir().join(format!("ebph-test-unm-{}-{name}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&dir)
        .status()
        .expect("run tar");
    assert!(status.success(), "could not extract {}", archive.display());
    Some(dir.join(name))
}

#[test]
fn unm_login_intrusions_stand_out_from_normal_logins() {
    let Some(login) = unm_dataset("login") else {
        return;
    };
    let (normal, abnormal) = (login.join("normal"), login.join("abnormal"));
    // pH exactly, then the defaults (n-grams too, folding, brk unseen).
    for settings in [
        &["detector=pairs", "fold-loops=0", "skip-brk=false"][..],
        &[],
    ] {
        let mut args = vec![
            "replay",
            "-f",
            "unm",
            "--arch",
            "i386",
            "--train",
            s(&normal),
            "--test",
            s(&normal),
            s(&abnormal),
            "--json",
        ];
        for set in settings {
            args.extend(["--set", set]);
        }
        let lines = json_lines(&ebph(&args));
        let summary = &lines.last().unwrap()["summary"];
        assert_eq!(summary["train_processes"], 24);
        if !settings.is_empty() {
            // PROVENANCE.md: login normal has 24 processes and 8,906 calls.
            assert_eq!(summary["train_count"], 8906);
        } else {
            let seen = summary["train_count"].as_u64().unwrap();
            assert!(seen < 8906, "folded loops are seen once: {seen}");
        }
        let (normal_runs, attack_runs): (Vec<&Value>, Vec<&Value>) = lines[..lines.len() - 1]
            .iter()
            .partition(|l| l["trace"].as_str().unwrap().contains("/normal/"));
        assert_eq!(normal_runs.len(), 24);
        assert_eq!(attack_runs.len(), 13);
        assert!(normal_runs.iter().all(|l| l["anomalous_calls"] == 0));
        // Both recorded intrusions (one file each) have processes well outside the profile.
        for file in ["login.trace_9809181501.int", "login.trace_9809221124.int"] {
            let worst = attack_runs
                .iter()
                .filter(|l| l["trace"].as_str().unwrap().contains(file))
                .map(|l| l["max_lfc"].as_u64().unwrap())
                .max()
                .unwrap();
            assert!(worst > 12, "{settings:?} {file}: max LFC {worst}");
        }
    }
    fs::remove_dir_all(login.parent().unwrap()).ok();
}

#[test]
fn replay_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = write(d, "train/a.int", &unm(1, &[1, 2, 3, 4]));
    // Enough test processes that the output outgrows any buffer.
    let test: String = (2..2000).map(|pid| unm(pid, &[1, 3, 2, 4])).collect();
    let test = write(d, "test/b.int", &test);
    for json in [false, true] {
        let mut args = vec![
            "replay",
            "--format",
            "unm",
            "--arch",
            "i386",
            "--train",
            train.to_str().unwrap(),
            "--test",
            test.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_ebph"))
            .args(&args)
            .stdout(ebph_test_support::programs::pipe_without_reader())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "json {json}: {:?} {stderr}",
            out.status
        );
    }
}

/// Hand-made traces whose scores can be worked out by hand: training knows 1 2 3 repeated;
/// the normal traces are that (score 0) and that plus an unseen call 4 (LFC 1); the attacks
/// are three unseen calls in a row (LFC 3) and one unseen call (LFC 1), the latter two files
/// of one intrusion directory.
fn eval_lab(dir: &Path) -> [PathBuf; 3] {
    write(dir, "train/t1", "1 2 3 1 2 3 1 2 3\n");
    write(dir, "normal/n1", "1 2 3 1 2 3\n");
    write(dir, "normal/n2", "1 2 3 1 2 3 4\n");
    write(dir, "attack/i1/a1", "1 2 3 7 8 9\n");
    write(dir, "attack/i2/deep/a2", "1 2 3 1 2 3 5\n");
    write(dir, "attack/i2/a3", "1 2 3 1 2 3 5\n");
    ["train", "normal", "attack"].map(|d| dir.join(d))
}

#[test]
fn eval_reports_the_auc_and_rates_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let [train, normal, attack] = eval_lab(dir.path());
    let args = |group: &str| {
        vec![
            "eval".to_owned(),
            "--format".into(),
            "adfa".into(),
            "--train".into(),
            train.display().to_string(),
            "--normal".into(),
            normal.display().to_string(),
            "--attack".into(),
            attack.display().to_string(),
            "--group".into(),
            group.into(),
            "--set".into(),
            "tolerize-limit=2".into(),
            "--set".into(),
            "delay-threshold=0".into(),
            "--set".into(),
            "detector=pairs".into(),
            "--set".into(),
            "fold-loops=0".into(),
            "--detector".into(),
            "pairs".into(),
            "--json".into(),
        ]
    };
    let run = |group: &str| {
        let a = args(group);
        json_lines(&ebph(&a.iter().map(String::as_str).collect::<Vec<_>>()))
    };

    // By file: normal max LFC [0, 1]; attack [3, 1, 1] (sub-directories are read).
    let lines = run("file");
    assert_eq!(lines.len(), 3, "{lines:?}");
    let defaults: Vec<_> = lines.iter().filter(|l| l["default"] == true).collect();
    assert_eq!(defaults.len(), 1);
    let lfc = defaults[0];
    assert_eq!(
        (lfc["detector"].as_str(), lfc["score"].as_str()),
        (Some("pairs"), Some("max_lfc"))
    );
    assert_eq!(
        (lfc["normal"].as_u64(), lfc["attack"].as_u64()),
        (Some(2), Some(3))
    );
    // Pairs (attack, normal): 3>0, 3>1, 1>0, 1=1, 1>0, 1=1: 5 of 6.
    assert_eq!(lfc["auc"].as_f64(), Some(5.0 / 6.0));
    // 90 % of 3 attacks is all 3: threshold 1 flags the normal unit with LFC 1.
    assert_eq!(lfc["far_at_dr90"].as_f64(), Some(0.5));
    assert_eq!(lfc["far_at_dr100"].as_f64(), Some(0.5));
    // tolerize-limit 2: LFC 3 and above: one attack of three, no normal unit.
    assert_eq!(lfc["dr_at_tolerize_limit"].as_f64(), Some(1.0 / 3.0));
    assert_eq!(lfc["far_at_tolerize_limit"].as_f64(), Some(0.0));
    // delay-threshold 0 (pH): held at LFC 1 and above: every attack, the normal unit with 1.
    assert_eq!(lfc["dr_at_delay_threshold"].as_f64(), Some(1.0));
    assert_eq!(lfc["far_at_delay_threshold"].as_f64(), Some(0.5));
    let calls = lines
        .iter()
        .find(|l| l["score"] == "anomalous_calls")
        .unwrap();
    assert_eq!(calls["auc"].as_f64(), Some(5.0 / 6.0));
    assert!(calls.get("dr_at_tolerize_limit").is_none());
    assert!(calls.get("dr_at_delay_threshold").is_none());

    // By directory: two intrusions, i1 (LFC 3) and i2 (LFC 1, its worst of two files).
    let lines = run("dir");
    let lfc = lines.iter().find(|l| l["score"] == "max_lfc").unwrap();
    assert_eq!(
        (lfc["normal"].as_u64(), lfc["attack"].as_u64()),
        (Some(1), Some(2))
    );
    // One normal unit (the directory, LFC 1): 3>1, 1=1: 1.5 of 2.
    assert_eq!(lfc["auc"].as_f64(), Some(0.75));

    // Intrusions against normal files: normal [0, 1], attack [3, 1]: 3>0, 3>1, 1>0, 1=1.
    let mut a = args("dir");
    a.extend(["--normal-group".to_owned(), "file".to_owned()]);
    let lines = json_lines(&ebph(&a.iter().map(String::as_str).collect::<Vec<_>>()));
    let lfc = lines.iter().find(|l| l["score"] == "max_lfc").unwrap();
    assert_eq!(
        (lfc["normal"].as_u64(), lfc["attack"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(lfc["auc"].as_f64(), Some(3.5 / 4.0));

    // The table for people names the default.
    let mut a = args("file");
    a.pop();
    let text = stdout(&ebph(&a.iter().map(String::as_str).collect::<Vec<_>>()));
    assert!(text.contains("max_lfc (default)"), "{text}");
    assert!(
        text.contains("Units: 2 normal (trace files), 3 attack (trace files)."),
        "{text}"
    );
}

/// Every lookahead pair of `20 21 22` is in training (at its distance), the 3-gram is not.
/// (Calls other than 12, which is `brk` and not seen by default.)
#[test]
fn eval_measures_each_detector_from_one_training() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "train/t1", "20 23 22\n");
    write(d, "train/t2", "24 21 22\n");
    write(d, "train/t3", "20 21 25\n");
    write(d, "normal/n1", "20 23 22\n");
    write(d, "attack/a1", "20 21 22\n");
    let run = |extra: &[&str]| {
        let [train, normal, attack] = ["train", "normal", "attack"].map(|n| d.join(n));
        let mut args = vec![
            "eval",
            "--format",
            "adfa",
            "--train",
            s(&train),
            "--normal",
            s(&normal),
            "--attack",
            s(&attack),
            "--set",
            "window=3",
            "--set",
            "ngram-length=3",
            "--json",
        ];
        args.extend_from_slice(extra);
        json_lines(&ebph(&args))
    };
    let lines = run(&[]);
    assert_eq!(lines.len(), 9, "three detectors, three scores: {lines:?}");
    let auc = |lines: &[Value], detector: &str| {
        lines
            .iter()
            .find(|l| l["detector"] == detector && l["score"] == "max_lfc")
            .unwrap()["auc"]
            .as_f64()
    };
    // pairs: both units score 0 (a tie); n-grams: the attack's last call is new (LFC 1).
    assert_eq!(auc(&lines, "pairs"), Some(0.5));
    assert_eq!(auc(&lines, "ngrams"), Some(1.0));
    assert_eq!(auc(&lines, "both"), Some(1.0));
    let default: Vec<_> = lines.iter().filter(|l| l["default"] == true).collect();
    assert_eq!(default.len(), 1);
    assert_eq!(default[0]["detector"], "both", "the default detector");
    // The default follows the detector setting; --detector picks which are measured.
    let lines = run(&["--set", "detector=pairs", "--detector", "pairs,ngrams"]);
    assert_eq!(lines.len(), 6, "{lines:?}");
    let default: Vec<_> = lines.iter().filter(|l| l["default"] == true).collect();
    assert_eq!(
        (default.len(), default[0]["detector"].as_str()),
        (1, Some("pairs"))
    );
    let err = ebph(&[
        "eval",
        "--format",
        "adfa",
        "--train",
        "x",
        "--normal",
        "x",
        "--attack",
        "x",
        "--detector",
        "stide",
    ]);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("pairs, ngrams or both"));
}

/// What a process executes and the addresses it uses, in strace traces, are learned and tested
/// as the daemon does, and novel ones are listed and scored.
#[test]
fn strace_execs_and_endpoints_are_learned_and_novel_ones_listed() {
    let service = |program: &str, address: &str, port: u16| {
        format!(
            "1 execve(\"/srv/service\", [\"service\"], 0x1 /* 1 var */) = 0\n\
             1 connect(3, {{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr(\"{address}\")}}, 16) = 0\n\
             1 clone(child_stack=NULL, flags=SIGCHLD) = 2\n\
             2 execve(\"{program}\", [\"x\"], 0x1 /* 1 var */) = 0\n\
             2 brk(NULL) = 0x1\n\
             1 wait4(-1, NULL, 0, NULL) = 2\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write(
        d,
        "good.strace",
        &service("/usr/bin/cat", "127.0.0.1", 5432),
    );
    let odd = write(d, "odd.strace", &service("/bin/sh", "8.8.8.8", 4444));
    let replay = |extra: &[&str]| {
        let mut args = vec!["replay", "-f", "strace", "--train", s(&good), "--test"];
        args.extend([s(&good), s(&odd)]);
        args.extend(extra);
        stdout(&ebph(&args))
    };
    let lines: Vec<serde_json::Value> = replay(&["--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let novel: Vec<_> = lines[..4].iter().map(|l| l["novel"].clone()).collect();
    assert_eq!(
        novel,
        [
            serde_json::json!([]),
            serde_json::json!([]),
            serde_json::json!(["connect inet public:4444"]),
            serde_json::json!(["exec /bin/sh"]),
        ]
    );
    assert_eq!(lines[4]["summary"]["novel"], 2);
    assert_eq!(lines[4]["summary"]["anomalous_processes"], 2);
    let text = replay(&[]);
    assert!(text.contains("NOVEL"), "{text}");
    assert!(text.contains("odd.strace:2 "), "{text}");
    assert!(text.contains("exec /bin/sh"), "{text}");
    assert!(text.contains("2 novel execs or endpoints"), "{text}");
    // pH does not watch them.
    let text = replay(&[
        "--set",
        "watch-execs=false",
        "--set",
        "watch-endpoints=false",
    ]);
    assert!(!text.contains("NOVEL"), "{text}");

    // ebph eval scores them: the novel endpoint and exec each put a process's LFC at 1.
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "-f", "strace", "--train", s(&good), "--normal"];
        args.extend([
            s(&good),
            "--attack",
            s(&odd),
            "--json",
            "--detector",
            "pairs",
        ]);
        args.extend(extra);
        let lines = json_lines(&ebph(&args));
        let lfc = lines.iter().find(|l| l["score"] == "max_lfc").unwrap();
        (
            lfc["normal"].clone(),
            lfc["attack"].clone(),
            lfc["auc"].as_f64(),
        )
    };
    assert_eq!(eval(&[]), (1.into(), 1.into(), Some(1.0)));
    assert_eq!(
        eval(&[
            "--set",
            "watch-execs=false",
            "--set",
            "watch-endpoints=false"
        ])
        .2,
        Some(0.5)
    );
}
