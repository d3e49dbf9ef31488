//! The events of ebph, declared once: each kind, its `type` name, the fields only it carries
//! ([`EventKind`]), what the engine's numbers mean for it ([`EventKind::from_engine`]), its
//! JSON line (`docs/events.md`), its text for people (`Display`, used alike by the daemon's
//! log, `ebph logs` and `ebph top`), and the counters the daemon keeps of it
//! ([`EventKind::COUNTERS`]).
//!
//! The engine's kinds are numbered by `enum ebph_event_type` (crates/ebph-bpf/src/bpf/ebph.h),
//! whose names are these `type` names in capitals: adding one is that enum, its producer in
//! the BPF program, and a variant here (docs/architecture.md, "Adding an event kind").

use std::fmt;

use ebph_core::{Arch, Endpoint, Syscall};
use serde::{Deserialize, Serialize};

/// An event, as the API streams it and the event log stores it: one JSON object a line, the
/// schema of `docs/events.md`. [`EventKind`] says what happened and carries what only that
/// kind has. On the wire it is one flat object, `type` first and the fields in the documented
/// order (see [`WireEvent`]): a tagged enum would move `syscall` and `misses` after `lfc`, and
/// the schema promises fields are never moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireEvent", try_from = "WireEvent")]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// When (RFC 3339, UTC).
    pub time: String,
    /// The process id.
    pub pid: u32,
    /// The thread id.
    pub tid: u32,
    /// The profile's key.
    pub key: String,
    /// The profile's path.
    pub path: String,
    /// The task's locality frame count.
    pub lfc: u32,
    /// The profile's anomaly count.
    pub anomalies: u64,
}

/// What an [`Event`] reports, with what only that kind carries.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// A program ran for the first time (or was running when the daemon started).
    ProfileCreated,
    /// A task executed a program (or was associated with one at start).
    Exec,
    /// A call formed lookahead pairs never seen.
    Anomaly {
        /// The call, by name.
        syscall: String,
        /// Lookahead pairs missing (counted when the detector uses pairs).
        misses: u32,
        /// The call ended an n-gram never seen (when the detector uses n-grams).
        novel_ngram: bool,
        /// The window, by name, oldest first, the anomalous call last.
        sequence: Vec<String>,
    },
    /// A profile's behaviour became stable.
    Frozen,
    /// A profile became normal.
    Normal,
    /// A profile passed `anomaly-limit` and went back to training.
    LeftNormal,
    /// A normal profile accepted new behaviour that `accept-after` runs in a row repeated,
    /// each without teaching it anything else: what its train table learned is normal now.
    Accepted,
    /// A task of a normal profile executed a program the profile never ran (`watch-execs`):
    /// an anomaly of that profile, which the new program starts with in its locality frame.
    NovelExec {
        /// The program executed (its path, as run, made absolute).
        executable: String,
    },
    /// A task of a normal profile bound, connected or sent to an endpoint the profile never used
    /// (`watch-endpoints`): an anomaly, entered in the task's locality frame.
    NovelEndpoint {
        /// The endpoint, as a class: `connect inet public:4444`.
        endpoint: String,
    },
    /// A task's LFC passed `tolerize-limit`.
    TolerizeLimit,
    /// A task was held.
    Delay {
        /// How long, in milliseconds.
        delay_ms: f64,
    },
    /// A task above `suspend-execve` tried to exec and was stopped; or, in enforce mode, a
    /// task of a normal profile tried to run a program the profile never ran (`executable`).
    ExecveRefused {
        /// The program refused as a novel exec (none: refused for the task's LFC).
        executable: Option<String>,
    },
    /// A profile had more anomalies in a second than are reported one by one: how many were
    /// counted (in its `anomalies`) but not reported.
    AnomaliesSuppressed {
        /// Anomalies not reported.
        suppressed: u64,
    },
    /// A user other than root caused `user-profiles` new profiles this minute: its other new
    /// programs run untracked until the minute is over (at most one a minute per user).
    ProfileBudgetSpent {
        /// The user (uid).
        uid: u32,
        /// The budget (`user-profiles`).
        budget: u32,
    },
    /// A profile was deleted by the daemon: `reason` is `profiles-full`, `rows-full` or
    /// `indexes-full` (evicted to make room) or `expired` (`profile-expiry`).
    ProfileEvicted {
        /// Why.
        reason: String,
    },
}

/// An [`Event`] as JSON writes it: flat, `type` first, kind-specific fields where the schema
/// has always put them.
#[derive(Serialize, Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    time: String,
    pid: u32,
    tid: u32,
    key: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    syscall: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    misses: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    novel_ngram: Option<bool>,
    lfc: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<Vec<String>>,
    anomalies: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suppressed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    budget: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    executable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
}

impl From<Event> for WireEvent {
    fn from(e: Event) -> WireEvent {
        let kind = e.kind.name().to_owned();
        let (mut syscall, mut misses, mut sequence, mut delay_ms) = (None, None, None, None);
        let mut novel_ngram = None;
        let mut suppressed = None;
        let (mut uid, mut budget, mut reason) = (None, None, None);
        let (mut executable, mut endpoint) = (None, None);
        match e.kind {
            EventKind::Anomaly {
                syscall: call,
                misses: m,
                novel_ngram: novel,
                sequence: window,
            } => {
                syscall = Some(call);
                misses = Some(m);
                // Written only when true: lines of the pairs detector read as they always have.
                novel_ngram = novel.then_some(true);
                sequence = Some(window);
            }
            EventKind::Delay { delay_ms: ms } => delay_ms = Some(ms),
            EventKind::AnomaliesSuppressed { suppressed: n } => suppressed = Some(n),
            EventKind::ProfileBudgetSpent {
                uid: user,
                budget: n,
            } => {
                uid = Some(user);
                budget = Some(n);
            }
            EventKind::ProfileEvicted { reason: why } => reason = Some(why),
            EventKind::NovelExec { executable: exe } => executable = Some(exe),
            EventKind::ExecveRefused { executable: exe } => executable = exe,
            EventKind::NovelEndpoint { endpoint: ep } => endpoint = Some(ep),
            _ => {}
        }
        WireEvent {
            kind,
            time: e.time,
            pid: e.pid,
            tid: e.tid,
            key: e.key,
            path: e.path,
            syscall,
            misses,
            novel_ngram,
            lfc: e.lfc,
            sequence,
            anomalies: e.anomalies,
            delay_ms,
            suppressed,
            uid,
            budget,
            reason,
            executable,
            endpoint,
        }
    }
}

impl TryFrom<WireEvent> for Event {
    type Error = String;

    fn try_from(w: WireEvent) -> Result<Event, String> {
        let kind = match w.kind.as_str() {
            "novel_exec" => EventKind::NovelExec {
                executable: w.executable.ok_or("novel_exec without `executable`")?,
            },
            "novel_endpoint" => EventKind::NovelEndpoint {
                endpoint: w.endpoint.ok_or("novel_endpoint without `endpoint`")?,
            },
            "anomaly" => EventKind::Anomaly {
                syscall: w.syscall.ok_or("an anomaly without `syscall`")?,
                misses: w.misses.ok_or("an anomaly without `misses`")?,
                novel_ngram: w.novel_ngram.unwrap_or(false),
                sequence: w.sequence.ok_or("an anomaly without `sequence`")?,
            },
            "delay" => EventKind::Delay {
                delay_ms: w.delay_ms.ok_or("a delay without `delay_ms`")?,
            },
            "execve_refused" => EventKind::ExecveRefused {
                executable: w.executable,
            },
            "anomalies_suppressed" => EventKind::AnomaliesSuppressed {
                suppressed: w
                    .suppressed
                    .ok_or("anomalies_suppressed without `suppressed`")?,
            },
            "profile_budget_spent" => EventKind::ProfileBudgetSpent {
                uid: w.uid.ok_or("profile_budget_spent without `uid`")?,
                budget: w.budget.ok_or("profile_budget_spent without `budget`")?,
            },
            "profile_evicted" => EventKind::ProfileEvicted {
                reason: w.reason.ok_or("profile_evicted without `reason`")?,
            },
            other => EventKind::without_fields(other)
                .ok_or_else(|| format!("unknown event type {other:?}"))?,
        };
        Ok(Event {
            kind,
            time: w.time,
            pid: w.pid,
            tid: w.tid,
            key: w.key,
            path: w.path,
            lfc: w.lfc,
            anomalies: w.anomalies,
        })
    }
}

/// What the engine reports with an event beyond who and when (`struct ebph_event`), as
/// numbers: each kind reads the fields it has (see [`EventKind::from_engine`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineFields<'a> {
    /// The call (anomaly; execve for a refused exec).
    pub syscall: u16,
    /// Anomaly: lookahead pairs missing. Also the count of `anomalies_suppressed` and the
    /// budget of `profile_budget_spent`.
    pub misses: u32,
    /// Anomaly: the call ended an n-gram never seen.
    pub novel_ngram: bool,
    /// The user (real uid) of the task.
    pub uid: u32,
    /// Anomaly: the window, oldest first, the anomalous call last.
    pub sequence: &'a [u16],
    /// The path the engine saw: as a program was run (exec, profile created, novel exec,
    /// refused exec), empty otherwise.
    pub path: &'a str,
    /// Delay: how long the task is held, in nanoseconds.
    pub delay_ns: u64,
    /// Novel endpoint: `ebph_core::Endpoint::id`.
    pub endpoint: u64,
}

/// A counter the daemon keeps of one kind of event: `ebph_NAME_total` in its metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventCounter {
    /// The kind counted (its `type`).
    pub kind: &'static str,
    /// The metric's name, without `ebph_` and `_total`.
    pub name: &'static str,
    /// What it counts.
    pub help: &'static str,
}

/// A time as events write it (and the API's other times): RFC 3339 in UTC, to the
/// millisecond (`2026-11-24T02:05:22.490Z`).
pub fn rfc3339(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// A call's name (x86_64), or `syscall_N` for a number no call has.
pub fn call_name(call: u16) -> String {
    Syscall::new(call).map_or_else(
        || format!("syscall_{call}"),
        |c| Arch::X86_64.display_name(c),
    )
}

impl EventKind {
    /// Every kind's name, as `type` writes it.
    pub const NAMES: [&'static str; 15] = [
        "profile_created",
        "exec",
        "anomaly",
        "novel_exec",
        "novel_endpoint",
        "frozen",
        "normal",
        "left_normal",
        "accepted",
        "tolerize_limit",
        "delay",
        "execve_refused",
        "anomalies_suppressed",
        "profile_budget_spent",
        "profile_evicted",
    ];

    /// The kinds the daemon counts for its metrics.
    pub const COUNTERS: [EventCounter; 4] = [
        EventCounter {
            kind: "novel_exec",
            name: "novel_execs",
            help: "Novel execs reported: programs a normal profile never ran (watch-execs)",
        },
        EventCounter {
            kind: "novel_endpoint",
            name: "novel_endpoints",
            help:
                "Novel endpoints reported: endpoints a normal profile never used (watch-endpoints)",
        },
        EventCounter {
            kind: "delay",
            name: "delays",
            help: "Delays imposed on anomalous tasks",
        },
        EventCounter {
            kind: "execve_refused",
            name: "execve_refused",
            help: "Execs refused to tasks above suspend-execve",
        },
    ];

    /// Every kind's name but those in `left_out`.
    pub fn names_but(left_out: &[&str]) -> Vec<&'static str> {
        EventKind::NAMES
            .iter()
            .filter(|name| !left_out.contains(name))
            .copied()
            .collect()
    }

    /// The kind of this name that carries no field of its own, if it is one.
    fn without_fields(name: &str) -> Option<EventKind> {
        Some(match name {
            "profile_created" => EventKind::ProfileCreated,
            "exec" => EventKind::Exec,
            "frozen" => EventKind::Frozen,
            "normal" => EventKind::Normal,
            "left_normal" => EventKind::LeftNormal,
            "accepted" => EventKind::Accepted,
            "tolerize_limit" => EventKind::TolerizeLimit,
            _ => return None,
        })
    }

    /// This kind's name, as `type` writes it.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ProfileCreated => "profile_created",
            EventKind::Exec => "exec",
            EventKind::Anomaly { .. } => "anomaly",
            EventKind::NovelExec { .. } => "novel_exec",
            EventKind::NovelEndpoint { .. } => "novel_endpoint",
            EventKind::Frozen => "frozen",
            EventKind::Normal => "normal",
            EventKind::LeftNormal => "left_normal",
            EventKind::Accepted => "accepted",
            EventKind::TolerizeLimit => "tolerize_limit",
            EventKind::Delay { .. } => "delay",
            EventKind::ExecveRefused { .. } => "execve_refused",
            EventKind::AnomaliesSuppressed { .. } => "anomalies_suppressed",
            EventKind::ProfileBudgetSpent { .. } => "profile_budget_spent",
            EventKind::ProfileEvicted { .. } => "profile_evicted",
        }
    }

    /// The kind the engine reports as `name` (`enum ebph_event_type`'s name, in lower case),
    /// with the fields it has from `fields`; `absolute` makes a path as run absolute (it is
    /// asked only of the kinds that name a program). An error for a name no engine kind has.
    pub fn from_engine(
        name: &str,
        fields: &EngineFields<'_>,
        absolute: impl Fn(&str) -> String,
    ) -> Result<EventKind, String> {
        let f = fields;
        Ok(match name {
            "anomaly" => EventKind::Anomaly {
                syscall: call_name(f.syscall),
                misses: f.misses,
                novel_ngram: f.novel_ngram,
                sequence: f.sequence.iter().map(|&c| call_name(c)).collect(),
            },
            "novel_exec" => EventKind::NovelExec {
                executable: absolute(f.path),
            },
            "novel_endpoint" => EventKind::NovelEndpoint {
                endpoint: Endpoint::from_id(f.endpoint).map_or_else(
                    || format!("endpoint {:#x}", f.endpoint),
                    |ep| ep.to_string(),
                ),
            },
            "delay" => EventKind::Delay {
                delay_ms: f.delay_ns as f64 / 1e6,
            },
            "execve_refused" => EventKind::ExecveRefused {
                executable: (!f.path.is_empty()).then(|| absolute(f.path)),
            },
            "anomalies_suppressed" => EventKind::AnomaliesSuppressed {
                suppressed: u64::from(f.misses),
            },
            "profile_budget_spent" => EventKind::ProfileBudgetSpent {
                uid: f.uid,
                budget: f.misses,
            },
            other => EventKind::without_fields(other)
                .ok_or_else(|| format!("the engine reported an unknown event type {other:?}"))?,
        })
    }

    /// Kinds that come by the thousand (one per program run, one per hold): kept apart from
    /// the rest among the latest events, so that a flood of them cannot push the others out.
    pub fn is_frequent(&self) -> bool {
        matches!(self, EventKind::Exec | EventKind::Delay { .. })
    }

    /// Kinds the daemon's own log reports as warnings: what an administrator must see.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            EventKind::Anomaly { .. }
                | EventKind::NovelExec { .. }
                | EventKind::NovelEndpoint { .. }
                | EventKind::ProfileBudgetSpent { .. }
        )
    }

    /// What only this kind of event says, for people (`lfc` is the task's): the call and its
    /// window for an anomaly, how long the task is held for a delay...
    pub fn detail(&self, lfc: u32) -> Option<String> {
        match self {
            EventKind::Anomaly {
                syscall,
                misses,
                novel_ngram,
                sequence,
            } => Some(format!(
                "{syscall} ({misses} misses{}, LFC {lfc}) after {}",
                if *novel_ngram { ", new n-gram" } else { "" },
                sequence.join(" ")
            )),
            EventKind::ExecveRefused {
                executable: Some(executable),
            } => Some(format!(
                "its exec of {executable} was refused: a novel exec (response enforce)"
            )),
            EventKind::NovelEndpoint { endpoint } => Some(format!(
                "used {endpoint}, which it never used before (LFC {lfc})"
            )),
            EventKind::NovelExec { executable } => Some(format!(
                "ran {executable}, which it never ran before (LFC {lfc} in the new program)"
            )),
            EventKind::Delay { delay_ms } => Some(format!("held {delay_ms:.0} ms (LFC {lfc})")),
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
}

impl Event {
    /// Who the event is about: the profile's path, or its key when the path is unknown.
    pub fn who(&self) -> &str {
        if self.path.is_empty() {
            &self.key
        } else {
            &self.path
        }
    }

    /// What only this kind of event says, for people (see [`EventKind::detail`]).
    pub fn detail(&self) -> Option<String> {
        self.kind.detail(self.lfc)
    }
}

/// The event for people, on one line but for its time: type, pid, who, and the detail
/// (`anomaly     pid 10869 /tmp/anomaly: write (3 misses, LFC 4) after brk write write`).
/// `ebph logs` puts the time before it.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<11} pid {} {}",
            self.kind.name(),
            self.pid,
            self.who()
        )?;
        match self.detail() {
            Some(detail) => write!(f, ": {detail}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the event log has always written them (docs/events.md).
    const LINES: [&str; 8] = [
        r#"{"type":"anomaly","time":"2026-11-24T02:05:22.490Z","pid":10869,"tid":10869,"key":"254:0:10010721","path":"/tmp/anomaly","syscall":"write","misses":0,"novel_ngram":true,"lfc":1,"sequence":["brk","write"],"anomalies":1}"#,
        r#"{"type":"anomaly","time":"2026-11-24T02:05:22.490Z","pid":10869,"tid":10869,"key":"254:0:10010721","path":"/tmp/anomaly","syscall":"write","misses":3,"lfc":4,"sequence":["mprotect","prlimit64","munmap","newfstatat","getrandom","brk","brk","write","write"],"anomalies":4}"#,
        r#"{"type":"delay","time":"2026-11-24T02:25:39.109Z","pid":32127,"tid":32127,"key":"254:0:10010721","path":"/tmp/anomaly","lfc":1,"anomalies":7,"delay_ms":2.0}"#,
        r#"{"type":"exec","time":"2026-11-24T02:05:20.461Z","pid":10840,"tid":10840,"key":"254:0:10010721:9f3a","path":"/tmp/x.sh","lfc":0,"anomalies":0}"#,
        r#"{"type":"execve_refused","time":"2026-11-24T02:25:40.001Z","pid":1,"tid":2,"key":"8:1:3","path":"","lfc":5,"anomalies":9}"#,
        r#"{"type":"anomalies_suppressed","time":"2026-11-24T02:25:41.001Z","pid":7,"tid":7,"key":"8:1:3","path":"/tmp/storm","lfc":128,"anomalies":90000,"suppressed":89900}"#,
        r#"{"type":"profile_budget_spent","time":"2026-11-24T02:25:41.001Z","pid":7,"tid":7,"key":"0:0:0","path":"","lfc":0,"anomalies":0,"uid":1000,"budget":60}"#,
        r#"{"type":"profile_evicted","time":"2026-11-24T02:25:41.001Z","pid":0,"tid":0,"key":"8:1:3","path":"/home/u/a.out","lfc":0,"anomalies":0,"reason":"profiles-full"}"#,
    ];

    #[test]
    fn events_read_and_write_the_same_bytes() {
        for line in LINES {
            let event: Event = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&event).unwrap(), line);
        }
        let anomaly: Event = serde_json::from_str(LINES[1]).unwrap();
        assert!(matches!(
            anomaly.kind,
            EventKind::Anomaly { ref syscall, misses: 3, novel_ngram: false, ref sequence } if syscall == "write" && sequence.len() == 9
        ));
        let novel: Event = serde_json::from_str(LINES[0]).unwrap();
        assert!(matches!(
            novel.kind,
            EventKind::Anomaly {
                misses: 0,
                novel_ngram: true,
                ..
            }
        ));
    }

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
    fn lines_for_people_read_as_they_always_have() {
        let anomaly = EventKind::Anomaly {
            syscall: "write".into(),
            misses: 3,
            novel_ngram: false,
            sequence: vec!["brk".into(), "write".into(), "write".into()],
        };
        assert_eq!(
            event(anomaly, "/tmp/anomaly").to_string(),
            "anomaly     pid 10869 /tmp/anomaly: write (3 misses, LFC 4) after brk write write"
        );
        assert_eq!(
            event(EventKind::Delay { delay_ms: 2.0 }, "/tmp/anomaly").to_string(),
            "delay       pid 10869 /tmp/anomaly: held 2 ms (LFC 4)"
        );
        assert_eq!(
            event(EventKind::Frozen, "").to_string(),
            "frozen      pid 10869 254:0:1"
        );
        let endpoint = EventKind::NovelEndpoint {
            endpoint: "connect inet public:4444".into(),
        };
        assert_eq!(
            event(endpoint, "/srv/service").to_string(),
            "novel_endpoint pid 10869 /srv/service: used connect inet public:4444, which it never used before (LFC 4)"
        );
    }

    #[test]
    fn engine_numbers_become_each_kind_with_its_fields() {
        let fields = EngineFields {
            syscall: 1,
            misses: 7,
            novel_ngram: true,
            uid: 1000,
            sequence: &[0, 1],
            path: "bin/sh",
            delay_ns: 2_500_000,
            endpoint: Endpoint::from_id(0).map_or(0, |e| e.id()),
        };
        let absolute = |p: &str| format!("/work/{p}");
        let kind = |name| EventKind::from_engine(name, &fields, absolute).unwrap();
        assert_eq!(
            kind("anomaly"),
            EventKind::Anomaly {
                syscall: "write".into(),
                misses: 7,
                novel_ngram: true,
                sequence: vec!["read".into(), "write".into()],
            }
        );
        assert_eq!(
            kind("novel_exec"),
            EventKind::NovelExec {
                executable: "/work/bin/sh".into()
            }
        );
        assert_eq!(
            kind("execve_refused"),
            EventKind::ExecveRefused {
                executable: Some("/work/bin/sh".into())
            }
        );
        let unnamed = EngineFields { path: "", ..fields };
        assert_eq!(
            EventKind::from_engine("execve_refused", &unnamed, absolute).unwrap(),
            EventKind::ExecveRefused { executable: None }
        );
        assert_eq!(kind("delay"), EventKind::Delay { delay_ms: 2.5 });
        assert_eq!(
            kind("anomalies_suppressed"),
            EventKind::AnomaliesSuppressed { suppressed: 7 }
        );
        assert_eq!(
            kind("profile_budget_spent"),
            EventKind::ProfileBudgetSpent {
                uid: 1000,
                budget: 7
            }
        );
        assert!(EventKind::from_engine("profile_evicted", &fields, absolute).is_err());
        assert!(EventKind::from_engine("reboot", &fields, absolute).is_err());
        // Every other name the engine may send becomes the kind of that name.
        for name in EventKind::NAMES.iter().filter(|n| **n != "profile_evicted") {
            assert_eq!(kind(name).name(), *name);
        }
    }

    #[test]
    fn counted_kinds_are_kinds() {
        for counter in EventKind::COUNTERS {
            assert!(EventKind::NAMES.contains(&counter.kind), "{counter:?}");
        }
        assert_eq!(
            EventKind::names_but(&["exec"]).len(),
            EventKind::NAMES.len() - 1
        );
        assert!(!EventKind::names_but(&["exec"]).contains(&"exec"));
    }

    #[test]
    fn every_kind_name_reads_back_as_that_kind() {
        for name in EventKind::NAMES {
            let line = format!(
                r#"{{"type":"{name}","time":"t","pid":1,"tid":1,"key":"k","path":"p","syscall":"read","misses":1,"lfc":0,"sequence":[],"anomalies":0,"delay_ms":1.0,"suppressed":5,"uid":65534,"budget":60,"reason":"expired","executable":"/bin/sh","endpoint":"bind inet any:80"}}"#
            );
            let event: Event = serde_json::from_str(&line).unwrap();
            assert_eq!(event.kind.name(), name);
        }
    }

    #[test]
    fn unknown_kinds_and_incomplete_anomalies_are_refused() {
        let unknown = r#"{"type":"reboot","time":"t","pid":1,"tid":1,"key":"k","path":"p","lfc":0,"anomalies":0}"#;
        let e = serde_json::from_str::<Event>(unknown).unwrap_err();
        assert!(
            e.to_string().contains("unknown event type \"reboot\""),
            "{e}"
        );
        let bare = r#"{"type":"anomaly","time":"t","pid":1,"tid":1,"key":"k","path":"p","lfc":0,"anomalies":0}"#;
        assert!(serde_json::from_str::<Event>(bare).is_err());
        let bare = r#"{"type":"novel_exec","time":"t","pid":1,"tid":1,"key":"k","path":"p","lfc":1,"anomalies":1}"#;
        let e = serde_json::from_str::<Event>(bare).unwrap_err();
        assert!(e.to_string().contains("without `executable`"), "{e}");
    }
}
