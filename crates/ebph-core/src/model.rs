//! The whole system in miniature: many profiles, many tasks, and the events that join them.

use std::collections::{BTreeMap, HashMap};

use crate::{Arch, CallOutcome, Endpoint, Profile, ProfileKey, Settings, Syscall, TaskState};

/// A kernel task id (a thread id; the main thread's equals its process id).
pub type Tid = u32;

/// Something that happened to a task, in the order the kernel engine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelEvent {
    /// `tid` executed the program whose profile is `key`.
    Exec {
        /// The task.
        tid: Tid,
        /// The executable's profile.
        key: ProfileKey,
    },
    /// `parent` created `child` (fork, vfork, clone or a new thread).
    Fork {
        /// The creating task.
        parent: Tid,
        /// The new task.
        child: Tid,
    },
    /// A signal is being delivered to a user handler of `tid`.
    Signal {
        /// The task.
        tid: Tid,
    },
    /// `tid` entered system call `call` at time `now`.
    Syscall {
        /// The task.
        tid: Tid,
        /// The call.
        call: Syscall,
        /// The time, on the clock of `normal_time` (nanoseconds).
        now: u64,
    },
    /// `tid`, at the `bind` or `connect` call it just made (an earlier
    /// [`ModelEvent::Syscall`]), bound, connected or sent to `endpoint`.
    Endpoint {
        /// The task.
        tid: Tid,
        /// The endpoint.
        endpoint: Endpoint,
    },
    /// `tid` exited.
    Exit {
        /// The task.
        tid: Tid,
    },
}

/// A tracked task: the profile it runs under and its pH state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Task {
    profile: ProfileKey,
    state: TaskState,
}

/// Every profile and tracked task of a system, driven by [`ModelEvent`]s.
///
/// A task is tracked from its first exec (or from a fork of a tracked task) until it exits;
/// calls of untracked tasks are ignored, as the kernel engine ignores tasks it has not seen
/// exec.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// The settings every call uses.
    pub settings: Settings,
    /// The numbering of the calls (decides which call returns from a signal handler).
    pub arch: Arch,
    profiles: BTreeMap<ProfileKey, Profile>,
    tasks: HashMap<Tid, Task>,
}

impl Model {
    /// An empty system.
    pub fn new(settings: Settings, arch: Arch) -> Model {
        Model {
            settings,
            arch,
            ..Model::default()
        }
    }

    /// Applies one event. For a call of a tracked task, returns what the call did.
    pub fn apply(&mut self, event: ModelEvent) -> Option<CallOutcome> {
        match event {
            ModelEvent::Exec { tid, key } => {
                // The program that executes learns (or flags) what it executed, within the
                // run the exec ends.
                let mut novel = false;
                if let Some(task) = self.tasks.get_mut(&tid) {
                    if let Some(profile) = self.profiles.get_mut(&task.profile) {
                        novel = profile
                            .on_exec(&mut task.state.run, &key, &self.settings)
                            .novel;
                    }
                }
                self.end_run(tid);
                self.profiles.entry(key).or_default();
                let task = self.tasks.entry(tid).or_insert(Task {
                    profile: key,
                    state: TaskState::new(),
                });
                task.profile = key;
                task.state.exec();
                if novel {
                    // The new program starts with the novel exec in its locality frame.
                    task.state
                        .locality
                        .record(true, self.settings.locality_frame);
                }
                None
            }
            ModelEvent::Fork { parent, child } => {
                if let Some(&task) = self.tasks.get(&parent) {
                    self.tasks.insert(
                        child,
                        Task {
                            profile: task.profile,
                            state: task.state.fork(),
                        },
                    );
                }
                None
            }
            ModelEvent::Signal { tid } => {
                if let Some(task) = self.tasks.get_mut(&tid) {
                    task.state.signal_delivered();
                }
                None
            }
            ModelEvent::Syscall { tid, call, now } => {
                let task = self.tasks.get_mut(&tid)?;
                let Some(call) = self.settings.seen_as(self.arch, call) else {
                    return Some(CallOutcome {
                        lfc: task.state.lfc(),
                        ..CallOutcome::default()
                    });
                };
                let profile = self
                    .profiles
                    .get_mut(&task.profile)
                    .expect("a tracked task's profile exists");
                let outcome = profile.on_call(&mut task.state, call, now, &self.settings);
                if self.arch.is_sigreturn(call) {
                    task.state.signal_returned();
                }
                Some(outcome)
            }
            ModelEvent::Endpoint { tid, endpoint } => {
                let task = self.tasks.get_mut(&tid)?;
                let profile = self
                    .profiles
                    .get_mut(&task.profile)
                    .expect("a tracked task's profile exists");
                profile.on_endpoint(&mut task.state, &endpoint, &self.settings);
                None
            }
            ModelEvent::Exit { tid } => {
                self.end_run(tid);
                self.tasks.remove(&tid);
                None
            }
        }
    }

    /// The run of task `tid` (if tracked) ends: its profile may accept what it repeated.
    /// (The task's run starts afresh at its exec; at its exit the task is gone.)
    fn end_run(&mut self, tid: Tid) {
        if let Some(task) = self.tasks.get(&tid) {
            if let Some(profile) = self.profiles.get_mut(&task.profile) {
                profile.end_run(task.state.run, &self.settings);
            }
        }
    }

    /// Adds a saved profile (replacing any of the same key).
    pub fn insert_profile(&mut self, key: ProfileKey, profile: Profile) {
        self.profiles.insert(key, profile);
    }

    /// The profile of `key`.
    pub fn profile(&self, key: &ProfileKey) -> Option<&Profile> {
        self.profiles.get(key)
    }

    /// The profile of `key`, to change (for the admin operations).
    pub fn profile_mut(&mut self, key: &ProfileKey) -> Option<&mut Profile> {
        self.profiles.get_mut(key)
    }

    /// Every profile, by key.
    pub fn profiles(&self) -> impl Iterator<Item = (&ProfileKey, &Profile)> {
        self.profiles.iter()
    }

    /// The profile key and state of a tracked task.
    pub fn task(&self, tid: Tid) -> Option<(ProfileKey, &TaskState)> {
        self.tasks.get(&tid).map(|t| (t.profile, &t.state))
    }

    /// How many tasks are tracked.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u16) -> Syscall {
        Syscall::new(n).unwrap()
    }

    fn call(tid: Tid, n: u16) -> ModelEvent {
        ModelEvent::Syscall {
            tid,
            call: s(n),
            now: 0,
        }
    }

    const LS: ProfileKey = ProfileKey {
        dev: 1,
        ino: 10,
        script: 0,
    };
    const SH: ProfileKey = ProfileKey {
        dev: 1,
        ino: 20,
        script: 0,
    };

    #[test]
    fn untracked_tasks_are_ignored() {
        let mut m = Model::default();
        assert_eq!(m.apply(call(5, 1)), None);
        m.apply(ModelEvent::Fork {
            parent: 5,
            child: 6,
        });
        assert_eq!(m.task_count(), 0);
        assert_eq!(m.profiles().count(), 0);
    }

    #[test]
    fn exec_creates_and_switches_profiles() {
        let mut m = Model::default();
        m.apply(ModelEvent::Exec { tid: 1, key: SH });
        m.apply(call(1, 1));
        m.apply(call(1, 2));
        m.apply(ModelEvent::Exec { tid: 1, key: LS });
        assert!(m.task(1).unwrap().1.sequence().is_empty());
        m.apply(call(1, 3));
        m.apply(call(1, 4));
        assert_eq!(m.profile(&SH).unwrap().train_count, 2);
        assert_eq!(m.profile(&LS).unwrap().train.get(s(4), s(3)), 1);
        assert_eq!(m.profile(&LS).unwrap().train.get(s(3), s(2)), 0);
    }

    #[test]
    fn children_share_the_profile_and_continue_the_sequence() {
        let mut m = Model::default();
        m.apply(ModelEvent::Exec { tid: 1, key: SH });
        m.apply(call(1, 1));
        m.apply(ModelEvent::Fork {
            parent: 1,
            child: 2,
        });
        m.apply(call(2, 2));
        assert_eq!(m.profile(&SH).unwrap().train.get(s(2), s(1)), 1);
        m.apply(ModelEvent::Exit { tid: 2 });
        assert!(m.task(2).is_none());
        assert_eq!(m.task_count(), 1);
    }

    #[test]
    fn runs_end_at_exit_and_at_exec_and_children_start_their_own() {
        let settings = Settings {
            accept_after: 1,
            normal_wait: std::time::Duration::ZERO,
            ..Settings::ph()
        };
        let mut m = Model::new(settings, Arch::X86_64);
        let run = |m: &mut Model, tid: Tid, calls: &[u16]| {
            m.apply(ModelEvent::Exec { tid, key: SH });
            for &c in calls {
                m.apply(call(tid, c));
            }
        };
        run(&mut m, 1, &[1, 2, 3]);
        m.profile_mut(&SH).unwrap().normalize();
        // Teaches 5 after 2; the run ends at the exec of ls.
        run(&mut m, 1, &[1, 2, 5]);
        m.apply(ModelEvent::Exec { tid: 1, key: LS });
        assert_eq!(m.profile(&SH).unwrap().repeats, 0);
        // A child of an anomalous task that does nothing itself repeats nothing.
        run(&mut m, 2, &[1, 2, 5]);
        m.apply(ModelEvent::Fork {
            parent: 2,
            child: 3,
        });
        m.apply(ModelEvent::Exit { tid: 3 });
        assert_eq!(m.profile(&SH).unwrap().test.get(s(5), s(2)), 0);
        // The parent's run, anomalous and teaching nothing, is the repeat.
        m.apply(ModelEvent::Exit { tid: 2 });
        let sh = m.profile(&SH).unwrap();
        assert_eq!(sh.test.get(s(5), s(2)), 1, "accepted at the parent's exit");
        assert_eq!(sh.status, crate::ProfileStatus::Normal);
    }

    const CAT: ProfileKey = ProfileKey {
        dev: 1,
        ino: 30,
        script: 0,
    };

    /// `tid` runs `sh`, which execs `child` (a fork would share sh's profile all the same).
    fn sh_runs(m: &mut Model, tid: Tid, child: ProfileKey) {
        m.apply(ModelEvent::Exec { tid, key: SH });
        m.apply(call(tid, 1));
        m.apply(ModelEvent::Exec { tid, key: child });
        m.apply(call(tid, 2));
        m.apply(ModelEvent::Exit { tid });
    }

    #[test]
    fn execs_are_learned_and_a_novel_one_is_an_anomaly() {
        let mut m = Model::new(Settings::default(), Arch::X86_64);
        sh_runs(&mut m, 1, LS);
        let sh = m.profile(&SH).unwrap();
        assert!(sh.train.knows_exec(&LS));
        assert!(!sh.train.knows_exec(&CAT));
        assert_eq!(
            sh.sequences, 1,
            "the exec was new (its one call had no window)"
        );
        assert!(!m.profile(&LS).unwrap().train.has_execs());
        m.profile_mut(&SH).unwrap().normalize();

        // What it learned is normal: the new program starts with a clean frame.
        m.apply(ModelEvent::Exec { tid: 2, key: SH });
        m.apply(ModelEvent::Exec { tid: 2, key: LS });
        assert_eq!(m.task(2).unwrap().1.lfc(), 0);
        assert_eq!(m.profile(&SH).unwrap().anomalies, 0);

        // A program it never ran: an anomaly of sh, in the frame of the program it started.
        m.apply(ModelEvent::Exec { tid: 3, key: SH });
        m.apply(ModelEvent::Exec { tid: 3, key: CAT });
        assert_eq!(m.task(3).unwrap().1.lfc(), 1);
        let sh = m.profile(&SH).unwrap();
        assert_eq!(sh.anomalies, 1);
        assert!(sh.train.knows_exec(&CAT), "learned in train");
        assert!(!sh.test.knows_exec(&CAT), "not normal for that");
        assert_eq!(m.profile(&CAT).unwrap().anomalies, 0);
        let out = m.apply(call(3, 5)).unwrap();
        assert_eq!(out.lfc, 1, "the next call sees it");
    }

    #[test]
    fn execs_follow_the_tables_life_cycle() {
        let settings = Settings {
            accept_after: 1,
            normal_wait: std::time::Duration::ZERO,
            anomaly_limit: 3,
            ..Settings::default()
        };
        let mut m = Model::new(settings, Arch::X86_64);
        sh_runs(&mut m, 1, LS);
        let sh = m.profile_mut(&SH).unwrap();
        sh.status = crate::ProfileStatus::Frozen;
        // A new exec is new behaviour: a frozen profile trains again.
        sh_runs(&mut m, 2, CAT);
        assert_eq!(
            m.profile(&SH).unwrap().status,
            crate::ProfileStatus::Training
        );
        m.profile_mut(&SH).unwrap().normalize();
        // Accepting: one run teaches nothing (cat is in train) and is anomalous: accepted.
        sh_runs(&mut m, 3, CAT);
        let sh = m.profile(&SH).unwrap();
        assert!(sh.test.knows_exec(&CAT));
        assert_eq!(sh.anomalies, 0, "normal anew");
        // Forgetting the training data forgets what it ran.
        let mut sh = sh.clone();
        sh.sensitize();
        assert!(!sh.train.has_execs() && sh.test.knows_exec(&CAT));
        // Past anomaly-limit, novel execs send the profile back to training.
        let keys: Vec<ProfileKey> = (40..44).map(|ino| ProfileKey { ino, ..CAT }).collect();
        for (i, &key) in keys.iter().enumerate() {
            sh_runs(&mut m, 10 + i as Tid, key);
        }
        let sh = m.profile(&SH).unwrap();
        assert_eq!(sh.status, crate::ProfileStatus::Training);
        assert!(!sh.test.has_execs());
        assert!(keys.iter().all(|k| sh.train.knows_exec(k)));
    }

    #[test]
    fn endpoints_are_learned_and_a_novel_one_is_an_anomaly_at_once() {
        let endpoint = |s: &str| -> Endpoint { s.parse().unwrap() };
        let db = endpoint("connect inet loopback:5432");
        let out = endpoint("connect inet public:4444");
        let run = |m: &mut Model, tid: Tid, e: Endpoint| {
            m.apply(ModelEvent::Exec { tid, key: SH });
            m.apply(call(tid, 42));
            m.apply(ModelEvent::Endpoint { tid, endpoint: e });
        };
        let mut m = Model::new(Settings::default(), Arch::X86_64);
        run(&mut m, 1, db);
        let sh = m.profile(&SH).unwrap();
        assert!(sh.train.knows_endpoint(&db) && !sh.train.knows_endpoint(&out));
        assert_eq!(sh.train.endpoint_bits_set(), 2);
        m.profile_mut(&SH).unwrap().normalize();
        run(&mut m, 2, db);
        assert_eq!(m.task(2).unwrap().1.lfc(), 0);
        run(&mut m, 3, out);
        assert_eq!(
            m.task(3).unwrap().1.lfc(),
            1,
            "an anomaly of the task, at once"
        );
        let sh = m.profile(&SH).unwrap();
        assert_eq!(sh.anomalies, 1);
        assert!(sh.train.knows_endpoint(&out) && !sh.test.knows_endpoint(&out));
        // Not watched: nothing learned.
        let mut m = Model::new(Settings::ph(), Arch::X86_64);
        run(&mut m, 1, db);
        assert_eq!(m.profile(&SH).unwrap().train.endpoint_bits_set(), 0);
        // An untracked task's endpoint is ignored.
        assert_eq!(
            m.apply(ModelEvent::Endpoint {
                tid: 99,
                endpoint: db
            }),
            None
        );
    }

    #[test]
    fn watch_execs_false_learns_no_exec() {
        let mut m = Model::new(Settings::ph(), Arch::X86_64);
        sh_runs(&mut m, 1, LS);
        m.profile_mut(&SH).unwrap().normalize();
        sh_runs(&mut m, 2, CAT);
        let sh = m.profile(&SH).unwrap();
        assert!(!sh.train.has_execs());
        assert_eq!(sh.anomalies, 0);
    }

    #[test]
    fn a_call_numbered_as_the_exec_row_is_not_seen() {
        let mut m = Model::new(Settings::ph(), Arch::X86_64);
        m.apply(ModelEvent::Exec { tid: 1, key: SH });
        m.apply(call(1, 1));
        m.apply(ModelEvent::Syscall {
            tid: 1,
            call: Syscall::EXEC,
            now: 0,
        });
        m.apply(call(1, 2));
        let sh = m.profile(&SH).unwrap();
        assert_eq!(sh.train.get(s(2), s(1)), 1);
        assert_eq!(sh.train_count, 2);
    }

    /// sh's profile after one task of it made `calls`.
    fn profile_after(settings: Settings, calls: &[Syscall]) -> Profile {
        let mut m = Model::new(settings, Arch::X86_64);
        m.apply(ModelEvent::Exec { tid: 1, key: SH });
        for &call in calls {
            m.apply(ModelEvent::Syscall {
                tid: 1,
                call,
                now: 0,
            });
        }
        m.profile(&SH).unwrap().clone()
    }

    #[test]
    fn brk_is_not_seen_with_skip_brk() {
        let brk = Arch::X86_64.number("brk").unwrap();
        let run = |settings| profile_after(settings, &[s(1), brk, s(2), brk, brk, s(3)]);
        let skipped = run(Settings::default());
        assert!(skipped.train.row(brk).is_none(), "brk learned nothing");
        assert_eq!(skipped.train.get(s(2), s(1)), 1, "2 right after 1");
        assert_eq!(skipped.train.get(s(3), s(1)), 0b10);
        assert_eq!(skipped.train_count, 3);
        let seen = run(Settings::ph());
        assert_eq!(seen.train.get(s(2), brk), 1, "pH sees every call");
        assert_eq!(seen.train_count, 6);
    }

    #[test]
    fn a_heap_mmap_is_not_seen_with_skip_heap_mmap_and_is_mmap_without() {
        let mmap = Arch::X86_64.number("mmap").unwrap();
        let run = |settings| profile_after(settings, &[s(1), Syscall::HEAP_MMAP, s(2), mmap, s(3)]);
        let skipped = run(Settings::default());
        assert!(skipped.train.row(Syscall::HEAP_MMAP).is_none());
        assert_eq!(skipped.train.get(s(2), s(1)), 1, "2 right after 1");
        assert_eq!(skipped.train.get(mmap, s(2)), 1, "any other mmap is seen");
        assert_eq!(skipped.train_count, 4);
        let seen = run(Settings::ph());
        assert!(seen.train.row(Syscall::HEAP_MMAP).is_none(), "never a row");
        assert_eq!(seen.train.get(mmap, s(1)), 0b101, "pH sees it as mmap");
        assert_eq!(seen.train.get(s(2), mmap), 1);
        assert_eq!(seen.train_count, 5);
    }

    #[test]
    fn sigreturn_pops_the_handler_frame() {
        let mut m = Model::new(Settings::default(), Arch::X86_64);
        let rt_sigreturn = Arch::X86_64.number("rt_sigreturn").unwrap().nr();
        m.apply(ModelEvent::Exec { tid: 1, key: SH });
        m.apply(call(1, 1));
        m.apply(ModelEvent::Signal { tid: 1 });
        m.apply(call(1, 2));
        m.apply(call(1, rt_sigreturn));
        m.apply(call(1, 3));
        let p = m.profile(&SH).unwrap();
        // In the handler, 2 started a fresh frame; rt_sigreturn followed 2 there.
        assert_eq!(p.train.get(s(2), s(1)), 0);
        assert_eq!(p.train.get(s(rt_sigreturn), s(2)), 1);
        // After the handler, 3 follows 1 directly.
        assert_eq!(p.train.get(s(3), s(1)), 1);
    }
}
