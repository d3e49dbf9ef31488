//! The settings the engine runs with (`settings` in `state.h`), the allowlist (`exempt`), and
//! the switches only the daemon and the tests use.

use ebph_core::{ResponseMode, Settings};
use libbpf_rs::{MapCore, MapFlags};

use super::Engine;
use crate::error::Context;
use crate::layout_skel::types::ebph_response;
use crate::EngineError;

impl Engine {
    /// Writes the settings the engine uses from its next call on. The caller validates them
    /// (`Settings::validate`).
    pub fn set_settings(&mut self, settings: &Settings) {
        let s = &mut self.data().settings;
        s.window = settings.window.into();
        s.locality_frame = settings.locality_frame.into();
        s.normal_factor = settings.normal_factor;
        s.normal_factor_den = settings.normal_factor_den;
        s.normal_wait_ns = settings.normal_wait_ns();
        s.anomaly_limit = settings.anomaly_limit;
        s.tolerize_limit = settings.tolerize_limit;
        s.response = match settings.response {
            ResponseMode::Monitor => ebph_response::EBPH_MONITOR,
            ResponseMode::Delay => ebph_response::EBPH_DELAY,
            ResponseMode::Enforce => ebph_response::EBPH_ENFORCE,
        }
        .0;
        s.delay_factor_ns = u64::try_from(settings.delay_factor.as_nanos()).unwrap_or(u64::MAX);
        s.max_delay_ns = u64::try_from(settings.max_delay.as_nanos()).unwrap_or(u64::MAX);
        s.suspend_execve = settings.suspend_execve;
        s.delay_threshold = settings.delay_threshold;
        s.user_profiles = settings.user_profiles;
        s.detector = settings.detector.bits();
        s.ngram_length = settings.ngram_length;
        s.fold_loops = settings.fold_loops;
        s.accept_after = settings.accept_after;
        s.skip_brk = settings.skip_brk.into();
        s.skip_heap_mmap = settings.skip_heap_mmap.into();
        s.watch_execs = settings.watch_execs.into();
        s.watch_endpoints = settings.watch_endpoints.into();
    }

    /// Exempts the tasks of the profile in `slot` from delays and execve suspension (the
    /// allowlist), or stops exempting them.
    pub fn set_exempt(&self, slot: u32, exempt: bool) -> Result<(), EngineError> {
        self.skel
            .maps
            .exempt
            .update(
                &slot.to_le_bytes(),
                &u32::from(exempt).to_le_bytes(),
                MapFlags::ANY,
            )
            .context("updating the allowlist")
    }

    /// The process whose tasks the engine never tracks (the daemon's own).
    pub fn set_daemon_pid(&mut self, pid: u32) {
        self.data().settings.daemon_tgid = pid;
    }

    /// Test-only: send every exec, fork, signal, call and exit of a tracked task to the
    /// records ring buffer (which must have been given space in [`Capacity::record_bytes`]).
    pub fn set_recording(&mut self, on: bool) {
        self.data().settings.record = u32::from(on);
    }
}
