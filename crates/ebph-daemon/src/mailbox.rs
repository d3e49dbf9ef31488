//! What the API, the metrics endpoint and the engine's thread exchange: the requests
//! ([`Command`]) and how they are answered ([`ApiError`], [`Snapshot`]), the way in
//! ([`Handle`]) and the way out for events ([`Outputs`]). Both sides depend on this module;
//! it depends on neither.

use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use ebph_bpf::AdminOp;
use tokio::sync::{broadcast, oneshot};

use ebph_api::protocol::{
    self, Event, ProfileDetail, ProfileSummary, Saved, SettingValue, Status, Target,
};

/// An error the API reports with an HTTP status.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// 400, 404, 500...
    pub status: u16,
    /// For a person.
    pub message: String,
}

impl ApiError {
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 404,
            message: message.into(),
        }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            message: message.into(),
        }
    }
    pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: 500,
            message: e.to_string(),
        }
    }
}

/// The engine failing is the daemon's fault, not the request's.
impl From<ebph_bpf::EngineError> for ApiError {
    fn from(e: ebph_bpf::EngineError) -> ApiError {
        ApiError::internal(e)
    }
}

/// Likewise the store.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// A request to the engine's thread.
pub enum Command {
    /// The daemon's state.
    Status(Reply<Status>),
    /// Every profile.
    Profiles(Reply<Vec<ProfileSummary>>),
    /// One profile with its pairs.
    Profile(Target, Reply<ProfileDetail>),
    /// Tracked processes (or, with `true`, threads).
    Processes(bool, Reply<Vec<protocol::Process>>),
    /// The settings.
    GetSettings(Reply<Vec<SettingValue>>),
    /// Change settings (name, value) as one set (forced: accept what is only suspicious).
    SetSettings(Vec<(String, String)>, bool, Reply<Vec<SettingValue>>),
    /// Normalize, sensitize or tolerize a profile.
    Admin(AdminOp, Target, Reply<ProfileSummary>),
    /// Save now.
    Save(Reply<Saved>),
    /// Release a held process.
    Release(u32, Reply<u32>),
    /// What a metrics scrape reports.
    Metrics(Reply<Snapshot>),
    /// One profile (or, with no target, every one) as a profile file.
    Export(Target, Reply<ebph_api::file::ProfileFile>),
    /// The last anomalies recorded, oldest first.
    Anomalies(u32, Reply<Vec<protocol::Anomaly>>),
    /// Read the configuration file again (SIGHUP) and apply what changed.
    Reload,
}

/// Where the engine's thread publishes events.
#[derive(Clone)]
pub struct Outputs {
    /// Every event, as it happens.
    pub events: broadcast::Sender<Event>,
    /// The latest events.
    pub recent: Arc<Mutex<VecDeque<Event>>>,
    /// Becomes true when the daemon stops: streams to clients end then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// What the API needs to reach the engine's thread.
#[derive(Clone)]
pub struct Handle {
    /// Requests.
    pub commands: Sender<Command>,
    /// Its events.
    pub outputs: Outputs,
}

/// What a scrape reports, read from the engine's thread.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// System calls of tracked tasks seen.
    pub calls: u64,
    /// Anomalous calls.
    pub anomalies: u64,
    /// Profiles by status: training, frozen, normal.
    pub profiles: [u64; 3],
    /// Tasks tracked now.
    pub tasks: u64,
    /// Delays imposed.
    pub delays: u64,
    /// Execs refused.
    pub execve_refused: u64,
    /// Processes held now.
    pub held: u64,
    /// Events the engine dropped (ring buffer full).
    pub events_lost: u64,
    /// Holds the engine did not make (the keeper's ring buffer full).
    pub holds_dropped: u64,
    /// Anomalies counted but not reported one by one.
    pub anomalies_suppressed: u64,
    /// Things refused because a map was full: profiles, rows, indexes, tasks.
    pub full: [u64; 4],
    /// Entries in use and capacity: profiles, rows, indexes, tasks.
    pub used: [u64; 4],
    /// Capacity of the same.
    pub capacity: [u64; 4],
    /// Saves done, and how long the last one took.
    pub saves: u64,
    /// Seconds the last save took.
    pub last_save_seconds: f64,
}
