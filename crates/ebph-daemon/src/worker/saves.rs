//! Saving every profile to the store.

use std::time::{Instant, SystemTime};

use ebph_api::protocol::Saved;

use super::Worker;
use crate::mailbox::ApiError;
use crate::store::StoredProfile;

impl Worker {
    pub(super) fn save(&mut self) -> Result<Saved, ApiError> {
        let start = Instant::now();
        let mut profiles = Vec::new();
        for (key, slot) in self.engine.profile_slots()? {
            let mut profile = self.engine.profile(slot)?;
            // The store keeps wall-clock time: a normal time outlives a reboot.
            profile.normal_time = ebph_bpf::unix_ns_of(profile.normal_time);
            let origin = self.origin_of(&key, slot)?;
            profiles.push(StoredProfile {
                key,
                path: self.path_of(&key),
                profile,
                origin,
                ngram_length: self.settings.ngram_length,
            });
        }
        self.store.save_profiles(&profiles)?;
        self.prune_history();
        self.last_save = Some(SystemTime::now());
        self.saves += 1;
        self.last_save_seconds = start.elapsed().as_secs_f64();
        self.next_save = Instant::now() + self.config.save_interval;
        let saved = Saved {
            profiles: profiles.len() as u64,
            milliseconds: start.elapsed().as_millis() as u64,
        };
        tracing::info!(
            "saved {} profiles in {} ms",
            saved.profiles,
            saved.milliseconds
        );
        Ok(saved)
    }
}
