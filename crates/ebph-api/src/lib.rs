//! What ebph's daemon and its clients share, and nothing of either: the HTTP/JSON protocol
//! spoken on the daemon's Unix socket ([`protocol`], its paths in [`routes`]), the events it
//! streams and logs ([`event`]), a client for it ([`client`]), the profile file format of
//! `ebph profile export`/`import` ([`file`]) and its signatures ([`signing`]), and the
//! well-known paths ([`paths`]). The `ebph` command-line tool talks to the daemon only
//! through this crate.

pub mod client;
pub mod event;
pub mod file;
pub mod paths;
pub mod protocol;
pub mod routes;
pub mod signing;
