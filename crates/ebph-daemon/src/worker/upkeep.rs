//! What the engine's thread does now and then: make room in the engine's tables, expire
//! profiles, follow the event log's path, and say what was lost.

use std::time::{Duration, Instant};

use super::Worker;

/// How often the event log's path is checked (logrotate may have moved the file).
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// At most one warning about losses in this long.
const LOSSES_EVERY: Duration = Duration::from_secs(60);

/// What the engine had to drop or could not hold, as counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Losses {
    events_lost: u64,
    holds_dropped: u64,
    anomalies_suppressed: u64,
    profiles_full: u64,
    rows_full: u64,
    indexes_full: u64,
    tasks_full: u64,
    budget_denied: u64,
    reserve_denied: u64,
    runs_missed: u64,
}

impl Losses {
    fn of(s: &ebph_bpf::Stats, runs_missed: u64) -> Losses {
        Losses {
            events_lost: s.events_lost,
            holds_dropped: s.holds_dropped,
            anomalies_suppressed: s.anomalies_suppressed,
            profiles_full: s.profiles_full,
            rows_full: s.rows_full,
            indexes_full: s.indexes_full,
            tasks_full: s.tasks_full,
            budget_denied: s.budget_denied,
            reserve_denied: s.reserve_denied,
            runs_missed,
        }
    }

    /// What grew since `before`, for people: `events lost: 3, ...`.
    fn since(&self, before: &Losses) -> Vec<String> {
        [
            (
                "events lost (ring buffer full)",
                self.events_lost,
                before.events_lost,
            ),
            (
                "holds dropped (keeper behind)",
                self.holds_dropped,
                before.holds_dropped,
            ),
            (
                "anomalies not reported one by one (storm)",
                self.anomalies_suppressed,
                before.anomalies_suppressed,
            ),
            (
                "programs untracked (profile table full)",
                self.profiles_full,
                before.profiles_full,
            ),
            (
                "pairs not learned (rows full)",
                self.rows_full,
                before.rows_full,
            ),
            (
                "tables not created (indexes full)",
                self.indexes_full,
                before.indexes_full,
            ),
            (
                "tasks untracked (task table full)",
                self.tasks_full,
                before.tasks_full,
            ),
            (
                "engine runs skipped by the kernel (calls, execs, exits not seen)",
                self.runs_missed,
                before.runs_missed,
            ),
            (
                "new profiles refused (a user's budget spent)",
                self.budget_denied,
                before.budget_denied,
            ),
            (
                "entries refused to programs other users can change (reserve kept for root's)",
                self.reserve_denied,
                before.reserve_denied,
            ),
        ]
        .into_iter()
        .filter(|(_, now, then)| now > then)
        .map(|(what, now, then)| format!("{} {what}", now - then))
        .collect()
    }
}

/// When upkeep is next due, and what was last said.
pub(super) struct Upkeep {
    next_check: Instant,
    next_losses: Instant,
    reported: Losses,
}

impl Upkeep {
    pub(super) fn new() -> Upkeep {
        Upkeep {
            next_check: Instant::now(),
            next_losses: Instant::now(),
            reported: Losses::default(),
        }
    }

    /// When upkeep is next due.
    pub(super) fn due(&self) -> Instant {
        self.next_check
    }
}

impl Worker {
    /// Runs what is due.
    pub(super) fn upkeep(&mut self) {
        let now = Instant::now();
        if now < self.upkeep.next_check {
            return;
        }
        self.upkeep.next_check = now + CHECK_EVERY;
        if let Some(evicted) = self.catalogue.make_room(&self.engine, now) {
            self.forget(evicted);
        }
        let expiry = self.config.profile_expiry;
        if let Some(expired) = self.catalogue.expire(&self.engine, now, expiry) {
            self.forget(expired);
        }
        self.publisher.follow_path();
        if now >= self.upkeep.next_losses {
            let losses = Losses::of(&self.engine.stats(), self.engine.runs_missed());
            let grown = losses.since(&self.upkeep.reported);
            if !grown.is_empty() {
                tracing::warn!("lost since the last report: {}", grown.join(", "));
                self.upkeep.reported = losses;
                self.upkeep.next_losses = now + LOSSES_EVERY;
            }
        }
    }
}
