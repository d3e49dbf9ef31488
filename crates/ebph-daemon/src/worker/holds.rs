//! Processes held for a delay, as the daemon shows them, and the keeper that continues them
//! (a process of its own: `keeper/`).

use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::path::Path;

use anyhow::Result;
use ebph_bpf::Engine;

use crate::keeper::Keeper;
use crate::mailbox::ApiError;

/// The holds the events told of, and the keeper.
pub(super) struct Holds {
    /// Held processes, and until when (engine clock).
    held: HashMap<u32, u64>,
    keeper: Keeper,
    /// The keeper could not be kept running: the engine holds nothing.
    off: bool,
}

impl Holds {
    /// Starts the keeper on `engine`'s holds (it continues any process a daemon that died
    /// left stopped, as its ledger in `dir` says).
    pub(super) fn start(engine: &Engine, dir: &Path) -> Result<Holds> {
        Ok(Holds {
            held: HashMap::new(),
            keeper: Keeper::start(engine.holds_map_id()?, dir)?,
            off: false,
        })
    }

    /// Process `pid` is held until `until` (engine clock): a delay event.
    pub(super) fn hold(&mut self, pid: u32, until: u64) {
        let held = self.held.entry(pid).or_insert(0);
        *held = (*held).max(until);
    }

    /// Checks that the keeper is there (it is restarted when it dies); true when it keeps
    /// dying and holds are turned off now: the engine must then hold nothing.
    pub(super) fn check_keeper(&mut self) -> bool {
        if self.keeper.check() || self.off {
            return false;
        }
        tracing::error!(
            "the keeper keeps dying: no process is held from now on (response monitor) until the daemon is restarted"
        );
        self.off = true;
        true
    }

    /// Forgets holds that have ended (the keeper continued those processes).
    pub(super) fn end_due(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let now = ebph_bpf::boot_now_ns();
        self.held
            .retain(|&pid, &mut until| until > now && Path::new(&format!("/proc/{pid}")).exists());
    }

    /// Continues every held process now.
    pub(super) fn release_all(&mut self) {
        self.keeper.release_all();
        self.held.clear();
    }

    /// Continues process `pid` now, its tasks released in `engine` (their locality frames
    /// start empty); how many tasks that was.
    pub(super) fn release(&mut self, engine: &Engine, pid: u32) -> Result<u32, ApiError> {
        let tasks = engine.release(pid)?;
        if tasks == 0 && !self.held.contains_key(&pid) {
            return Err(ApiError::not_found(format!(
                "process {pid} is not tracked by ebph"
            )));
        }
        self.held.remove(&pid);
        self.keeper.release(pid);
        tracing::info!("released process {pid}");
        Ok(tasks)
    }

    /// When the first hold ends (engine clock), if any is known.
    pub(super) fn next_end(&self) -> Option<u64> {
        self.held.values().min().copied()
    }

    /// How many more milliseconds `pid` is held, at `now` (engine clock), if it is.
    pub(super) fn held_ms(&self, pid: u32, now: u64) -> Option<u64> {
        self.held
            .get(&pid)
            .filter(|&&until| until > now)
            .map(|&until| (until - now) / 1_000_000)
    }

    /// Processes held now.
    pub(super) fn count(&self) -> u64 {
        self.held.len() as u64
    }

    /// Whether holds are off: the engine must hold nothing.
    pub(super) fn are_off(&self) -> bool {
        self.off
    }

    /// Holds are off from now on (the daemon is stopping).
    pub(super) fn turn_off(&mut self) {
        self.off = true;
    }

    /// The keeper's process id, while it runs.
    pub(super) fn keeper_pid(&self) -> Option<u32> {
        (!self.off).then(|| self.keeper.pid())
    }

    /// A descriptor readable when the keeper exits.
    pub(super) fn watch(&self) -> Option<BorrowedFd<'_>> {
        self.keeper.watch()
    }

    /// What `ebph status` should say of holds, when something is wrong.
    pub(super) fn warning(&self) -> Option<String> {
        self.off.then(|| {
            "the keeper kept dying: nothing is held until the daemon is restarted".to_owned()
        })
    }

    /// Stops the keeper (once the engine is gone: nothing can be held any more).
    pub(super) fn stop(self) {
        self.keeper.stop();
    }
}
