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

/// The network endpoints a profile has bound, connected or sent to: its train table keeps two bits
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
