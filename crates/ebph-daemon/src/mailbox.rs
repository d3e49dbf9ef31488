//! What the API, the metrics endpoint and the engine's thread exchange: the requests
//! ([`Command`]) and how they are answered ([`ApiError`], [`Snapshot`]), the way in
//! ([`Handle`]) and the way out for events ([`Outputs`]). Both sides depend on this module;
//! it depends on neither.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};

use ebph_bpf::AdminOp;
use tokio::sync::{broadcast, oneshot};

use ebph_api::event::{Event, EventKind};
use ebph_api::protocol::{
    self, ProfileDetail, ProfileSummary, Saved, SettingValue, Status, Target,
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
    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 409,
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
    /// Delete a profile no task uses.
    Delete(Target, Reply<protocol::Deleted>),
    /// Add a profile file's profiles.
    Import(Box<protocol::ImportRequest>, Reply<protocol::Imported>),
}

/// Where the engine's thread publishes events.
#[derive(Clone)]
pub struct Outputs {
    /// Every event, as it happens.
    pub events: broadcast::Sender<Event>,
    /// The latest events.
    pub recent: Arc<Mutex<crate::recent::RecentEvents>>,
    /// Becomes true when the daemon stops: streams to clients end then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// What the API needs to reach the engine's thread.
#[derive(Clone)]
pub struct Handle {
    /// Requests.
    pub commands: Commands,
    /// Its events.
    pub outputs: Outputs,
}

/// The sending end of the engine's thread's requests, with a doorbell (an eventfd) that
/// wakes the thread: it sleeps until there is work.
#[derive(Clone)]
pub struct Commands(Arc<Sending>);

struct Sending {
    tx: Option<Sender<Command>>,
    bell: Arc<OwnedFd>,
}

/// The engine's thread has stopped.
#[derive(Debug)]
pub struct Gone;

fn ring(bell: &OwnedFd) {
    let _ = rustix::io::write(bell, &1u64.to_ne_bytes());
}

impl Commands {
    /// Hands `command` to the engine's thread and wakes it.
    pub fn send(&self, command: Command) -> Result<(), Gone> {
        let tx = self.0.tx.as_ref().ok_or(Gone)?;
        tx.send(command).map_err(|_| Gone)?;
        ring(&self.0.bell);
        Ok(())
    }
}

impl Drop for Sending {
    /// The last sender gone: the thread wakes to find the channel closed.
    fn drop(&mut self) {
        drop(self.tx.take());
        ring(&self.bell);
    }
}

/// The engine's thread's end.
pub struct Inbox {
    rx: Receiver<Command>,
    bell: Arc<OwnedFd>,
}

impl Inbox {
    /// The next request, if any; `Err` once every sender is gone.
    pub fn next(&self) -> Result<Option<Command>, Gone> {
        match self.rx.try_recv() {
            Ok(command) => Ok(Some(command)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(Gone),
        }
    }

    /// Quiets the doorbell (before the requests are taken).
    pub fn answer_bell(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&*self.bell, &mut buf);
    }
}

impl AsFd for Inbox {
    /// Readable when the doorbell rang.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.bell.as_fd()
    }
}

/// A way in to the engine's thread, and its end.
pub fn mailbox() -> std::io::Result<(Commands, Inbox)> {
    use rustix::event::{eventfd, EventfdFlags};
    let bell = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
    let (tx, rx) = std::sync::mpsc::channel();
    let commands = Commands(Arc::new(Sending {
        tx: Some(tx),
        bell: bell.clone(),
    }));
    Ok((commands, Inbox { rx, bell }))
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
    /// Events counted by kind, in the order of `ebph_api::event::EventKind::COUNTERS`.
    pub events: [u64; EventKind::COUNTERS.len()],
    /// Processes held now.
    pub held: u64,
    /// Events the engine dropped (ring buffer full).
    pub events_lost: u64,
    /// Holds the engine did not make (the keeper's ring buffer full).
    pub holds_dropped: u64,
    /// Anomalies counted but not reported one by one.
    pub anomalies_suppressed: u64,
    /// Profiles evicted to make room.
    pub evicted: u64,
    /// Profiles deleted as unused for `profile-expiry`.
    pub expired: u64,
    /// New profiles refused: their user's budget was spent.
    pub budget_denied: u64,
    /// Entries refused to executables other users can change: only the reserve was left.
    pub reserve_denied: u64,
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
