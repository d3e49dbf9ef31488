//! What the API changes: admin operations on profiles, deleting one, releasing a held
//! process, the settings (`ebph set`, and SIGHUP's reload).

use ebph_api::protocol::{Deleted, ProfileSummary, SettingValue, Target};
use ebph_bpf::AdminOp;
use ebph_core::{ResponseMode, Settings};

use super::Worker;
use crate::mailbox::ApiError;

impl Worker {
    pub(super) fn admin(
        &mut self,
        op: AdminOp,
        target: &Target,
    ) -> Result<ProfileSummary, ApiError> {
        let (key, slot) = self.catalogue.resolve(&self.engine, target)?;
        self.engine.admin(op, slot)?;
        tracing::info!("{op:?} {} ({key})", self.catalogue.path_of(&key));
        let p = self.engine.profile(slot)?;
        self.summary(&key, slot, &p)
    }

    /// Deletes a profile no task uses, from the engine and from the store.
    pub(super) fn delete(&mut self, target: &Target) -> Result<Deleted, ApiError> {
        let (key, slot) = self.catalogue.resolve(&self.engine, target)?;
        let path = self.catalogue.path_of(&key);
        if let Err(e) = self.engine.delete_profile(slot) {
            return Err(match e {
                ebph_bpf::EngineError::InUse(_) => ApiError::conflict(format!(
                    "the profile of {path} ({key}) is in use by running processes: stop them"
                )),
                e => e.into(),
            });
        }
        self.catalogue.forget(&mut self.store, &[key])?;
        tracing::info!("deleted the profile of {path} ({key})");
        Ok(Deleted {
            key: key.to_string(),
            path,
        })
    }

    pub(super) fn release(&mut self, pid: u32) -> Result<u32, ApiError> {
        self.holds.release(&self.engine, pid)
    }

    /// Every setting: value, where it comes from, what a restart would make it, warnings.
    pub(super) fn setting_values(&self) -> Vec<SettingValue> {
        self.settings.values(&self.config, &self.engine)
    }

    /// `ebph set NAME VALUE...` (see [`super::settings::Layered::set`]).
    pub(super) fn set(
        &mut self,
        values: &[(String, String)],
        force: bool,
    ) -> Result<Vec<SettingValue>, ApiError> {
        let previous = self
            .settings
            .set(values, force, &self.store, &self.config)?;
        self.settings_changed(&previous);
        Ok(self.setting_values())
    }

    /// SIGHUP: the configuration file's settings and save interval, as a restart would take
    /// them (see [`super::settings::Layered::reload`]).
    pub(super) fn reload(&mut self) {
        let Some(reloaded) = self.settings.reload(&mut self.config) else {
            return;
        };
        if let Some(interval) = reloaded.save_interval {
            self.saving.reschedule(interval);
        }
        self.settings_changed(&reloaded.previous);
    }

    /// The settings are no longer `previous`: the engine gets them, everything held goes on
    /// when the response becomes monitor, and the allowlist is applied anew if it changed.
    fn settings_changed(&mut self, previous: &Settings) {
        self.settings.push(&mut self.engine, self.holds.are_off());
        if self.settings.current().response == ResponseMode::Monitor {
            // Back to monitoring: nothing stays held.
            self.holds.release_all();
        }
        if self.settings.current().allowlist != previous.allowlist {
            self.apply_allowlist();
        }
    }
}
