//! Processes held for a delay, as the daemon shows them; the keeper continues them.

use std::time::{Duration, Instant};

use super::Worker;
use crate::mailbox::{ApiError, Inbox};

impl Worker {
    /// Sleeps until there is work: an event, a request, the keeper exiting, or the next
    /// timer (upkeep, a save, the end of a hold shown by `ebph ps`).
    pub(super) fn wait(&self, events: &ebph_bpf::Subscription<'_>, inbox: &Inbox) {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let now = Instant::now();
        let mut next = self.next_save.min(self.upkeep_due());
        if let Some(&until) = self.held.values().min() {
            let left = until.saturating_sub(ebph_bpf::boot_now_ns());
            next = next.min(now + Duration::from_nanos(left));
        }
        let timeout = next.saturating_duration_since(now);
        let timeout = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut fds = vec![
            PollFd::new(events, PollFlags::IN),
            PollFd::new(inbox, PollFlags::IN),
        ];
        if let Some(keeper) = self.keeper.watch() {
            fds.push(PollFd::from_borrowed_fd(keeper, PollFlags::IN));
        }
        let _ = poll(&mut fds, Some(&timeout));
    }

    /// Forgets holds that have ended (the keeper continued those processes), and checks that
    /// the keeper is there.
    pub(super) fn end_due(&mut self) {
        if !self.keeper.check() && !self.holds_off {
            tracing::error!(
                "the keeper keeps dying: no process is held from now on (response monitor) until the daemon is restarted"
            );
            self.holds_off = true;
            self.push_settings();
        }
        if self.held.is_empty() {
            return;
        }
        let now = ebph_bpf::boot_now_ns();
        self.held.retain(|&pid, &mut until| {
            until > now && std::path::Path::new(&format!("/proc/{pid}")).exists()
        });
    }

    /// Continues every held process now.
    pub(super) fn release_all(&mut self) {
        self.keeper.release_all();
        self.held.clear();
    }

    pub(super) fn release(&mut self, pid: u32) -> Result<u32, ApiError> {
        let tasks = self.engine.release(pid)?;
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

    /// Gives the engine the settings, in monitor mode if the keeper cannot run.
    pub(super) fn push_settings(&mut self) {
        let mut settings = self.settings.clone();
        if self.holds_off {
            settings.response = ebph_core::ResponseMode::Monitor;
        }
        self.engine.set_settings(&settings);
    }
}
