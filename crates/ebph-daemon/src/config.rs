//! The daemon's configuration: `/etc/ebph/ebph.toml` (optional), overridden by flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ebph_bpf::Capacity;
use ebph_core::Settings;
use serde::Deserialize;

/// Where the API listens by default.
pub use ebph_api::paths::DEFAULT_SOCKET;
/// Where profiles and logs live by default.
pub use ebph_api::paths::DEFAULT_STATE_DIR;

/// Everything the daemon needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Holds `ebph.db` (profiles, anomalies, settings) and `events.jsonl`.
    pub state_dir: PathBuf,
    /// The API's Unix socket.
    pub socket: PathBuf,
    /// How often profiles are saved.
    pub save_interval: Duration,
    /// The defaults with the configuration file's settings.
    pub settings: Settings,
    /// The settings the configuration file gives, by name (they win over saved ones).
    pub file_settings: BTreeMap<String, String>,
    /// The configuration file (which may not exist at its default path); SIGHUP reads it
    /// again.
    pub file: Option<PathBuf>,
    /// How much the engine holds.
    pub capacity: Capacity,
    /// Where to serve Prometheus metrics; None = not at all.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The event log is rotated when it would pass this many bytes...
    pub log_max_size: u64,
    /// ...keeping this many files in all (the current one included).
    pub log_files: u32,
    /// Whether every exec is written to the event log (always on the live stream).
    pub log_execs: bool,
    /// The anomaly history keeps at most this many anomalies...
    pub anomaly_history: u64,
    /// ...and none older than this.
    pub anomaly_history_age: Duration,
    /// Public keys (files) whose signed profile files are imported.
    pub trusted_keys: Vec<PathBuf>,
    /// Profiles no task has used for this long are deleted; None = never.
    pub profile_expiry: Option<Duration>,
}

/// Where metrics are served when they are turned on without an address: loopback only.
pub const DEFAULT_METRICS: &str = "127.0.0.1:9559";

impl Default for Config {
    fn default() -> Config {
        Config {
            state_dir: DEFAULT_STATE_DIR.into(),
            socket: DEFAULT_SOCKET.into(),
            save_interval: Duration::from_secs(300),
            settings: Settings::default(),
            file_settings: BTreeMap::new(),
            file: None,
            capacity: Capacity::default(),
            metrics_listen: None,
            log_max_size: 64 * 1024 * 1024,
            log_files: 4,
            log_execs: false,
            anomaly_history: 100_000,
            anomaly_history_age: Duration::from_secs(90 * 24 * 3600),
            trusted_keys: Vec::new(),
            profile_expiry: None,
        }
    }
}

/// The file's layout.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    state_dir: Option<PathBuf>,
    socket: Option<PathBuf>,
    save_interval: Option<String>,
    metrics_listen: Option<String>,
    log_max_size: Option<String>,
    log_files: Option<u32>,
    log_execs: Option<bool>,
    anomaly_history: Option<u64>,
    anomaly_history_age: Option<String>,
    trusted_keys: Vec<PathBuf>,
    profile_expiry: Option<String>,
    settings: toml::Table,
    capacity: CapacityFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct CapacityFile {
    profiles: Option<u32>,
    tasks: Option<u32>,
    rows: Option<u32>,
    indexes: Option<u32>,
}

/// Parses a duration written like `30s`, `5m` or `7d`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    Ok(ebph_api::protocol::parse_duration(text)?)
}

/// Parses a size in bytes written like `64MiB`, `64M`, `512K`, `1G` or `1000` (binary units).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .with_context(|| format!("invalid size {text:?} (write it like 64MiB or 512K)"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => bail!("invalid size {text:?}: unknown unit {other:?} (B, K, M or G)"),
    };
    number
        .checked_mul(factor)
        .with_context(|| format!("size {text:?} is too large"))
}

/// Parses a metrics address: `HOST:PORT`, or `on` for the loopback default.
pub fn parse_listen(text: &str) -> Result<std::net::SocketAddr> {
    let text = if text.trim() == "on" {
        DEFAULT_METRICS
    } else {
        text.trim()
    };
    text.parse()
        .with_context(|| format!("invalid address {text:?} (write it like 127.0.0.1:9559)"))
}

impl Config {
    /// Reads the configuration file at `path`; a missing file is fine when `required` is
    /// false (the default path).
    pub fn load(path: &Path, required: bool) -> Result<Config> {
        let mut config = Config {
            file: Some(path.to_owned()),
            ..Config::default()
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(config),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let file: File = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid ebph configuration", path.display()))?;
        if let Some(dir) = file.state_dir {
            config.state_dir = dir;
        }
        if let Some(socket) = file.socket {
            config.socket = socket;
        }
        if let Some(interval) = file.save_interval {
            config.save_interval = parse_duration(&interval)
                .with_context(|| format!("{}: save-interval", path.display()))?;
        }
        if let Some(addr) = file.metrics_listen {
            config.metrics_listen = Some(
                parse_listen(&addr)
                    .with_context(|| format!("{}: metrics-listen", path.display()))?,
            );
        }
        if let Some(size) = file.log_max_size {
            config.log_max_size =
                parse_size(&size).with_context(|| format!("{}: log-max-size", path.display()))?;
            if config.log_max_size < 4096 {
                bail!("{}: log-max-size must be at least 4K", path.display());
            }
        }
        if let Some(files) = file.log_files {
            if files == 0 {
                bail!(
                    "{}: log-files must be at least 1 (the log being written)",
                    path.display()
                );
            }
            config.log_files = files;
        }
        config.log_execs = file.log_execs.unwrap_or(config.log_execs);
        if let Some(rows) = file.anomaly_history {
            config.anomaly_history = rows;
        }
        if let Some(age) = file.anomaly_history_age {
            config.anomaly_history_age = parse_duration(&age)
                .with_context(|| format!("{}: anomaly-history-age", path.display()))?;
        }
        config.trusted_keys = file.trusted_keys;
        match file.profile_expiry.as_deref().map(str::trim) {
            None | Some("off") | Some("never") => {}
            Some(age) => {
                let age = parse_duration(age).with_context(|| {
                    format!(
                        "{}: profile-expiry (a duration such as 90d, or off)",
                        path.display()
                    )
                })?;
                if age < Duration::from_secs(3600) {
                    bail!(
                        "{}: profile-expiry must be at least 1h (or off), not {}",
                        path.display(),
                        humantime::format_duration(age)
                    );
                }
                config.profile_expiry = Some(age);
            }
        }
        for (name, value) in &file.settings {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => bail!(
                    "{}: setting {name} has an invalid value {other}",
                    path.display()
                ),
            };
            let name = Settings::canonical_name(name)
                .with_context(|| format!("{}: [settings]", path.display()))?;
            config.file_settings.insert(name.to_owned(), text);
        }
        // Checked as a whole: the order they are written in does not matter.
        config.settings = Settings::default()
            .with_values(
                config
                    .file_settings
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str())),
            )
            .with_context(|| format!("{}: [settings]", path.display()))?;
        let c = &mut config.capacity;
        let f = file.capacity;
        for (name, given) in [
            ("profiles", f.profiles),
            ("tasks", f.tasks),
            ("rows", f.rows),
            ("indexes", f.indexes),
        ] {
            if given == Some(0) {
                bail!(
                    "{}: [capacity] {name} = 0 would track nothing: give at least 1 (or leave it out for the default)",
                    path.display()
                );
            }
        }
        c.profiles = f.profiles.unwrap_or(c.profiles);
        c.tasks = f.tasks.unwrap_or(c.tasks);
        c.rows = f.rows.unwrap_or(c.rows);
        c.indexes = f.indexes.unwrap_or(c.indexes);
        Ok(config)
    }

    /// The trusted public keys, read from their files.
    pub fn read_trusted_keys(&self) -> Result<Vec<ebph_api::signing::PublicKey>> {
        self.trusted_keys
            .iter()
            .map(|path| Ok(ebph_api::signing::PublicKey::read(path)?))
            .collect()
    }

    /// The database of profiles, anomalies and settings.
    pub fn database(&self) -> PathBuf {
        self.state_dir.join(ebph_api::paths::DATABASE_FILE)
    }

    /// Where keepers write down the processes they hold.
    pub fn holds_dir(&self) -> PathBuf {
        self.state_dir.join("holds")
    }

    /// The event log, one JSON object a line.
    pub fn event_log(&self) -> PathBuf {
        self.state_dir.join(ebph_api::paths::EVENT_LOG_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_default_file_gives_the_defaults() {
        let config = Config::load(Path::new("/nonexistent/ebph.toml"), false).unwrap();
        assert_eq!(config.state_dir, Path::new(DEFAULT_STATE_DIR));
        assert!(Config::load(Path::new("/nonexistent/ebph.toml"), true).is_err());
    }

    #[test]
    fn the_file_sets_paths_settings_and_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ebph.toml");
        std::fs::write(
            &path,
            "state-dir = \"/srv/ebph\"\nsave-interval = \"30s\"\n[settings]\nnormal-wait = \"2d\"\nanomaly-limit = 10\nfold-loops = true\n[capacity]\nprofiles = 100\n",
        )
        .unwrap();
        let config = Config::load(&path, true).unwrap();
        assert_eq!(config.state_dir, Path::new("/srv/ebph"));
        assert_eq!(config.save_interval, Duration::from_secs(30));
        assert_eq!(config.settings.normal_wait, Duration::from_secs(2 * 86_400));
        assert_eq!(config.settings.anomaly_limit, 10);
        assert_eq!(config.settings.fold_loops, ebph_core::FOLD_LOOPS_ON);
        assert_eq!(config.capacity.profiles, 100);
        assert_eq!(
            config.file_settings.keys().collect::<Vec<_>>(),
            ["anomaly-limit", "fold-loops", "normal-wait"]
        );
    }

    #[test]
    fn the_shipped_example_parses_to_the_defaults() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/ebph.toml");
        let config = Config::load(&example, true).unwrap();
        assert_eq!(config.settings, Settings::default());
        assert_eq!(config.socket, Path::new(DEFAULT_SOCKET));
    }

    #[test]
    fn file_settings_are_checked_together_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ebph.toml");
        std::fs::write(
            &path,
            "[settings]\ndelay-factor = \"1m\"\nmax-delay = \"1h\"\nnormal-factor = 16\nnormal-factor-den = 8\n",
        )
        .unwrap();
        let config = Config::load(&path, true).unwrap();
        assert_eq!(config.settings.delay_factor, Duration::from_secs(60));
        assert_eq!(config.settings.normal_factor, 16);
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5T").is_err());
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ebph.toml");
        for (text, expect) in [
            ("[settings]\nwindow = 12\n", "invalid window"),
            ("[settings]\nspeed = 1\n", "unknown setting"),
            ("colour = \"red\"\n", "unknown field"),
            ("save-interval = \"soon\"\n", "save-interval"),
            ("[[[", "not a valid ebph configuration"),
            (
                "[capacity]\nprofiles = 0\n",
                "profiles = 0 would track nothing",
            ),
            ("[settings]\nanomaly_limit = 0\n", "anomaly-limit"),
            ("log-files = 0\n", "log-files must be at least 1"),
            ("log-max-size = \"1K\"\n", "at least 4K"),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = format!("{:#}", Config::load(&path, true).unwrap_err());
            assert!(err.contains(expect), "{text:?}: {err}");
        }
    }
}
