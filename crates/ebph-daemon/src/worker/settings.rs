//! The settings: where each comes from, changing them at run time, reloading the
//! configuration file.
//!
//! Three layers, always put together as one set and checked as a whole: the defaults, then
//! the values set at run time (`ebph set`, kept in the database), then the configuration
//! file's `[settings]`, which win. A change that would leave a set that does not hold, now
//! or at the next restart, is refused with the reason; nothing is reverted silently.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use ebph_api::protocol::SettingValue;
use ebph_bpf::Engine;
use ebph_core::Settings;

use crate::config::Config;
use crate::mailbox::ApiError;
use crate::store::Store;

/// The values set at run time and the configuration file's, by canonical name.
#[derive(Clone, Debug, Default)]
pub(super) struct Layers {
    /// Set with `ebph set` (as saved).
    pub saved: BTreeMap<String, String>,
    /// From the configuration file.
    pub file: BTreeMap<String, String>,
    /// Set with `ebph set` since the file was last applied (start or reload): these are in
    /// force now, over the file's.
    pub overridden: std::collections::BTreeSet<String>,
}

impl Layers {
    /// The settings these layers give.
    pub fn resolve(&self) -> Result<Settings, ebph_core::SettingsError> {
        Settings::default().with_values(
            self.saved
                .iter()
                .chain(&self.file)
                .map(|(n, v)| (n.as_str(), v.as_str())),
        )
    }

    /// Where setting `name`'s value in force comes from.
    pub fn source(&self, name: &str) -> &'static str {
        if self.overridden.contains(name) {
            "set"
        } else if self.file.contains_key(name) {
            "file"
        } else if self.saved.contains_key(name) {
            "set"
        } else {
            "default"
        }
    }

    /// Says which values set with `ebph set` the file overrides.
    pub fn log_shadowed(&self, file: Option<&Path>) {
        for (name, set) in &self.saved {
            match self.file.get(name) {
                Some(from_file) if from_file != set => tracing::info!(
                    "{name} = {from_file} from {} (it wins over {set}, set with `ebph set`)",
                    file_name(file)
                ),
                _ => {}
            }
        }
    }

    /// Every value that is not a default, and where it comes from, for an error message.
    pub fn describe(&self, file: Option<&Path>) -> String {
        let file = file_name(file);
        let mut parts = Vec::new();
        if !self.file.is_empty() {
            parts.push(format!("{file} sets {}", list(&self.file)));
        }
        let shadowed: BTreeMap<_, _> = self
            .saved
            .iter()
            .filter(|(n, _)| !self.file.contains_key(*n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        if !shadowed.is_empty() {
            parts.push(format!("`ebph set` set {}", list(&shadowed)));
        }
        parts.join("; ")
    }
}

/// The configuration file, for a message.
fn file_name(file: Option<&Path>) -> String {
    file.map_or("the configuration file".to_owned(), |p| {
        p.display().to_string()
    })
}

fn list(values: &BTreeMap<String, String>) -> String {
    values
        .iter()
        .map(|(n, v)| format!("{n} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The settings saved in the database, with any that this version cannot read dropped
/// (and said so: they stay in the database).
pub(super) fn readable_saved(saved: BTreeMap<String, String>) -> BTreeMap<String, String> {
    saved
        .into_iter()
        .filter_map(|(name, value)| {
            match Settings::default().with_values([(name.as_str(), value.as_str())]) {
                Ok(_) | Err(ebph_core::SettingsError::Invalid { .. }) => {
                    let canonical = Settings::canonical_name(&name).ok()?;
                    Some((canonical.to_owned(), value))
                }
                Err(e) => {
                    tracing::warn!("ignoring the saved setting {name} = {value}: {e}");
                    None
                }
            }
        })
        .collect()
}

/// Allowlist entries that do not exist.
pub(super) fn missing_paths(settings: &Settings) -> Vec<String> {
    settings
        .allowlist
        .iter()
        .filter(|p| std::fs::metadata(p).is_err())
        .cloned()
        .collect()
}

/// The settings in force, the layers they come from, and the configuration file as it was
/// last read: what `ebph get`, `ebph set` and SIGHUP work on.
pub(super) struct Layered {
    current: Settings,
    layers: Layers,
    /// The configuration file as it was last read (flags aside).
    file_config: Config,
}

/// What a reload changed beyond the settings.
pub(super) struct Reloaded {
    /// The settings before.
    pub previous: Settings,
    /// The new save interval, when it changed.
    pub save_interval: Option<std::time::Duration>,
}

impl Layered {
    /// The settings at start: the defaults, those set with `ebph set` (in `store`), then the
    /// configuration file's; refused, with where each value comes from, when they do not
    /// go together.
    pub(super) fn load(config: &Config, store: &Store) -> Result<Layered> {
        let file_config = match &config.file {
            Some(path) => Config::load(path, false)?,
            None => Config::default(),
        };
        let layers = Layers {
            saved: readable_saved(store.settings()?),
            file: config.file_settings.clone(),
            overridden: Default::default(),
        };
        let current = layers.resolve().map_err(|e| {
            anyhow::anyhow!(
                "the settings do not go together: {e} ({}). The configuration file's values win over those set with `ebph set`: set it there too, or change the other",
                layers.describe(config.file.as_deref())
            )
        })?;
        layers.log_shadowed(config.file.as_deref());
        let missing = missing_paths(&current);
        if !missing.is_empty() {
            tracing::warn!(
                "allowlist entries that do not exist: {}",
                missing.join(", ")
            );
        }
        Ok(Layered {
            current,
            layers,
            file_config,
        })
    }

    /// The settings in force.
    pub(super) fn current(&self) -> &Settings {
        &self.current
    }

    /// Gives the engine the settings; in monitor mode when holds are off (the keeper could
    /// not be kept running).
    pub(super) fn push(&self, engine: &mut Engine, holds_off: bool) {
        let mut settings = self.current.clone();
        if holds_off {
            settings.response = ebph_core::ResponseMode::Monitor;
        }
        engine.set_settings(&settings);
    }

    /// Every setting: value, where it comes from, what a restart would make it, warnings.
    pub(super) fn values(&self, config: &Config, engine: &Engine) -> Vec<SettingValue> {
        // The file as it is now: an edit not yet reloaded is what a restart would apply.
        let restart = config
            .file
            .as_deref()
            .and_then(|path| Config::load(path, false).ok())
            .map(|c| Layers {
                saved: self.layers.saved.clone(),
                file: c.file_settings,
                overridden: Default::default(),
            })
            .unwrap_or_else(|| self.layers.clone())
            .resolve()
            .ok();
        let missing = missing_paths(&self.current);
        self.current
            .iter()
            .map(|(info, value)| {
                let at_restart = restart
                    .as_ref()
                    .and_then(|r| r.get(info.name).ok())
                    .filter(|v| *v != value);
                let warning = (info.name == "allowlist" && !missing.is_empty())
                    .then(|| format!("does not exist: {}", missing.join(", ")));
                SettingValue {
                    name: info.name.to_owned(),
                    value,
                    description: info.description.to_owned(),
                    note: self.note_on(info.name, engine),
                    source: self.layers.source(info.name).to_owned(),
                    at_restart,
                    warning,
                }
            })
            .collect()
    }

    /// What needs looking at in the settings, for `ebph status`.
    pub(super) fn warnings(&self) -> Vec<String> {
        let missing = missing_paths(&self.current);
        if missing.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "allowlist entries that do not exist: {}",
            missing.join(", ")
        )]
    }

    /// What setting `name` does on this kernel, where kernels differ.
    fn note_on(&self, name: &str, engine: &Engine) -> Option<String> {
        use ebph_core::ResponseMode;
        let delays = match self.current.delay_threshold {
            0 => "delays stop a task with SIGSTOP right after each anomalous call, and the keeper continues it with SIGCONT".to_owned(),
            n => format!("delays stop a task with SIGSTOP right after a call that leaves its LFC above {n} (delay-threshold), and the keeper continues it with SIGCONT"),
        };
        let execve = || {
            match engine.bpf_lsm().reason() {
            None => "an exec of a task over suspend-execve fails with EPERM (BPF-LSM)".to_owned(),
            Some(why) => format!(
                "BPF-LSM is unavailable on this kernel ({why}), so a task over suspend-execve is killed (SIGKILL) at its exec instead of having the exec refused"
            ),
        }
        };
        match (name, self.current.response) {
            ("response", ResponseMode::Delay) => Some(delays),
            ("response", ResponseMode::Enforce) if self.current.suspend_execve > 0 => {
                Some(format!("{delays}; {}", execve()))
            }
            ("response", ResponseMode::Enforce) => Some(format!(
                "{delays}; execve suspension is off (suspend-execve = 0)"
            )),
            ("suspend-execve", _) if self.current.suspend_execve > 0 => Some(execve()),
            _ => None,
        }
    }

    /// `ebph set NAME VALUE...`: checked together with every other setting, now and as a
    /// restart would have them; kept in `store`. The settings before, once in force.
    pub(super) fn set(
        &mut self,
        values: &[(String, String)],
        force: bool,
        store: &Store,
        config: &Config,
    ) -> Result<Settings, ApiError> {
        let bad = |e: ebph_core::SettingsError| ApiError::bad_request(e.to_string());
        let mut names = Vec::new();
        for (name, _) in values {
            names.push(Settings::canonical_name(name).map_err(bad)?);
        }
        let next = self
            .current
            .with_values(values.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .map_err(bad)?;
        if next.ngram_length != self.current.ngram_length {
            return Err(ApiError::bad_request(format!(
                "ngram-length is read when the daemon starts (n-grams learned with one length \
                 mean nothing with another): set ngram-length = {} in the [settings] of the \
                 configuration file and restart ebph; the n-grams learned so far are forgotten then",
                next.ngram_length
            )));
        }
        let mut layers = self.layers.clone();
        let mut changes = Vec::new();
        for name in &names {
            let shown = next.get(name).map_err(bad)?;
            layers.saved.insert((*name).to_owned(), shown.clone());
            changes.push((*name, shown));
        }
        let described = || {
            changes
                .iter()
                .map(|(n, v)| format!("{n} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Err(e) = layers.resolve() {
            return Err(ApiError::bad_request(format!(
                "{} would not go with the other settings at the next restart: {e} ({})",
                described(),
                layers.describe(config.file.as_deref())
            )));
        }
        let missing = missing_paths(&next);
        if !missing.is_empty() && !force && names.contains(&"allowlist") {
            return Err(ApiError::bad_request(format!(
                "allowlist: {} does not exist (check the spelling; --force lists it anyway)",
                missing.join(", ")
            )));
        }
        for (name, shown) in &changes {
            store.set_setting(name, shown)?;
            layers.overridden.insert((*name).to_owned());
        }
        self.layers = layers;
        let previous = std::mem::replace(&mut self.current, next);
        tracing::info!("setting {}", described());
        for (name, _) in &changes {
            if let Some(from_file) = self.layers.file.get(*name) {
                tracing::warn!(
                    "{name} = {from_file} in {}: it applies again at the next restart or reload",
                    file_name(config.file.as_deref())
                );
            }
        }
        if !missing.is_empty() && names.contains(&"allowlist") {
            tracing::warn!(
                "allowlist entries that do not exist, accepted with --force: {}",
                missing.join(", ")
            );
        }
        Ok(previous)
    }

    /// SIGHUP: reads the configuration file again and takes its settings (over the ones set
    /// at run time, as a restart would), logging each change; and its save interval, into
    /// `config`. A file with an error changes nothing (`None`).
    pub(super) fn reload(&mut self, config: &mut Config) -> Option<Reloaded> {
        let Some(path) = config.file.clone() else {
            tracing::info!("reload: started without a configuration file; nothing to do");
            return None;
        };
        let fresh = match Config::load(&path, false) {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::error!("reload: {e:#}; keeping the settings as they are");
                return None;
            }
        };
        let layers = Layers {
            saved: self.layers.saved.clone(),
            file: fresh.file_settings.clone(),
            overridden: Default::default(),
        };
        let mut next = match layers.resolve() {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(
                    "reload: the settings would not go together: {e} ({}); keeping them as they are",
                    layers.describe(Some(&path))
                );
                return None;
            }
        };
        if next.ngram_length != self.current.ngram_length {
            tracing::warn!(
                "reload: ngram-length {} -> {} takes a restart (the n-grams learned so far are \
                 forgotten then)",
                self.current.ngram_length,
                next.ngram_length
            );
            next.ngram_length = self.current.ngram_length;
        }
        let mut changed = 0;
        for (info, now) in self.current.iter() {
            let then = next.get(info.name).unwrap_or_default();
            if then != now {
                tracing::info!("reload: {} {now} -> {then}", info.name);
                changed += 1;
            }
        }
        // What only a restart changes: compared with the file as it was read last, since
        // flags override the file.
        let last = &self.file_config;
        for (what, changed) in [
            ("state-dir", fresh.state_dir != last.state_dir),
            ("socket", fresh.socket != last.socket),
            (
                "metrics-listen",
                fresh.metrics_listen != last.metrics_listen,
            ),
            ("capacity", fresh.capacity != last.capacity),
        ] {
            if changed {
                tracing::warn!(
                    "reload: {what} changed in {}: it takes a restart",
                    path.display()
                );
            }
        }
        let mut save_interval = None;
        if fresh.save_interval != last.save_interval && fresh.save_interval != config.save_interval
        {
            tracing::info!(
                "reload: save-interval {} -> {}",
                humantime::format_duration(config.save_interval),
                humantime::format_duration(fresh.save_interval)
            );
            config.save_interval = fresh.save_interval;
            save_interval = Some(fresh.save_interval);
        }
        self.layers = layers;
        config.file_settings = fresh.file_settings.clone();
        self.file_config = fresh;
        let previous = std::mem::replace(&mut self.current, next);
        tracing::info!("reloaded {}: {changed} settings changed", path.display());
        Some(Reloaded {
            previous,
            save_interval,
        })
    }
}
