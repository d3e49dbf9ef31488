//! The allowlist: the profiles whose tasks are never held nor refused.

use ebph_core::ProfileKey;

use super::Worker;
use crate::mailbox::ApiError;

impl Worker {
    /// Exempts the profile in `slot` when its executable is on the allowlist.
    pub(super) fn apply_allowlist_to(&self, key: ProfileKey, slot: u32) {
        let path = self.path_of(&key);
        let listed = self.settings.allowlist.iter().any(|p| {
            *p == path
                || std::fs::metadata(p).is_ok_and(|m| {
                    use std::os::unix::fs::MetadataExt;
                    key.script == 0 && m.dev() == key.dev && m.ino() == key.ino
                })
        });
        if let Err(e) = self.engine.set_exempt(slot, listed) {
            tracing::error!("updating the allowlist failed: {e}");
        }
    }

    /// Applies the allowlist to every profile.
    pub(super) fn apply_allowlist(&self) -> Result<(), ApiError> {
        for (key, slot) in self.engine.profile_slots()? {
            self.apply_allowlist_to(key, slot);
        }
        Ok(())
    }
}
