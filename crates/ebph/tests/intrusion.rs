//! An intrusion as ebph sees it: a small service on loopback learns its normal requests; then
//! requests through its two holes make it spawn a shell and connect to a port it never used.
//! Under `response enforce` the shell is refused.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use ebph_test_support::as_root;
use ebph_test_support::daemon::Daemon;
use ebph_test_support::programs::{compile, free_port, s};
use ebph_test_support::wait_until;
use serde_json::Value;

/// The service, killed when the test ends.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One request to the service on `port`; its reply, or what went wrong: nothing in a minute
/// is an error too (a service held for good would otherwise hang the test).
fn try_request(port: u16, line: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    stream.write_all(format!("{line}\n").as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply.trim_end().to_owned())
}

/// The state of things, for a failure: the processes, what ebph sees, its log and events.
fn diagnosis(daemon: &Daemon) -> String {
    let ps = Command::new("ps")
        .args(["-eo", "pid,ppid,stat,wchan:24,comm"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let seen = daemon.cli(&["ps"]);
    let events = std::fs::read_to_string(daemon.dir.join("state/events.jsonl")).unwrap_or_default();
    let tail = |text: &str, n: usize| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    };
    format!(
        "processes:\n{ps}\nebph ps:\n{}\ndaemon log (end):\n{}\nevents (end):\n{}",
        String::from_utf8_lossy(&seen.stdout),
        tail(&daemon.log(), 30),
        tail(&events, 30)
    )
}

/// A listener on loopback that answers every connection with `answer`; its port.
fn answering(answer: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    port
}

fn start(service: &Path, port: u16, backend: u16) -> Service {
    let child = Command::new(service)
        .args([port.to_string(), backend.to_string()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(10, "the service to listen", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Service(child)
}

/// Every event in the daemon's event log (`ebph logs` keeps only the latest 1000, which the
/// delays of an anomalous service under `enforce` soon are).
fn logged(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("state/events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Notes how far the test got (shown when it fails, or with `--nocapture`).
fn step(started: std::time::Instant, what: &str) {
    eprintln!(
        "intrusion: {:>6.1}s {what}",
        started.elapsed().as_secs_f64()
    );
}

fn of_type<'a>(all: &'a [Value], kind: &str, path: &Path) -> Vec<&'a Value> {
    all.iter()
        .filter(|e| e["type"] == kind && e["path"] == s(path))
        .collect()
}

#[test]
fn a_service_made_to_run_a_shell_and_call_out_is_caught_and_refused() {
    let Some(_one) = as_root() else {
        return;
    };
    let t = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path());
    step(t, "daemon started");
    let service = compile(dir.path(), "service");
    step(t, "service compiled");
    let backend = answering("42\n");
    let elsewhere = answering("secrets\n");
    let port = free_port();

    // Its normal life: greetings and lookups on its backend.
    let running = start(&service, port, backend);
    step(t, "service started");
    let request = |port: u16, line: &str| {
        try_request(port, line)
            .unwrap_or_else(|e| panic!("request {line:?}: {e}\n{}", diagnosis(&daemon)))
    };
    for i in 0..20 {
        assert_eq!(request(port, &format!("HELLO {i}")), format!("hello {i}"));
        assert_eq!(request(port, "LOOKUP"), "lookup 42");
    }
    step(t, "trained");
    daemon.normalize(&service);
    assert_eq!(request(port, "LOOKUP"), "lookup 42");
    step(t, "normal");

    // The attack: a shell through the debug hole, then a call to another port.
    assert_eq!(request(port, "DEBUG /bin/true"), "debug 0");
    assert_eq!(
        request(port, &format!("LOOKUP {elsewhere}")),
        "lookup secrets"
    );
    step(t, "attacked");
    let caught = |all: &[Value]| {
        !of_type(all, "novel_exec", &service).is_empty()
            && !of_type(all, "novel_endpoint", &service).is_empty()
    };
    wait_until(20, "the novel exec and endpoint to be reported", || {
        caught(&logged(dir.path()))
    });
    let all = logged(dir.path());
    let novel_exec = of_type(&all, "novel_exec", &service);
    assert_eq!(novel_exec.len(), 1, "{novel_exec:?}");
    assert_eq!(novel_exec[0]["executable"], "/bin/sh");
    let novel_endpoint = of_type(&all, "novel_endpoint", &service);
    assert_eq!(novel_endpoint.len(), 1, "{novel_endpoint:?}");
    assert_eq!(
        novel_endpoint[0]["endpoint"],
        format!("connect inet loopback:{elsewhere}")
    );
    assert!(novel_endpoint[0]["lfc"].as_u64().unwrap() >= 1);
    // What is normal for it. (The attack took the service's LFC past the tolerize limit, so
    // its train table forgot what it was learning then: the new port may not be listed.)
    let shown = daemon.json(&["profile", "show", s(&service), "--json"]);
    let endpoints: Vec<(String, bool)> = shown["endpoints"]["listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["endpoint"].as_str().unwrap().to_owned(),
                e["normal"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        endpoints[..2],
        [
            (format!("bind inet loopback:{port}"), true),
            (format!("connect inet loopback:{backend}"), true),
        ]
    );
    assert!(endpoints[2..]
        .iter()
        .all(|e| e == &(format!("connect inet loopback:{elsewhere}"), false)));
    let text = daemon.ok(&["profile", "show", s(&service)]);
    assert!(
        text.contains(&format!("* connect inet loopback:{backend}")),
        "{text}"
    );
    let csv = daemon.ok(&["profile", "csv", s(&service), "--endpoints"]);
    assert!(csv.starts_with("key,path,endpoint,normal\n"), "{csv}");
    assert!(
        csv.contains(&format!(",connect inet loopback:{backend},true")),
        "{csv}"
    );
    let csv = daemon.ok(&["profile", "csv", s(&service), "--execs"]);
    assert!(
        csv.starts_with("key,path,program,program_key,normal\n"),
        "{csv}"
    );
    let log = daemon.ok(&["logs", "--type", "novel_exec,novel_endpoint,execve_refused"]);
    step(t, "reported and shown");

    // In enforce mode the shell is refused: its exec fails (BPF-LSM), or the shell is killed
    // before it runs; the service goes on. (The attack left the service's LFC high, above
    // suspend-execve: that alone would refuse its execs. It is off here, so that what is
    // refused is the novel exec.)
    daemon.ok(&[
        "set",
        "max-delay",
        "1us",
        "delay-factor",
        "1us",
        "suspend-execve",
        "0",
    ]);
    daemon.ok(&["set", "response", "enforce"]);
    step(t, "enforcing");
    let status = request(port, "DEBUG /bin/true");
    step(t, "refused");
    assert!(
        status == "debug 32512" || status == "debug 9",
        "the shell ran: {status}"
    );
    assert_eq!(request(port, "HELLO again"), "hello again");
    step(t, "goes on");
    wait_until(20, "the refusal to be reported", || {
        logged(dir.path())
            .iter()
            .any(|e| e["type"] == "execve_refused" && e["executable"] == "/bin/sh")
    });
    daemon.ok(&["set", "response", "monitor"]);
    let refused: Vec<Value> = logged(dir.path())
        .into_iter()
        .filter(|e| e["type"] == "execve_refused")
        .collect();
    eprintln!("{log}{refused:?}");
    assert_eq!(request(port, "QUIT"), "bye");
    drop(running);
    daemon.stop();
}
