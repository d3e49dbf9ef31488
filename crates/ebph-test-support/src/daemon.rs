//! A real daemon on temporary paths, driven through the `ebph` command line as an
//! administrator would: starting and stopping it, its events, training a program until its
//! profile is normal, and its metrics endpoint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::programs::{run, s};
use crate::wait_until;

/// How long a daemon may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The `ebph` binary under test: `EBPH_BIN`, or the one cargo built beside the test binary
/// (`target/PROFILE/ebph`, the test being in `target/PROFILE/deps/`).
pub fn ebph() -> PathBuf {
    if let Some(bin) = std::env::var_os("EBPH_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("ebph"))
        .expect("the test binary is in target/PROFILE/deps");
    assert!(
        bin.exists(),
        "{} is missing: build it (cargo test builds it for the ebph crate's tests) or set EBPH_BIN",
        bin.display()
    );
    bin
}

/// A daemon started by a test: its state, socket, configuration (`ebph.toml`) and log
/// (`daemon.log`) in `dir`. Dropped, it is killed.
pub struct Daemon {
    /// The daemon's process, until it is stopped.
    pub child: Option<Child>,
    /// Where everything of it is.
    pub dir: PathBuf,
}

impl Daemon {
    /// Starts a daemon in `dir`, and waits until it answers.
    pub fn start(dir: &Path) -> Daemon {
        Daemon::start_with(dir, &[])
    }

    /// Starts a daemon with extra flags.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Daemon {
        Daemon::start_wrapped(dir, &[], extra)
    }

    /// Starts a daemon through `wrapper` (a program and its arguments, which runs the
    /// daemon's command line in the same process: `setpriv ... --`), with extra flags.
    pub fn start_wrapped(dir: &Path, wrapper: &[&str], extra: &[&str]) -> Daemon {
        let config = dir.join("ebph.toml");
        if !config.exists() {
            std::fs::write(&config, "").unwrap();
        }
        let ebph = ebph();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&ebph);
                c
            }
            None => Command::new(&ebph),
        };
        let child = command
            .args(["daemon", "--config"])
            .arg(&config)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--socket")
            .arg(dir.join("ebph.sock"))
            .arg("--save-interval")
            .arg("1h")
            .args(extra)
            .stderr(std::fs::File::create(dir.join("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        let mut daemon = Daemon {
            child: Some(child),
            dir: dir.to_owned(),
        };
        // Loading the engine is the verifier's work: quick here, many seconds on a kernel
        // emulated by qemu (the kernel matrix). A daemon that exits fails the test at once.
        let deadline = Instant::now() + START_TIMEOUT;
        while !daemon.cli(&["status"]).status.success() {
            let exited = daemon.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none(),
                "the daemon exited ({}) while starting: {}",
                exited.unwrap(),
                daemon.log()
            );
            assert!(
                Instant::now() < deadline,
                "the daemon did not start in {START_TIMEOUT:?}: {}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    /// What the daemon logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    /// Runs the CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(ebph())
            .args(args)
            .env("EBPH_SOCKET", self.dir.join("ebph.sock"))
            .output()
            .unwrap()
    }

    /// Runs the CLI and returns its output, requiring success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "ebph {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs the CLI (with `--json` among `args`) and parses what it printed.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Every event the daemon reports now (`ebph logs --json`).
    pub fn events(&self) -> Vec<Value> {
        self.ok(&["logs", "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits up to `seconds` for an event that `wanted` picks (failing with `what` if none
    /// comes); every event it picks then.
    pub fn wait_for_events(
        &self,
        seconds: u64,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let mut found = Vec::new();
        wait_until(seconds, what, || {
            found = self.events().into_iter().filter(|e| wanted(e)).collect();
            !found.is_empty()
        });
        found
    }

    /// The status of the profile of `program` (`training`, `frozen`, `normal`), if it has one.
    pub fn status_of(&self, program: &Path) -> Option<String> {
        let out = self.cli(&["profile", "show", s(program), "--json"]);
        if !out.status.success() {
            return None;
        }
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
        shown["status"].as_str().map(str::to_owned)
    }

    /// Makes the profile of `program` normal now (`ebph normalize`), requiring it to be.
    pub fn normalize(&self, program: &Path) {
        self.ok(&["normalize", "--profile", s(program)]);
        assert_eq!(
            self.status_of(program).as_deref(),
            Some("normal"),
            "{} normalized",
            program.display()
        );
    }

    /// Trains `program` on `runs` runs of `program ARGS` (each must succeed), then makes its
    /// profile normal.
    pub fn train(&self, program: &Path, args: &[&str], runs: usize) {
        for _ in 0..runs {
            run(program, args);
        }
        self.normalize(program);
    }

    /// Runs `program ARGS` until its profile becomes normal by itself (it freezes, then
    /// `normal-wait` passes: set it short), or fails after `seconds`.
    pub fn run_until_normal(&self, program: &Path, args: &[&str], seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        run(program, args);
        loop {
            let status = self.status_of(program);
            match status.as_deref() {
                Some("normal") => return,
                Some("frozen") => std::thread::sleep(Duration::from_millis(300)),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "{} never became normal: {status:?}",
                program.display()
            );
            run(program, args);
        }
    }

    /// SIGTERM, and wait for it to save and exit.
    pub fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let status = self.child.take().unwrap().wait().unwrap();
        assert!(status.success(), "the daemon failed: {}", self.log());
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET path` on loopback `port` over HTTP/1.0 (so the body is never chunked), requiring a
/// 200; the body.
pub fn get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}\n{body}"
    );
    body.to_owned()
}

/// `GET /metrics` of a daemon serving metrics on loopback `port`, parsed as the Prometheus
/// text format.
pub fn scrape(port: u16) -> prometheus_parse::Scrape {
    let body = get(port, "/metrics");
    let lines = body
        .lines()
        .filter(|l| l.starts_with('#') || l.starts_with("ebph_"))
        .map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("Prometheus text")
}

/// The value of sample `name` (with `label`, if given) of `scrape`, which must have it.
pub fn metric(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    crate::sample(scrape, name, label).unwrap_or_else(|| panic!("no {name} in the scrape"))
}
