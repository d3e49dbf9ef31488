//! Making room before a table fills, and forgetting profiles unused for long.
//!
//! The engine keeps the last eighth of each pool (profiles, lookahead rows, index blocks) for
//! executables only root can change: the profiles of executables other users own or can
//! write may not take it. Here, once a second, when a pool passes [`EVICT_AT`] of its
//! capacity, profiles are evicted until every pool is under [`EVICT_TO`]: never a normal
//! profile, never one a task uses; those of executables other users can change first, then
//! training before frozen, least recently used first. So other users' programs never reach
//! the reserve while there is anything cheap to evict, and root's programs always find room.
//! See docs/engine.md, "Capacity and eviction", for the figures.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ebph_api::protocol::{self, Event};
use ebph_bpf::{EngineError, ProfileUse, Stats};
use ebph_core::{ProfileKey, ProfileStatus};

use super::{rfc3339, Worker};
use crate::store::{ProfileOrigin, StoreError};

/// Evicting starts when a pool is this full (numerator, denominator)...
const EVICT_AT: (u64, u64) = (4, 5);
/// ...and goes on until every pool is under this.
const EVICT_TO: (u64, u64) = (3, 4);
/// At most this many evictions a second.
const EVICT_MAX: usize = 4096;
/// When nothing could be evicted, the next look is this much later.
const NOTHING_TO_EVICT_WAIT: Duration = Duration::from_secs(10);
/// Expiry is looked at this often.
const EXPIRY_EVERY: Duration = Duration::from_secs(60);

/// What the engine is given for a saved profile's origin.
pub(super) fn usage_of(origin: &ProfileOrigin) -> ProfileUse {
    ProfileUse {
        tasks: 0,
        last_used: ebph_bpf::boot_ns_of(origin.last_used),
        unprivileged: origin.unprivileged,
        uid: origin.uid,
    }
}

/// The pool fuller than `share` of its capacity, by name, if any.
fn full_pool(s: &Stats, capacity: &ebph_bpf::Capacity, share: (u64, u64)) -> Option<&'static str> {
    [
        ("profiles", s.profiles_used, capacity.profiles),
        ("rows", s.rows_used, capacity.rows),
        ("indexes", s.indexes_used, capacity.indexes),
    ]
    .into_iter()
    .find(|&(_, used, max)| used * share.1 >= u64::from(max) * share.0)
    .map(|(name, _, _)| name)
}

/// When eviction and expiry next look, and what they did.
#[derive(Default)]
pub(super) struct Eviction {
    next_look: Option<Instant>,
    next_expiry: Option<Instant>,
    /// Profiles evicted to make room, and expired, since start.
    pub(super) evicted: u64,
    pub(super) expired: u64,
}

/// A profile that may go, and its rank (lowest goes first).
struct Candidate {
    rank: (bool, bool, u64),
    key: ProfileKey,
    slot: u32,
}

impl Worker {
    /// What the store keeps of the profile in `slot` beyond the model.
    pub(super) fn origin_of(
        &self,
        key: &ProfileKey,
        slot: u32,
    ) -> Result<ProfileOrigin, EngineError> {
        let u = self.engine.profile_use(slot)?;
        Ok(ProfileOrigin {
            last_used: self.last_used_unix(key, &u),
            unprivileged: u.unprivileged,
            uid: u.uid,
        })
    }

    /// When the profile was last used, in Unix nanoseconds (0: not known). A profile not
    /// used since this boot keeps the time saved with it.
    fn last_used_unix(&self, key: &ProfileKey, u: &ProfileUse) -> u64 {
        if u.last_used > 1 {
            ebph_bpf::unix_ns_of(u.last_used)
        } else {
            self.used_before.get(key).copied().unwrap_or(0)
        }
    }

    /// Evicts profiles when a pool is fuller than [`EVICT_AT`] (see the module's text).
    pub(super) fn make_room(&mut self, now: Instant) {
        if self.eviction.next_look.is_some_and(|t| now < t) {
            return;
        }
        let capacity = self.engine.capacity();
        let Some(pool) = full_pool(&self.engine.stats(), &capacity, EVICT_AT) else {
            return;
        };
        let mut candidates = match self.candidates(|status, _| status != ProfileStatus::Normal) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("looking for profiles to evict failed: {e}");
                self.eviction.next_look = Some(now + NOTHING_TO_EVICT_WAIT);
                return;
            }
        };
        candidates.sort_by_key(|c| c.rank);
        candidates.truncate(EVICT_MAX);
        let gone = self.delete_while(candidates, "evicting", |engine| {
            full_pool(&engine.stats(), &capacity, EVICT_TO).is_some()
        });
        if gone.is_empty() {
            tracing::warn!(
                "the {pool} pool is over {}% full and no profile can be evicted (all are normal or in use); programs of users other than root may run untracked",
                100 * EVICT_AT.0 / EVICT_AT.1
            );
            self.eviction.next_look = Some(now + NOTHING_TO_EVICT_WAIT);
            return;
        }
        self.eviction.next_look = None;
        self.eviction.evicted += gone.len() as u64;
        tracing::warn!(
            "evicted {} unused profiles that were not normal: the {pool} pool was over {}% full",
            gone.len(),
            100 * EVICT_AT.0 / EVICT_AT.1
        );
        self.forget(&gone, &format!("{pool}-full"));
    }

    /// Deletes profiles no task has used for `profile-expiry`, whatever their state.
    pub(super) fn expire(&mut self, now: Instant) {
        let Some(age) = self.config.profile_expiry else {
            return;
        };
        if self.eviction.next_expiry.is_some_and(|t| now < t) {
            return;
        }
        self.eviction.next_expiry = Some(now + EXPIRY_EVERY);
        let oldest = SystemTime::now()
            .checked_sub(age)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
        let candidates = match self.candidates(|_, last_used| last_used != 0 && last_used < oldest)
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("looking for expired profiles failed: {e}");
                return;
            }
        };
        let gone = self.delete_while(candidates, "expiring", |_| true);
        if !gone.is_empty() {
            self.eviction.expired += gone.len() as u64;
            tracing::info!(
                "deleted {} profiles unused for over {} (profile-expiry)",
                gone.len(),
                humantime::format_duration(age)
            );
            self.forget(&gone, "expired");
        }
    }

    /// Deletes `candidates` in order while `more` holds; the keys of those deleted. One a task
    /// took up meanwhile (or already gone) is skipped; any other failure stops.
    fn delete_while(
        &mut self,
        candidates: Vec<Candidate>,
        doing: &str,
        more: impl Fn(&ebph_bpf::Engine) -> bool,
    ) -> Vec<ProfileKey> {
        let mut gone = Vec::new();
        for c in candidates {
            if !more(&self.engine) {
                break;
            }
            match self.engine.delete_profile(c.slot) {
                Ok(()) => gone.push(c.key),
                Err(EngineError::InUse(_) | EngineError::NoSuchProfile(_)) => {}
                Err(e) => {
                    tracing::error!("{doing} a profile failed: {e}");
                    break;
                }
            }
        }
        gone
    }

    /// Profiles no task uses for which `wanted(status, last used in Unix ns)` holds.
    fn candidates(
        &self,
        wanted: impl Fn(ProfileStatus, u64) -> bool,
    ) -> Result<Vec<Candidate>, EngineError> {
        let mut out = Vec::new();
        for (key, slot) in self.engine.profile_slots()? {
            let (counters, usage) = self.engine.profile_counters_and_use(slot)?;
            if usage.tasks > 0 {
                continue;
            }
            let status = counters.status;
            let last_used = self.last_used_unix(&key, &usage);
            if wanted(status, last_used) {
                out.push(Candidate {
                    rank: (
                        !usage.unprivileged,
                        status != ProfileStatus::Training,
                        last_used,
                    ),
                    key,
                    slot,
                });
            }
        }
        Ok(out)
    }

    /// Forgets profiles deleted from the engine: in the store, and what the worker knew of
    /// them (path, last use).
    pub(super) fn forget_deleted(&mut self, keys: &[ProfileKey]) -> Result<(), StoreError> {
        for key in keys {
            self.paths.remove(key);
            self.used_before.remove(key);
        }
        self.store.forget_profiles(keys).map(drop)
    }

    /// Forgets profiles the daemon deleted and says so, one event each.
    fn forget(&mut self, keys: &[ProfileKey], reason: &str) {
        let paths: Vec<String> = keys.iter().map(|k| self.path_of(k)).collect();
        if let Err(e) = self.forget_deleted(keys) {
            tracing::error!("removing deleted profiles from the database failed: {e}");
        }
        let time = rfc3339(SystemTime::now());
        for (key, path) in keys.iter().zip(paths) {
            self.publish(Event {
                kind: protocol::EventKind::ProfileEvicted {
                    reason: reason.to_owned(),
                },
                time: time.clone(),
                pid: 0,
                tid: 0,
                key: key.to_string(),
                path,
                lfc: 0,
                anomalies: 0,
            });
        }
        self.flush_log();
    }
}
