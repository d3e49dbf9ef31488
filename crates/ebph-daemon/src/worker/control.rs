//! What the API changes: settings (and what they mean on this kernel), admin operations.

use ebph_api::protocol::{ProfileSummary, SettingValue, Target};
use ebph_bpf::AdminOp;

use super::Worker;
use crate::mailbox::ApiError;

impl Worker {
    pub(super) fn setting_values(&self) -> Vec<SettingValue> {
        self.settings
            .iter()
            .map(|(info, value)| SettingValue {
                name: info.name.to_owned(),
                value,
                description: info.description.to_owned(),
                note: self.note_on(info.name),
            })
            .collect()
    }

    /// What setting `name` does on this kernel, where kernels differ.
    pub(super) fn note_on(&self, name: &str) -> Option<String> {
        use ebph_core::ResponseMode;
        let delays = "delays stop a task with SIGSTOP and the daemon continues it with SIGCONT";
        let execve = || {
            match self.engine.bpf_lsm().reason() {
            None => "an exec of a task over suspend-execve fails with EPERM (BPF-LSM)".to_owned(),
            Some(why) => format!(
                "BPF-LSM is unavailable on this kernel ({why}), so a task over suspend-execve is killed (SIGKILL) at its exec instead of having the exec refused"
            ),
        }
        };
        match (name, self.settings.response) {
            ("response", ResponseMode::Delay) => Some(delays.to_owned()),
            ("response", ResponseMode::Enforce) if self.settings.suspend_execve > 0 => {
                Some(format!("{delays}; {}", execve()))
            }
            ("response", ResponseMode::Enforce) => Some(format!(
                "{delays}; execve suspension is off (suspend-execve = 0)"
            )),
            ("suspend-execve", _) if self.settings.suspend_execve > 0 => Some(execve()),
            _ => None,
        }
    }

    pub(super) fn set(&mut self, name: &str, value: &str) -> Result<Vec<SettingValue>, ApiError> {
        let mut next = self.settings.clone();
        next.set(name, value)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let canonical = name.replace('_', "-");
        let shown = next
            .get(&canonical)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        self.store.set_setting(&canonical, &shown)?;
        self.settings = next;
        self.push_settings();
        tracing::info!("setting {canonical} = {shown}");
        if self.settings.response == ebph_core::ResponseMode::Monitor {
            // Back to monitoring: nothing stays held.
            self.release_all();
        }
        if canonical == "allowlist" {
            self.apply_allowlist()?;
        }
        Ok(self.setting_values())
    }

    pub(super) fn admin(
        &mut self,
        op: AdminOp,
        target: &Target,
    ) -> Result<ProfileSummary, ApiError> {
        let (key, slot) = self.resolve(target)?;
        self.engine.admin(op, slot)?;
        tracing::info!("{op:?} {} ({key})", self.path_of(&key));
        let p = self.engine.profile(slot)?;
        self.summary(&key, slot, &p)
    }
}
