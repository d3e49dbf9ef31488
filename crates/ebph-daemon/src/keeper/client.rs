//! The daemon's side of the keeper: starting it, telling it what to release, starting it
//! again should it die.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How many times a keeper that died is started again within [`RESTART_WINDOW`].
const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// A running keeper.
pub(crate) struct Keeper {
    child: Child,
    stdin: ChildStdin,
    /// Closes when the keeper exits: what the daemon watches.
    stdout: ChildStdout,
    /// The keeper exited and could not be started again.
    dead: bool,
    holds_map_id: u32,
    ledger_dir: PathBuf,
    restarts: Vec<Instant>,
}

/// Starts `ebph keeper` (this very executable, by `/proc/self/exe`, so an upgrade that
/// replaced the file on disk changes nothing) and waits until it reads the holds.
fn spawn(holds_map_id: u32, ledger_dir: &Path) -> Result<(Child, ChildStdin, ChildStdout)> {
    let mut child = Command::new("/proc/self/exe")
        .arg("keeper")
        .arg("--holds-map-id")
        .arg(holds_map_id.to_string())
        .arg("--ledger")
        .arg(ledger_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group: a Ctrl-C meant for a daemon run in a terminal is not for it.
        .process_group(0)
        .spawn()
        .context("starting the keeper (ebph keeper)")?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    // It says `ready` once it reads the holds (or exits, saying why on stderr).
    if read_line(&stdout, Duration::from_secs(10)).as_deref() != Some("ready") {
        let _ = child.kill();
        let status = child.wait();
        bail!("the keeper did not start ({status:?}); its error is above");
    }
    // Commands must never block the daemon, even with a keeper that stopped reading.
    rustix::io::ioctl_fionbio(&stdin, true).context("setting up the keeper's input")?;
    Ok((child, stdin, stdout))
}

/// A line from `pipe`, waiting `timeout` at most for all of it.
fn read_line(pipe: &ChildStdout, timeout: Duration) -> Option<String> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let deadline = Instant::now() + timeout;
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let left = Timespec::try_from(deadline.checked_duration_since(Instant::now())?).ok()?;
        let mut fds = [PollFd::new(pipe, PollFlags::IN)];
        if poll(&mut fds, Some(&left)).ok()? == 0 {
            return None;
        }
        let mut byte = [0u8; 1];
        match rustix::io::read(pipe, &mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&line).trim().to_owned())
}

impl Keeper {
    /// Starts the keeper of the engine whose holds ring buffer has id `holds_map_id`; it
    /// writes down what it holds in `ledger_dir`.
    pub(crate) fn start(holds_map_id: u32, ledger_dir: &Path) -> Result<Keeper> {
        let (child, stdin, stdout) = spawn(holds_map_id, ledger_dir)?;
        tracing::info!("keeper started (pid {})", child.id());
        Ok(Keeper {
            child,
            stdin,
            stdout,
            dead: false,
            holds_map_id,
            ledger_dir: ledger_dir.to_owned(),
            restarts: Vec::new(),
        })
    }

    /// A descriptor that becomes readable when the keeper exits, while one runs.
    pub(crate) fn watch(&self) -> Option<BorrowedFd<'_>> {
        (!self.dead).then(|| self.stdout.as_fd())
    }

    /// The keeper's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send(&mut self, command: &str) {
        if let Err(e) = self.stdin.write_all(format!("{command}\n").as_bytes()) {
            tracing::error!("telling the keeper to {command} failed: {e}");
            self.check();
        }
    }

    /// Continues process `pid` now, if it is held.
    pub(crate) fn release(&mut self, pid: u32) {
        self.send(&format!("release {pid}"));
    }

    /// Continues every held process now.
    pub(crate) fn release_all(&mut self) {
        self.send("release-all");
    }

    /// Starts the keeper again if it died. Returns false when it is not running (and could
    /// not be started again).
    pub(crate) fn check(&mut self) -> bool {
        if self.dead {
            return false;
        }
        match self.child.try_wait() {
            Ok(None) => return true,
            Ok(Some(status)) => tracing::error!("the keeper died ({status}): starting another"),
            Err(e) => tracing::error!("the keeper is unreachable ({e}): starting another"),
        }
        let now = Instant::now();
        self.restarts
            .retain(|t| now.duration_since(*t) < RESTART_WINDOW);
        if self.restarts.len() >= MAX_RESTARTS {
            self.dead = true;
            return false;
        }
        self.restarts.push(now);
        match spawn(self.holds_map_id, &self.ledger_dir) {
            Ok((child, stdin, stdout)) => {
                tracing::info!("keeper started again (pid {})", child.id());
                self.child = child;
                self.stdin = stdin;
                self.stdout = stdout;
                true
            }
            Err(e) => {
                tracing::error!("{e:#}");
                self.dead = true;
                false
            }
        }
    }

    /// Tells the keeper that the engine is detached: it continues everything and exits.
    pub(crate) fn stop(mut self) {
        self.send("exit");
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        tracing::warn!("the keeper did not exit: killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
