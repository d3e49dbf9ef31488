//! Admin operations on profiles: normalize, sensitize, tolerize, delete.

use ebph_api::protocol::{Deleted, ProfileSummary, Target};
use ebph_bpf::AdminOp;

use super::Worker;
use crate::mailbox::ApiError;

impl Worker {
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

    /// Deletes a profile no task uses, from the engine and from the store.
    pub(super) fn delete(&mut self, target: &Target) -> Result<Deleted, ApiError> {
        let (key, slot) = self.resolve(target)?;
        let path = self.path_of(&key);
        if let Err(e) = self.engine.delete_profile(slot) {
            return Err(match e {
                ebph_bpf::EngineError::InUse(_) => ApiError::conflict(format!(
                    "the profile of {path} ({key}) is in use by running processes: stop them"
                )),
                e => e.into(),
            });
        }
        self.forget_deleted(&[key])?;
        tracing::info!("deleted the profile of {path} ({key})");
        Ok(Deleted {
            key: key.to_string(),
            path,
        })
    }
}
