//! Shared by the daemon's end-to-end tests: a real daemon on temporary paths, and helpers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Daemon {
    pub child: Option<Child>,
    pub dir: PathBuf,
}

impl Daemon {
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
        let ebph = env!("CARGO_BIN_EXE_ebph");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(ebph);
                c
            }
            None => Command::new(ebph),
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
        let daemon = Daemon {
            child: Some(child),
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !daemon.cli(&["status"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "the daemon did not start: {}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ebph"))
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

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
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

/// A copy of a system program (its own inode, so its own profile).
pub fn copy_program(dir: &Path, name: &str, from: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(std::fs::canonicalize(from).unwrap(), &path).unwrap();
    path
}

pub fn run(program: &Path, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Compiles `tests/programs/NAME.c` into `dir/NAME`.
pub fn compile(dir: &Path, name: &str) -> PathBuf {
    compile_from(dir, name, "tests/programs")
}

/// Compiles `FROM/NAME.c` (`FROM` relative to this crate) into `dir/NAME`.
pub fn compile_from(dir: &Path, name: &str, from: &str) -> PathBuf {
    let out_path = dir.join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(from)
        .join(format!("{name}.c"));
    let out = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&out_path)
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc {name}.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out_path
}

/// Whether process `pid` is stopped (state T in /proc).
pub fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('T'))
        })
        .unwrap_or(false)
}

/// Every event the daemon reports now.
pub fn events(daemon: &Daemon) -> Vec<Value> {
    daemon
        .ok(&["logs", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until `f` holds, or fails after `seconds`.
pub fn wait_until(seconds: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP port on loopback that nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on loopback over HTTP/1.0 (so the body is never chunked), requiring a 200;
/// the body.
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

/// `GET /metrics`, parsed as the Prometheus text format.
pub fn scrape(port: u16) -> prometheus_parse::Scrape {
    let body = get(port, "/metrics");
    let lines = body
        .lines()
        .filter(|l| l.starts_with('#') || l.starts_with("ebph_"))
        .map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("Prometheus text")
}

pub fn metric(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    ebph_test_support::sample(scrape, name, label)
        .unwrap_or_else(|| panic!("no {name} in the scrape"))
}

/// The write end of a pipe whose reader has gone: the stdin of a `true` that has exited.
pub fn pipe_without_reader() -> std::process::ChildStdin {
    let mut reader = Command::new("true")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let writer = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    writer
}
