//! The event pipeline: each engine event is named (`ebph_api::event`), acted on by the part
//! whose state it changes (a new profile's path, a hold, the anomaly history, the counters),
//! logged when it warns, and published.

use std::time::SystemTime;

use ebph_api::event::{rfc3339, EngineFields, Event, EventKind};

use super::catalogue::absolute;
use super::eviction::Deleted;
use super::{allowlist, Worker};
use crate::store::StoredAnomaly;

/// The anomaly history's row for `event`, if it is an anomaly.
fn history_of(event: &Event) -> Option<StoredAnomaly> {
    let EventKind::Anomaly {
        syscall,
        misses,
        novel_ngram,
        sequence,
    } = &event.kind
    else {
        return None;
    };
    Some(StoredAnomaly {
        time: event.time.clone(),
        pid: event.pid,
        tid: event.tid,
        key: event.key.clone(),
        path: event.path.clone(),
        syscall: syscall.clone(),
        misses: *misses,
        lfc: event.lfc,
        sequence: sequence.clone(),
        novel_ngram: *novel_ngram,
    })
}

impl Worker {
    /// Handles what the engine reported.
    pub(super) fn handle_events(&mut self, events: Vec<ebph_bpf::Event>) {
        if events.is_empty() {
            return;
        }
        let mut anomalies = Vec::new();
        for e in events {
            // A profile seen for the first time: the others were matched at start, or when
            // the allowlist changed.
            if self.catalogue.learn(&e) {
                let allowlist = &self.settings.current().allowlist;
                if !allowlist.is_empty() {
                    let path = self.catalogue.path_of(&e.key);
                    allowlist::exempt_if_listed(&self.engine, allowlist, e.key, e.profile, &path);
                }
            }
            let Some(event) = self.describe(&e) else {
                continue;
            };
            if let EventKind::Delay { .. } = event.kind {
                self.holds
                    .hold(e.pid, e.time_boot_ns.saturating_add(e.delay_ns));
            }
            anomalies.extend(history_of(&event));
            self.counters.count(&event);
            if event.kind.is_warning() {
                tracing::warn!("{event}");
            }
            self.publisher.publish(event);
        }
        self.publisher.flush();
        if let Err(e) = self.store.add_anomalies(&anomalies) {
            tracing::error!("recording anomalies failed: {e}");
        }
    }

    /// The event as the API types it: what the engine's numbers mean for its kind, and the
    /// profile's path as the catalogue knows it.
    fn describe(&self, e: &ebph_bpf::Event) -> Option<Event> {
        let fields = EngineFields {
            syscall: e.syscall,
            misses: e.misses,
            novel_ngram: e.novel_ngram,
            uid: e.uid,
            sequence: &e.sequence,
            path: &e.path,
            delay_ns: e.delay_ns,
            endpoint: e.endpoint,
        };
        let kind = EventKind::from_engine(e.kind.name(), &fields, |p| absolute(p, e.pid))
            .map_err(|why| tracing::error!("{why}"))
            .ok()?;
        Some(Event {
            kind,
            time: rfc3339(e.time()),
            pid: e.pid,
            tid: e.tid,
            key: e.key.to_string(),
            path: self.catalogue.path_of(&e.key),
            lfc: e.lfc,
            anomalies: e.anomalies,
        })
    }

    /// Forgets profiles the daemon deleted (evicted or expired), here and in the store, and
    /// says so, one event each.
    pub(super) fn forget(&mut self, deleted: Deleted) {
        let paths: Vec<String> = deleted
            .keys
            .iter()
            .map(|k| self.catalogue.path_of(k))
            .collect();
        if let Err(e) = self.catalogue.forget(&mut self.store, &deleted.keys) {
            tracing::error!("removing deleted profiles from the database failed: {e}");
        }
        let time = rfc3339(SystemTime::now());
        for (key, path) in deleted.keys.iter().zip(paths) {
            self.publisher.publish(Event {
                kind: EventKind::ProfileEvicted {
                    reason: deleted.reason.clone(),
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
        self.publisher.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_the_engine_reports_has_an_api_kind_of_its_name() {
        let fields = EngineFields::default();
        for t in ebph_bpf::EventType::ALL {
            let kind = EventKind::from_engine(t.name(), &fields, str::to_owned)
                .unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(kind.name(), t.name());
        }
    }
}
