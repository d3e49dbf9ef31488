//! Saving every profile to the store: on an interval, on `ebph save`, and on the way out.

use std::time::{Duration, Instant, SystemTime};

use ebph_api::event::rfc3339;
use ebph_api::protocol::Saved;
use ebph_bpf::Engine;

use super::catalogue::Catalogue;
use crate::config::Config;
use crate::mailbox::ApiError;
use crate::store::{Store, StoredProfile};

/// When profiles were saved, and are next; how often, and how long the last save took.
pub(super) struct Saving {
    last: Option<SystemTime>,
    next: Instant,
    count: u64,
    last_seconds: f64,
}

impl Saving {
    /// Nothing saved yet; the first save `interval` from now.
    pub(super) fn new(interval: Duration) -> Saving {
        Saving {
            last: None,
            next: Instant::now() + interval,
            count: 0,
            last_seconds: 0.0,
        }
    }

    /// When the next save is due.
    pub(super) fn next(&self) -> Instant {
        self.next
    }

    /// Whether it is due now.
    pub(super) fn is_due(&self) -> bool {
        Instant::now() >= self.next
    }

    /// The next save is `interval` from now (the interval changed).
    pub(super) fn reschedule(&mut self, interval: Duration) {
        self.next = Instant::now() + interval;
    }

    /// When profiles were last saved, if they have been.
    pub(super) fn last(&self) -> Option<SystemTime> {
        self.last
    }

    /// Saves done, and how long the last one took in seconds.
    pub(super) fn done(&self) -> (u64, f64) {
        (self.count, self.last_seconds)
    }

    /// Writes every profile of `engine` into `store` (with what `catalogue` knows of each),
    /// then keeps the anomaly history within its bounds.
    pub(super) fn save(
        &mut self,
        engine: &Engine,
        store: &mut Store,
        catalogue: &Catalogue,
        config: &Config,
        ngram_length: u8,
    ) -> Result<Saved, ApiError> {
        let start = Instant::now();
        let mut profiles = Vec::new();
        for (key, slot) in engine.profile_slots()? {
            let mut profile = engine.profile(slot)?;
            // The store keeps wall-clock time: a normal time outlives a reboot.
            profile.normal_time = ebph_bpf::unix_ns_of(profile.normal_time);
            let origin = catalogue.origin_of(engine, &key, slot)?;
            profiles.push(StoredProfile {
                key,
                path: catalogue.path_of(&key),
                profile,
                origin,
                ngram_length,
            });
        }
        store.save_profiles(&profiles)?;
        prune_history(store, config);
        self.last = Some(SystemTime::now());
        self.count += 1;
        self.last_seconds = start.elapsed().as_secs_f64();
        self.next = Instant::now() + config.save_interval;
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

/// Keeps the anomaly history within `anomaly-history` rows and `anomaly-history-age`.
fn prune_history(store: &mut Store, config: &Config) {
    let oldest = SystemTime::now()
        .checked_sub(config.anomaly_history_age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match store.prune_anomalies(config.anomaly_history, &rfc3339(oldest)) {
        Ok(0) => {}
        Ok(n) => tracing::info!("forgot {n} old anomalies (anomaly-history)"),
        Err(e) => tracing::error!("pruning the anomaly history failed: {e}"),
    }
}
