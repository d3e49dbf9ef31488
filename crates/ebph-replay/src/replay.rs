//! Training a profile on recorded processes, then testing others against it.

use ebph_core::{Arch, Profile, ProfileKey, Settings, Syscall, TaskState};
use serde::Serialize;

use crate::{Observed, ProcessTrace};

/// Trains one profile, one process at a time.
///
/// Each process starts as a freshly exec'd task (an empty window) and runs through every rule
/// of pH on a clock that stands still at 0: with the default `normal-wait` the profile may
/// freeze but does not become normal while training.
///
/// What a trace shows beside the calls ([`Observed`]) is learned and tested as the engine
/// does, in order with the calls. (A parsed trace holds only the traced program's calls: a
/// process that executes another program ends there.)
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// Calls the process made.
    pub calls: u64,
    /// Calls with at least one miss against the normal profile.
    pub anomalous_calls: u64,
    /// The highest locality frame count the process reached.
    pub max_lfc: u32,
    /// The execs and endpoints the normal profile did not know (novel execs and endpoints),
    /// in order. Each is an anomaly of its own in the process's locality frame.
    pub novel: Vec<Observed>,
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

    /// Trains on one process.
    pub fn train(&mut self, process: &ProcessTrace) {
        let mut task = TaskState::new();
        let mut start = 0;
        for o in &process.observations {
            let end = (o.call + 1).clamp(start, process.calls.len());
            self.train_calls(&mut task, &process.calls[start..end]);
            start = end;
            let settings = &self.settings;
            match &o.what {
                Observed::Endpoint(e) => {
                    self.profile.on_endpoint(&mut task, e, settings);
                }
                Observed::Exec(path) => {
                    let child = ProfileKey::of_path(path);
                    self.profile.on_exec(&mut task.run, &child, settings);
                }
            }
        }
        self.train_calls(&mut task, &process.calls[start..]);
        // The process's run of the program ends (it exited or executed another).
        self.profile.end_run(task.run, &self.settings);
        self.processes += 1;
    }

    #[inline]
    fn train_calls(&mut self, task: &mut TaskState, calls: &[Syscall]) {
        for &call in calls {
            let Some(call) = self.settings.seen_as(self.arch, call) else {
                continue;
            };
            self.profile.on_call(task, call, 0, &self.settings);
            if self.arch.is_sigreturn(call) {
                task.signal_returned();
            }
        }
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
    /// Tests one process.
    pub fn test(&self, process: &ProcessTrace) -> TestResult {
        let settings = &self.settings;
        let mut task = TaskState::new();
        let mut result = TestResult {
            calls: process.calls.len() as u64,
            ..TestResult::default()
        };
        let mut start = 0;
        for o in &process.observations {
            let end = (o.call + 1).clamp(start, process.calls.len());
            self.test_calls(&mut task, &process.calls[start..end], &mut result);
            start = end;
            let novel = match &o.what {
                Observed::Endpoint(e) => self.profile.detect_endpoint(&mut task, e, settings),
                Observed::Exec(path) => {
                    // The engine enters a novel exec in the frame of the new program, which
                    // is the same task; the trace follows the task no further.
                    let novel = self
                        .profile
                        .is_novel_exec(&ProfileKey::of_path(path), settings);
                    if novel {
                        task.locality.record(true, settings.locality_frame);
                    }
                    novel
                }
            };
            if novel {
                result.novel.push(o.what.clone());
                result.max_lfc = result.max_lfc.max(task.lfc());
            }
        }
        self.test_calls(&mut task, &process.calls[start..], &mut result);
        result
    }

    #[inline]
    fn test_calls(&self, task: &mut TaskState, calls: &[Syscall], result: &mut TestResult) {
        for &call in calls {
            let Some(call) = self.settings.seen_as(self.arch, call) else {
                continue;
            };
            if self
                .profile
                .detect(task, call, &self.settings)
                .is_anomalous()
            {
                result.anomalous_calls += 1;
            }
            result.max_lfc = result.max_lfc.max(task.lfc());
            if self.arch.is_sigreturn(call) {
                task.signal_returned();
            }
        }
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

    fn calls(nrs: &[u16]) -> ProcessTrace {
        ProcessTrace::of_calls(nrs.iter().map(|&n| Syscall::new(n).unwrap()).collect())
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
                max_lfc: 0,
                novel: vec![]
            }
        );
        let odd = detector.test(&calls(&[1, 3, 2, 4, 6]));
        assert_eq!(
            odd,
            TestResult {
                calls: 5,
                anomalous_calls: 4,
                max_lfc: 4,
                novel: vec![]
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

    fn strace(text: &str) -> Vec<ProcessTrace> {
        crate::parse(crate::Format::Strace, text.as_bytes(), Arch::X86_64).unwrap()
    }

    /// A service that connects to `port` on `addr`, then forks a child that runs
    /// `child_program` (whose calls after the exec are that program's).
    fn service(child_program: &str, addr: &str, port: u16) -> String {
        format!(
            "1 execve(\"/srv/service\", [\"service\"], 0x1 /* 1 var */) = 0\n\
             1 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n\
             1 connect(3, {{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr(\"{addr}\")}}, 16) = 0\n\
             1 write(3, \"q\", 1) = 1\n\
             1 read(3, \"a\", 1) = 1\n\
             1 clone(child_stack=NULL, flags=SIGCHLD) = 2\n\
             2 close(3) = 0\n\
             2 execve(\"{child_program}\", [\"x\"], 0x1 /* 1 var */) = 0\n\
             2 brk(NULL) = 0x1\n\
             2 mmap(NULL, 1, PROT_READ, MAP_PRIVATE, 3, 0) = 0x1\n\
             2 exit_group(0) = ?\n\
             1 wait4(-1, NULL, 0, NULL) = 2\n\
             1 exit_group(0) = ?\n"
        )
    }

    #[test]
    fn execs_and_endpoints_are_learned_then_novel_ones_reported() {
        let mut replay = Replay::new(Settings::default(), Arch::X86_64);
        for p in strace(&service("/usr/bin/cat", "127.0.0.1", 5432)) {
            replay.train(&p);
        }
        // The child's calls after its exec are cat's: not trained on (no brk or mmap pair).
        assert_eq!(replay.summary().train_count, 10);
        let tester = replay.normalize();
        let known = strace(&service("/usr/bin/cat", "127.0.0.1", 5432));
        let same: Vec<_> = known.iter().map(|p| tester.test(p)).collect();
        assert!(
            same.iter().all(|r| r.novel.is_empty() && r.max_lfc == 0),
            "{same:?}"
        );
        assert_eq!(
            same[1].calls, 2,
            "close and execve, not what the new program did"
        );

        let odd = strace(&service("/bin/sh", "93.184.216.34", 4444));
        let (parent, child) = (tester.test(&odd[0]), tester.test(&odd[1]));
        assert_eq!(
            parent.novel,
            [Observed::Endpoint(
                "connect inet public:4444".parse().unwrap()
            )]
        );
        assert_eq!((parent.anomalous_calls, parent.max_lfc), (0, 1));
        assert_eq!(child.novel, [Observed::Exec("/bin/sh".into())]);
        assert_eq!((child.anomalous_calls, child.max_lfc), (0, 1));

        // pH watches neither.
        let mut ph = Replay::new(Settings::ph(), Arch::X86_64);
        for p in strace(&service("/usr/bin/cat", "127.0.0.1", 5432)) {
            ph.train(&p);
        }
        let ph = ph.normalize();
        let results: Vec<_> = odd.iter().map(|p| ph.test(p)).collect();
        let calls = |calls| TestResult {
            calls,
            ..TestResult::default()
        };
        assert_eq!(results, [calls(8), calls(2)]);
    }
}
