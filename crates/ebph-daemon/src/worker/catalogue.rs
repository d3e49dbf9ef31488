//! What the daemon knows of every profile beyond the engine: the path of its executable and,
//! for those loaded at start, when it was last used before; and finding a profile by what a
//! request names. Evicting and expiring profiles is `eviction.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ebph_api::protocol::Target;
use ebph_bpf::{Engine, EngineError, EventType, ProfileUse};
use ebph_core::ProfileKey;

use super::eviction::{Deleted, Eviction};
use crate::mailbox::ApiError;
use crate::store::{ProfileOrigin, Store, StoreError};

/// Every profile's path and former last use.
pub(super) struct Catalogue {
    paths: HashMap<ProfileKey, String>,
    /// When profiles loaded at start were last used (Unix ns), until the engine says later.
    used_before: HashMap<ProfileKey, u64>,
    /// Evicting and expiring: when next, and how many so far.
    pub(super) eviction: Eviction,
}

/// A path as it was given to execve, made absolute with the process's working directory.
pub(super) fn absolute(path: &str, pid: u32) -> String {
    if path.starts_with('/') {
        return path.to_owned();
    }
    match std::fs::read_link(format!("/proc/{pid}/cwd")) {
        Ok(cwd) => {
            let mut out = cwd;
            for part in std::path::Path::new(path).components() {
                match part {
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    other => out.push(other),
                }
            }
            out.display().to_string()
        }
        Err(_) => path.to_owned(),
    }
}

/// When the profile of `key` was last used, in Unix nanoseconds (0: not known), as the
/// engine says (`u`), or, for a profile not used since this boot, as it was saved
/// (`used_before`).
fn last_used_unix(used_before: &HashMap<ProfileKey, u64>, key: &ProfileKey, u: &ProfileUse) -> u64 {
    if u.last_used > 1 {
        ebph_bpf::unix_ns_of(u.last_used)
    } else {
        used_before.get(key).copied().unwrap_or(0)
    }
}

/// What the engine is given for a saved profile's origin.
pub(super) fn usage_of(origin: &ProfileOrigin) -> ProfileUse {
    ProfileUse {
        tasks: 0,
        last_used: ebph_bpf::boot_ns_of(origin.last_used),
        unprivileged: origin.unprivileged,
        uid: origin.uid,
    }
}

impl Catalogue {
    /// Loads the saved profiles of `store` into `engine` (n-grams learned with another
    /// `ngram_length` are forgotten); the catalogue of them, and how many there were.
    pub(super) fn load(
        engine: &mut Engine,
        store: &Store,
        ngram_length: u8,
    ) -> Result<(Catalogue, usize)> {
        let mut catalogue = Catalogue {
            paths: HashMap::new(),
            used_before: HashMap::new(),
            eviction: Default::default(),
        };
        let mut saved = store.load_profiles()?;
        let mut refit = 0;
        for p in &mut saved {
            // Saved on the wall clock; the engine counts from boot.
            p.profile.normal_time = ebph_bpf::boot_ns_of(p.profile.normal_time);
            refit += usize::from(p.fit_ngram_length(ngram_length));
            engine
                .insert_profile(&p.key, &p.profile, &usage_of(&p.origin))
                .with_context(|| format!("loading the profile of {} ({})", p.path, p.key))?;
            catalogue.paths.insert(p.key, p.path.clone());
            catalogue.used_before.insert(p.key, p.origin.last_used);
        }
        if refit > 0 {
            tracing::warn!(
                "{refit} saved profiles learned their n-grams with another ngram-length than \
                 {ngram_length}: those n-grams are forgotten and learned again"
            );
        }
        Ok((catalogue, saved.len()))
    }

    /// The path of the profile of `key` (empty when unknown).
    pub(super) fn path_of(&self, key: &ProfileKey) -> String {
        self.paths.get(key).cloned().unwrap_or_default()
    }

    /// Names the profile of `key` by `path` (an import).
    pub(super) fn name(&mut self, key: ProfileKey, path: String) {
        self.paths.insert(key, path);
    }

    /// Learns the path of a new profile, or of an exec's when nothing better is known yet;
    /// true when `e` is a profile seen for the first time.
    pub(super) fn learn(&mut self, e: &ebph_bpf::Event) -> bool {
        // A new profile's path is the file's own (absolute, symlinks resolved); an exec's
        // is the name it was run by, used only when nothing better is known.
        let created = e.kind == EventType::PROFILE_CREATED && !e.path.is_empty();
        if !created && (e.kind != EventType::EXEC || self.paths.contains_key(&e.key)) {
            return false;
        }
        let path = if e.path.is_empty() {
            // A task that was running before the engine: its executable's path.
            std::fs::read_link(format!("/proc/{}/exe", e.pid))
                .map(|p| {
                    p.display()
                        .to_string()
                        .trim_end_matches(" (deleted)")
                        .to_owned()
                })
                .unwrap_or_default()
        } else {
            absolute(&e.path, e.pid)
        };
        if !path.is_empty() {
            self.paths.insert(e.key, path);
        }
        true
    }

    /// Every program known here (each profile of `engine`, and every path), by key.
    pub(super) fn known(&self, engine: &Engine) -> Result<Vec<(ProfileKey, String)>, ApiError> {
        let mut known: Vec<(ProfileKey, String)> = engine
            .profile_slots()?
            .into_iter()
            .map(|(k, _)| (k, self.path_of(&k)))
            .collect();
        known.extend(self.paths.iter().map(|(k, p)| (*k, p.clone())));
        known.sort();
        known.dedup();
        Ok(known)
    }

    /// What the store keeps of the profile in `slot` beyond the model.
    pub(super) fn origin_of(
        &self,
        engine: &Engine,
        key: &ProfileKey,
        slot: u32,
    ) -> Result<ProfileOrigin, EngineError> {
        let u = engine.profile_use(slot)?;
        Ok(ProfileOrigin {
            last_used: last_used_unix(&self.used_before, key, &u),
            unprivileged: u.unprivileged,
            uid: u.uid,
        })
    }

    /// Evicts profiles from `engine` when a table is nearly full (`eviction.rs`); those
    /// deleted, if any: [`Catalogue::forget`] them.
    pub(super) fn make_room(&mut self, engine: &Engine, now: Instant) -> Option<Deleted> {
        let used_before = &self.used_before;
        self.eviction
            .make_room(engine, now, |k, u| last_used_unix(used_before, k, u))
    }

    /// Deletes from `engine` the profiles unused for `expiry` (`profile-expiry`); those
    /// deleted, if any: [`Catalogue::forget`] them.
    pub(super) fn expire(
        &mut self,
        engine: &Engine,
        now: Instant,
        expiry: Option<Duration>,
    ) -> Option<Deleted> {
        let used_before = &self.used_before;
        self.eviction.expire(engine, now, expiry, |k, u| {
            last_used_unix(used_before, k, u)
        })
    }

    /// Forgets profiles deleted from the engine, here and in `store`.
    pub(super) fn forget(
        &mut self,
        store: &mut Store,
        keys: &[ProfileKey],
    ) -> Result<(), StoreError> {
        for key in keys {
            self.paths.remove(key);
            self.used_before.remove(key);
        }
        store.forget_profiles(keys).map(drop)
    }

    /// The key and slot in `engine` of the profile a request names.
    pub(super) fn resolve(
        &self,
        engine: &Engine,
        target: &Target,
    ) -> Result<(ProfileKey, u32), ApiError> {
        let slots = engine.profile_slots()?;
        let by_key = |key: ProfileKey, what: &str| {
            slots
                .iter()
                .find(|(k, _)| *k == key)
                .copied()
                .ok_or_else(|| ApiError::not_found(format!("no profile for {what}")))
        };
        if let Some(key) = &target.key {
            let key: ProfileKey = key
                .parse()
                .map_err(|e: ebph_core::ProfileKeyError| ApiError::bad_request(e.to_string()))?;
            return by_key(key, &format!("key {key}"));
        }
        if let Some(path) = &target.path {
            if let Some((key, _)) = self
                .paths
                .iter()
                .find(|(k, p)| *p == path && slots.iter().any(|(s, _)| s == *k))
            {
                return by_key(*key, path);
            }
            let meta = std::fs::metadata(path)
                .map_err(|e| ApiError::not_found(format!("no profile for {path}: {e}")))?;
            use std::os::unix::fs::MetadataExt;
            return by_key(
                ProfileKey {
                    dev: meta.dev(),
                    ino: meta.ino(),
                    script: 0,
                },
                path,
            );
        }
        if let Some(pid) = target.pid {
            let tasks = engine.tasks()?;
            let task = tasks.iter().find(|t| t.tid == pid).ok_or_else(|| {
                ApiError::not_found(format!("process {pid} is not tracked by ebph"))
            })?;
            return slots
                .iter()
                .find(|(_, slot)| *slot == task.profile)
                .copied()
                .ok_or_else(|| ApiError::not_found(format!("process {pid} has no profile")));
        }
        Err(ApiError::bad_request("name a profile by key, path or pid"))
    }
}
