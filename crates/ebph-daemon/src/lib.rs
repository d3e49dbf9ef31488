//! The ebph daemon and its API.
//!
//! [`daemon::run`] starts the kernel engine (loading the saved profiles into it first),
//! serves an HTTP/JSON API on a Unix socket ([`api`], types in [`protocol`]), appends every
//! event to a JSON-lines log, keeps profiles, anomalies and runtime settings in SQLite
//! ([`store`]), and saves on an interval, on `ebph save`, and on SIGTERM or SIGINT.
//! [`client::Client`] is the other end, for the `ebph` command line.

pub mod api;
pub mod config;
pub mod daemon;
pub mod event_log;
pub mod keeper;
mod mailbox;
pub mod metrics;
pub mod recent;
pub mod store;
mod worker;

pub use worker::check_trust;
