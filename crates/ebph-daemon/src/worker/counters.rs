//! What the daemon counts for its metrics beyond the engine's counters: the events of each
//! kind `ebph_api::event::EventKind::COUNTERS` names, and how long it has run.

use std::time::{Duration, Instant};

use ebph_api::event::{Event, EventKind};

/// Events counted by kind, since start.
pub(super) struct Counters {
    started: Instant,
    /// One count for each of [`EventKind::COUNTERS`], in its order.
    events: [u64; EventKind::COUNTERS.len()],
}

impl Counters {
    pub(super) fn new() -> Counters {
        Counters {
            started: Instant::now(),
            events: [0; EventKind::COUNTERS.len()],
        }
    }

    /// Counts `event`, if its kind is counted.
    pub(super) fn count(&mut self, event: &Event) {
        let kind = event.kind.name();
        if let Some(i) = EventKind::COUNTERS.iter().position(|c| c.kind == kind) {
            self.events[i] += 1;
        }
    }

    /// The counts, in the order of [`EventKind::COUNTERS`].
    pub(super) fn events(&self) -> [u64; EventKind::COUNTERS.len()] {
        self.events
    }

    /// How long the daemon has run.
    pub(super) fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}
