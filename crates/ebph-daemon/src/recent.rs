//! The latest events, for `ebph logs` and `GET /v1/events`: bounded, and kept so that the
//! frequent kinds cannot push the rest out.
//!
//! An exec is an event for every program started, and a process held under `response delay`
//! or `enforce` makes a `delay` event at each call: either can fill any single buffer in
//! seconds, and with it go the anomalies an administrator came to look at. So the frequent
//! kinds (`EventKind::is_frequent`: execs and delays) are kept apart from every other event,
//! each side the latest [`RecentEvents::EACH`].

use std::collections::VecDeque;

use ebph_api::event::Event;

/// The latest events: up to [`RecentEvents::EACH`] execs and delays, and as many of every
/// other kind.
#[derive(Debug, Default)]
pub struct RecentEvents {
    /// Execs and delays, with their place in the order of arrival.
    frequent: VecDeque<(u64, Event)>,
    /// Every other event, with its place.
    others: VecDeque<(u64, Event)>,
    next: u64,
}

impl RecentEvents {
    /// How many events each side keeps.
    pub const EACH: usize = 1000;

    /// Keeps `event`, the newest, dropping the oldest of its side when that side is full.
    pub fn push(&mut self, event: Event) {
        let side = if event.kind.is_frequent() {
            &mut self.frequent
        } else {
            &mut self.others
        };
        if side.len() == Self::EACH {
            side.pop_front();
        }
        side.push_back((self.next, event));
        self.next += 1;
    }

    /// Every event kept, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        let (mut a, mut b) = (
            self.frequent.iter().peekable(),
            self.others.iter().peekable(),
        );
        std::iter::from_fn(move || match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 < y.0 => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => None,
        })
        .map(|(_, e)| e)
    }

    /// How many events are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.frequent.len() + self.others.len()
    }

    /// Whether none is.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebph_api::event::EventKind;

    fn event(kind: EventKind, pid: u32) -> Event {
        Event {
            kind,
            time: String::new(),
            pid,
            tid: pid,
            key: String::new(),
            path: String::new(),
            lfc: 0,
            anomalies: 0,
        }
    }

    fn anomaly(pid: u32) -> Event {
        event(
            EventKind::Anomaly {
                syscall: "write".into(),
                misses: 1,
                novel_ngram: false,
                sequence: Vec::new(),
            },
            pid,
        )
    }

    #[test]
    fn a_flood_of_delays_and_execs_keeps_the_anomalies() {
        let mut recent = RecentEvents::default();
        let mut order = 0;
        let mut push = |mut e: Event| {
            e.anomalies = order;
            order += 1;
            recent.push(e);
        };
        push(anomaly(1));
        push(event(EventKind::Exec, 2));
        push(anomaly(3));
        for i in 0..5000 {
            let kind = if i % 2 == 0 {
                EventKind::Delay { delay_ms: 1.0 }
            } else {
                EventKind::Exec
            };
            push(event(kind, 100 + i));
        }
        push(anomaly(4));
        let pids: Vec<u32> = recent.iter().map(|e| e.pid).collect();
        assert_eq!(recent.len(), RecentEvents::EACH + 3);
        // The anomalies, in order among the latest 1000 frequent ones.
        assert_eq!(pids[..2], [1, 3]);
        assert_eq!(pids[2], 100 + 5000 - 1000);
        assert_eq!(pids[pids.len() - 2..], [100 + 4999, 4]);
        let order: Vec<u64> = recent.iter().map(|e| e.anomalies).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "in order");
    }

    #[test]
    fn every_other_kind_is_bounded_too() {
        let mut recent = RecentEvents::default();
        for i in 0..1500 {
            recent.push(anomaly(i));
        }
        recent.push(event(EventKind::Exec, 9999));
        assert_eq!(recent.len(), RecentEvents::EACH + 1);
        let first = recent.iter().next().unwrap();
        assert_eq!(first.pid, 500);
        assert_eq!(recent.iter().last().unwrap().pid, 9999);
        assert!(RecentEvents::default().is_empty());
    }
}
