//! What the API exchanges, as JSON: shared by the daemon and the client.

use serde::{Deserialize, Serialize};

/// A duration that did not parse (see [`parse_duration`]).
#[derive(Debug, thiserror::Error)]
#[error("invalid duration {text:?} (write it like 30s, 5m or 7d)")]
pub struct DurationError {
    text: String,
    source: humantime::DurationError,
}

/// Parses a duration as settings, flags and the configuration write them: `30s`, `5m`, `7d`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, DurationError> {
    humantime::parse_duration(text.trim()).map_err(|source| DurationError {
        text: text.to_owned(),
        source,
    })
}

/// `GET /v1/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    /// ebph's version.
    pub version: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Seconds since the daemon started.
    pub uptime_seconds: u64,
    /// Profiles in the engine.
    pub profiles: u64,
    /// Of which normal.
    pub normal_profiles: u64,
    /// Tasks tracked now.
    pub tasks: u64,
    /// The engine's counters.
    pub engine: EngineStats,
    /// Where profiles are saved.
    pub database: String,
    /// When they were last saved (RFC 3339), if they have been.
    pub last_save: Option<String>,
    /// How often they are saved, e.g. `5m`.
    pub save_interval: String,
    /// The response mode (`monitor`, `delay`, `enforce`).
    pub response: String,
    /// What this kernel lets ebph do.
    pub kernel: KernelSupport,
    /// Processes held for a delay now.
    pub held: u64,
    /// The keeper's process id (it continues held processes), while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeper_pid: Option<u32>,
    /// What an administrator should look at: settings accepted with `--force`, a keeper
    /// that could not be kept running.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What the running kernel lets ebph do, found out by loading programs at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KernelSupport {
    /// The kernel's release (`uname -r`).
    pub release: String,
    /// Whether execs are refused with BPF-LSM.
    pub bpf_lsm: bool,
    /// Why BPF-LSM is not used, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpf_lsm_unavailable: Option<String>,
    /// How execve suspension is done: `bpf-lsm` (the exec fails with EPERM) or `sigkill` (the
    /// task is killed at its execve).
    pub execve_suspension: String,
    /// How a delay holds a task: `sigstop` (stopped from the kernel, continued by the daemon).
    pub delays: String,
}

impl KernelSupport {
    /// How this kernel responds, in one sentence for people: `ebph status` and the daemon's
    /// log at start.
    pub fn summary(&self) -> String {
        match &self.bpf_lsm_unavailable {
            None => "delays by SIGSTOP; execve suspension by BPF-LSM (the exec fails with EPERM)"
                .to_owned(),
            Some(why) => format!(
                "delays by SIGSTOP; execve suspension by SIGKILL at exec (BPF-LSM unavailable: {why})"
            ),
        }
    }
}

/// The engine's counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EngineStats {
    /// Profiles created since the engine was loaded (loaded ones included).
    pub profiles_created: u64,
    /// Programs left untracked because the profile table was full.
    pub profiles_full: u64,
    /// Pairs not learned because the row pool was full.
    pub rows_full: u64,
    /// Tables not created because the index pool was full.
    pub indexes_full: u64,
    /// Tasks left untracked because the task table was full.
    pub tasks_full: u64,
    /// Events dropped because the ring buffer was full.
    pub events_lost: u64,
    /// Anomalous calls since the engine was loaded.
    pub anomalies: u64,
    /// Lookahead rows in use.
    pub rows_used: u64,
    /// Index blocks in use.
    pub indexes_used: u64,
    /// Holds not made because the keeper had not read the ones before.
    #[serde(default)]
    pub holds_dropped: u64,
    /// Anomalies counted but not reported one by one (a profile's storm).
    #[serde(default)]
    pub anomalies_suppressed: u64,
    /// Profiles the daemon evicted to make room (never normal ones, never in use).
    #[serde(default)]
    pub profiles_evicted: u64,
    /// Profiles the daemon deleted because no task had used them for `profile-expiry`.
    #[serde(default)]
    pub profiles_expired: u64,
    /// New profiles refused because their user had caused `user-profiles` this minute.
    #[serde(default)]
    pub budget_denied: u64,
    /// Profiles, rows and index blocks refused to executables other users can change,
    /// because only the reserve kept for root's was left.
    #[serde(default)]
    pub reserve_denied: u64,
    /// `#!` scripts whose own file the engine could not find (run as the interpreter).
    #[serde(default)]
    pub scripts_unseen: u64,
    /// Runs of the engine's programs the kernel skipped (the program was already running on
    /// that CPU): calls, execs, forks, exits or signals not seen. Normally 0.
    #[serde(default)]
    pub runs_missed: u64,
}

/// One profile, without its tables.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// `MAJOR:MINOR:INODE` (and `:SCRIPT` for a script).
    pub key: String,
    /// The executable's path, as it was run.
    pub path: String,
    /// `training`, `frozen` or `normal`.
    pub status: String,
    /// Calls seen while training.
    pub train_count: u64,
    /// Calls since the train table last changed.
    pub last_mod_count: u64,
    /// Calls that taught the profile something new.
    pub sequences: u64,
    /// Anomalies since it became normal.
    pub anomalies: u64,
    /// Runs in a row that repeated new behaviour (accepted at `accept-after`).
    #[serde(default)]
    pub repeats: u32,
    /// The train table was emptied since the profile became normal: nothing is accepted
    /// until it is normal again.
    #[serde(default)]
    pub train_partial: bool,
    /// When a frozen profile becomes normal (RFC 3339).
    pub normal_time: Option<String>,
    /// Distinct lookahead pairs in the train table.
    pub lookahead_pairs: u64,
    /// N-gram bits set in the train table (about two per distinct n-gram).
    #[serde(default)]
    pub ngram_bits: u64,
    /// Kernel memory the profile takes, in bytes.
    pub memory_bytes: u64,
}

/// `GET /v1/profile`: a profile and its learned pairs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProfileDetail {
    /// The counters.
    #[serde(flatten)]
    pub summary: ProfileSummary,
    /// The train table: which call was seen at which distances before which.
    pub pairs: Vec<Pair>,
    /// The train table's n-gram bitmaps, per call.
    #[serde(default)]
    pub ngrams: Vec<NgramBits>,
    /// What the profile executes (`watch-execs`).
    #[serde(default)]
    pub execs: Execs,
    /// The network endpoints it uses (`watch-endpoints`).
    #[serde(default)]
    pub endpoints: Endpoints,
}

/// The network endpoints a profile has bound or connected to: its train table keeps two bits
/// per endpoint, and lists the first ones it learned.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Endpoints {
    /// Bits set in the train table's endpoint row (about two per endpoint).
    pub bits: u64,
    /// The chance that an endpoint never used looks used (both its bits set already).
    pub false_hit_rate: f64,
    /// The endpoints listed: those of the test table (normal), then those only the train
    /// table has, each in the order learned (a table lists its first 64).
    pub listed: Vec<UsedEndpoint>,
}

/// An endpoint a profile has used.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UsedEndpoint {
    /// The endpoint, as a class: `connect inet loopback:5432`.
    pub endpoint: String,
    /// Normal for the profile: in its test table too.
    pub normal: bool,
}

/// The programs a profile has executed, as far as the daemon knows them: the train table
/// keeps two bits per executable, and the programs listed are those, of every program the
/// daemon has a profile or a path for, whose bits are set.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Execs {
    /// Bits set in the train table's exec row (about two per program).
    pub bits: u64,
    /// The chance that a program never executed looks executed (both its bits set already).
    pub false_hit_rate: f64,
    /// The known programs whose bits are set, by path.
    pub programs: Vec<ExecutedProgram>,
}

/// A program a profile has executed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecutedProgram {
    /// Its path.
    pub path: String,
    /// Its profile key.
    pub key: String,
    /// Normal for the profile: in its test table too (a normal profile flags the others).
    pub normal: bool,
}

/// The n-gram bits of one call's bitmap (of `ebph_core::NGRAM_BITS`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NgramBits {
    /// The call the n-grams end in.
    pub call: String,
    /// The bits set.
    pub bits: Vec<u16>,
    /// The chance that an n-gram never seen, ending in this call, looks known (both of its
    /// bits set already).
    pub false_hit_rate: f64,
}

/// The distances at which `prev` was seen before `call`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pair {
    /// The later call.
    pub call: String,
    /// The earlier call.
    pub prev: String,
    /// How many calls before `call` (1..=8).
    pub distances: Vec<u8>,
}

/// `GET /v1/processes`: one tracked task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Process {
    /// The process id.
    pub pid: u32,
    /// The thread id.
    pub tid: u32,
    /// The command name.
    pub comm: String,
    /// Its profile's key.
    pub key: String,
    /// Its profile's path.
    pub path: String,
    /// Its profile's status.
    pub status: String,
    /// Its locality frame count.
    pub lfc: u32,
    /// Its profile's anomalies.
    pub anomalies: u64,
    /// Held (stopped for a delay) for this many more milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_ms: Option<u64>,
}

/// `POST /v1/release`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Release {
    /// The process to release from its delay.
    pub pid: u32,
}

/// `POST /v1/delete`: what was deleted.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deleted {
    /// The profile's key.
    pub key: String,
    /// Its path.
    pub path: String,
}

/// `POST /v1/import`: profiles to add to the running daemon.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportRequest {
    /// The profile file.
    pub file: crate::file::ProfileFile,
    /// Accept a file no trusted key signed.
    #[serde(default)]
    pub allow_unsigned: bool,
}

/// What an import did.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Imported {
    /// Profiles added.
    pub imported: u64,
    /// Paths of profiles left alone because the daemon has one for that executable already.
    pub present: Vec<String>,
    /// The trusted key that signed the file (hex), if one did.
    pub signed_by: Option<String>,
}

/// Which profile a request is about.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Target {
    /// A profile key.
    pub key: Option<String>,
    /// An executable's path.
    pub path: Option<String>,
    /// A process whose profile it is.
    pub pid: Option<u32>,
}

impl Target {
    /// A profile named the way people name one: a key (`MAJOR:MINOR:INODE[:HASH]`) when
    /// `text` reads as one, else an executable's path.
    pub fn named(text: &str) -> Target {
        if text.parse::<ebph_core::ProfileKey>().is_ok() {
            Target {
                key: Some(text.to_owned()),
                ..Target::default()
            }
        } else {
            Target {
                path: Some(text.to_owned()),
                ..Target::default()
            }
        }
    }
}

/// `POST /v1/admin`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdminRequest {
    /// `normalize`, `sensitize` or `tolerize`.
    pub op: String,
    /// The profile.
    #[serde(flatten)]
    pub target: Target,
}

/// `PUT /v1/settings`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SetSetting {
    /// The setting.
    pub name: String,
    /// Its new value, as text (`7d`, `30`).
    pub value: String,
    /// More settings to change at the same time: all of them are checked together, as one
    /// set, and either all change or none does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<NameValue>,
    /// Accept what is only suspicious (an allowlist entry that does not exist), with a
    /// warning shown by `ebph get` and `ebph status`.
    #[serde(default)]
    pub force: bool,
}

/// A setting's name and value, as text.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NameValue {
    /// The setting.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// `POST /v1/save`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    /// Profiles written.
    pub profiles: u64,
    /// How long it took, in milliseconds.
    pub milliseconds: u64,
}

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
    /// A task of a normal profile bound or connected to an endpoint the profile never used
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
            "profile_created" => EventKind::ProfileCreated,
            "exec" => EventKind::Exec,
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
            "frozen" => EventKind::Frozen,
            "normal" => EventKind::Normal,
            "left_normal" => EventKind::LeftNormal,
            "accepted" => EventKind::Accepted,
            "tolerize_limit" => EventKind::TolerizeLimit,
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
            other => return Err(format!("unknown event type {other:?}")),
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

/// The body of every error reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong, for a person.
    pub error: String,
}

/// `GET /v1/settings`: one setting.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SettingValue {
    /// Its name.
    pub name: String,
    /// Its value, as text.
    pub value: String,
    /// What it does.
    pub description: String,
    /// What the value means on this kernel, where kernels differ (how `enforce` suspends
    /// execs, for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where the value comes from: `default`, `file` (the configuration file) or `set`
    /// (`ebph set`, kept across restarts).
    #[serde(default)]
    pub source: String,
    /// The value a restart (or a reload, SIGHUP) would give, when it differs: the
    /// configuration file wins over values set at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_restart: Option<String>,
    /// Something wrong with the value that was accepted anyway (`ebph set --force`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// `GET /v1/anomalies`: one anomaly of the history.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Anomaly {
    /// When (RFC 3339).
    pub time: String,
    /// The process.
    pub pid: u32,
    /// The thread.
    pub tid: u32,
    /// The profile's key.
    pub key: String,
    /// The profile's path.
    pub path: String,
    /// The call.
    pub syscall: String,
    /// Pairs missing.
    pub misses: u32,
    /// The task's LFC.
    pub lfc: u32,
    /// The window, oldest first.
    pub sequence: Vec<String>,
    /// Whether the n-gram the call ends was new (written only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub novel_ngram: bool,
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
