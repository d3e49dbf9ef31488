//! Properties of the pH model that must hold for any trace.

use std::collections::BTreeSet;

use ebph_core::{
    Arch, Detector, LocalityFrame, LookaheadTable, Model, ModelEvent, Profile, ProfileKey,
    ProfileStatus, Settings, Syscall, TaskState,
};
use proptest::prelude::*;

/// A trace over a small alphabet, so that pairs repeat as they do in real programs.
fn trace() -> impl Strategy<Value = Vec<Syscall>> {
    prop::collection::vec(0u16..24, 0..200)
        .prop_map(|v| v.into_iter().map(|n| Syscall::new(n).unwrap()).collect())
}

fn traces() -> impl Strategy<Value = Vec<Vec<Syscall>>> {
    prop::collection::vec(trace(), 1..6)
}

fn train(profile: &mut Profile, trace: &[Syscall], settings: &Settings) -> Vec<bool> {
    let mut task = TaskState::new();
    trace
        .iter()
        .map(|&c| profile.on_call(&mut task, c, 0, settings).learned)
        .collect()
}

/// The lookahead pairs of `traces`, computed the slow, obvious way.
fn naive_pairs(traces: &[Vec<Syscall>], window: usize) -> BTreeSet<(u16, u16, usize)> {
    let mut pairs = BTreeSet::new();
    for t in traces {
        for (pos, curr) in t.iter().enumerate() {
            for distance in 1..window {
                if distance <= pos {
                    pairs.insert((curr.nr(), t[pos - distance].nr(), distance));
                }
            }
        }
    }
    pairs
}

fn table_pairs(table: &LookaheadTable) -> BTreeSet<(u16, u16, usize)> {
    let mut pairs = BTreeSet::new();
    for (curr, prev, flags) in table.entries() {
        for bit in 0..8 {
            if flags & (1 << bit) != 0 {
                pairs.insert((curr.nr(), prev.nr(), bit + 1));
            }
        }
    }
    pairs
}

/// The n-grams of `traces` (each as the calls before it, at most `length - 1`, and the call),
/// computed the slow, obvious way.
fn naive_ngrams(traces: &[Vec<Syscall>], length: usize) -> BTreeSet<Vec<u16>> {
    let mut grams = BTreeSet::new();
    for t in traces {
        for pos in 1..t.len() {
            let from = pos.saturating_sub(length - 1);
            grams.insert(t[from..=pos].iter().map(|c| c.nr()).collect());
        }
    }
    grams
}

proptest! {
    #[test]
    fn an_ngram_is_novel_only_if_never_seen_and_seen_ones_never_are(
        ts in traces(),
        test_t in trace(),
        ngram_length in 2u8..=9,
    ) {
        let settings = Settings {
            detector: Detector::Ngrams,
            ngram_length,
            ..Settings::ph()
        };
        let mut p = Profile::new();
        for t in &ts {
            train(&mut p, t, &settings);
        }
        p.normalize();
        let seen = naive_ngrams(&ts, ngram_length.into());
        let mut task = TaskState::new();
        let (mut novel, mut unseen) = (0, 0);
        for (pos, &c) in test_t.iter().enumerate() {
            let found = p.detect(&mut task, c, &settings);
            if pos == 0 {
                prop_assert!(!found.novel_ngram, "the first call has no n-gram");
                continue;
            }
            let from = pos.saturating_sub(usize::from(ngram_length) - 1);
            let gram: Vec<u16> = test_t[from..=pos].iter().map(|c| c.nr()).collect();
            let known = seen.contains(&gram);
            prop_assert!(!(known && found.novel_ngram), "a seen n-gram {:?} looked novel", gram);
            novel += usize::from(found.novel_ngram);
            unseen += usize::from(!known);
        }
        // Collisions may hide a few unseen n-grams, never most of them.
        prop_assert!(novel * 10 >= unseen * 8, "{} novel of {} unseen", novel, unseen);
    }

    #[test]
    fn learns_exactly_the_naive_pairs(ts in traces(), window in 2u8..=9) {
        let settings = Settings { window, ..Settings::ph() };
        let mut p = Profile::new();
        for t in &ts {
            train(&mut p, t, &settings);
        }
        prop_assert_eq!(table_pairs(&p.train), naive_pairs(&ts, window as usize));
        prop_assert_eq!(p.train.lookahead_pairs(), naive_pairs(&ts, window as usize).len() as u64);
    }

    #[test]
    fn feeding_a_trace_twice_learns_nothing_new(t in trace()) {
        let settings = Settings::ph();
        let mut p = Profile::new();
        train(&mut p, &t, &settings);
        let (table, sequences) = (p.train.clone(), p.sequences);
        let learned = train(&mut p, &t, &settings);
        prop_assert!(learned.iter().all(|&l| !l));
        prop_assert_eq!(&p.train, &table);
        prop_assert_eq!(p.sequences, sequences);
        prop_assert_eq!(p.train_count, 2 * t.len() as u64);
    }

    #[test]
    fn counters_follow_the_calls(ts in traces()) {
        let settings = Settings::ph();
        let mut p = Profile::new();
        let mut learned = 0;
        let mut since_learned = 0u64;
        for t in &ts {
            for l in train(&mut p, t, &settings) {
                if l { learned += 1; since_learned = 0 } else { since_learned += 1 }
            }
        }
        let calls: usize = ts.iter().map(Vec::len).sum();
        prop_assert_eq!(p.train_count, calls as u64);
        prop_assert_eq!(p.sequences, learned);
        prop_assert_eq!(p.last_mod_count, since_learned);
        prop_assert!(p.status != ProfileStatus::Normal, "a week has not passed");
    }

    #[test]
    fn after_normalize_every_training_trace_is_normal(
        ts in traces(),
        detector in prop::sample::select(Detector::ALL.to_vec()),
        ngram_length in 2u8..=9,
        fold_loops in 0u8..=ebph_core::FOLD_MAX,
    ) {
        let settings = Settings { detector, ngram_length, fold_loops, ..Settings::ph() };
        let mut p = Profile::new();
        for t in &ts {
            train(&mut p, t, &settings);
        }
        p.normalize();
        for t in &ts {
            let mut task = TaskState::new();
            for &c in t {
                prop_assert!(!p.detect(&mut task, c, &settings).is_anomalous());
            }
            prop_assert_eq!(task.lfc(), 0);
        }
        // Through the full rules too: no anomaly, and the profile stays normal.
        for t in &ts {
            let mut task = TaskState::new();
            for &c in t {
                prop_assert!(!p.on_call(&mut task, c, 0, &settings).is_anomalous());
            }
        }
        prop_assert_eq!(p.anomalies, 0);
        prop_assert_eq!(p.status, ProfileStatus::Normal);
    }

    #[test]
    fn detect_and_on_call_agree_on_misses(
        train_t in trace(),
        test_t in trace(),
        detector in prop::sample::select(Detector::ALL.to_vec()),
        fold_loops in 0u8..=ebph_core::FOLD_MAX,
    ) {
        // A limit no run reaches, so that both views see the same normal profile throughout.
        let settings = Settings {
            anomaly_limit: u32::MAX,
            tolerize_limit: 128,
            detector,
            fold_loops,
            ..Settings::ph()
        };
        let mut p = Profile::new();
        train(&mut p, &train_t, &settings);
        p.normalize();
        let frozen = p.clone();
        let (mut a, mut b) = (TaskState::new(), TaskState::new());
        for &c in &test_t {
            let raw = frozen.detect(&mut a, c, &settings);
            let out = p.on_call(&mut b, c, 0, &settings);
            prop_assert_eq!((raw.misses, raw.novel_ngram), (out.misses, out.novel_ngram));
            prop_assert_eq!(a.lfc(), out.lfc);
        }
    }

    #[test]
    fn lfc_equals_the_set_slots_and_never_exceeds_the_frame(
        marks in prop::collection::vec(any::<bool>(), 0..600),
        sizes in prop::collection::vec(1u8..=128, 1..4),
    ) {
        let mut lf = LocalityFrame::default();
        let mut start = 0;
        for (i, &anomalous) in marks.iter().enumerate() {
            let size = sizes[(i / 150) % sizes.len()];
            if size != lf.size() {
                start = i;
            }
            let lfc = lf.record(anomalous, size);
            prop_assert_eq!(lfc, lf.bits().count_ones());
            prop_assert!(lfc <= u32::from(size) && lfc <= 128);
            prop_assert_eq!(lf.bits().checked_shr(u32::from(size)).unwrap_or(0), 0, "no slot beyond the frame is set");
            // The count is the anomalies among the last `size` calls since the last resize.
            let since_resize = i - start + 1;
            let recent = &marks[i + 1 - since_resize.min(size as usize)..=i];
            prop_assert_eq!(lfc as usize, recent.iter().filter(|&&m| m).count());
        }
    }

    #[test]
    fn lfc_stays_exact_through_the_rules(train_t in trace(), test_t in trace(), limit in 0u32..20) {
        let settings = Settings { tolerize_limit: limit, anomaly_limit: 5, ..Settings::ph() };
        let mut p = Profile::new();
        train(&mut p, &train_t, &settings);
        p.normalize();
        let mut task = TaskState::new();
        for &c in &test_t {
            let out = p.on_call(&mut task, c, 0, &settings);
            prop_assert_eq!(out.lfc, task.locality.bits().count_ones());
            prop_assert!(out.lfc <= 128);
            prop_assert_eq!(out.train_reset, out.lfc > limit);
        }
    }

    #[test]
    fn a_forked_child_continues_the_parents_sequence(t in trace(), cut in any::<prop::sample::Index>()) {
        let settings = Settings::ph();
        let cut = if t.is_empty() { 0 } else { cut.index(t.len() + 1) };
        let mut whole = Profile::new();
        train(&mut whole, &t, &settings);

        let mut forked = Profile::new();
        let mut parent = TaskState::new();
        for &c in &t[..cut] {
            forked.on_call(&mut parent, c, 0, &settings);
        }
        let mut child = parent.fork();
        for &c in &t[cut..] {
            forked.on_call(&mut child, c, 0, &settings);
        }
        prop_assert_eq!(&forked.train, &whole.train);
        prop_assert_eq!(forked.train_count, whole.train_count);
    }

    #[test]
    fn a_signal_frame_isolates_the_handlers_calls(
        before in trace(), handler in trace(), after in trace(),
    ) {
        let settings = Settings::ph();
        let arch = Arch::X86_64;
        let rt_sigreturn = arch.number("rt_sigreturn").unwrap();
        // The handler returns once, at its end.
        let handler: Vec<Syscall> = handler
            .into_iter()
            .filter(|&c| c != rt_sigreturn)
            .chain([rt_sigreturn])
            .collect();
        let key = ProfileKey { dev: 1, ino: 1, script: 0 };

        let mut model = Model::new(settings.clone(), arch);
        model.apply(ModelEvent::Exec { tid: 1, key });
        let call = |c| ModelEvent::Syscall { tid: 1, call: c, now: 0 };
        before.iter().for_each(|&c| { model.apply(call(c)); });
        model.apply(ModelEvent::Signal { tid: 1 });
        handler.iter().for_each(|&c| { model.apply(call(c)); });
        after.iter().for_each(|&c| { model.apply(call(c)); });

        // Expected: the interrupted code as if no signal came, plus the handler on its own.
        let main: Vec<Syscall> = before.iter().chain(&after).copied().collect();
        let expected = naive_pairs(&[main, handler], 9);
        prop_assert_eq!(table_pairs(&model.profile(&key).unwrap().train), expected);
        prop_assert_eq!(model.task(1).unwrap().1.signal_depth(), 0);
    }

    #[test]
    fn accepting_only_ever_adds_to_what_is_normal(
        train_t in trace(),
        pool in prop::collection::vec(trace(), 1..3),
        runs in prop::collection::vec((0usize..3, prop::bool::weighted(0.2)), 1..12),
        accept_after in 1u32..4,
        tolerize_limit in prop::sample::select(vec![2u32, 12, 128]),
    ) {
        // Runs of a normal profile drawn from a small pool (so that they repeat), some with
        // the admin's sensitize before them: whatever happens, the test table never loses a
        // pair or an n-gram, and it only changes when the profile accepts.
        let settings = Settings {
            accept_after,
            tolerize_limit,
            anomaly_limit: 1000,
            ..Settings::default()
        };
        let mut p = Profile::new();
        train(&mut p, &train_t, &settings);
        p.normalize();
        for (i, sensitize) in &runs {
            let t = &pool[i % pool.len()];
            if *sensitize {
                p.sensitize();
            }
            let before = p.test.clone();
            let mut task = TaskState::new();
            for &c in t {
                p.on_call(&mut task, c, 0, &settings);
            }
            let accepted = p.end_run(task.run, &settings);
            if p.status != ProfileStatus::Normal {
                break;
            }
            prop_assert!(p.test.includes(&before), "accepting removed something");
            if !accepted {
                prop_assert!(p.test == before, "the test table changed without accepting");
            }
            prop_assert!(!p.train_partial || !accepted);
        }
    }
}
