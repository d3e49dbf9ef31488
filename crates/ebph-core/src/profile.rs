//! A profile: what ebph has learned about one executable, and the rules that change it.

use serde::{Deserialize, Serialize};

use crate::{ngram_bits, Endpoint, LookaheadTable, ProfileKey, Run, Settings, Syscall, TaskState};

/// A frozen profile looks at the clock on the call that freezes it and then once every this
/// many unchanged calls (`last_mod_count` a multiple of it), not on every call: reading the
/// clock costs the kernel engine more than the rest of a call's work, and normal times are
/// days away.
pub const NORMAL_CHECK_INTERVAL: u64 = 64;

/// Where a profile is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileStatus {
    /// Learning; nothing is flagged.
    #[default]
    Training,
    /// Stable for long enough; becomes normal at `normal_time` unless new behaviour appears.
    Frozen,
    /// Testing every call against the test table; anomalies are flagged.
    Normal,
}

impl ProfileStatus {
    /// The status as ebph prints it (`training`, `frozen`, `normal`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileStatus::Training => "training",
            ProfileStatus::Frozen => "frozen",
            ProfileStatus::Normal => "normal",
        }
    }
}

impl std::fmt::Display for ProfileStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What ebph knows about one executable: two lookahead tables and the counters of pH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// What the program has been seen doing; always learning.
    pub train: LookaheadTable,
    /// What counts as normal: a copy of `train` taken when the profile became normal. Empty
    /// unless the profile is normal.
    pub test: LookaheadTable,
    /// Calls seen while training (since the profile last became normal or forgot its data).
    pub train_count: u64,
    /// Calls since the train table last changed.
    pub last_mod_count: u64,
    /// Calls that taught the train table something new.
    pub sequences: u64,
    /// Anomalous calls since the profile became normal.
    pub anomalies: u64,
    /// Training, frozen or normal.
    pub status: ProfileStatus,
    /// When a frozen profile may become normal, on the caller's clock (nanoseconds).
    pub normal_time: u64,
    /// Runs in a row, since the train table last changed, that repeated behaviour the test
    /// table lacks: each made an anomalous call and taught the train table nothing (see
    /// [`Profile::end_run`]).
    pub repeats: u32,
    /// The train table was emptied since the profile last became normal (the tolerize limit,
    /// sensitize): it may lack some of what the test table holds, so nothing is accepted
    /// until the profile becomes normal again.
    pub train_partial: bool,
}

/// What one call did to its profile and task. Every flag is a state change the kernel
/// engine reports as an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallOutcome {
    /// Lookahead-pair misses against the test table (0 unless the profile is normal and the
    /// detector uses pairs). More than 0 makes the call anomalous.
    pub misses: u32,
    /// The call ended an n-gram the test table does not hold (false unless the profile is
    /// normal and the detector uses n-grams). Makes the call anomalous.
    pub novel_ngram: bool,
    /// The task's locality frame count after the call.
    pub lfc: u32,
    /// The call taught the train table something new.
    pub learned: bool,
    /// New behaviour unfroze a frozen profile.
    pub thawed: bool,
    /// The profile froze.
    pub froze: bool,
    /// The profile became normal (its normal time had come).
    pub became_normal: bool,
    /// The profile exceeded the anomaly limit and went back to training.
    pub left_normal: bool,
    /// The task's LFC rose above the tolerize limit with this call.
    pub tolerize_limit_reached: bool,
    /// The profile forgot its training data because the task's LFC is above the tolerize limit.
    pub train_reset: bool,
}

impl CallOutcome {
    /// Whether the call was anomalous.
    pub fn is_anomalous(&self) -> bool {
        self.misses > 0 || self.novel_ngram
    }
}

/// What an exec or an endpoint did to the profile of the task (see [`Profile::on_exec`],
/// [`Profile::on_endpoint`]). Every flag is a state change the kernel engine reports as an
/// event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoveltyOutcome {
    /// The train table had never seen the profile run that executable (use that endpoint).
    pub learned: bool,
    /// New behaviour unfroze a frozen profile.
    pub thawed: bool,
    /// A novel exec (endpoint): the profile is normal and its test table lacks it. An
    /// anomaly.
    pub novel: bool,
    /// The profile exceeded the anomaly limit and went back to training.
    pub left_normal: bool,
}

/// What the detector made of one call (see [`Profile::detect`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detection {
    /// Lookahead pairs of the call not in the test table (counted when the detector uses
    /// pairs).
    pub misses: u32,
    /// The call ends an n-gram not in the test table (when the detector uses n-grams).
    pub novel_ngram: bool,
}

impl Detection {
    /// Whether the call is anomalous.
    pub fn is_anomalous(&self) -> bool {
        self.misses > 0 || self.novel_ngram
    }
}

impl Profile {
    /// A new, empty, training profile.
    pub fn new() -> Profile {
        Profile::default()
    }

    /// Runs one call of `task` through pH: learn, freeze, become normal, detect, and respond
    /// to the locality frame. `now` is the current time on the clock `normal_time` uses.
    ///
    /// The order within a call is fixed (it is what the kernel engine does too):
    /// 1. `train_count += 1`; test against **train**. Unseen pairs and an unseen n-gram are
    ///    always learned; when what was unseen counts for the detector (pairs, n-grams or
    ///    both), the call taught the profile something (`sequences += 1`,
    ///    `last_mod_count = 0`, frozen becomes training); otherwise `last_mod_count += 1` and
    ///    a training profile whose table has been stable long enough freezes with
    ///    `normal_time = now + normal_wait`.
    /// 2. A frozen profile whose `normal_time` has come (`now >= normal_time`) becomes normal.
    ///    It looks at the clock on the call that freezes it and on every
    ///    [`NORMAL_CHECK_INTERVAL`]th unchanged call after that.
    /// 3. A normal profile tests the call against **test**: an unseen pair or n-gram, as the
    ///    detector says, makes it anomalous; the locality frame records whether it was. An anomaly counts once per call; more than `anomaly_limit` of them
    ///    send the profile back to training.
    /// 4. An LFC above `tolerize_limit` makes the profile forget its training data.
    ///
    /// What the call did to the train table and whether it was anomalous is noted in the
    /// task's [`Run`], for [`Profile::end_run`].
    ///
    /// Both tests look at the task's window as it was before this call; the call then joins
    /// the window. With `fold-loops`, a call that is one of the last `fold-loops` calls seen
    /// ([`crate::Sequence::folds`]) does none of this: it changes nothing at all.
    #[inline]
    pub fn on_call(
        &mut self,
        task: &mut TaskState,
        call: Syscall,
        now: u64,
        settings: &Settings,
    ) -> CallOutcome {
        let mut out = CallOutcome::default();
        if task.sequence().folds(call, settings.fold_loops) {
            out.lfc = task.lfc();
            return out;
        }
        let window = settings.window;

        // 1. Training.
        let detector = settings.detector;
        let ngram = ngram_bits(task.sequence(), settings.ngram_length);
        self.train_count += 1;
        let new_pairs = self.train.learn(call, task.sequence(), window) > 0;
        let new_ngram = ngram.is_some_and(|bits| self.train.learn_ngram(call, bits));
        if (new_pairs && detector.uses_pairs()) || (new_ngram && detector.uses_ngrams()) {
            out.learned = true;
            out.thawed = self.lesson(&mut task.run);
        } else {
            self.last_mod_count += 1;
            if self.status == ProfileStatus::Training && self.is_stable(settings) {
                self.status = ProfileStatus::Frozen;
                self.normal_time = now.saturating_add(settings.normal_wait_ns());
                out.froze = true;
            }
        }

        // 2. Frozen long enough: normal (looked at when freezing, then every
        //    NORMAL_CHECK_INTERVAL unchanged calls).
        if self.status == ProfileStatus::Frozen
            && (out.froze || self.last_mod_count % NORMAL_CHECK_INTERVAL == 0)
            && now >= self.normal_time
        {
            self.start_normal();
            out.became_normal = true;
        }

        // 3. Detection and the locality frame.
        let lfc_before = task.lfc();
        let found = self.detect(task, call, settings);
        out.misses = found.misses;
        out.novel_ngram = found.novel_ngram;
        out.lfc = task.lfc();
        if found.is_anomalous() {
            task.run.anomalous = true;
            self.anomalies += 1;
            if self.anomalies > u64::from(settings.anomaly_limit) {
                self.stop_normal();
                out.left_normal = true;
            }
        }

        // 4. An attack in progress must not be learned as normal.
        let limit = settings.tolerize_limit;
        if out.lfc > limit {
            out.tolerize_limit_reached = lfc_before <= limit;
            self.reset_train();
            task.run.changed_train = true;
            out.train_reset = true;
        }
        out
    }

    /// A task of this profile executed the program whose profile is `child` (`watch-execs`;
    /// nothing otherwise). Before the exec ends the task's run (`run`: see
    /// [`Profile::end_run`]).
    ///
    /// The executable is learned like a call: new to the train table, it is new behaviour
    /// (it unfreezes a frozen profile and restarts the count towards freezing and towards
    /// `accept-after`). Once the profile is normal, an executable its test table lacks is a
    /// novel exec, an anomaly that counts towards `anomaly-limit` like an anomalous call. The
    /// caller enters it in the task's locality frame after the exec (the new program starts
    /// with it: see [`crate::Model`]), so that delays and execve suspension respond to it.
    pub fn on_exec(
        &mut self,
        run: &mut Run,
        child: &ProfileKey,
        settings: &Settings,
    ) -> NoveltyOutcome {
        if !settings.watch_execs {
            return NoveltyOutcome::default();
        }
        let learned = self.train.learn_exec(child);
        let known = self.test.knows_exec(child);
        self.observed(run, learned, known, settings)
    }

    /// A task of this profile bound, connected or sent to endpoint `e` (`watch-endpoints`; nothing
    /// otherwise), at the `bind` or `connect` call just seen.
    ///
    /// Learned and tested as an exec is ([`Profile::on_exec`]); a novel endpoint is also
    /// entered in the task's locality frame at once, as one more anomalous entry after the
    /// call (so that delays respond to it).
    pub fn on_endpoint(
        &mut self,
        task: &mut TaskState,
        e: &Endpoint,
        settings: &Settings,
    ) -> NoveltyOutcome {
        if !settings.watch_endpoints {
            return NoveltyOutcome::default();
        }
        let learned = self.train.learn_endpoint(e);
        let known = self.test.knows_endpoint(e);
        let out = self.observed(&mut task.run, learned, known, settings);
        if out.novel {
            task.locality.record(true, settings.locality_frame);
        }
        out
    }

    /// Something a task of this profile did beyond its calls (an exec, an endpoint) was
    /// `learned` by the train table just now (new to it), and is `known` to the test table:
    /// new behaviour for a training profile, and for a normal one that lacks it, an anomaly.
    fn observed(
        &mut self,
        run: &mut Run,
        learned: bool,
        known: bool,
        settings: &Settings,
    ) -> NoveltyOutcome {
        let mut out = NoveltyOutcome::default();
        if learned {
            out.learned = true;
            out.thawed = self.lesson(run);
        }
        if self.is_novel(true, known) {
            out.novel = true;
            run.anomalous = true;
            self.anomalies += 1;
            if self.anomalies > u64::from(settings.anomaly_limit) {
                self.stop_normal();
                out.left_normal = true;
            }
        }
        out
    }

    /// Whether something a task did beyond its calls (an exec, an endpoint), `watched` by the
    /// settings and `known` to the test table or not, is novel: the profile is normal and
    /// lacks it. The one rule of [`Profile::observed`] and of the read-only views.
    fn is_novel(&self, watched: bool, known: bool) -> bool {
        watched && self.status == ProfileStatus::Normal && !known
    }

    /// The train table learned something new in `run`: the counts towards freezing and
    /// towards `accept-after` start again, and a frozen profile trains again (returns
    /// whether it thawed).
    fn lesson(&mut self, run: &mut Run) -> bool {
        run.changed_train = true;
        self.repeats = 0;
        self.sequences += 1;
        self.last_mod_count = 0;
        let thawed = self.status == ProfileStatus::Frozen;
        if thawed {
            self.status = ProfileStatus::Training;
        }
        thawed
    }

    /// A task's run of the program ended (it exited, or executed another program): with
    /// `accept-after` N > 0, a normal profile accepts what its train table has learned once N
    /// runs in a row repeated it. Returns whether the profile accepted it.
    ///
    /// A run repeats new behaviour when it made an anomalous call (the test table lacks what
    /// it did) and changed nothing in the train table (which had learned it already, from an
    /// earlier run): then `repeats += 1`. Any call that teaches the train table something
    /// starts the count again. At N, the profile becomes normal anew with its train table as
    /// the test table, which only adds to what is normal: a train table emptied since the
    /// profile became normal (`train_partial`: the tolerize limit, sensitize) accepts nothing.
    /// Behaviour seen once, or in a task whose LFC passed the tolerize limit, is never
    /// accepted this way; behaviour that keeps changing falls to pH's `anomaly-limit`.
    pub fn end_run(&mut self, run: Run, settings: &Settings) -> bool {
        if settings.accept_after == 0
            || self.status != ProfileStatus::Normal
            || self.train_partial
            || run.changed_train
            || !run.anomalous
        {
            return false;
        }
        self.repeats += 1;
        if self.repeats < settings.accept_after {
            return false;
        }
        self.start_normal();
        true
    }

    /// Tests one call of `task` against the test table without changing the profile: the
    /// detector's raw view, used by `ebph replay` and by [`Profile::on_call`].
    ///
    /// Returns what the detector found (nothing unless the profile is normal), records the
    /// call in the task's locality frame and window, and leaves every counter of the profile
    /// alone.
    #[inline]
    pub fn detect(&self, task: &mut TaskState, call: Syscall, settings: &Settings) -> Detection {
        let mut found = Detection::default();
        if task.sequence().folds(call, settings.fold_loops) {
            return found;
        }
        if self.status == ProfileStatus::Normal {
            let seq = task.sequence();
            if settings.detector.uses_pairs() {
                found.misses = self.test.misses(call, seq, settings.window);
            }
            if settings.detector.uses_ngrams() {
                found.novel_ngram = ngram_bits(seq, settings.ngram_length)
                    .is_some_and(|bits| !self.test.knows_ngram(call, bits));
            }
        }
        task.sequence_mut().push(call);
        task.locality
            .record(found.is_anomalous(), settings.locality_frame);
        found
    }

    /// Whether executing `child` would be a novel exec ([`Profile::on_exec`]), without
    /// changing the profile: the detector's raw view, used by `ebph replay`.
    pub fn is_novel_exec(&self, child: &ProfileKey, settings: &Settings) -> bool {
        self.is_novel(settings.watch_execs, self.test.knows_exec(child))
    }

    /// Whether endpoint `e` would be novel ([`Profile::on_endpoint`]), without changing the
    /// profile; a novel one is entered in the task's locality frame, as `on_endpoint` does.
    pub fn detect_endpoint(&self, task: &mut TaskState, e: &Endpoint, settings: &Settings) -> bool {
        let novel = self.is_novel(settings.watch_endpoints, self.test.knows_endpoint(e));
        if novel {
            task.locality.record(true, settings.locality_frame);
        }
        novel
    }

    /// Whether the train table has been stable for long enough to freeze:
    /// `train_count * normal_factor_den > normal_count * normal_factor`, with
    /// `normal_count = train_count - last_mod_count > 0`.
    fn is_stable(&self, settings: &Settings) -> bool {
        let normal_count = self.train_count - self.last_mod_count;
        normal_count > 0
            && u128::from(self.train_count) * u128::from(settings.normal_factor_den)
                > u128::from(normal_count) * u128::from(settings.normal_factor)
    }

    /// Becomes normal: the train table becomes the test table, and the anomaly and training
    /// counts start again.
    fn start_normal(&mut self) {
        self.test = self.train.clone();
        self.status = ProfileStatus::Normal;
        self.anomalies = 0;
        self.train_count = 0;
        self.last_mod_count = 0;
        self.repeats = 0;
        self.train_partial = false;
    }

    /// Leaves normal: back to training, and the test table is dropped.
    fn stop_normal(&mut self) {
        self.test.clear();
        self.status = ProfileStatus::Training;
        self.repeats = 0;
    }

    /// Forgets the training data. A normal profile stays normal (its test table is kept); a
    /// frozen one goes back to training.
    fn reset_train(&mut self) {
        self.train.clear();
        self.train_count = 0;
        self.last_mod_count = 0;
        self.sequences = 0;
        self.repeats = 0;
        self.train_partial = true;
        if self.status == ProfileStatus::Frozen {
            self.status = ProfileStatus::Training;
        }
    }

    /// Admin: make the profile normal now (train becomes test).
    pub fn normalize(&mut self) {
        self.start_normal();
    }

    /// Admin: forget recent behaviour (the training data), keeping what is normal.
    pub fn sensitize(&mut self) {
        self.reset_train();
    }

    /// Admin: accept recent behaviour: leave normal and go back to training, so that what the
    /// train table has learned becomes normal in due course.
    pub fn tolerize(&mut self) {
        self.stop_normal();
    }

    /// The bytes the profile's lookahead rows take.
    pub fn memory_bytes(&self) -> usize {
        self.train.memory_bytes() + self.test.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Detector;

    fn s(n: u16) -> Syscall {
        Syscall::new(n).unwrap()
    }

    fn settings() -> Settings {
        Settings {
            normal_wait: std::time::Duration::from_nanos(100),
            ..Settings::ph()
        }
    }

    /// Runs `calls` as one fresh task at time `now`.
    fn run(p: &mut Profile, calls: &[u16], now: u64, st: &Settings) -> Vec<CallOutcome> {
        let mut task = TaskState::new();
        calls
            .iter()
            .map(|&c| p.on_call(&mut task, s(c), now, st))
            .collect()
    }

    #[test]
    fn every_call_counts_and_new_pairs_are_learned() {
        let st = settings();
        let mut p = Profile::new();
        let out = run(&mut p, &[1, 2, 3], 0, &st);
        assert_eq!(p.train_count, 3);
        // The first call after exec has no window: nothing to learn.
        assert!(!out[0].learned && out[1].learned && out[2].learned);
        assert_eq!(p.sequences, 2);
        assert_eq!(p.last_mod_count, 0);
        assert_eq!(p.train.get(s(3), s(1)), 0b10);
        assert_eq!(p.status, ProfileStatus::Training);
    }

    #[test]
    fn known_calls_count_towards_stability() {
        let st = settings();
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3], 0, &st);
        run(&mut p, &[1, 2], 0, &st);
        assert_eq!(p.last_mod_count, 2);
        assert_eq!(p.train_count, 5);
    }

    #[test]
    fn freezes_once_three_quarters_of_calls_changed_nothing() {
        let st = settings();
        let mut p = Profile::new();
        // Run 1 learns 2 pairs (normal_count = 3 from then on); every later run of 3 calls
        // changes nothing. Freezing needs train_count * 32 > 3 * 128, i.e. 13 calls.
        for _ in 0..4 {
            let out = run(&mut p, &[1, 2, 3], 5, &st);
            assert!(out.iter().all(|o| !o.froze));
        }
        assert_eq!((p.train_count, p.last_mod_count), (12, 9));
        let out = run(&mut p, &[1, 2, 3], 5, &st);
        assert_eq!(
            out.iter().map(|o| o.froze).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert_eq!(p.status, ProfileStatus::Frozen);
        assert_eq!(p.normal_time, 105);
    }

    #[test]
    fn no_freeze_without_any_learned_call() {
        let st = settings();
        let mut p = Profile::new();
        // Single-call runs never fill a window: normal_count stays 0.
        for _ in 0..10 {
            run(&mut p, &[1], 0, &st);
        }
        assert_eq!(p.status, ProfileStatus::Training);
        assert_eq!(p.train_count, 10);
    }

    fn frozen_profile(st: &Settings) -> Profile {
        let mut p = Profile::new();
        for _ in 0..5 {
            run(&mut p, &[1, 2, 3], 0, st);
        }
        assert_eq!(p.status, ProfileStatus::Frozen);
        p
    }

    #[test]
    fn new_behaviour_thaws_a_frozen_profile() {
        let st = settings();
        let mut p = frozen_profile(&st);
        let out = run(&mut p, &[1, 2, 4], 10, &st);
        assert!(out[2].thawed && out[2].learned);
        assert_eq!(p.status, ProfileStatus::Training);
    }

    #[test]
    fn frozen_becomes_normal_when_its_time_comes() {
        let st = settings();
        let mut p = frozen_profile(&st);
        assert_eq!(p.normal_time, 100);
        // The clock is looked at every NORMAL_CHECK_INTERVAL unchanged calls. Single-call
        // runs change nothing (an empty window), so each one counts.
        let calls = |p: &mut Profile, n: u64, now: u64| -> Vec<bool> {
            (0..n)
                .map(|_| run(p, &[1], now, &st)[0].became_normal)
                .collect()
        };
        let to_check = NORMAL_CHECK_INTERVAL - p.last_mod_count % NORMAL_CHECK_INTERVAL;
        assert!(calls(&mut p, to_check, 99).iter().all(|&n| !n), "too early");
        assert_eq!(p.status, ProfileStatus::Frozen);
        let out = calls(&mut p, NORMAL_CHECK_INTERVAL, 100);
        let when: Vec<usize> = (0..out.len()).filter(|&i| out[i]).collect();
        assert_eq!(
            when,
            [NORMAL_CHECK_INTERVAL as usize - 1],
            "on the next check, not before"
        );
        assert_eq!(p.status, ProfileStatus::Normal);
        assert_eq!(p.test, p.train);
        assert_eq!((p.train_count, p.last_mod_count, p.anomalies), (0, 0, 0));
    }

    #[test]
    fn zero_normal_wait_freezes_and_normalizes_in_one_call() {
        let st = Settings {
            normal_wait: std::time::Duration::ZERO,
            ..Settings::default()
        };
        let mut p = Profile::new();
        for _ in 0..4 {
            run(&mut p, &[1, 2, 3], 7, &st);
        }
        let out = run(&mut p, &[1, 2, 3], 7, &st);
        assert!(out[0].froze && out[0].became_normal);
        assert_eq!(p.status, ProfileStatus::Normal);
    }

    #[test]
    fn normal_profiles_flag_anomalies_and_keep_training() {
        let st = settings();
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3], 0, &st);
        p.normalize();
        let out = run(&mut p, &[1, 2, 5, 3], 0, &st);
        assert_eq!(
            out.iter().map(|o| o.misses).collect::<Vec<_>>(),
            [0, 0, 2, 3]
        );
        assert_eq!(out[3].lfc, 2);
        assert_eq!(
            p.anomalies, 2,
            "one anomaly per anomalous call, not per miss"
        );
        assert_eq!(p.status, ProfileStatus::Normal);
        assert_eq!(p.train.get(s(5), s(2)), 1, "training goes on while normal");
        assert_eq!(p.test.get(s(5), s(2)), 0);
    }

    #[test]
    fn normal_profiles_do_not_refreeze() {
        let st = settings();
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3], 0, &st);
        p.normalize();
        let out = run(&mut p, &[1, 2, 3, 1, 2, 3, 1, 2, 3], 0, &st);
        assert!(out.iter().all(|o| !o.froze));
        assert_eq!(p.status, ProfileStatus::Normal);
    }

    #[test]
    fn too_many_anomalies_leave_normal() {
        let st = Settings {
            anomaly_limit: 2,
            ..settings()
        };
        let mut p = Profile::new();
        run(&mut p, &[1, 2], 0, &st);
        p.normalize();
        let out = run(&mut p, &[7, 8, 9, 10], 0, &st);
        // 7 has an empty window: no miss. 8, 9 are anomalies 1 and 2; 10 is the third.
        assert_eq!(
            out.iter().map(|o| o.left_normal).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        assert_eq!(p.status, ProfileStatus::Training);
        assert!(p.test.is_empty());
        assert_eq!(p.anomalies, 3);
    }

    /// Runs `calls` as one fresh task and ends its run; returns whether the profile accepted.
    fn full_run(p: &mut Profile, calls: &[u16], st: &Settings) -> bool {
        let mut task = TaskState::new();
        for &c in calls {
            p.on_call(&mut task, s(c), 0, st);
        }
        p.end_run(task.run, st)
    }

    fn accepting(n: u32) -> Settings {
        Settings {
            accept_after: n,
            ..settings()
        }
    }

    #[test]
    fn repeated_new_behaviour_is_accepted_after_accept_after_runs() {
        let st = accepting(2);
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3], 0, &st);
        p.normalize();
        // The first run with 5 teaches the train table: not a repeat.
        assert!(!full_run(&mut p, &[1, 2, 5, 3], &st));
        assert_eq!((p.repeats, p.anomalies), (0, 2));
        // A run without anomalies is no repeat either.
        assert!(!full_run(&mut p, &[1, 2, 3], &st));
        assert_eq!(p.repeats, 0);
        // Two runs that repeat it, teaching nothing: accepted at the second.
        assert!(!full_run(&mut p, &[1, 2, 5, 3], &st));
        assert_eq!(p.repeats, 1);
        assert_eq!(p.test.get(s(5), s(2)), 0);
        assert!(full_run(&mut p, &[1, 2, 5, 3], &st));
        assert_eq!(p.status, ProfileStatus::Normal);
        assert_eq!(p.test.get(s(5), s(2)), 1);
        assert_eq!(p.test, p.train, "what was normal is kept");
        assert_eq!((p.repeats, p.anomalies), (0, 0));
        assert!(!full_run(&mut p, &[1, 2, 5, 3], &st));
        assert_eq!(p.anomalies, 0, "accepted behaviour is normal");
    }

    #[test]
    fn a_run_that_teaches_something_starts_the_count_again() {
        let st = accepting(2);
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3], 0, &st);
        p.normalize();
        full_run(&mut p, &[1, 2, 5, 3], &st);
        full_run(&mut p, &[1, 2, 5, 3], &st);
        assert_eq!(p.repeats, 1);
        // Repeats 5, but also does something new: not a repeat, and the count restarts.
        assert!(!full_run(&mut p, &[1, 2, 5, 3, 6], &st));
        assert_eq!(p.repeats, 0);
        assert!(!full_run(&mut p, &[1, 2, 5, 3], &st));
        assert!(full_run(&mut p, &[1, 2, 5, 3, 6], &st));
    }

    #[test]
    fn nothing_is_accepted_by_default_in_ph_nor_after_the_train_table_was_emptied() {
        let mut p = Profile::new();
        let st = Settings {
            accept_after: 0,
            ..settings()
        };
        run(&mut p, &[1, 2, 3], 0, &st);
        p.normalize();
        for _ in 0..5 {
            assert!(!full_run(&mut p, &[1, 2, 5, 3], &st));
        }
        assert_eq!(Settings::ph().accept_after, 0);

        // Sensitized: the train table may lack what is normal; it is not accepted.
        let st = accepting(1);
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3, 4], 0, &st);
        p.normalize();
        p.sensitize();
        assert!(p.train_partial);
        full_run(&mut p, &[1, 2, 5, 3], &st);
        for _ in 0..3 {
            assert!(!full_run(&mut p, &[1, 2, 5, 3], &st));
        }
        assert_eq!(p.test.get(s(4), s(3)), 1, "normal behaviour is kept");
        // Normal again (here by hand): accepting works again.
        p.normalize();
        assert!(!p.train_partial);
        full_run(&mut p, &[1, 2, 6], &st);
        assert!(full_run(&mut p, &[1, 2, 6], &st));
    }

    #[test]
    fn a_run_past_the_tolerize_limit_is_never_a_repeat() {
        let st = Settings {
            tolerize_limit: 1,
            ..accepting(1)
        };
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3], 0, &st);
        p.normalize();
        // Two anomalies: LFC 2 passes the limit and empties the train table.
        let mut task = TaskState::new();
        for c in [1, 7, 8] {
            p.on_call(&mut task, s(c), 0, &st);
        }
        assert!(task.run.changed_train && task.run.anomalous);
        assert!(!p.end_run(task.run, &st));
        assert!(p.train_partial && p.repeats == 0);
    }

    #[test]
    fn lfc_above_the_tolerize_limit_forgets_training() {
        let st = Settings {
            tolerize_limit: 2,
            ..settings()
        };
        let mut p = Profile::new();
        run(&mut p, &[1, 2], 0, &st);
        p.normalize();
        let out = run(&mut p, &[7, 8, 9, 10, 1], 0, &st);
        let lfcs: Vec<u32> = out.iter().map(|o| o.lfc).collect();
        assert_eq!(lfcs, [0, 1, 2, 3, 4]);
        assert!(!out[2].train_reset && out[3].train_reset && out[4].train_reset);
        assert!(out[3].tolerize_limit_reached && !out[4].tolerize_limit_reached);
        assert_eq!((p.train_count, p.sequences), (0, 0));
        assert!(p.train.is_empty());
        assert_eq!(p.status, ProfileStatus::Normal, "the test table is kept");
    }

    #[test]
    fn admin_operations() {
        let st = settings();
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3], 0, &st);
        let learned = p.train.clone();
        p.normalize();
        assert_eq!(p.status, ProfileStatus::Normal);
        assert_eq!(p.test, learned);
        run(&mut p, &[4, 5], 0, &st);
        p.sensitize();
        assert!(p.train.is_empty());
        assert_eq!(p.status, ProfileStatus::Normal);
        assert_eq!(p.test, learned);
        p.tolerize();
        assert_eq!(p.status, ProfileStatus::Training);
        assert!(p.test.is_empty());
        // Sensitize on a frozen profile unfreezes it.
        let mut f = frozen_profile(&st);
        f.sensitize();
        assert_eq!(f.status, ProfileStatus::Training);
    }

    #[test]
    fn detect_changes_no_counter() {
        let st = settings();
        let mut p = Profile::new();
        run(&mut p, &[1, 2, 3], 0, &st);
        p.normalize();
        let before = p.clone();
        let mut task = TaskState::new();
        let misses: Vec<u32> = [1, 3, 2]
            .iter()
            .map(|&c| p.detect(&mut task, s(c), &st).misses)
            .collect();
        assert_eq!(misses, [0, 1, 2]);
        assert_eq!(task.lfc(), 2);
        assert_eq!(p, before);
    }

    /// Training runs after which every lookahead pair of `[10, 11, 12]` is known (at its
    /// distance) but the 3-gram itself was never seen.
    fn pairs_known_ngram_not(st: &Settings) -> Profile {
        let mut p = Profile::new();
        for calls in [[10, 13, 12], [14, 11, 12], [10, 11, 15]] {
            run(&mut p, &calls, 0, st);
        }
        p.normalize();
        p
    }

    #[test]
    fn the_detector_decides_what_is_anomalous() {
        let with = |detector| Settings {
            detector,
            ngram_length: 3,
            window: 3,
            ..settings()
        };
        for (detector, anomalous) in [
            (Detector::Pairs, [false, false, false]),
            (Detector::Ngrams, [false, false, true]),
            (Detector::Both, [false, false, true]),
        ] {
            let st = with(detector);
            let mut p = pairs_known_ngram_not(&st);
            let out = run(&mut p, &[10, 11, 12], 0, &st);
            let found: Vec<bool> = out.iter().map(|o| o.is_anomalous()).collect();
            assert_eq!(found, anomalous, "{detector}");
        }
    }

    #[test]
    fn ngrams_are_learned_whatever_the_detector_but_count_only_when_used() {
        let mut st = Settings {
            detector: Detector::Pairs,
            ngram_length: 3,
            window: 3,
            ..settings()
        };
        let mut p = pairs_known_ngram_not(&st);
        let out = run(&mut p, &[10, 11, 12], 0, &st);
        // No new pair: the call changed nothing pH counts, but the n-gram is learned.
        assert!(!out[2].learned);
        assert_eq!(p.last_mod_count, 3);
        let bits = ngram_bits(&seq(&[10, 11]), 3).unwrap();
        assert!(p.train.knows_ngram(s(12), bits));
        assert!(!p.test.knows_ngram(s(12), bits));
        st.detector = Detector::Ngrams;
        let mut p = pairs_known_ngram_not(&st);
        let before = p.sequences;
        let out = run(&mut p, &[10, 11, 12], 0, &st);
        assert!(out[2].learned && out[2].novel_ngram && out[2].misses == 0);
        assert_eq!((p.last_mod_count, p.sequences), (0, before + 1));
    }

    fn seq(calls: &[u16]) -> crate::Sequence {
        let mut seq = crate::Sequence::new();
        calls.iter().for_each(|&c| seq.push(s(c)));
        seq
    }

    #[test]
    fn folded_loops_are_learned_once_however_often_they_turn() {
        let st = Settings {
            fold_loops: 3,
            ..settings()
        };
        let mut p = Profile::new();
        // openat, then read/write turning twice, then close.
        run(&mut p, &[2, 0, 1, 0, 1, 3], 0, &st);
        p.normalize();
        // The same loop turning 50 times, its writes in another rhythm, is normal and counts
        // only its first turn.
        let mut calls = vec![2];
        for i in 0..50 {
            calls.extend(if i % 3 == 0 {
                &[0, 1, 1][..]
            } else {
                &[0, 0, 1][..]
            });
        }
        calls.push(3);
        let out = run(&mut p, &calls, 0, &st);
        assert!(out.iter().all(|o| !o.is_anomalous()), "{out:?}");
        assert_eq!(p.train_count, 4, "openat, read, write, close");
        // Without folding the longer loop is new.
        let plain = settings();
        let mut q = Profile::new();
        run(&mut q, &[2, 0, 1, 0, 1, 3], 0, &plain);
        q.normalize();
        assert!(run(&mut q, &calls, 0, &plain)
            .iter()
            .any(|o| o.is_anomalous()));
    }
}
