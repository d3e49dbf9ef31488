//! The settings: where each comes from, changing them at run time, reloading the
//! configuration file.
//!
//! Three layers, always put together as one set and checked as a whole: the defaults, then
//! the values set at run time (`ebph set`, kept in the database), then the configuration
//! file's `[settings]`, which win. A change that would leave a set that does not hold, now
//! or at the next restart, is refused with the reason; nothing is reverted silently.

use std::collections::BTreeMap;
use std::path::Path;

use ebph_api::protocol::SettingValue;
use ebph_core::Settings;

use super::Worker;
use crate::config::Config;
use crate::mailbox::ApiError;

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

impl Worker {
    /// Every setting: value, where it comes from, what a restart would make it, warnings.
    pub(super) fn setting_values(&self) -> Vec<SettingValue> {
        // The file as it is now: an edit not yet reloaded is what a restart would apply.
        let restart = self
            .config
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
        let missing = missing_paths(&self.settings);
        self.settings
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
                    note: self.note_on(info.name),
                    source: self.layers.source(info.name).to_owned(),
                    at_restart,
                    warning,
                }
            })
            .collect()
    }

    /// What needs looking at, for `ebph status`.
    pub(super) fn setting_warnings(&self) -> Vec<String> {
        let missing = missing_paths(&self.settings);
        let mut out = Vec::new();
        if !missing.is_empty() {
            out.push(format!(
                "allowlist entries that do not exist: {}",
                missing.join(", ")
            ));
        }
        if self.holds_off {
            out.push(
                "the keeper kept dying: nothing is held until the daemon is restarted".to_owned(),
            );
        }
        out
    }

    /// What setting `name` does on this kernel, where kernels differ.
    pub(super) fn note_on(&self, name: &str) -> Option<String> {
        use ebph_core::ResponseMode;
        let delays = match self.settings.delay_threshold {
            0 => "delays stop a task with SIGSTOP right after each anomalous call, and the keeper continues it with SIGCONT".to_owned(),
            n => format!("delays stop a task with SIGSTOP right after a call that leaves its LFC above {n} (delay-threshold), and the keeper continues it with SIGCONT"),
        };
        let execve = || {
            match self.engine.bpf_lsm().reason() {
            None => "an exec of a task over suspend-execve fails with EPERM (BPF-LSM)".to_owned(),
            Some(why) => format!(
                "BPF-LSM is unavailable on this kernel ({why}), so a task over suspend-execve is killed (SIGKILL) at its exec instead of having the exec refused"
            ),
        }
        };
        match (name, self.settings.response) {
            ("response", ResponseMode::Delay) => Some(delays),
            ("response", ResponseMode::Enforce) if self.settings.suspend_execve > 0 => {
                Some(format!("{delays}; {}", execve()))
            }
            ("response", ResponseMode::Enforce) => Some(format!(
                "{delays}; execve suspension is off (suspend-execve = 0)"
            )),
            ("suspend-execve", _) if self.settings.suspend_execve > 0 => Some(execve()),
            _ => None,
        }
    }

    /// `ebph set NAME VALUE...`: checked together with every other setting, now and as a
    /// restart would have them; kept in the database.
    pub(super) fn set(
        &mut self,
        values: &[(String, String)],
        force: bool,
    ) -> Result<Vec<SettingValue>, ApiError> {
        let bad = |e: ebph_core::SettingsError| ApiError::bad_request(e.to_string());
        let mut names = Vec::new();
        for (name, _) in values {
            names.push(Settings::canonical_name(name).map_err(bad)?);
        }
        let next = self
            .settings
            .with_values(values.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .map_err(bad)?;
        if next.ngram_length != self.settings.ngram_length {
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
                layers.describe(self.config.file.as_deref())
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
            self.store.set_setting(name, shown)?;
            layers.overridden.insert((*name).to_owned());
        }
        self.layers = layers;
        self.apply(next);
        tracing::info!("setting {}", described());
        for (name, _) in &changes {
            if let Some(from_file) = self.layers.file.get(*name) {
                tracing::warn!(
                    "{name} = {from_file} in {}: it applies again at the next restart or reload",
                    file_name(self.config.file.as_deref())
                );
            }
        }
        if !missing.is_empty() && names.contains(&"allowlist") {
            tracing::warn!(
                "allowlist entries that do not exist, accepted with --force: {}",
                missing.join(", ")
            );
        }
        Ok(self.setting_values())
    }

    /// Makes `next` the settings: the engine's, the allowlist's; releases everything when
    /// the response becomes monitor.
    fn apply(&mut self, next: Settings) {
        let allowlist_changed = next.allowlist != self.settings.allowlist;
        self.settings = next;
        self.push_settings();
        if self.settings.response == ebph_core::ResponseMode::Monitor {
            // Back to monitoring: nothing stays held.
            self.release_all();
        }
        if allowlist_changed {
            if let Err(e) = self.apply_allowlist() {
                tracing::error!("applying the allowlist failed: {}", e.message);
            }
        }
    }

    /// SIGHUP: reads the configuration file again and applies its settings (over the ones
    /// set at run time, as a restart would), logging each change. A file with an error
    /// changes nothing.
    pub(super) fn reload(&mut self) {
        let Some(path) = self.config.file.clone() else {
            tracing::info!("reload: started without a configuration file; nothing to do");
            return;
        };
        let fresh = match Config::load(&path, false) {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::error!("reload: {e:#}; keeping the settings as they are");
                return;
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
                return;
            }
        };
        if next.ngram_length != self.settings.ngram_length {
            tracing::warn!(
                "reload: ngram-length {} -> {} takes a restart (the n-grams learned so far are \
                 forgotten then)",
                self.settings.ngram_length,
                next.ngram_length
            );
            next.ngram_length = self.settings.ngram_length;
        }
        let mut changed = 0;
        for (info, now) in self.settings.iter() {
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
        if fresh.save_interval != last.save_interval
            && fresh.save_interval != self.config.save_interval
        {
            tracing::info!(
                "reload: save-interval {} -> {}",
                humantime::format_duration(self.config.save_interval),
                humantime::format_duration(fresh.save_interval)
            );
            self.config.save_interval = fresh.save_interval;
            self.next_save = std::time::Instant::now() + fresh.save_interval;
        }
        self.layers = layers;
        self.config.file_settings = fresh.file_settings.clone();
        self.file_config = fresh;
        self.apply(next);
        tracing::info!("reloaded {}: {changed} settings changed", path.display());
    }
}
