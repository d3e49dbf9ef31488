//! The programs tests run: the C programs of `programs/` compiled into a test's directory,
//! copies of system programs (an inode, so a profile, of their own), and running them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where the test programs' sources are.
pub fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

/// Compiles `programs/NAME.c` into `dir/NAME` (with `-O1 -pthread`).
pub fn compile(dir: &Path, name: &str) -> PathBuf {
    let out_path = dir.join(name);
    let source = sources().join(format!("{name}.c"));
    let out = Command::new("cc")
        .args(["-O1", "-pthread", "-o"])
        .arg(&out_path)
        .arg(&source)
        .output()
        .expect("run cc (scripts/install-deps installs gcc)");
    assert!(
        out.status.success(),
        "cc {name}.c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out_path
}

/// A copy of a system program in `dir` (its own inode, so its own profile).
pub fn copy_program(dir: &Path, name: &str, from: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(std::fs::canonicalize(from).unwrap(), &path).unwrap();
    path
}

/// Runs `program ARGS` with no input, requiring success.
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

/// A path as a `&str`, for command lines.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
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

/// A TCP port on loopback that nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The write end of a pipe whose reader has gone: the stdin of a `true` that has exited.
pub fn pipe_without_reader() -> std::process::ChildStdin {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let writer = reader.stdin.take().unwrap();
    reader.wait().unwrap();
    writer
}
