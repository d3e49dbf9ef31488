//! Admin operations on profiles: normalize, sensitize, tolerize.

use ebph_api::protocol::{ProfileSummary, Target};
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
}
