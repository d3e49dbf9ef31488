//! What the API reads: status, profiles, processes, anomalies, exports, metrics.

use std::collections::HashMap;

use ebph_api::protocol::{self, NgramBits, Pair, ProfileDetail, ProfileSummary, Status, Target};
use ebph_bpf::{kernel_release, Engine};
use ebph_core::{Arch, Profile, ProfileKey, ProfileStatus, Syscall};

use super::{rfc3339, Worker};
use crate::mailbox::{ApiError, Snapshot};
use crate::store::StoredProfile;

impl Worker {
    pub(super) fn anomalies(&self, limit: u32) -> Result<Vec<protocol::Anomaly>, ApiError> {
        self.store.anomalies(limit).map_err(ApiError::internal)
    }

    pub(super) fn export(&self, target: &Target) -> Result<ebph_api::file::ProfileFile, ApiError> {
        let everyone = target.key.is_none() && target.path.is_none() && target.pid.is_none();
        let slots = if everyone {
            self.engine.profile_slots()?
        } else {
            vec![self.resolve(target)?]
        };
        // Every program known here, to name the programs each profile executed.
        let mut known: Vec<(ProfileKey, String)> = self
            .engine
            .profile_slots()?
            .into_iter()
            .map(|(k, _)| (k, self.path_of(&k)))
            .collect();
        known.extend(self.paths.iter().map(|(k, p)| (*k, p.clone())));
        known.sort();
        known.dedup();
        let mut profiles = Vec::new();
        for (key, slot) in slots {
            let stored = StoredProfile {
                key,
                path: self.path_of(&key),
                profile: self.engine.profile(slot)?,
                origin: Default::default(),
                ngram_length: self.settings.ngram_length,
            };
            profiles.push(ebph_api::file::FileProfile::from_stored(&stored, &known));
        }
        Ok(ebph_api::file::ProfileFile::new(profiles))
    }

    pub(super) fn metrics(&self) -> Result<Snapshot, ApiError> {
        let s = self.engine.stats();
        let c = self.engine.capacity();
        let mut profiles = [0u64; 3];
        for (_, slot) in self.engine.profile_slots()? {
            let p = self.engine.profile_counters(slot)?;
            profiles[p.status as usize] += 1;
        }
        Ok(Snapshot {
            calls: self.engine.calls()?,
            anomalies: s.anomalies,
            profiles,
            tasks: s.tasks_tracked,
            delays: self.delays,
            execve_refused: self.execve_refused,
            novel_execs: self.novel_execs,
            novel_endpoints: self.novel_endpoints,
            held: self.held.len() as u64,
            events_lost: s.events_lost,
            holds_dropped: s.holds_dropped,
            anomalies_suppressed: s.anomalies_suppressed,
            evicted: self.eviction.evicted,
            expired: self.eviction.expired,
            budget_denied: s.budget_denied,
            reserve_denied: s.reserve_denied,
            full: [s.profiles_full, s.rows_full, s.indexes_full, s.tasks_full],
            used: [
                profiles.iter().sum(),
                s.rows_used,
                s.indexes_used,
                s.tasks_tracked,
            ],
            capacity: [c.profiles, c.rows, c.indexes, c.tasks].map(u64::from),
            saves: self.saves,
            last_save_seconds: self.last_save_seconds,
        })
    }

    pub(super) fn status(&self) -> Result<Status, ApiError> {
        let s = self.engine.stats();
        let slots = self.engine.profile_slots()?;
        let mut normal = 0;
        for (_, slot) in &slots {
            if self.engine.profile_counters(*slot)?.status == ProfileStatus::Normal {
                normal += 1;
            }
        }
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            uptime_seconds: self.started.elapsed().as_secs(),
            profiles: slots.len() as u64,
            normal_profiles: normal,
            tasks: s.tasks_tracked,
            engine: protocol::EngineStats {
                profiles_created: s.profiles_created,
                profiles_full: s.profiles_full,
                rows_full: s.rows_full,
                indexes_full: s.indexes_full,
                tasks_full: s.tasks_full,
                events_lost: s.events_lost,
                anomalies: s.anomalies,
                rows_used: s.rows_used,
                indexes_used: s.indexes_used,
                holds_dropped: s.holds_dropped,
                anomalies_suppressed: s.anomalies_suppressed,
                profiles_evicted: self.eviction.evicted,
                profiles_expired: self.eviction.expired,
                budget_denied: s.budget_denied,
                reserve_denied: s.reserve_denied,
                scripts_unseen: s.scripts_unseen,
                runs_missed: self.engine.runs_missed(),
            },
            database: self.config.database().display().to_string(),
            last_save: self.last_save.map(rfc3339),
            save_interval: humantime::format_duration(self.config.save_interval).to_string(),
            response: self.settings.response.to_string(),
            kernel: kernel_support(&self.engine),
            held: self.held.len() as u64,
            keeper_pid: (!self.holds_off).then(|| self.keeper.pid()),
            warnings: self.setting_warnings(),
        })
    }

    pub(super) fn summary(
        &self,
        key: &ProfileKey,
        slot: u32,
        p: &Profile,
    ) -> Result<ProfileSummary, ApiError> {
        Ok(ProfileSummary {
            key: key.to_string(),
            path: self.path_of(key),
            status: p.status.to_string(),
            train_count: p.train_count,
            last_mod_count: p.last_mod_count,
            sequences: p.sequences,
            anomalies: p.anomalies,
            repeats: p.repeats,
            train_partial: p.train_partial,
            normal_time: (p.status == ProfileStatus::Frozen)
                .then(|| rfc3339(ebph_bpf::wall_time(p.normal_time))),
            lookahead_pairs: p.train.lookahead_pairs(),
            ngram_bits: p.train.ngram_bits_set(),
            memory_bytes: self.engine.profile_memory(slot)? as u64,
        })
    }

    pub(super) fn profiles(&self) -> Result<Vec<ProfileSummary>, ApiError> {
        let mut out = Vec::new();
        for (key, slot) in self.engine.profile_slots()? {
            let p = self.engine.profile(slot)?;
            out.push(self.summary(&key, slot, &p)?);
        }
        out.sort_by(|a, b| a.path.cmp(&b.path).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    /// The key and slot of the profile a request names.
    pub(super) fn resolve(&self, target: &Target) -> Result<(ProfileKey, u32), ApiError> {
        let slots = self.engine.profile_slots()?;
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
            let tasks = self.engine.tasks()?;
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

    pub(super) fn profile(&self, target: &Target) -> Result<ProfileDetail, ApiError> {
        let (key, slot) = self.resolve(target)?;
        let p = self.engine.profile(slot)?;
        let pairs = p
            .train
            .entries()
            .filter(|(curr, _, _)| !curr.is_pseudo())
            .map(|(curr, prev, flags)| Pair {
                call: Arch::X86_64.display_name(curr),
                prev: Arch::X86_64.display_name(prev),
                distances: (1..=8).filter(|d| flags & (1 << (d - 1)) != 0).collect(),
            })
            .collect();
        let ngrams = (0..ebph_core::MAX_SYSCALLS as u16)
            .filter_map(Syscall::new)
            .filter(|curr| !curr.is_pseudo())
            .filter_map(|curr| {
                let bits: Vec<u16> = ebph_core::ngram::bits_of(p.train.ngram_row(curr)?).collect();
                (!bits.is_empty()).then(|| NgramBits {
                    call: Arch::X86_64.display_name(curr),
                    false_hit_rate: ebph_core::ngram::false_hit_rate(bits.len()),
                    bits,
                })
            })
            .collect();
        Ok(ProfileDetail {
            summary: self.summary(&key, slot, &p)?,
            pairs,
            ngrams,
            execs: self.execs_of(&p)?,
            endpoints: endpoints_of(&p),
        })
    }

    /// The programs profile `p` executed, of those the daemon knows (a profile or a path).
    fn execs_of(&self, p: &Profile) -> Result<protocol::Execs, ApiError> {
        let bits = p.train.exec_bits_set();
        let mut known: Vec<ProfileKey> = self
            .engine
            .profile_slots()?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        known.extend(self.paths.keys().copied());
        known.sort();
        known.dedup();
        let mut programs: Vec<protocol::ExecutedProgram> = known
            .iter()
            .filter(|k| p.train.knows_exec(k) || p.test.knows_exec(k))
            .map(|k| protocol::ExecutedProgram {
                path: self.path_of(k),
                key: k.to_string(),
                normal: p.test.knows_exec(k),
            })
            .collect();
        programs.sort_by(|a, b| a.path.cmp(&b.path).then(a.key.cmp(&b.key)));
        Ok(protocol::Execs {
            bits,
            false_hit_rate: ebph_core::ngram::false_hit_rate(bits as usize),
            programs,
        })
    }

    pub(super) fn processes(&self, threads: bool) -> Result<Vec<protocol::Process>, ApiError> {
        let slots = self.engine.profile_slots()?;
        let mut profiles = HashMap::new();
        for (key, slot) in slots {
            let p = self.engine.profile_counters(slot)?;
            profiles.insert(slot, (key, p.status, p.anomalies));
        }
        let mut out = Vec::new();
        for t in self.engine.tasks()? {
            if !threads && t.tid != t.pid {
                continue;
            }
            let Some((key, status, anomalies)) = profiles.get(&t.profile) else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{}/task/{}/comm", t.pid, t.tid))
                .map(|c| c.trim_end().to_owned())
                .unwrap_or_default();
            let now = ebph_bpf::boot_now_ns();
            let held_ms = self
                .held
                .get(&t.pid)
                .filter(|&&until| until > now)
                .map(|&until| (until - now) / 1_000_000);
            out.push(protocol::Process {
                held_ms,
                pid: t.pid,
                tid: t.tid,
                comm,
                key: key.to_string(),
                path: self.path_of(key),
                status: status.to_string(),
                lfc: t.lfc,
                anomalies: *anomalies,
            });
        }
        Ok(out)
    }
}

/// What `engine` chose on this kernel (once attached).
pub(super) fn kernel_support(engine: &Engine) -> protocol::KernelSupport {
    let lsm = engine.bpf_lsm();
    protocol::KernelSupport {
        release: kernel_release(),
        bpf_lsm: lsm.is_available(),
        bpf_lsm_unavailable: lsm.reason().map(str::to_owned),
        execve_suspension: engine.execve_suspension().to_owned(),
        delays: "sigstop".to_owned(),
    }
}

/// The endpoints profile `p` used, as its tables list them: what is normal, then what only
/// the train table has.
fn endpoints_of(p: &Profile) -> protocol::Endpoints {
    let bits = p.train.endpoint_bits_set();
    let mut listed = p.test.endpoints();
    for e in p.train.endpoints() {
        if !listed.contains(&e) {
            listed.push(e);
        }
    }
    protocol::Endpoints {
        bits,
        false_hit_rate: ebph_core::ngram::false_hit_rate(bits as usize),
        listed: listed
            .iter()
            .map(|e| protocol::UsedEndpoint {
                endpoint: e.to_string(),
                normal: p.test.knows_endpoint(e),
            })
            .collect(),
    }
}
