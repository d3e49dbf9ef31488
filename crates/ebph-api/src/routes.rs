//! The paths of the daemon's API, for its router (`ebph-daemon`'s `api.rs`) and for
//! [`crate::client::Client`] alike. Each answers with the type [`crate::protocol`] names
//! beside it.

/// `GET`: [`crate::protocol::Status`].
pub const STATUS: &str = "/v1/status";
/// `GET`: every [`crate::protocol::ProfileSummary`].
pub const PROFILES: &str = "/v1/profiles";
/// `GET ?key=|path=|pid=`: one [`crate::protocol::ProfileDetail`].
pub const PROFILE: &str = "/v1/profile";
/// `GET ?threads=`: every tracked [`crate::protocol::Process`].
pub const PROCESSES: &str = "/v1/processes";
/// `GET`: every [`crate::protocol::SettingValue`]; `PUT` a [`crate::protocol::SetSetting`].
pub const SETTINGS: &str = "/v1/settings";
/// `POST` an [`crate::protocol::AdminRequest`].
pub const ADMIN: &str = "/v1/admin";
/// `POST` a [`crate::protocol::Target`]: deletes a profile.
pub const DELETE: &str = "/v1/delete";
/// `POST`: saves now.
pub const SAVE: &str = "/v1/save";
/// `POST` a [`crate::protocol::Release`].
pub const RELEASE: &str = "/v1/release";
/// `POST` an [`crate::protocol::ImportRequest`].
pub const IMPORT: &str = "/v1/import";
/// `GET ?key=|path=|pid=`: a profile file.
pub const EXPORT: &str = "/v1/export";
/// `GET ?limit=`: the latest [`crate::protocol::Anomaly`]s.
pub const ANOMALIES: &str = "/v1/anomalies";
/// `GET ?follow=&types=`: [`crate::event::Event`]s, one JSON line each.
pub const EVENTS: &str = "/v1/events";
