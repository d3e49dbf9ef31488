//! How events read for people, in one place for `ebph logs` and `ebph top`.

use ebph_api::protocol::{Event, EventKind};

/// Who an event is about: the profile's path, or its key when the path is unknown.
pub fn who(e: &Event) -> &str {
    if e.path.is_empty() {
        &e.key
    } else {
        &e.path
    }
}

/// What only this kind of event says: the call and its window for an anomaly, how long the
/// task is held for a delay.
pub fn detail(e: &Event) -> Option<String> {
    match &e.kind {
        EventKind::Anomaly {
            syscall,
            misses,
            novel_ngram,
            sequence,
        } => Some(format!(
            "{syscall} ({misses} misses{}, LFC {}) after {}",
            if *novel_ngram { ", new n-gram" } else { "" },
            e.lfc,
            sequence.join(" ")
        )),
        EventKind::ExecveRefused {
            executable: Some(executable),
        } => Some(format!(
            "its exec of {executable} was refused: a novel exec (response enforce)"
        )),
        EventKind::NovelEndpoint { endpoint } => Some(format!(
            "used {endpoint}, which it never used before (LFC {})",
            e.lfc
        )),
        EventKind::NovelExec { executable } => Some(format!(
            "ran {executable}, which it never ran before (LFC {} in the new program)",
            e.lfc
        )),
        EventKind::Delay { delay_ms } => Some(format!("held {delay_ms:.0} ms (LFC {})", e.lfc)),
        EventKind::AnomaliesSuppressed { suppressed } => Some(format!(
            "{suppressed} more anomalies in one second, counted but not reported one by one"
        )),
        EventKind::ProfileBudgetSpent { uid, budget } => Some(format!(
            "user {uid} caused {budget} new profiles this minute: its other new programs run untracked until the minute is over"
        )),
        EventKind::Accepted => Some(
            "runs in a row repeated new behaviour without teaching anything else: it is normal now"
                .to_owned(),
        ),
        EventKind::ProfileEvicted { reason } => Some(match reason.as_str() {
            "expired" => "unused for longer than profile-expiry: deleted".to_owned(),
            pool => format!("evicted to make room ({pool})"),
        }),
        _ => None,
    }
}

/// One event on one line: time, type, pid, who, and the detail.
pub fn line(e: &Event) -> String {
    let head = format!("{} {:<11} pid {} {}", e.time, e.kind.name(), e.pid, who(e));
    match detail(e) {
        Some(detail) => format!("{head}: {detail}"),
        None => head,
    }
}

/// Every event type but those in `left_out`.
pub fn types_but(left_out: &[&str]) -> Vec<&'static str> {
    EventKind::NAMES
        .iter()
        .filter(|name| !left_out.contains(name))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, path: &str) -> Event {
        Event {
            kind,
            time: "2026-11-24T02:05:22.490Z".into(),
            pid: 10869,
            tid: 10869,
            key: "254:0:1".into(),
            path: path.into(),
            lfc: 4,
            anomalies: 4,
        }
    }

    #[test]
    fn lines_read_as_they_always_have() {
        let anomaly = EventKind::Anomaly {
            syscall: "write".into(),
            misses: 3,
            novel_ngram: false,
            sequence: vec!["brk".into(), "write".into(), "write".into()],
        };
        assert_eq!(
            line(&event(anomaly, "/tmp/anomaly")),
            "2026-11-24T02:05:22.490Z anomaly     pid 10869 /tmp/anomaly: write (3 misses, LFC 4) after brk write write"
        );
        assert_eq!(
            line(&event(EventKind::Delay { delay_ms: 2.0 }, "/tmp/anomaly")),
            "2026-11-24T02:05:22.490Z delay       pid 10869 /tmp/anomaly: held 2 ms (LFC 4)"
        );
        assert_eq!(
            line(&event(EventKind::Frozen, "")),
            "2026-11-24T02:05:22.490Z frozen      pid 10869 254:0:1"
        );
    }

    #[test]
    fn types_but_leaves_out_only_what_is_named() {
        let types = types_but(&["exec"]);
        assert!(!types.contains(&"exec"));
        assert_eq!(types.len(), EventKind::NAMES.len() - 1);
    }
}
