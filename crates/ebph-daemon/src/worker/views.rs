//! What the API reads: status, profiles, processes, anomalies, exports, metrics.

use std::collections::HashMap;

use ebph_api::event::rfc3339;
use ebph_api::protocol::{self, NgramBits, Pair, ProfileDetail, ProfileSummary, Status, Target};
use ebph_bpf::{kernel_release, Engine};
use ebph_core::{Arch, Profile, ProfileKey, ProfileStatus, Syscall};

use super::Worker;
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
            vec![self.catalogue.resolve(&self.engine, target)?]
        };
        // Every program known here, to name the programs each profile executed.
        let known = self.catalogue.known(&self.engine)?;
        let mut profiles = Vec::new();
        for (key, slot) in slots {
            let stored = StoredProfile {
                key,
                path: self.catalogue.path_of(&key),
                profile: self.engine.profile(slot)?,
                origin: Default::default(),
                ngram_length: self.settings.current().ngram_length,
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
        let (saves, last_save_seconds) = self.saving.done();
        Ok(Snapshot {
            calls: self.engine.calls()?,
            anomalies: s.anomalies,
            profiles,
            tasks: s.tasks_tracked,
            events: self.counters.events(),
            held: self.holds.count(),
            events_lost: s.events_lost,
            holds_dropped: s.holds_dropped,
            anomalies_suppressed: s.anomalies_suppressed,
            evicted: self.catalogue.eviction.evicted,
            expired: self.catalogue.eviction.expired,
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
            saves,
            last_save_seconds,
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
            uptime_seconds: self.counters.uptime().as_secs(),
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
                profiles_evicted: self.catalogue.eviction.evicted,
                profiles_expired: self.catalogue.eviction.expired,
                budget_denied: s.budget_denied,
                reserve_denied: s.reserve_denied,
                scripts_unseen: s.scripts_unseen,
                runs_missed: self.engine.runs_missed(),
            },
            database: self.config.database().display().to_string(),
            last_save: self.saving.last().map(rfc3339),
            save_interval: humantime::format_duration(self.config.save_interval).to_string(),
            response: self.settings.current().response.to_string(),
            kernel: kernel_support(&self.engine),
            held: self.holds.count(),
            keeper_pid: self.holds.keeper_pid(),
            warnings: self
                .settings
                .warnings()
                .into_iter()
                .chain(self.holds.warning())
                .collect(),
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
            path: self.catalogue.path_of(key),
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

    pub(super) fn profile(&self, target: &Target) -> Result<ProfileDetail, ApiError> {
        let (key, slot) = self.catalogue.resolve(&self.engine, target)?;
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
        let mut programs: Vec<protocol::ExecutedProgram> = self
            .catalogue
            .known(&self.engine)?
            .into_iter()
            .filter(|(k, _)| p.train.knows_exec(k) || p.test.knows_exec(k))
            .map(|(k, path)| protocol::ExecutedProgram {
                path,
                key: k.to_string(),
                normal: p.test.knows_exec(&k),
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
            let held_ms = self.holds.held_ms(t.pid, ebph_bpf::boot_now_ns());
            out.push(protocol::Process {
                held_ms,
                pid: t.pid,
                tid: t.tid,
                comm,
                key: key.to_string(),
                path: self.catalogue.path_of(key),
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
