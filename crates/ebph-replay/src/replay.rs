//! Training a profile on recorded processes, then testing others against it.

use ebph_core::{Arch, Profile, Settings, Syscall, TaskState};
use serde::Serialize;

/// Trains one profile, one process at a time.
///
/// Each process starts as a freshly exec'd task (an empty window) and runs through every rule
/// of pH on a clock that stands still at 0: with the default `normal-wait` the profile may
/// freeze but does not become normal while training.
#[derive(Clone, Debug)]
pub struct Replay {
    settings: Settings,
    arch: Arch,
    profile: Profile,
    processes: u64,
}

/// What training learned, taken just before the profile is normalized (normalizing starts
/// the training count again).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Processes trained on.
    pub train_processes: u64,
    /// Calls seen while training.
    pub train_count: u64,
    /// Calls that taught the profile something new.
    pub sequences: u64,
    /// Distinct lookahead pairs `(call, earlier call, distance)` learned.
    pub lookahead_pairs: u64,
    /// The n-gram bits set in the train table (about two per distinct n-gram).
    pub ngram_bits: u64,
}

/// The detector's raw view of one test process: every call is tested, however many anomalies
/// came before (the anomaly limit does not cut it short).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// Calls the process made.
    pub calls: u64,
    /// Calls with at least one miss against the normal profile.
    pub anomalous_calls: u64,
    /// The highest locality frame count the process reached.
    pub max_lfc: u32,
}

impl Replay {
    /// An empty profile to train, with these settings; `arch` decides which call returns from
    /// a signal handler.
    pub fn new(settings: Settings, arch: Arch) -> Replay {
        Replay {
            settings,
            arch,
            profile: Profile::new(),
            processes: 0,
        }
    }

    /// Trains on one process's calls.
    pub fn train(&mut self, calls: &[Syscall]) {
        let mut task = TaskState::new();
        for &call in calls {
            if self.settings.skips(self.arch, call) {
                continue;
            }
            self.profile.on_call(&mut task, call, 0, &self.settings);
            if self.arch.is_sigreturn(call) {
                task.signal_returned();
            }
        }
        self.processes += 1;
    }

    /// The profile as trained so far.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// What has been learned so far.
    pub fn summary(&self) -> Summary {
        Summary {
            train_processes: self.processes,
            train_count: self.profile.train_count,
            sequences: self.profile.sequences,
            lookahead_pairs: self.profile.train.lookahead_pairs(),
            ngram_bits: self.profile.train.ngram_bits_set(),
        }
    }

    /// Ends training: normalizes the profile and returns the detector that tests against it.
    pub fn normalize(mut self) -> Tester {
        let summary = self.summary();
        self.profile.normalize();
        Tester {
            settings: self.settings,
            arch: self.arch,
            profile: self.profile,
            summary,
        }
    }
}

/// Tests processes against a normalized profile. Testing changes nothing, so results do not
/// depend on the order the processes are tested in.
#[derive(Clone, Debug)]
pub struct Tester {
    settings: Settings,
    arch: Arch,
    profile: Profile,
    summary: Summary,
}

impl Tester {
    /// Tests one process's calls.
    pub fn test(&self, calls: &[Syscall]) -> TestResult {
        let mut task = TaskState::new();
        let mut result = TestResult {
            calls: calls.len() as u64,
            ..TestResult::default()
        };
        for &call in calls {
            if self.settings.skips(self.arch, call) {
                continue;
            }
            if self
                .profile
                .detect(&mut task, call, &self.settings)
                .is_anomalous()
            {
                result.anomalous_calls += 1;
            }
            result.max_lfc = result.max_lfc.max(task.lfc());
            if self.arch.is_sigreturn(call) {
                task.signal_returned();
            }
        }
        result
    }

    /// The same trained profile, testing with detector `detector` (training learns pairs and
    /// n-grams alike, so one training serves every detector).
    pub fn with_detector(&self, detector: ebph_core::Detector) -> Tester {
        let mut tester = self.clone();
        tester.settings.detector = detector;
        tester
    }

    /// What training learned.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The normalized profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(nrs: &[u16]) -> Vec<Syscall> {
        nrs.iter().map(|&n| Syscall::new(n).unwrap()).collect()
    }

    #[test]
    fn trains_then_tests_against_the_normal_snapshot() {
        let mut replay = Replay::new(Settings::default(), Arch::X86_64);
        replay.train(&calls(&[1, 2, 3, 4]));
        replay.train(&calls(&[1, 2, 3, 5]));
        let detector = replay.normalize();
        let s = detector.summary();
        assert_eq!((s.train_processes, s.train_count), (2, 8));
        // 1-2-3-4 teaches 6 pairs, 5 after 3-2-1 three more.
        assert_eq!((s.sequences, s.lookahead_pairs), (4, 9));
        assert_eq!(
            detector.test(&calls(&[1, 2, 3, 4])),
            TestResult {
                calls: 4,
                anomalous_calls: 0,
                max_lfc: 0
            }
        );
        let odd = detector.test(&calls(&[1, 3, 2, 4, 6]));
        assert_eq!(
            odd,
            TestResult {
                calls: 5,
                anomalous_calls: 4,
                max_lfc: 4
            }
        );
    }

    #[test]
    fn tests_are_not_cut_short_by_the_anomaly_limit() {
        let settings = Settings {
            anomaly_limit: 1,
            ..Settings::default()
        };
        let mut replay = Replay::new(settings, Arch::X86_64);
        replay.train(&calls(&[1, 2]));
        let detector = replay.normalize();
        let many: Vec<u16> = (3..60).collect();
        let result = detector.test(&calls(&many));
        // 57 calls: the first has no window, and 12 (brk) is not seen.
        assert_eq!(result.anomalous_calls, 55);
        assert_eq!(result.max_lfc, 55);
        let mut ph = Replay::new(Settings::ph(), Arch::X86_64);
        ph.train(&calls(&[1, 2]));
        assert_eq!(
            ph.normalize().test(&calls(&many)).anomalous_calls,
            56,
            "pH sees brk"
        );
        // And the order of tests does not matter.
        assert_eq!(detector.test(&calls(&[1, 2])).anomalous_calls, 0);
    }
}
