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
    /// When a frozen profile becomes normal (RFC 3339).
    pub normal_time: Option<String>,
    /// Distinct lookahead pairs in the train table.
    pub lookahead_pairs: u64,
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

/// Which profile an admin request is about.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Target {
    /// A profile key.
    pub key: Option<String>,
    /// An executable's path.
    pub path: Option<String>,
    /// A process whose profile it is.
    pub pid: Option<u32>,
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
}

/// `POST /v1/save`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    /// Profiles written.
    pub profiles: u64,
    /// How long it took, in milliseconds.
    pub milliseconds: u64,
}

/// An event, as the API streams it and the event log stores it (one JSON object a line).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// `profile_created`, `exec`, `anomaly`, `frozen`, `normal`, `left_normal`,
    /// `tolerize_limit`, `delay`, `execve_refused`.
    #[serde(rename = "type")]
    pub kind: String,
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
    /// Anomaly: the call, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    /// Anomaly: lookahead pairs missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misses: Option<u32>,
    /// The task's locality frame count.
    pub lfc: u32,
    /// Anomaly: the window, by name, oldest first, the anomalous call last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<Vec<String>>,
    /// The profile's anomaly count.
    pub anomalies: u64,
    /// Delay: how long the task is held, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<f64>,
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
}
