//! The engine's counters: `struct ebph_stats`, the calls counted per CPU, and the runs the
//! kernel skipped.

use libbpf_rs::{MapCore, MapFlags};

use super::Engine;
use crate::abi::{expect_len, Bytes};
use crate::error::Context;
use crate::layout::cpu_cache;
use crate::{EngineError, Stats};

impl Engine {
    /// Runs of the engine's programs the kernel skipped because the program was already
    /// running on that CPU (`recursion_misses`, from `/proc/self/fdinfo`): a call, an exec,
    /// a fork, an exit or a signal the engine did not see. Normally 0.
    pub fn runs_missed(&self) -> u64 {
        use std::os::fd::{AsFd, AsRawFd};
        let p = &self.skel.progs;
        [
            p.ebph_sys_enter.as_fd().as_raw_fd(),
            p.ebph_exec.as_fd().as_raw_fd(),
            p.ebph_fork.as_fd().as_raw_fd(),
            p.ebph_exit.as_fd().as_raw_fd(),
            p.ebph_signal.as_fd().as_raw_fd(),
        ]
        .into_iter()
        .filter_map(|fd| std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("recursion_misses:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
    }

    /// The engine's counters.
    pub fn stats(&self) -> Stats {
        let s = &self.bss().stats;
        Stats {
            profiles_created: s.profiles_created,
            profiles_full: s.profiles_full,
            rows_full: s.rows_full,
            indexes_full: s.indexes_full,
            tasks_full: s.tasks_full,
            tasks_tracked: s.tasks_tracked,
            events_lost: s.events_lost,
            records_lost: s.records_lost,
            anomalies: s.anomalies,
            rows_used: s.rows_used,
            indexes_used: s.indexes_used,
            holds_dropped: s.holds_dropped,
            anomalies_suppressed: s.anomalies_suppressed,
            profiles_used: s.profiles_used,
            budget_denied: s.budget_denied,
            reserve_denied: s.reserve_denied,
            scripts_unseen: s.scripts_unseen,
        }
    }

    /// Calls of tracked tasks the engine has seen, on every CPU, since it was loaded.
    pub fn calls(&self) -> Result<u64, EngineError> {
        let per_cpu = self
            .skel
            .maps
            .cpu_cache
            .lookup_percpu(&0u32.to_le_bytes(), MapFlags::ANY)
            .context("reading the per-CPU counters")?
            .unwrap_or_default();
        let mut total = 0;
        for value in per_cpu {
            expect_len("a per-CPU cache", &value, cpu_cache::SIZE)?;
            total += Bytes(&value).u64(cpu_cache::CALLS);
        }
        Ok(total)
    }
}
