//! Processes held for a delay, as the daemon shows them; the keeper continues them.

use super::Worker;
use crate::mailbox::ApiError;

impl Worker {
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
