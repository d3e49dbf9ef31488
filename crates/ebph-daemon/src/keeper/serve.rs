//! The keeper process itself (`ebph keeper`, started by the daemon).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ebph_bpf::{boot_now_ns, Hold, Holds};
use rustix::event::{PollFd, PollFlags, Timespec};

use super::ledger::Ledger;
use super::process;

/// How long the keeper goes on continuing whatever the engine still stops once the daemon is
/// gone without saying `exit` (its programs may run on other CPUs for a moment yet).
const GRACE_NS: u64 = 500_000_000;
/// A process continued this long ago and not held since leaves the ledger.
const FORGET_NS: u64 = 1_000_000_000;
/// How often the ledger is rewritten at most.
const REWRITE_NS: u64 = 1_000_000_000;
/// The most processes held at once; a hold beyond it is continued at once (logged).
const MAX_HELD: usize = 65_536;

/// What the daemon tells the keeper on its command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// The id of the engine's holds ring buffer.
    pub holds_map_id: u32,
    /// Where keepers write down what they hold ([`super::ledger`]).
    pub ledger_dir: PathBuf,
}

/// One held process.
struct Held {
    start_ns: u64,
    /// When to continue it; `None` once continued.
    until: Option<u64>,
    /// When it was last held or continued.
    last: u64,
}

struct Keeper {
    held: HashMap<u32, Held>,
    ledger: Ledger,
    /// Whether the ledger lists processes no longer held.
    stale: bool,
    next_rewrite: u64,
    /// The daemon has gone (or said to release everything for good): continue at once.
    released: bool,
    full_warned: bool,
}

impl Keeper {
    fn take(&mut self, hold: Hold, now: u64) {
        if self.released {
            process::continue_process(hold.pid, hold.start_time);
            return;
        }
        if !self.held.contains_key(&hold.pid) && self.held.len() >= MAX_HELD {
            if !self.full_warned {
                tracing::warn!(
                    "{MAX_HELD} processes are held already: process {} is continued at once",
                    hold.pid
                );
                self.full_warned = true;
            }
            process::continue_process(hold.pid, hold.start_time);
            return;
        }
        match self.held.get_mut(&hold.pid) {
            Some(h) if h.start_ns == hold.start_time => {
                // Threads of one process may hold it to different ends: the latest wins.
                h.until = Some(h.until.map_or(hold.until, |u| u.max(hold.until)));
                h.last = now;
            }
            // New, or a new process with a reused pid.
            _ => {
                self.held.insert(
                    hold.pid,
                    Held {
                        start_ns: hold.start_time,
                        until: Some(hold.until),
                        last: now,
                    },
                );
                if let Err(e) = self.ledger.add(hold.pid, hold.start_time) {
                    tracing::warn!("{e:#}");
                }
            }
        }
    }

    /// Continues every process whose time is up (all of them with `all`).
    fn continue_due(&mut self, now: u64, all: bool) -> usize {
        let mut continued = 0;
        for (&pid, h) in self.held.iter_mut() {
            if let Some(until) = h.until {
                if all || until <= now {
                    process::continue_process(pid, h.start_ns);
                    h.until = None;
                    h.last = now;
                    continued += 1;
                }
            }
        }
        continued
    }

    fn release(&mut self, pid: u32, now: u64) {
        if let Some(h) = self.held.get_mut(&pid) {
            process::continue_process(pid, h.start_ns);
            h.until = None;
            h.last = now;
        }
    }

    /// Drops processes continued a while ago from the table and, at most once a second, from
    /// the ledger.
    fn forget(&mut self, now: u64) {
        let before = self.held.len();
        self.held
            .retain(|_, h| h.until.is_some() || now.saturating_sub(h.last) < FORGET_NS);
        self.stale |= self.held.len() != before;
        if self.stale && now >= self.next_rewrite {
            let held = self.held.iter().map(|(&pid, h)| (pid, h.start_ns));
            if let Err(e) = self.ledger.rewrite(held) {
                tracing::warn!("{e:#}");
            }
            self.stale = false;
            self.next_rewrite = now + REWRITE_NS;
        }
    }

    /// When the loop must wake next, at the latest.
    fn next_wake(&self, now: u64) -> u64 {
        let due = self.held.values().filter_map(|h| h.until).min();
        let forget = self
            .held
            .values()
            .filter(|h| h.until.is_none())
            .map(|h| h.last + FORGET_NS)
            .min();
        let mut next = now + 60_000_000_000;
        for t in [due, forget].into_iter().flatten() {
            next = next.min(t);
        }
        if self.stale {
            next = next.min(self.next_rewrite.max(now));
        }
        next
    }
}

/// Runs the keeper until the daemon is gone (or says `exit`) and nothing is held.
pub fn run(options: Options) -> Result<()> {
    // Out of the OOM killer's way (it is small); deaf to the terminal's signals; SIGTERM
    // continues everything held (the daemon stops holding when it is stopped itself).
    let _ = std::fs::write("/proc/self/oom_score_adj", "-1000");
    let _ = rustix::thread::set_name(c"ebph-keeper");
    let ignored = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, ignored.clone())?;
    }
    let (term_read, term_write) = UnixStream::pair()?;
    term_read.set_nonblocking(true)?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, term_write)?;

    let holds = Holds::open(options.holds_map_id)?;
    let arrived = Rc::new(RefCell::new(Vec::new()));
    let sink = arrived.clone();
    let reader = holds.reader(move |h| sink.borrow_mut().push(h))?;
    let (ledger, leftovers) = Ledger::open(&options.ledger_dir)?;
    if !leftovers.continued.is_empty() {
        tracing::warn!(
            "continued {} processes left stopped by an ebph that died: {:?}",
            leftovers.continued.len(),
            leftovers.continued
        );
    }
    let mut keeper = Keeper {
        held: HashMap::new(),
        ledger,
        stale: false,
        next_rewrite: 0,
        released: false,
        full_warned: false,
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
    }

    // Takes in every hold the engine wrote so far; the time it did.
    let absorb = |keeper: &mut Keeper| -> Result<u64> {
        reader.consume()?;
        let now = boot_now_ns();
        for hold in arrived.take() {
            keeper.take(hold, now);
        }
        Ok(now)
    };
    let stdin = std::io::stdin();
    let mut input = Vec::new();
    let mut daemon_open = true;
    let mut exit_at: Option<u64> = None;
    loop {
        let now = absorb(&mut keeper)?;
        keeper.continue_due(now, keeper.released);
        keeper.forget(now);
        if let Some(at) = exit_at {
            if now >= at {
                break;
            }
        }
        let mut wake = keeper.next_wake(now);
        if let Some(at) = exit_at {
            wake = wake.min(at);
        }
        // (Too far to say as a timespec: wait for an fd.)
        let timeout = Timespec::try_from(Duration::from_nanos(wake.saturating_sub(now))).ok();
        let stdin_fd = stdin.as_fd();
        let mut fds = vec![
            PollFd::new(&reader, PollFlags::IN),
            PollFd::new(&term_read, PollFlags::IN),
        ];
        if daemon_open {
            fds.push(PollFd::from_borrowed_fd(stdin_fd, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).context("waiting"),
        }
        let term = !fds[1].revents().is_empty();
        let stdin_ready = daemon_open && !fds[2].revents().is_empty();
        drop(fds);
        if term {
            let mut buf = [0u8; 64];
            while rustix::io::read(&term_read, &mut buf).is_ok_and(|n| n > 0) {}
            let n = keeper.continue_due(boot_now_ns(), true);
            tracing::info!("SIGTERM: continued {n} held processes");
        }
        if stdin_ready {
            let mut buf = [0u8; 4096];
            match rustix::io::read(stdin_fd, &mut buf) {
                Ok(0) | Err(_) => {
                    daemon_open = false;
                    if exit_at.is_none() {
                        // Gone without a word: SIGKILL, a crash, the OOM killer.
                        let now = absorb(&mut keeper)?;
                        keeper.released = true;
                        let n = keeper.continue_due(now, true);
                        tracing::warn!("the daemon is gone: continued {n} held processes; exiting");
                        exit_at = Some(now + GRACE_NS);
                    }
                }
                Ok(n) => input.extend_from_slice(&buf[..n]),
            }
            while let Some(end) = input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = input.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let now = absorb(&mut keeper)?;
                match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                    ["release", pid] => match pid.parse() {
                        Ok(pid) => keeper.release(pid, now),
                        Err(_) => tracing::warn!("keeper: bad command {line:?}"),
                    },
                    ["release-all"] => {
                        keeper.continue_due(now, true);
                    }
                    ["exit"] => {
                        // The engine is detached: nothing will be held any more.
                        keeper.released = true;
                        keeper.continue_due(now, true);
                        exit_at = Some(now);
                    }
                    _ => tracing::warn!("keeper: bad command {line:?}"),
                }
            }
        }
    }
    keeper.continue_due(boot_now_ns(), true);
    keeper.ledger.remove()?;
    Ok(())
}
