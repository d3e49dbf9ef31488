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

use ebph_bpf::{Engine, EngineError, ProfileUse, Stats};
use ebph_core::{ProfileKey, ProfileStatus};

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
pub(crate) struct Eviction {
    next_look: Option<Instant>,
    next_expiry: Option<Instant>,
    /// Profiles evicted to make room, and expired, since start.
    pub(super) evicted: u64,
    pub(super) expired: u64,
}

/// Profiles the daemon deleted, and why: `profiles-full`, `rows-full` or `indexes-full`
/// (evicted to make room), or `expired`.
pub(super) struct Deleted {
    pub keys: Vec<ProfileKey>,
    pub reason: String,
}

/// A profile that may go, and its rank (lowest goes first).
struct Candidate {
    rank: (bool, bool, u64),
    key: ProfileKey,
    slot: u32,
}

impl Eviction {
    /// Evicts profiles when a pool is fuller than [`EVICT_AT`] (see the module's text).
    /// Evicts profiles from `engine` when a pool is fuller than [`EVICT_AT`] (see the
    /// module's text), `last_used` telling when each was last used (Unix ns, 0: not known);
    /// those deleted, if any, for the catalogue to forget.
    pub(super) fn make_room(
        &mut self,
        engine: &Engine,
        now: Instant,
        last_used: impl Fn(&ProfileKey, &ProfileUse) -> u64,
    ) -> Option<Deleted> {
        if self.next_look.is_some_and(|t| now < t) {
            return None;
        }
        let capacity = engine.capacity();
        let pool = full_pool(&engine.stats(), &capacity, EVICT_AT)?;
        let mut candidates = match candidates(engine, &last_used, |status, _| {
            status != ProfileStatus::Normal
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("looking for profiles to evict failed: {e}");
                self.next_look = Some(now + NOTHING_TO_EVICT_WAIT);
                return None;
            }
        };
        candidates.sort_by_key(|c| c.rank);
        candidates.truncate(EVICT_MAX);
        let gone = delete_while(engine, candidates, "evicting", |engine| {
            full_pool(&engine.stats(), &capacity, EVICT_TO).is_some()
        });
        if gone.is_empty() {
            tracing::warn!(
                "the {pool} pool is over {}% full and no profile can be evicted (all are normal or in use); programs of users other than root may run untracked",
                100 * EVICT_AT.0 / EVICT_AT.1
            );
            self.next_look = Some(now + NOTHING_TO_EVICT_WAIT);
            return None;
        }
        self.next_look = None;
        self.evicted += gone.len() as u64;
        tracing::warn!(
            "evicted {} unused profiles that were not normal: the {pool} pool was over {}% full",
            gone.len(),
            100 * EVICT_AT.0 / EVICT_AT.1
        );
        Some(Deleted {
            keys: gone,
            reason: format!("{pool}-full"),
        })
    }

    /// Deletes from `engine` the profiles no task has used for `expiry` (`profile-expiry`),
    /// whatever their state (`last_used` as for [`Eviction::make_room`]); those deleted, if
    /// any, for the catalogue to forget.
    pub(super) fn expire(
        &mut self,
        engine: &Engine,
        now: Instant,
        expiry: Option<Duration>,
        last_used: impl Fn(&ProfileKey, &ProfileUse) -> u64,
    ) -> Option<Deleted> {
        let age = expiry?;
        if self.next_expiry.is_some_and(|t| now < t) {
            return None;
        }
        self.next_expiry = Some(now + EXPIRY_EVERY);
        let oldest = SystemTime::now()
            .checked_sub(age)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
        let candidates = match candidates(engine, &last_used, |_, used| used != 0 && used < oldest)
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("looking for expired profiles failed: {e}");
                return None;
            }
        };
        let gone = delete_while(engine, candidates, "expiring", |_| true);
        if gone.is_empty() {
            return None;
        }
        self.expired += gone.len() as u64;
        tracing::info!(
            "deleted {} profiles unused for over {} (profile-expiry)",
            gone.len(),
            humantime::format_duration(age)
        );
        Some(Deleted {
            keys: gone,
            reason: "expired".to_owned(),
        })
    }
}

/// Deletes `candidates` in order while `more` holds; the keys of those deleted. One a task
/// took up meanwhile (or already gone) is skipped; any other failure stops.
fn delete_while(
    engine: &Engine,
    candidates: Vec<Candidate>,
    doing: &str,
    more: impl Fn(&Engine) -> bool,
) -> Vec<ProfileKey> {
    let mut gone = Vec::new();
    for c in candidates {
        if !more(engine) {
            break;
        }
        match engine.delete_profile(c.slot) {
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
    engine: &Engine,
    last_used: impl Fn(&ProfileKey, &ProfileUse) -> u64,
    wanted: impl Fn(ProfileStatus, u64) -> bool,
) -> Result<Vec<Candidate>, EngineError> {
    let mut out = Vec::new();
    for (key, slot) in engine.profile_slots()? {
        let (counters, usage) = engine.profile_counters_and_use(slot)?;
        if usage.tasks > 0 {
            continue;
        }
        let status = counters.status;
        let used = last_used(&key, &usage);
        if wanted(status, used) {
            out.push(Candidate {
                rank: (!usage.unprivileged, status != ProfileStatus::Training, used),
                key,
                slot,
            });
        }
    }
    Ok(out)
}
