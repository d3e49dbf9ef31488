//! Engine events: turned into API events, logged as JSON lines, published, and acted on
//! (delays become holds, anomalies go into the history).

use ebph_api::protocol::{self, Event};
use ebph_bpf::EventKind;
use ebph_core::{Arch, Syscall};

use super::{rfc3339, Worker};
use crate::store::StoredAnomaly;

/// A path as it was given to execve, made absolute with the process's working directory.
pub(super) fn absolute(path: &str, pid: u32) -> String {
    if path.starts_with('/') {
        return path.to_owned();
    }
    match std::fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => {
            let mut out = cwd;
            for part in std::path::Path::new(path).components() {
                match part {
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    other => out.push(other),
                }
            }
            out.display().to_string()
        }
        Err(_) => path.to_owned(),
    }
}

pub(super) fn name(call: u16) -> String {
    Syscall::new(call).map_or_else(
        || format!("syscall_{call}"),
        |c| Arch::X86_64.display_name(c),
    )
}

/// What an engine event reports, as the API types it.
fn kind_of(e: &ebph_bpf::Event) -> protocol::EventKind {
    use protocol::EventKind as Kind;
    match e.kind {
        EventKind::ProfileCreated => Kind::ProfileCreated,
        EventKind::Exec => Kind::Exec,
        EventKind::Anomaly => Kind::Anomaly {
            syscall: name(e.syscall),
            misses: e.misses,
            novel_ngram: e.novel_ngram,
            sequence: e.sequence.iter().map(|&c| name(c)).collect(),
        },
        EventKind::NovelExec => Kind::NovelExec {
            executable: absolute(&e.path, e.pid),
        },
        EventKind::NovelEndpoint => Kind::NovelEndpoint {
            endpoint: ebph_core::Endpoint::from_id(e.endpoint).map_or_else(
                || format!("endpoint {:#x}", e.endpoint),
                |ep| ep.to_string(),
            ),
        },
        EventKind::Frozen => Kind::Frozen,
        EventKind::Normal => Kind::Normal,
        EventKind::LeftNormal => Kind::LeftNormal,
        EventKind::Accepted => Kind::Accepted,
        EventKind::TolerizeLimit => Kind::TolerizeLimit,
        EventKind::Delay => Kind::Delay {
            delay_ms: e.delay_ns as f64 / 1e6,
        },
        EventKind::ExecveRefused => Kind::ExecveRefused {
            executable: (!e.path.is_empty()).then(|| absolute(&e.path, e.pid)),
        },
        EventKind::AnomaliesSuppressed => Kind::AnomaliesSuppressed {
            suppressed: u64::from(e.misses),
        },
        EventKind::ProfileBudgetSpent => Kind::ProfileBudgetSpent {
            uid: e.uid,
            budget: e.misses,
        },
    }
}

impl Worker {
    pub(super) fn handle_events(&mut self, events: Vec<ebph_bpf::Event>) {
        if events.is_empty() {
            return;
        }
        let mut anomalies = Vec::new();
        for e in events {
            // A new profile's path is the file's own (absolute, symlinks resolved); an exec's
            // is the name it was run by, used only when nothing better is known.
            let created = e.kind == EventKind::ProfileCreated && !e.path.is_empty();
            if created || (e.kind == EventKind::Exec && !self.paths.contains_key(&e.key)) {
                let path = if e.path.is_empty() {
                    // A task that was running before the engine: its executable's path.
                    std::fs::read_link(format!("/proc/{}/exe", e.pid))
                        .map(|p| {
                            p.display()
                                .to_string()
                                .trim_end_matches(" (deleted)")
                                .to_owned()
                        })
                        .unwrap_or_default()
                } else {
                    absolute(&e.path, e.pid)
                };
                if !path.is_empty() {
                    self.paths.insert(e.key, path);
                }
                // A profile seen for the first time; the others were matched at start or
                // when the allowlist changed.
                if !self.settings.allowlist.is_empty() {
                    self.apply_allowlist_to(e.key, e.profile);
                }
            }
            match e.kind {
                EventKind::Delay => {
                    self.delays += 1;
                    let until = e.time_boot_ns.saturating_add(e.delay_ns);
                    let held = self.held.entry(e.pid).or_insert(0);
                    *held = (*held).max(until);
                }
                EventKind::ExecveRefused => self.execve_refused += 1,
                EventKind::NovelExec => self.novel_execs += 1,
                EventKind::NovelEndpoint => self.novel_endpoints += 1,
                _ => {}
            }
            let event = Event {
                kind: kind_of(&e),
                time: rfc3339(e.time()),
                pid: e.pid,
                tid: e.tid,
                key: e.key.to_string(),
                path: self.path_of(&e.key),
                lfc: e.lfc,
                anomalies: e.anomalies,
            };
            if let protocol::EventKind::Anomaly {
                syscall,
                misses,
                sequence,
                novel_ngram,
            } = &event.kind
            {
                tracing::warn!(
                    "anomaly: pid {} {} {} (misses {}{}, LFC {})",
                    event.pid,
                    event.path,
                    syscall,
                    misses,
                    if *novel_ngram { ", new n-gram" } else { "" },
                    e.lfc
                );
                anomalies.push(StoredAnomaly {
                    time: event.time.clone(),
                    pid: event.pid,
                    tid: event.tid,
                    key: event.key.clone(),
                    path: event.path.clone(),
                    syscall: syscall.clone(),
                    misses: *misses,
                    lfc: e.lfc,
                    sequence: sequence.clone(),
                    novel_ngram: *novel_ngram,
                });
            }
            if let protocol::EventKind::NovelExec { executable } = &event.kind {
                tracing::warn!(
                    "novel exec: pid {} {} ran {executable}, which it never ran before",
                    event.pid,
                    event.path,
                );
            }
            if let protocol::EventKind::NovelEndpoint { endpoint } = &event.kind {
                tracing::warn!(
                    "novel endpoint: pid {} {} used {endpoint}, which it never used before",
                    event.pid,
                    event.path,
                );
            }
            if let protocol::EventKind::ProfileBudgetSpent { uid, budget } = &event.kind {
                tracing::warn!(
                    "user {uid} caused {budget} new profiles this minute (user-profiles): its other new programs run untracked until the minute is over"
                );
            }
            self.publish(event);
        }
        self.flush_log();
        if let Err(e) = self.store.add_anomalies(&anomalies) {
            tracing::error!("recording anomalies failed: {e}");
        }
    }

    /// Sends an event to the log (execs only with `log-execs`), `ebph logs` and the live
    /// stream; the log is flushed by [`Worker::flush_log`].
    pub(super) fn publish(&mut self, event: Event) {
        // Execs go to the live stream; to the log only when asked (they are most events).
        let logged = self.config.log_execs || !matches!(event.kind, protocol::EventKind::Exec);
        if logged {
            if let Ok(line) = serde_json::to_string(&event) {
                if let Err(e) = self.log.write_line(&line) {
                    self.log_failed(e);
                }
            }
        }
        {
            let mut recent = self
                .outputs
                .recent
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            recent.push(event.clone());
        }
        let _ = self.outputs.events.send(event);
    }

    pub(super) fn flush_log(&mut self) {
        if let Err(e) = self.log.flush() {
            self.log_failed(e);
        }
    }
}
