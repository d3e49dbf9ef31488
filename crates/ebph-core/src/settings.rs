//! The tunable numbers of the pH algorithm, with their defaults and validation.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Detector, LOCALITY_FRAME_MAX, NGRAM_MAX, WINDOW_MAX};

/// What ebph does about anomalous tasks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseMode {
    /// Detect and report only.
    #[default]
    Monitor,
    /// Also delay tasks in proportion to their LFC (pH's homeostasis).
    Delay,
    /// Delays, and tasks above `suspend-execve` may not exec.
    Enforce,
}

impl ResponseMode {
    /// The mode's name (`monitor`, `delay`, `enforce`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Monitor => "monitor",
            ResponseMode::Delay => "delay",
            ResponseMode::Enforce => "enforce",
        }
    }
}

impl fmt::Display for ResponseMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResponseMode {
    type Err = String;

    fn from_str(s: &str) -> Result<ResponseMode, String> {
        match s.trim() {
            "monitor" => Ok(ResponseMode::Monitor),
            "delay" => Ok(ResponseMode::Delay),
            "enforce" => Ok(ResponseMode::Enforce),
            other => Err(format!(
                "unknown response mode {other:?} (monitor, delay or enforce)"
            )),
        }
    }
}

/// Every number the pH algorithm uses. All of them may change at run time.
///
/// Setting names, as the command line and the configuration file spell them, are the field
/// names in kebab-case (`normal-wait`, `anomaly-limit`, ...). Durations are written like `2s`,
/// `500ms` or `7d`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Settings {
    /// Calls per window: the current call and `window - 1` calls before it (2..=9).
    pub window: u8,
    /// What makes a call anomalous: unseen lookahead pairs, unseen n-grams, or either.
    pub detector: Detector,
    /// Calls per n-gram: the current call and `ngram-length - 1` calls before it (2..=9).
    /// Bits learned with one length mean nothing with another: the daemon takes it from its
    /// configuration when it starts.
    pub ngram_length: u8,
    /// A call that is one of the last `fold-loops` calls seen (0..=[`FOLD_MAX`]; see
    /// [`crate::Sequence::folds`]) is not seen: not learned, not tested, not in the window
    /// nor the locality frame. 0: pH exactly. A configuration may also say `true`
    /// ([`FOLD_LOOPS_ON`]) or `false` (0).
    #[serde(deserialize_with = "fold_loops_from_number_or_bool")]
    pub fold_loops: u8,
    /// Whether `brk` is not seen: like a folded call, it is not learned, not tested, not in
    /// the window nor the locality frame ([`Settings::seen_as`]). The heap grows wherever the
    /// allocator runs out of room, so where `brk` falls tells nothing of what a program does.
    pub skip_brk: bool,
    /// Whether an `mmap` that grows the heap ([`crate::is_heap_mmap`]: anonymous memory, not
    /// executable, at no fixed address) is not seen, as `brk` with `skip-brk`.
    pub skip_heap_mmap: bool,
    /// Whether each profile learns which executables its tasks exec, and a normal profile
    /// flags one it never ran ([`crate::Profile::on_exec`]). false: pH.
    pub watch_execs: bool,
    /// Whether each profile learns the network endpoints it binds, connects and sends to (as
    /// classes: [`crate::Endpoint`]), and a normal profile flags one it never used
    /// ([`crate::Profile::on_endpoint`]). false: pH.
    pub watch_endpoints: bool,
    /// Length of the locality frame, in calls (1..=128).
    pub locality_frame: u8,
    /// Numerator of the freezing ratio: a profile freezes when
    /// `train_count * normal_factor_den > normal_count * normal_factor`.
    pub normal_factor: u32,
    /// Denominator of the freezing ratio.
    pub normal_factor_den: u32,
    /// How long a profile stays frozen before it becomes normal.
    #[serde(with = "humantime_serde")]
    pub normal_wait: Duration,
    /// A normal profile with more anomalies than this goes back to training.
    pub anomaly_limit: u32,
    /// A task whose LFC exceeds this makes its profile forget its training data.
    pub tolerize_limit: u32,
    /// A normal profile accepts what it has learned once this many runs in a row repeated it
    /// without teaching it anything new (0: never; pH leaves it to `anomaly_limit`). See
    /// [`crate::Profile::end_run`].
    pub accept_after: u32,
    /// A task is held only while its LFC exceeds this (0..=128; 0: pH, every task with an
    /// LFC above 0). See [`crate::delay_for`].
    pub delay_threshold: u32,
    /// Unit of the response delay: a task with LFC `n` above `delay-threshold` is held
    /// `delay_factor * 2^n`.
    #[serde(with = "humantime_serde")]
    pub delay_factor: Duration,
    /// The longest a single delay may be.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// A task whose LFC exceeds this may not execve (0 = never refuse).
    pub suspend_execve: u32,
    /// What to do about anomalous tasks.
    pub response: ResponseMode,
    /// Executables (paths) whose tasks are never delayed nor refused an exec.
    pub allowlist: Vec<String>,
    /// New profiles the programs of one user other than root may cause a minute (0: no
    /// limit). Beyond it, that user's new programs run untracked until the minute is over.
    pub user_profiles: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            window: WINDOW_MAX as u8,
            detector: Detector::Both,
            ngram_length: DEFAULT_NGRAM_LENGTH,
            fold_loops: FOLD_LOOPS_ON,
            skip_brk: true,
            skip_heap_mmap: true,
            watch_execs: true,
            watch_endpoints: true,
            locality_frame: LOCALITY_FRAME_MAX as u8,
            normal_factor: 128,
            normal_factor_den: 32,
            normal_wait: Duration::from_secs(7 * 24 * 60 * 60),
            anomaly_limit: 30,
            tolerize_limit: 12,
            accept_after: DEFAULT_ACCEPT_AFTER,
            delay_threshold: DEFAULT_DELAY_THRESHOLD,
            delay_factor: Duration::from_millis(1),
            max_delay: Duration::from_secs(10),
            suspend_execve: 10,
            response: ResponseMode::Monitor,
            allowlist: Vec::new(),
            user_profiles: 60,
        }
    }
}

/// The default `accept-after` (see `docs/detection.md` for how it was chosen).
pub const DEFAULT_ACCEPT_AFTER: u32 = 2;

/// The default `delay-threshold` (see `docs/detection.md` for how it was chosen).
pub const DEFAULT_DELAY_THRESHOLD: u32 = 7;

/// The largest `accept-after`.
pub const ACCEPT_AFTER_MAX: u32 = 1000;

/// The default n-gram length (see `docs/detection.md` for how it was chosen).
pub const DEFAULT_NGRAM_LENGTH: u8 = 5;

/// The largest `fold-loops`: a call among the last 4 seen is the most that folds.
pub const FOLD_MAX: u8 = 4;

/// What `fold-loops = true` means: a call among the last 3 calls seen is not seen.
pub const FOLD_LOOPS_ON: u8 = 3;

/// A setting's name and meaning, for help texts and `ebph get`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingInfo {
    /// The name, in kebab-case.
    pub name: &'static str,
    /// What the setting does, in one line.
    pub description: &'static str,
}

/// Every setting, in documentation order.
pub const SETTINGS: &[SettingInfo] = &[
    SettingInfo {
        name: "window",
        description: "calls per window: the current call and up to 8 before it (2..9)",
    },
    SettingInfo {
        name: "detector",
        description: "what makes a call anomalous: pairs (unseen lookahead pairs, pH), ngrams (unseen n-grams) or both",
    },
    SettingInfo {
        name: "ngram-length",
        description: "calls per n-gram: the current call and up to 8 before it (2..9; read when the daemon starts)",
    },
    SettingInfo {
        name: "fold-loops",
        description: "N (0..4): a call that is one of the last N calls seen is not seen, so a small loop is learned once however often and in whatever order its calls turn (0 or false: pH exactly; true: 3)",
    },
    SettingInfo {
        name: "skip-brk",
        description: "true: brk (heap growth, wherever the allocator runs out of room) is not seen, as a folded call; false: pH",
    },
    SettingInfo {
        name: "skip-heap-mmap",
        description: "true: an mmap that grows the heap (anonymous memory, not executable, at no fixed address: large blocks, new arenas) is not seen, as brk with skip-brk; false: pH",
    },
    SettingInfo {
        name: "watch-execs",
        description: "true: each profile learns which programs it executes, and a normal profile flags one it never ran (a novel exec); false: pH",
    },
    SettingInfo {
        name: "watch-endpoints",
        description: "true: each profile learns the network endpoints it binds, connects and sends datagrams to (family, loopback/private/public..., port), and a normal profile flags one it never used (a novel endpoint); false: pH",
    },
    SettingInfo {
        name: "locality-frame",
        description: "length of the locality frame, in calls (1..128)",
    },
    SettingInfo {
        name: "normal-factor",
        description: "freezing ratio numerator: freeze when the table has not changed for (1 - den/factor) of all calls",
    },
    SettingInfo {
        name: "normal-factor-den",
        description: "freezing ratio denominator (less than normal-factor)",
    },
    SettingInfo {
        name: "normal-wait",
        description: "how long a profile stays frozen before it becomes normal (e.g. 7d, 30s)",
    },
    SettingInfo {
        name: "anomaly-limit",
        description: "a normal profile with more anomalies than this goes back to training",
    },
    SettingInfo {
        name: "tolerize-limit",
        description: "a task whose LFC exceeds this makes its profile forget its training data",
    },
    SettingInfo {
        name: "accept-after",
        description: "a normal profile accepts new behaviour once this many runs in a row repeated it without an incident and without teaching it anything else (0: never, as pH; 0..1000)",
    },
    SettingInfo {
        name: "delay-threshold",
        description: "a task is held only while its LFC exceeds this (0: pH, any LFC above 0; 0..128)",
    },
    SettingInfo {
        name: "delay-factor",
        description: "response delay unit: a task with LFC n above delay-threshold is held delay-factor * 2^n",
    },
    SettingInfo {
        name: "max-delay",
        description: "the longest single response delay",
    },
    SettingInfo {
        name: "suspend-execve",
        description: "in enforce mode, a task whose LFC exceeds this may not execve (0 = off; 0..128)",
    },
    SettingInfo {
        name: "response",
        description: "monitor (report only), delay (hold anomalous tasks), enforce (delays and execve suspension)",
    },
    SettingInfo {
        name: "allowlist",
        description: "comma-separated executables never delayed nor refused (e.g. /usr/sbin/sshd,/usr/bin/bash)",
    },
    SettingInfo {
        name: "user-profiles",
        description: "new profiles one user other than root may cause a minute; beyond it their new programs run untracked (0 = no limit)",
    },
];

/// Why a setting could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// No setting has that name.
    #[error("unknown setting {0:?} (known settings: {known})", known = known_names())]
    Unknown(String),
    /// The text is not a value of the setting's type.
    #[error("invalid value {value:?} for {name}: {reason}")]
    Parse {
        /// The setting.
        name: &'static str,
        /// The text given.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// The value is of the right type but not allowed.
    #[error("invalid {name}: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is allowed.
        reason: String,
    },
}

fn known_names() -> String {
    SETTINGS
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn info(name: &str) -> Result<&'static SettingInfo, SettingsError> {
    SETTINGS
        .iter()
        .find(|s| s.name == name || s.name.replace('-', "_") == name)
        .ok_or_else(|| SettingsError::Unknown(name.to_owned()))
}

/// Parses the text of setting `name` into its type (a number, a boolean, a mode, a detector).
fn parse_value<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, SettingsError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| SettingsError::Parse {
            name,
            value: value.to_owned(),
            reason: e.to_string(),
        })
}

/// The `fold-loops` depth that `true` or `false` stands for.
fn fold_depth_of(on: bool) -> u8 {
    if on {
        FOLD_LOOPS_ON
    } else {
        0
    }
}

/// `fold-loops`: a depth, or `true` / `false`.
fn parse_fold_loops(value: &str) -> Result<u8, SettingsError> {
    match value.trim() {
        "true" | "on" => Ok(fold_depth_of(true)),
        "false" | "off" => Ok(fold_depth_of(false)),
        number => parse_value("fold-loops", number),
    }
}

/// Reads `fold-loops` from a number or a boolean (settings saved by older versions).
fn fold_loops_from_number_or_bool<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u8, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Depth {
        Number(u8),
        Flag(bool),
    }
    Ok(match Depth::deserialize(deserializer)? {
        Depth::Number(depth) => depth,
        Depth::Flag(on) => fold_depth_of(on),
    })
}

fn parse_duration(name: &'static str, value: &str) -> Result<Duration, SettingsError> {
    let text = value.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| SettingsError::Parse {
        name,
        value: value.to_owned(),
        reason: format!("{e} (write durations like 500ms, 30s, 2h or 7d)"),
    })
}

fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        "0s".to_owned()
    } else {
        humantime::format_duration(d).to_string()
    }
}

fn invalid(name: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        name,
        reason: reason.into(),
    }
}

impl Settings {
    /// Checks every rule a setting must follow.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(2..=WINDOW_MAX as u8).contains(&self.window) {
            return Err(invalid(
                "window",
                format!("must be 2..={WINDOW_MAX}, not {}", self.window),
            ));
        }
        if !(2..=NGRAM_MAX as u8).contains(&self.ngram_length) {
            return Err(invalid(
                "ngram-length",
                format!("must be 2..={NGRAM_MAX}, not {}", self.ngram_length),
            ));
        }
        if self.fold_loops > FOLD_MAX {
            return Err(invalid(
                "fold-loops",
                format!("must be 0..={FOLD_MAX}, not {}", self.fold_loops),
            ));
        }
        if !(1..=LOCALITY_FRAME_MAX as u8).contains(&self.locality_frame) {
            return Err(invalid(
                "locality-frame",
                format!(
                    "must be 1..={LOCALITY_FRAME_MAX}, not {}",
                    self.locality_frame
                ),
            ));
        }
        if self.normal_factor_den == 0 {
            return Err(invalid("normal-factor-den", "must be at least 1"));
        }
        if self.normal_factor <= self.normal_factor_den {
            return Err(invalid(
                "normal-factor",
                format!(
                    "must be greater than normal-factor-den ({}), not {}",
                    self.normal_factor_den, self.normal_factor
                ),
            ));
        }
        if self.anomaly_limit == 0 {
            return Err(invalid(
                "anomaly-limit",
                "must be at least 1 (with 0, a normal profile's first anomaly would send it back to training)",
            ));
        }
        if self.delay_factor.is_zero() {
            return Err(invalid(
                "delay-factor",
                "must be more than 0 (to hold nothing, set response to monitor)",
            ));
        }
        if self.max_delay.is_zero() {
            return Err(invalid(
                "max-delay",
                "must be more than 0 (to hold nothing, set response to monitor)",
            ));
        }
        if self.normal_wait > Duration::from_secs(100 * 365 * 24 * 60 * 60) {
            return Err(invalid("normal-wait", "must be at most 100 years"));
        }
        // LFC thresholds: an LFC never exceeds the locality frame.
        for (name, value) in [
            ("tolerize-limit", self.tolerize_limit),
            ("suspend-execve", self.suspend_execve),
            ("delay-threshold", self.delay_threshold),
        ] {
            if value > LOCALITY_FRAME_MAX as u32 {
                return Err(invalid(
                    name,
                    format!("must be 0..={LOCALITY_FRAME_MAX}, not {value}"),
                ));
            }
        }
        if self.accept_after > ACCEPT_AFTER_MAX {
            return Err(invalid(
                "accept-after",
                format!("must be 0..={ACCEPT_AFTER_MAX}, not {}", self.accept_after),
            ));
        }
        if self.max_delay > Duration::from_secs(3600) {
            return Err(invalid("max-delay", "must be at most 1h"));
        }
        if let Some(p) = self.allowlist.iter().find(|p| !p.starts_with('/')) {
            return Err(invalid(
                "allowlist",
                format!("{p:?} is not an absolute path"),
            ));
        }
        if self.delay_factor > self.max_delay {
            return Err(invalid(
                "delay-factor",
                format!(
                    "must not exceed max-delay ({})",
                    format_duration(self.max_delay)
                ),
            ));
        }
        Ok(())
    }

    /// pH exactly, as Somayaji described it: lookahead pairs alone, every call seen, execs not
    /// watched and new behaviour accepted only through `anomaly-limit` (`detector = pairs`,
    /// `fold-loops = 0`, `skip-brk = false`, `skip-heap-mmap = false`, `watch-execs = false`,
    /// `watch-endpoints = false`, `accept-after = 0`, `delay-threshold = 0`), everything else
    /// as by default.
    pub fn ph() -> Settings {
        Settings {
            detector: Detector::Pairs,
            fold_loops: 0,
            skip_brk: false,
            skip_heap_mmap: false,
            watch_execs: false,
            watch_endpoints: false,
            accept_after: 0,
            delay_threshold: 0,
            ..Settings::default()
        }
    }

    /// The call the model sees for call `call` (numbered as on `arch`), or `None` when it is
    /// not seen at all: `brk` with `skip-brk`, [`crate::Syscall::HEAP_MMAP`] with
    /// `skip-heap-mmap` (without, it is the architecture's `mmap`), and the numbers of
    /// [`crate::Syscall::EXEC`] and [`crate::Syscall::ENDPOINT`], which are no calls. The
    /// model's callers pass the call through this before [`crate::Profile::on_call`] and
    /// [`crate::Profile::detect`], as the kernel engine does.
    #[inline]
    pub fn seen_as(&self, arch: crate::Arch, call: crate::Syscall) -> Option<crate::Syscall> {
        if call == crate::Syscall::HEAP_MMAP {
            return (!self.skip_heap_mmap).then(|| arch.mmap());
        }
        let skipped = call.is_pseudo() || (self.skip_brk && arch.is_brk(call));
        (!skipped).then_some(call)
    }

    /// The normal wait in nanoseconds, as the engine's clocks count.
    pub fn normal_wait_ns(&self) -> u64 {
        u64::try_from(self.normal_wait.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The value of setting `name` as text (`7days`, `30`, ...).
    pub fn get(&self, name: &str) -> Result<String, SettingsError> {
        Ok(match info(name)?.name {
            "window" => self.window.to_string(),
            "detector" => self.detector.to_string(),
            "ngram-length" => self.ngram_length.to_string(),
            "fold-loops" => self.fold_loops.to_string(),
            "skip-brk" => self.skip_brk.to_string(),
            "skip-heap-mmap" => self.skip_heap_mmap.to_string(),
            "watch-execs" => self.watch_execs.to_string(),
            "watch-endpoints" => self.watch_endpoints.to_string(),
            "locality-frame" => self.locality_frame.to_string(),
            "normal-factor" => self.normal_factor.to_string(),
            "normal-factor-den" => self.normal_factor_den.to_string(),
            "normal-wait" => format_duration(self.normal_wait),
            "anomaly-limit" => self.anomaly_limit.to_string(),
            "tolerize-limit" => self.tolerize_limit.to_string(),
            "accept-after" => self.accept_after.to_string(),
            "delay-threshold" => self.delay_threshold.to_string(),
            "delay-factor" => format_duration(self.delay_factor),
            "max-delay" => format_duration(self.max_delay),
            "suspend-execve" => self.suspend_execve.to_string(),
            "response" => self.response.to_string(),
            "allowlist" => self.allowlist.join(","),
            "user-profiles" => self.user_profiles.to_string(),
            other => unreachable!("setting {other} is listed but not readable"),
        })
    }

    /// Sets `name` to the value written in `value`. On any error the settings are unchanged.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SettingsError> {
        *self = self.with_values([(name, value)])?;
        Ok(())
    }

    /// These settings with every value in `values` (name, text) applied, checked as a whole
    /// once all are in: so `max-delay 1h` and `delay-factor 1m` may come in either order.
    pub fn with_values<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Settings, SettingsError> {
        let mut next = self.clone();
        for (name, value) in values {
            next.assign(name, value)?;
        }
        next.validate()?;
        Ok(next)
    }

    /// The canonical (kebab-case) name of setting `name`.
    pub fn canonical_name(name: &str) -> Result<&'static str, SettingsError> {
        Ok(info(name)?.name)
    }

    /// Parses `value` into setting `name`, without checking it against the others.
    fn assign(&mut self, name: &str, value: &str) -> Result<(), SettingsError> {
        let next = self;
        let name = info(name)?.name;
        match name {
            "window" => next.window = parse_value(name, value)?,
            "ngram-length" => next.ngram_length = parse_value(name, value)?,
            "fold-loops" => next.fold_loops = parse_fold_loops(value)?,
            "skip-brk" => next.skip_brk = parse_value(name, value)?,
            "skip-heap-mmap" => next.skip_heap_mmap = parse_value(name, value)?,
            "watch-execs" => next.watch_execs = parse_value(name, value)?,
            "watch-endpoints" => next.watch_endpoints = parse_value(name, value)?,
            "detector" => next.detector = parse_value(name, value)?,
            "locality-frame" => next.locality_frame = parse_value(name, value)?,
            "normal-factor" => next.normal_factor = parse_value(name, value)?,
            "normal-factor-den" => next.normal_factor_den = parse_value(name, value)?,
            "normal-wait" => next.normal_wait = parse_duration(name, value)?,
            "anomaly-limit" => next.anomaly_limit = parse_value(name, value)?,
            "tolerize-limit" => next.tolerize_limit = parse_value(name, value)?,
            "accept-after" => next.accept_after = parse_value(name, value)?,
            "delay-threshold" => next.delay_threshold = parse_value(name, value)?,
            "delay-factor" => next.delay_factor = parse_duration(name, value)?,
            "max-delay" => next.max_delay = parse_duration(name, value)?,
            "suspend-execve" => next.suspend_execve = parse_value(name, value)?,
            "user-profiles" => next.user_profiles = parse_value(name, value)?,
            "response" => next.response = parse_value(name, value)?,
            "allowlist" => {
                next.allowlist = value
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            other => unreachable!("setting {other} is listed but not writable"),
        }
        Ok(())
    }

    /// Every setting with its current value, in documentation order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static SettingInfo, String)> + '_ {
        SETTINGS.iter().map(move |info| {
            (
                info,
                self.get(info.name).expect("listed settings are readable"),
            )
        })
    }
}

/// Durations as human-readable text (`7days`, `1ms`) in serialized settings.
mod humantime_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration("duration", &text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_algorithms_and_valid() {
        let s = Settings::default();
        assert_eq!(s.window, 9);
        assert_eq!(s.locality_frame, 128);
        assert_eq!((s.normal_factor, s.normal_factor_den), (128, 32));
        assert_eq!(s.normal_wait, Duration::from_secs(604_800));
        assert_eq!((s.anomaly_limit, s.tolerize_limit), (30, 12));
        s.validate().unwrap();
    }

    #[test]
    fn every_listed_setting_round_trips_through_text() {
        let mut s = Settings::default();
        for (info, value) in Settings::default().iter() {
            s.set(info.name, &value).unwrap();
        }
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn fold_loops_takes_a_depth_or_a_flag() {
        let mut s = Settings::default();
        s.set("fold-loops", "true").unwrap();
        assert_eq!(s.fold_loops, FOLD_LOOPS_ON);
        s.set("fold-loops", "2").unwrap();
        assert_eq!(s.get("fold-loops").unwrap(), "2");
        s.set("fold-loops", "false").unwrap();
        assert_eq!(s.fold_loops, 0);
        let old: Settings = serde_json::from_str(r#"{"fold-loops": true}"#).unwrap();
        assert_eq!(old.fold_loops, FOLD_LOOPS_ON);
        let new: Settings = serde_json::from_str(r#"{"fold-loops": 4}"#).unwrap();
        assert_eq!(new.fold_loops, 4);
    }

    #[test]
    fn durations_accept_human_units() {
        let mut s = Settings::default();
        s.set("normal-wait", "2s").unwrap();
        assert_eq!(s.normal_wait, Duration::from_secs(2));
        s.set("normal_wait", "7d").unwrap();
        assert_eq!(s.normal_wait, Duration::from_secs(7 * 86_400));
        assert_eq!(s.get("normal-wait").unwrap(), "7days");
        s.set("normal-wait", "0").unwrap();
        assert_eq!(s.get("normal-wait").unwrap(), "0s");
    }

    #[test]
    fn bad_values_are_refused_and_change_nothing() {
        let mut s = Settings::default();
        let cases = [
            ("window", "1"),
            ("window", "10"),
            ("window", "nine"),
            ("ngram-length", "1"),
            ("ngram-length", "10"),
            ("detector", "stide"),
            ("fold-loops", "maybe"),
            ("fold-loops", "5"),
            ("locality-frame", "0"),
            ("locality-frame", "129"),
            ("normal-factor", "32"),
            ("normal-factor-den", "0"),
            ("normal-wait", "soon"),
            ("tolerize-limit", "129"),
            ("suspend-execve", "-1"),
            ("suspend-execve", "129"),
            ("delay-threshold", "129"),
            ("delay-threshold", "-1"),
            ("delay-factor", "20s"),
            ("max-delay", "2h"),
            ("anomaly-limit", "4294967296"),
            ("response", "panic"),
            ("allowlist", "sshd"),
            ("anomaly-limit", "0"),
            ("delay-factor", "0"),
            ("max-delay", "0s"),
        ];
        for (name, value) in cases {
            let err = s.set(name, value).unwrap_err();
            assert!(
                matches!(
                    err,
                    SettingsError::Parse { .. } | SettingsError::Invalid { .. }
                ),
                "{name}={value}: {err}"
            );
            assert_eq!(
                s,
                Settings::default(),
                "{name}={value} changed the settings"
            );
        }
        s.set("delay-threshold", "128").unwrap();
        assert_eq!(s.get("delay-threshold").unwrap(), "128");
        s = Settings::default();
        assert!(matches!(
            s.set("speed", "1"),
            Err(SettingsError::Unknown(_))
        ));
        assert!(s
            .get("speed")
            .unwrap_err()
            .to_string()
            .contains("normal-wait"));
    }

    #[test]
    fn values_are_checked_together_whatever_their_order() {
        let wanted = [
            ("max-delay", "1h"),
            ("delay-factor", "1m"),
            ("normal-factor-den", "8"),
            ("normal-factor", "16"),
        ];
        let mut forwards = Settings::default();
        let mut backwards = Settings::default();
        forwards = forwards.with_values(wanted).unwrap();
        backwards = backwards.with_values(wanted.into_iter().rev()).unwrap();
        assert_eq!(forwards, backwards);
        assert_eq!(forwards.delay_factor, Duration::from_secs(60));
        assert_eq!(forwards.normal_factor, 16);
        // One at a time from the defaults, in this order, the second is refused.
        let mut one = Settings::default();
        assert!(one.set("delay-factor", "1m").is_err());
        // A bad set changes nothing and names the problem.
        let err = Settings::default()
            .with_values([("max-delay", "10s"), ("delay-factor", "1m")])
            .unwrap_err();
        assert!(err.to_string().contains("max-delay (10s)"), "{err}");
    }

    #[test]
    fn response_modes_and_allowlists_parse() {
        let mut s = Settings::default();
        assert_eq!(s.response, ResponseMode::Monitor);
        s.set("response", "enforce").unwrap();
        assert_eq!(s.response, ResponseMode::Enforce);
        s.set("allowlist", "/usr/sbin/sshd, /usr/bin/bash,")
            .unwrap();
        assert_eq!(s.allowlist, ["/usr/sbin/sshd", "/usr/bin/bash"]);
        assert_eq!(s.get("allowlist").unwrap(), "/usr/sbin/sshd,/usr/bin/bash");
        s.set("allowlist", "").unwrap();
        assert!(s.allowlist.is_empty());
    }

    #[test]
    fn serializes_with_kebab_case_names_and_text_durations() {
        let json = serde_json::to_value(Settings::default()).unwrap();
        assert_eq!(json["normal-wait"], "7days");
        assert_eq!(json["anomaly-limit"], 30);
        let back: Settings = serde_json::from_value(json).unwrap();
        assert_eq!(back, Settings::default());
        let partial: Settings = serde_json::from_str(r#"{"window": 6}"#).unwrap();
        assert_eq!(partial.window, 6);
        assert!(serde_json::from_str::<Settings>(r#"{"windw": 6}"#).is_err());
    }
}
