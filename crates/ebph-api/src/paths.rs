//! Where ebph keeps things, unless told otherwise.

/// The daemon's configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/ebph/ebph.toml";
/// The daemon's state directory: the database and the event log.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/ebph";
/// The API's Unix socket.
pub const DEFAULT_SOCKET: &str = "/run/ebph/ebph.sock";
/// The database, in the state directory: profiles, anomaly history, settings.
pub const DATABASE_FILE: &str = "ebph.db";
/// The event log, in the state directory: one JSON object a line.
pub const EVENT_LOG_FILE: &str = "events.jsonl";
