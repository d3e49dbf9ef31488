//! Processes held for a delay: when each is due, continuing them (SIGCONT), releasing them.

use std::time::Duration;

use super::Worker;
use crate::mailbox::ApiError;

/// Sends SIGCONT to a process (gone already is fine).
pub(super) fn continue_process(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
    }
}

impl Worker {
    /// How long the loop may wait for a command: until the next hold ends, at most 20 ms.
    pub(super) fn wait_time(&self) -> Duration {
        let Some(&next) = self.held.values().min() else {
            return Duration::from_millis(20);
        };
        let now = ebph_bpf::boot_now_ns();
        Duration::from_nanos(next.saturating_sub(now)).min(Duration::from_millis(20))
    }

    /// Continues every process whose hold has ended.
    pub(super) fn continue_due(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let now = ebph_bpf::boot_now_ns();
        self.held.retain(|&pid, &mut until| {
            if until <= now {
                continue_process(pid);
                false
            } else {
                true
            }
        });
    }

    /// Continues every held process now.
    pub(super) fn release_all(&mut self) {
        for (pid, _) in self.held.drain() {
            continue_process(pid);
        }
    }

    pub(super) fn release(&mut self, pid: u32) -> Result<u32, ApiError> {
        let tasks = self.engine.release(pid)?;
        if tasks == 0 && !self.held.contains_key(&pid) {
            return Err(ApiError::not_found(format!(
                "process {pid} is not tracked by ebph"
            )));
        }
        self.held.remove(&pid);
        continue_process(pid);
        tracing::info!("released process {pid}");
        Ok(tasks)
    }
}
