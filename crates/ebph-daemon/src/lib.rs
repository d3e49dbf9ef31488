//! The ebph daemon and its API.
//!
//! [`run`] starts the kernel engine (loading the saved profiles into it first), serves an
//! HTTP/JSON API on a Unix socket (the protocol of `ebph-api`), appends every event to a
//! JSON-lines log, keeps profiles, anomalies and runtime settings in SQLite ([`Store`]), and
//! saves on an interval, on `ebph save`, and on SIGTERM or SIGINT. [`run_keeper`] is the
//! helper process it starts to continue held processes. [`import_offline`] writes profiles
//! into the database of a daemon that is not running.
//!
//! The `ebph` command line is the only user of this crate: these items are all it needs.

mod api;
mod config;
mod daemon;
mod event_log;
mod keeper;
mod mailbox;
mod metrics;
mod recent;
mod store;
mod worker;

pub use config::{parse_listen, Config};
pub use daemon::{import_offline, run};
pub use keeper::{run as run_keeper, Options as KeeperOptions};
pub use store::Store;
pub use worker::check_trust;
