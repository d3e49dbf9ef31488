//! The daemon end to end: started for real on temporary paths, driven only through the CLI.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ebph_test_support::as_root;
use ebph_test_support::daemon::Daemon;
use ebph_test_support::programs::{compile, copy_program, pipe_without_reader, run, s};
use ebph_test_support::wait_until;
use serde_json::Value;

#[test]
fn a_new_program_gets_a_profile_and_settings_round_trip() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let ls = copy_program(dir.path(), "ls", "/bin/ls");
    run(&ls, &["/"]);
    let p = daemon.json(&["profile", "show", s(&ls), "--json"]);
    assert_eq!(p["path"], s(&ls));
    assert_eq!(p["status"], "training");
    assert!(p["train_count"].as_u64().unwrap() > 10, "{p}");
    for key in ["key", "last_mod_count", "sequences", "anomalies", "pairs"] {
        assert!(!p[key].is_null(), "{key} missing: {p}");
    }
    // The same profile by key, and in the list.
    let by_key = daemon.json(&["profile", "show", p["key"].as_str().unwrap(), "--json"]);
    assert_eq!(by_key["path"], p["path"]);
    assert!(daemon.ok(&["profiles"]).contains(s(&ls)));

    assert_eq!(daemon.ok(&["get", "normal-wait"]).trim(), "7days");
    daemon.ok(&["set", "normal-wait", "2s"]);
    assert_eq!(daemon.ok(&["get", "normal-wait"]).trim(), "2s");
    daemon.ok(&["set", "anomaly_limit", "5"]);
    let all = daemon.json(&["get", "--json"]);
    let limit = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "anomaly-limit")
        .unwrap();
    assert_eq!(limit["value"], "5");
    for (name, value, message) in [
        ("window", "12", "invalid window"),
        ("normal-wait", "soon", "invalid value"),
        ("colour", "red", "unknown setting"),
    ] {
        let out = daemon.cli(&["set", name, value]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{name}={value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        daemon.ok(&["get", "window"]).trim(),
        "9",
        "a refused value changes nothing"
    );
    let out = daemon.cli(&["profile", "show", "/nonexistent/program"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no profile for /nonexistent/program"));
    let out = daemon.cli(&["normalize", "--pid", "999999999"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not tracked"));

    // Settings changed at run time survive a restart, and so do the latest events.
    daemon.stop();
    let daemon = Daemon::start(dir.path());
    assert_eq!(daemon.ok(&["get", "normal-wait"]).trim(), "2s");
    let logs = daemon.ok(&["logs", "--json"]);
    assert!(
        logs.lines()
            .any(|l| l.contains("profile_created") && l.contains(s(&ls))),
        "{logs}"
    );
    daemon.stop();
}

#[test]
fn the_thesis_anomaly_shows_in_the_logs() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let anomaly = compile(dir.path(), "anomaly");
    let daemon = Daemon::start(dir.path());
    daemon.ok(&["set", "normal-wait", "1s"]);
    // The thesis's anomaly is one more turn of a write loop: pH's windows see it, folded
    // loops by design do not.
    daemon.ok(&["set", "fold-loops", "0"]);
    daemon.run_until_normal(&anomaly, &[], 60);
    run(&anomaly, &["x"]);
    std::thread::sleep(Duration::from_millis(200));
    let logs = daemon.ok(&["logs", "--json"]);
    let events: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let anomalies: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "anomaly" && e["path"] == s(&anomaly))
        .collect();
    assert!(!anomalies.is_empty(), "no anomaly in the logs:\n{logs}");
    for key in [
        "pid", "path", "syscall", "misses", "lfc", "sequence", "time",
    ] {
        assert!(
            !anomalies[0][key].is_null(),
            "{key} missing: {}",
            anomalies[0]
        );
    }
    let ends_in_writes = anomalies.iter().any(|e| {
        let seq: Vec<&str> = e["sequence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        seq.ends_with(&["write", "write"]) && e["syscall"] == "write"
    });
    assert!(ends_in_writes, "{anomalies:?}");
    // The human form too, and the event log file in the state directory.
    assert!(daemon.ok(&["logs", "--no-exec"]).contains("anomaly"));
    let file = std::fs::read_to_string(dir.path().join("state/events.jsonl")).unwrap();
    assert!(file.lines().any(|l| l.contains("\"type\":\"anomaly\"")));

    // The same as CSV: the anomaly history, every profile, one profile's pairs.
    let history = daemon.ok(&["profile", "csv", "--anomalies"]);
    let mut lines = history.lines();
    assert_eq!(
        lines.next(),
        Some("time,pid,tid,key,path,syscall,misses,lfc,sequence")
    );
    assert!(
        lines.any(|l| l.contains(s(&anomaly)) && l.contains(",write,")),
        "{history}"
    );
    let profiles = daemon.ok(&["profile", "csv"]);
    assert!(profiles.starts_with("key,path,status,train_count,"));
    assert!(
        profiles
            .lines()
            .any(|l| l.contains(s(&anomaly)) && l.contains(",normal,")),
        "{profiles}"
    );
    let pairs = daemon.ok(&["profile", "csv", s(&anomaly)]);
    let shown = daemon.json(&["profile", "show", s(&anomaly), "--json"]);
    let distances: usize = shown["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["distances"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        pairs.lines().count(),
        distances + 1,
        "one row per pair and distance"
    );
    daemon.stop();
}

#[test]
fn profiles_survive_a_restart_bit_for_bit() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ls = copy_program(dir.path(), "ls", "/bin/ls");
    let cat = copy_program(dir.path(), "cat", "/bin/cat");
    let daemon = Daemon::start(dir.path());
    run(&ls, &["-la", "/etc"]);
    run(&cat, &["/etc/hostname"]);
    daemon.normalize(&ls);
    run(&ls, &["/usr"]);
    let before: Vec<Value> = [&ls, &cat]
        .iter()
        .map(|p| daemon.json(&["profile", "show", s(p), "--json"]))
        .collect();
    daemon.stop();
    let daemon = Daemon::start(dir.path());
    let after: Vec<Value> = [&ls, &cat]
        .iter()
        .map(|p| daemon.json(&["profile", "show", s(p), "--json"]))
        .collect();
    // Tables and counters are identical; a frozen profile's normal time goes through the
    // wall clock and may move by a millisecond.
    let time = |v: &Value| v.as_str().map(|t| humantime::parse_rfc3339(t).unwrap());
    let without_time = |mut v: Value| {
        v.as_object_mut().unwrap().remove("normal_time");
        v
    };
    for (b, a) in before.iter().zip(&after) {
        match (time(&b["normal_time"]), time(&a["normal_time"])) {
            (Some(b), Some(a)) => {
                let skew = a
                    .duration_since(b)
                    .or_else(|_| b.duration_since(a))
                    .unwrap();
                assert!(
                    skew < Duration::from_millis(50),
                    "normal time moved by {skew:?}"
                );
            }
            (b, a) => assert_eq!(b, a),
        }
    }
    let before: Vec<Value> = before.into_iter().map(without_time).collect();
    let after: Vec<Value> = after.into_iter().map(without_time).collect();
    assert_eq!(before, after);
    assert_eq!(after[0]["status"], "normal");
    daemon.stop();
}

#[test]
fn datagrams_and_fast_open_to_new_ports_are_novel_endpoints() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let net = compile(dir.path(), "net");
    let daemon = Daemon::start(dir.path());
    // It sends to loopback:5310 every way it can (nothing leaves the machine)...
    let usual = [
        "s:127.0.0.1:5310",
        "m:127.0.0.1:5310",
        "M:127.0.0.1:5310",
        "f:127.0.0.1:5310",
    ];
    daemon.train(&net, &usual, 3);
    run(&net, &usual);
    // ...then each way to a port of its own.
    run(
        &net,
        &[
            "s:127.0.0.1:5320",
            "m:[::1]:5321",
            "M:127.0.0.1:5322",
            "f:127.0.0.1:5323",
        ],
    );
    let expected = [
        "connect inet loopback:5320",
        "connect inet6 loopback:5321",
        "connect inet loopback:5322",
        "connect inet loopback:5323",
    ];
    // Events come in order: once the last send's is in, every one is.
    daemon.wait_for_events(10, "the last send's novel endpoint", |e| {
        e["type"] == "novel_endpoint" && e["endpoint"] == expected[3]
    });
    let novel: Vec<Value> = daemon
        .events()
        .into_iter()
        .filter(|e| e["type"] == "novel_endpoint" && e["path"] == s(&net))
        .collect();
    let endpoints: Vec<&str> = novel
        .iter()
        .map(|e| e["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, expected);
    let shown = daemon.json(&["profile", "show", s(&net), "--json"]);
    let listed: Vec<(&str, bool)> = shown["endpoints"]["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["endpoint"].as_str().unwrap(),
                e["normal"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed[0],
        ("connect inet loopback:5310", true),
        "{listed:?}"
    );
    for e in expected {
        assert!(listed.contains(&(e, false)), "{e} in {listed:?}");
    }
    daemon.stop();
}

#[test]
fn a_novel_exec_is_reported_shown_and_kept_across_a_restart() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sh = copy_program(dir.path(), "sh", "/bin/sh");
    let tr = copy_program(dir.path(), "tr", "/usr/bin/tr");
    let wc = copy_program(dir.path(), "wc", "/usr/bin/wc");
    let daemon = Daemon::start(dir.path());
    let pipeline = |program: &Path| {
        let args = if program == tr.as_path() {
            "a-z A-Z"
        } else {
            "-c"
        };
        format!("echo abc | {} {args} > /dev/null", s(program))
    };
    daemon.train(&sh, &["-c", &pipeline(&tr)], 3);
    run(&sh, &["-c", &pipeline(&tr)]);
    run(&sh, &["-c", &pipeline(&wc)]);
    let novel = daemon.wait_for_events(10, "the novel exec in the logs", |e| {
        e["type"] == "novel_exec"
    });
    assert_eq!(novel.len(), 1, "{novel:?}");
    assert_eq!(novel[0]["path"], s(&sh), "sh's anomaly");
    assert_eq!(novel[0]["executable"], s(&wc));
    assert_eq!(novel[0]["lfc"], 1);
    let line = daemon.ok(&["logs", "--no-exec"]);
    assert!(
        line.lines()
            .any(|l| l.contains("novel_exec") && l.contains(&format!("ran {}", s(&wc)))),
        "{line}"
    );
    let file = std::fs::read_to_string(dir.path().join("state/events.jsonl")).unwrap();
    assert!(file.contains("\"type\":\"novel_exec\""));

    let programs = |daemon: &Daemon| {
        let shown = daemon.json(&["profile", "show", s(&sh), "--json"]);
        let mut list: Vec<(String, bool)> = shown["execs"]["programs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["path"].as_str().unwrap().to_owned(),
                    p["normal"].as_bool().unwrap(),
                )
            })
            .collect();
        list.sort();
        list
    };
    let expected = vec![(s(&tr).to_owned(), true), (s(&wc).to_owned(), false)];
    assert_eq!(programs(&daemon), expected);
    let text = daemon.ok(&["profile", "show", s(&sh)]);
    assert!(
        text.contains(&format!("* {}", s(&tr))) && text.contains(&format!("  {}", s(&wc))),
        "{text}"
    );
    daemon.stop();
    let daemon = Daemon::start(dir.path());
    assert_eq!(programs(&daemon), expected, "kept across a restart");
    daemon.stop();
}

#[test]
fn kill_9_while_saving_never_corrupts_the_store() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ls = copy_program(dir.path(), "ls", "/bin/ls");
    let mut daemon = Daemon::start(dir.path());
    run(&ls, &["/"]);
    daemon.ok(&["save"]);
    let mut saved = daemon.json(&["profile", "show", s(&ls), "--json"]);
    for round in 0..5u64 {
        // Saves in a loop; the daemon is killed with SIGKILL somewhere among them.
        let socket = dir.path().join("ebph.sock");
        let saver = std::thread::spawn(move || {
            for _ in 0..40 {
                let _ = Command::new(env!("CARGO_BIN_EXE_ebph"))
                    .arg("save")
                    .env("EBPH_SOCKET", &socket)
                    .output();
            }
        });
        run(&ls, &["-R", "/etc/apt"]);
        std::thread::sleep(Duration::from_millis(10 + 25 * round));
        daemon.kill();
        saver.join().unwrap();
        // It starts again (the store is intact) and has at least what was saved before.
        daemon = Daemon::start(dir.path());
        let p = daemon.json(&["profile", "show", s(&ls), "--json"]);
        assert!(
            p["train_count"].as_u64() >= saved["train_count"].as_u64(),
            "round {round}: lost more than the last interval: {p} after {saved}"
        );
        saved = p;
    }
    daemon.stop();
}

#[test]
fn clear_errors_for_people() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // No daemon.
    let out = Command::new(env!("CARGO_BIN_EXE_ebph"))
        .arg("status")
        .env("EBPH_SOCKET", dir.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the ebph daemon is not running"));

    // A non-root client.
    let daemon = Daemon::start(dir.path());
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_ebph"),
            "status",
        ])
        .env("EBPH_SOCKET", dir.path().join("ebph.sock"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("permission denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    daemon.stop();

    // A database that is not ebph's is refused and left as it was.
    let state = dir.path().join("state");
    std::fs::write(state.join("ebph.db"), "precious notes\n".repeat(500)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ebph"))
        .args(["daemon", "--config"])
        .arg(dir.path().join("ebph.toml"))
        .arg("--state-dir")
        .arg(&state)
        .arg("--socket")
        .arg(dir.path().join("ebph.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not an ebph database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(state.join("ebph.db"))
        .unwrap()
        .starts_with("precious notes"));
}

#[test]
fn signed_profiles_import_bit_for_bit_and_others_are_refused() {
    let Some(_one) = as_root() else {
        return;
    };
    let first = tempfile::tempdir().unwrap();
    let ls = copy_program(first.path(), "ls", "/bin/ls");
    let daemon = Daemon::start(first.path());
    daemon.train(&ls, &["-la", "/etc"], 1);
    run(&ls, &["/usr"]);
    let learned = daemon.json(&["profile", "show", s(&ls), "--json"]);
    let key = first.path().join("fleet");
    daemon.ok(&["profile", "keygen", s(&key)]);
    let (secret, public) = (
        first.path().join("fleet.key"),
        first.path().join("fleet.pub"),
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let signed = first.path().join("ls.signed.json");
    let unsigned = first.path().join("ls.json");
    daemon.ok(&[
        "profile",
        "export",
        s(&ls),
        "-o",
        s(&signed),
        "--sign",
        s(&secret),
    ]);
    daemon.ok(&["profile", "export", s(&ls), "-o", s(&unsigned)]);
    daemon.stop();

    // A host that trusts the key, its daemon running: imported through the API.
    let second = tempfile::tempdir().unwrap();
    std::fs::write(
        second.path().join("ebph.toml"),
        format!("trusted-keys = [\"{}\"]\n", public.display()),
    )
    .unwrap();
    let other = Daemon::start(second.path());
    let refused = other.cli(&["profile", "import", s(&unsigned)]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not signed"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let said = other.ok(&["profile", "import", s(&signed)]);
    assert!(
        said.contains("imported 1 profiles into the running daemon, signed by"),
        "{said}"
    );
    let imported = other.json(&["profile", "show", s(&ls), "--json"]);
    let fields = [
        "key",
        "status",
        "train_count",
        "last_mod_count",
        "sequences",
        "anomalies",
        "pairs",
        "lookahead_pairs",
    ];
    for field in fields {
        assert_eq!(
            imported[field], learned[field],
            "{field} differs after import"
        );
    }
    // Importing again leaves it alone.
    assert!(other
        .ok(&["profile", "import", s(&signed)])
        .contains("already there"));

    // A path edited to another program's and the checksum computed again: the signature
    // gives it away, even where unsigned files are allowed.
    let mut edited =
        ebph_api::file::ProfileFile::parse(&std::fs::read_to_string(&signed).unwrap()).unwrap();
    let signature = edited.signature.take();
    edited.profiles[0].path = "/usr/bin/ls".into();
    let mut edited = ebph_api::file::ProfileFile::new(edited.profiles);
    edited.signature = signature;
    let forged = first.path().join("forged.json");
    std::fs::write(&forged, edited.to_text()).unwrap();
    let out = other.cli(&["profile", "import", s(&forged), "--allow-unsigned"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("changed after it was signed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    other.stop();

    // No daemon: into the store, checked against the configuration's trusted keys.
    let third = tempfile::tempdir().unwrap();
    let offline = |file: &Path, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ebph"))
            .args(["profile", "import", s(file), "--state-dir"])
            .arg(third.path().join("state"))
            .arg("--config")
            .arg(second.path().join("ebph.toml"))
            .args(extra)
            .env("EBPH_SOCKET", third.path().join("none.sock"))
            .output()
            .unwrap()
    };
    let out = offline(&unsigned, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed"));
    let out = offline(&signed, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("loaded when the daemon starts"));
    let out = offline(&unsigned, &["--allow-unsigned"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A corrupted file is refused with a clear error, and nothing is imported.
    let text = std::fs::read_to_string(&unsigned).unwrap();
    let corrupted = first.path().join("corrupted.json");
    std::fs::write(
        &corrupted,
        text.replacen("\"sequences\": ", "\"sequences\": 1", 1),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ebph"))
        .args([
            "profile",
            "import",
            s(&corrupted),
            "--allow-unsigned",
            "--state-dir",
            s(&first.path().join("fresh")),
        ])
        .env("EBPH_SOCKET", first.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("corrupted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!first.path().join("fresh/ebph.db").exists());
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let ls = copy_program(dir.path(), "ls", "/bin/ls");
    run(&ls, &["/"]);
    daemon.ok(&["save"]);
    let commands: &[&[&str]] = &[
        &["status"],
        &["status", "--json"],
        &["ps"],
        &["ps", "--json"],
        &["profiles"],
        &["profile", "show", s(&ls)],
        &["profile", "show", s(&ls), "--json"],
        &["profile", "export", s(&ls)],
        &["profile", "csv"],
        &["get"],
        &["get", "normal-wait"],
        &["set", "normal-wait", "7d"],
        &["save"],
        &["normalize", "--profile", s(&ls)],
        &["logs"],
        &["logs", "--json"],
        &["--help"],
        &["--version"],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_ebph"))
            .args(*args)
            .env("EBPH_SOCKET", dir.path().join("ebph.sock"))
            .stdout(pipe_without_reader())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("panicked") && !stderr.contains("error"),
            "ebph {args:?} into a closed pipe: {:?}\n{stderr}",
            out.status
        );
    }
    daemon.stop();
}

#[test]
fn logs_are_filtered_by_type_in_the_daemon() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let ls = copy_program(dir.path(), "ls", "/bin/ls");
    run(&ls, &["/"]);
    // Once ls's events are in, each filtered view below is of the same recent events.
    wait_until(20, "ls's events", || {
        daemon.ok(&["logs", "--json"]).contains(s(&ls))
    });
    let types = |args: &[&str]| -> Vec<String> {
        daemon
            .ok(args)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let all = types(&["logs", "--json"]);
    assert!(all.iter().any(|t| t == "exec") && all.iter().any(|t| t == "profile_created"));
    let no_exec = types(&["logs", "--json", "--no-exec"]);
    assert!(!no_exec.iter().any(|t| t == "exec"), "{no_exec:?}");
    assert!(
        no_exec.iter().any(|t| t == "profile_created"),
        "{no_exec:?}"
    );
    let created = types(&["logs", "--json", "--type", "profile_created"]);
    assert!(
        !created.is_empty() && created.iter().all(|t| t == "profile_created"),
        "{created:?}"
    );
    let bad = daemon.cli(&["logs", "--type", "reboot"]);
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("unknown event type \"reboot\"") && said.contains("anomaly"),
        "{said}"
    );
    daemon.stop();
}

#[test]
fn profiles_are_found_by_paths_that_need_encoding() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let odd = copy_program(dir.path(), "l s&x=1%20?+é", "/bin/ls");
    run(&odd, &["/"]);
    let show = ["profile", "show", s(&odd), "--json"];
    wait_until(20, "the profile of the odd path", || {
        daemon.cli(&show).status.success()
    });
    assert_eq!(daemon.json(&show)["path"], s(&odd));
    daemon.stop();
}

/// `ebph daemon` on `dir`'s paths, with the given socket, run to its end.
fn daemon_with_socket(dir: &Path, socket: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ebph"))
        .args(["daemon", "--config"])
        .arg(dir.join("ebph.toml"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--socket")
        .arg(socket)
        .output()
        .unwrap()
}

#[test]
fn the_socket_path_is_taken_only_when_free_or_stale() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ebph.toml"), "").unwrap();
    // A regular file (here: a copy of a database) is refused and left as it was.
    let precious = dir.path().join("copy-of-ebph.db");
    std::fs::write(&precious, "precious data\n").unwrap();
    let out = daemon_with_socket(dir.path(), &precious);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exists and is not a socket"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&precious).unwrap(),
        "precious data\n"
    );

    // A live daemon there: "already running" (from a second state directory, so that the
    // state directory's lock is not what refuses it).
    let daemon = Daemon::start(dir.path());
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("ebph.toml"), "").unwrap();
    let out = daemon_with_socket(other.path(), &dir.path().join("ebph.sock"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running"), "{err}");
    assert!(daemon.cli(&["status"]).status.success());

    // A socket left by a daemon that was killed is taken over.
    daemon.kill();
    assert!(dir.path().join("ebph.sock").exists());
    let daemon = Daemon::start(dir.path());
    assert!(
        daemon.log().contains("removed the stale socket"),
        "{}",
        daemon.log()
    );
    daemon.stop();
}

#[test]
fn sigterm_stops_the_daemon_promptly_with_clients_following_the_logs() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let mut followers: Vec<_> = (0..3)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_ebph"))
                .args(["logs", "-f"])
                .env("EBPH_SOCKET", dir.path().join("ebph.sock"))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // Wait until they are connected: a new program's events reach them.
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    daemon.stop();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "the stop took {took:?}");
    // The followers are told the stream ended and exit.
    for f in &mut followers {
        let deadline = Instant::now() + Duration::from_secs(5);
        while f.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "a follower is still waiting");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `ebph get --json`, as (name, value, source) rows.
fn settings_of(daemon: &Daemon) -> Vec<(String, String, String)> {
    daemon
        .json(&["get", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["value"].as_str().unwrap().to_owned(),
                s["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn value_of(daemon: &Daemon, name: &str) -> Value {
    daemon
        .json(&["get", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap()
}

#[test]
fn settings_hold_together_across_restarts_and_reloads() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    // Each is valid when it is set; restarted, they must all come back as they were.
    for (name, value) in [
        ("max-delay", "1h"),
        ("delay-factor", "1m"),
        ("normal-factor-den", "8"),
        ("normal-factor", "16"),
    ] {
        daemon.ok(&["set", name, value]);
    }
    let before = daemon.json(&["get", "--json"]);
    daemon.stop();
    let daemon = Daemon::start(dir.path());
    assert_eq!(daemon.json(&["get", "--json"]), before);
    assert_eq!(value_of(&daemon, "delay-factor")["value"], "1m");
    assert_eq!(value_of(&daemon, "delay-factor")["source"], "set");
    daemon.stop();

    // The same values in a configuration file, in the order that used to fail.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::write(
        fresh.path().join("ebph.toml"),
        "[settings]\ndelay-factor = \"1m\"\nmax-delay = \"1h\"\nnormal-factor = 16\nnormal-factor-den = 8\n",
    )
    .unwrap();
    let daemon = Daemon::start(fresh.path());
    let rows = settings_of(&daemon);
    assert!(
        rows.contains(&("delay-factor".into(), "1m".into(), "file".into())),
        "{rows:?}"
    );

    // The file wins over a value set at run time; what a restart would change is shown, and a
    // change that would not hold at restart is refused with the reason.
    daemon.ok(&["set", "delay-factor", "30s"]);
    let row = value_of(&daemon, "delay-factor");
    assert_eq!(row["value"], "30s");
    assert_eq!(row["source"], "set", "{row}");
    assert_eq!(row["at_restart"], "1m", "{row}");

    // SIGHUP: the file is read again, its values applied, and each change logged.
    std::fs::write(
        fresh.path().join("ebph.toml"),
        "[settings]\ndelay-factor = \"2m\"\nmax-delay = \"1h\"\nnormal-factor = 16\nnormal-factor-den = 8\nanomaly-limit = 5\n",
    )
    .unwrap();
    assert_eq!(value_of(&daemon, "anomaly-limit")["at_restart"], "5");
    let pid = rustix::process::Pid::from_raw(daemon.pid()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    wait_until(5, "the reload", || daemon.log().contains("reloaded"));
    assert!(
        daemon.log().contains("reload: delay-factor 30s -> 2m"),
        "{}",
        daemon.log()
    );
    assert_eq!(value_of(&daemon, "anomaly-limit")["value"], "5");
    assert_eq!(value_of(&daemon, "anomaly-limit")["source"], "file");
    // A file with an error changes nothing.
    std::fs::write(
        fresh.path().join("ebph.toml"),
        "[settings]\nanomaly-limit = 0\n",
    )
    .unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    wait_until(5, "the failed reload", || {
        daemon.log().contains("keeping the settings as they are")
    });
    assert_eq!(value_of(&daemon, "anomaly-limit")["value"], "5");

    // Values that hold now but would not at the next restart are refused, with the reason.
    std::fs::write(
        fresh.path().join("ebph.toml"),
        "[settings]\nmax-delay = \"1m\"\n",
    )
    .unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    wait_until(5, "the reload", || {
        daemon.log().contains("reload: max-delay 1h -> 1m")
    });
    let out = daemon.cli(&["set", "max-delay", "1h", "delay-factor", "2m"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at the next restart"), "{err}");
    assert_eq!(
        value_of(&daemon, "delay-factor")["value"],
        "30s",
        "nothing changed"
    );
    daemon.stop();
}

#[test]
fn settings_that_make_no_sense_are_refused() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    for (name, value, reason) in [
        ("anomaly-limit", "0", "at least 1"),
        ("delay-factor", "0", "more than 0"),
        ("max-delay", "0", "more than 0"),
        ("allowlist", "/usr/bin/bassh", "does not exist"),
    ] {
        let out = daemon.cli(&["set", name, value]);
        assert_eq!(out.status.code(), Some(1), "{name} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{name} {value}: {err}");
    }
    assert_eq!(value_of(&daemon, "allowlist")["value"], "");
    // Forced: accepted, and a warning shown until it is fixed.
    let out = daemon.cli(&["set", "allowlist", "/usr/bin/bassh,/bin/sh", "--force"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/usr/bin/bassh"));
    assert!(value_of(&daemon, "allowlist")["warning"]
        .as_str()
        .unwrap()
        .contains("/usr/bin/bassh"));
    let status = daemon.ok(&["status"]);
    assert!(
        status.contains("warning") && status.contains("/usr/bin/bassh"),
        "{status}"
    );
    assert!(daemon.ok(&["get"]).contains("warning: allowlist"));
    // A capacity of 0 in the file: the daemon refuses to start, saying why.
    daemon.stop();
    std::fs::write(dir.path().join("ebph.toml"), "[capacity]\ntasks = 0\n").unwrap();
    let out = daemon_with_socket(dir.path(), &dir.path().join("ebph.sock"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tasks = 0 would track nothing"));
}

#[test]
fn a_profile_no_process_uses_is_deleted_for_good() {
    let Some(_one) = as_root() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    let ls = copy_program(dir.path(), "ls", "/bin/ls");
    run(&ls, &["-la", "/etc"]);
    let before = daemon.json(&["profile", "show", s(&ls), "--json"]);
    let said = daemon.ok(&["profile", "delete", s(&ls)]);
    assert!(said.contains("deleted the profile of"), "{said}");
    assert!(!daemon.ok(&["profiles"]).contains(s(&ls)));
    // Gone from the store too: a restart does not bring it back.
    daemon.stop();
    let daemon = Daemon::start(dir.path());
    assert!(!daemon.ok(&["profiles"]).contains(s(&ls)));
    // The program's next run starts afresh.
    run(&ls, &["/"]);
    let after = daemon.json(&["profile", "show", s(&ls), "--json"]);
    assert!(after["train_count"].as_u64() < before["train_count"].as_u64());

    // In use by a running process: refused, saying why; deleted once it is gone.
    let sleep = copy_program(dir.path(), "sleep", "/bin/sleep");
    let mut child = Command::new(&sleep).arg("30").spawn().unwrap();
    wait_until(10, "the profile of sleep", || {
        daemon.cli(&["profile", "show", s(&sleep)]).status.success()
    });
    let out = daemon.cli(&["profile", "delete", s(&sleep)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use by running processes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    daemon.ok(&["profile", "delete", s(&sleep)]);
    let out = daemon.cli(&["profile", "delete", s(&sleep)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no profile"));
    daemon.stop();
}
