//! Replay throughput, in calls per second: parsing, training, testing, and all three as
//! `ebph replay` runs them.
//!
//! The workload is synthetic and deterministic: a program of a few dozen distinct calls made
//! of repeated blocks, like real programs' loops, about one million calls per run.
//!
//! `train_dense_baseline` is the same training on the thesis's layout, a flat 512 x 512 byte
//! table, in the same run: the ratio of `train` to it is the price of the sparse rows and of
//! the rest of pH's bookkeeping (counters, freezing, the locality frame).

// criterion's macros define undocumented functions.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ebph_core::{Arch, Settings, Syscall};
use ebph_replay::{parse, Format, ProcessTrace, Replay};

/// A small xorshift generator, so the workload is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `processes` traces of `len` calls each, built from 24 blocks of 3 to 10 calls over 48
/// distinct system calls; one block in 50 is replaced by a random call, so that training
/// keeps learning a little and testing finds some anomalies.
fn workload(seed: u64, processes: usize, len: usize) -> Vec<Vec<Syscall>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet: Vec<u16> = (0..48).map(|i| (i * 7 % 330) as u16).collect();
    let blocks: Vec<Vec<u16>> = (0..24)
        .map(|_| {
            let n = 3 + rng.next() as usize % 8;
            (0..n)
                .map(|_| alphabet[rng.next() as usize % alphabet.len()])
                .collect()
        })
        .collect();
    let mut rng = Rng(seed);
    (0..processes)
        .map(|_| {
            let mut calls = Vec::with_capacity(len + 10);
            while calls.len() < len {
                if rng.next() % 50 == 0 {
                    calls.push(alphabet[rng.next() as usize % alphabet.len()]);
                } else {
                    calls.extend(&blocks[rng.next() as usize % blocks.len()]);
                }
            }
            calls.truncate(len);
            calls
                .into_iter()
                .map(|n| Syscall::new(n).unwrap())
                .collect()
        })
        .collect()
}

fn as_unm(traces: &[Vec<Syscall>]) -> Vec<u8> {
    let mut text = String::new();
    for (pid, trace) in traces.iter().enumerate() {
        for call in trace {
            text.push_str(&format!("{} {}\n", 1000 + pid, call.nr()));
        }
    }
    text.into_bytes()
}

/// The thesis's layout: every `(curr, prev)` byte of a 512 x 512 table, allocated up front.
struct DenseTable(Vec<u8>);

impl DenseTable {
    fn train(&mut self, trace: &[Syscall]) -> u64 {
        let mut window = [0usize; 8];
        let mut filled = 0;
        let mut learned = 0;
        for &call in trace {
            let row = &mut self.0[call.index() * 512..][..512];
            let mut new = false;
            for (i, &prev) in window[..filled].iter().enumerate() {
                if row[prev] & (1 << i) == 0 {
                    row[prev] |= 1 << i;
                    new = true;
                }
            }
            learned += u64::from(new);
            window.copy_within(0..7, 1);
            window[0] = call.index();
            filled = (filled + 1).min(8);
        }
        learned
    }
}

fn calls(traces: &[Vec<Syscall>]) -> u64 {
    traces.iter().map(|t| t.len() as u64).sum()
}

fn processes(traces: &[Vec<Syscall>]) -> Vec<ProcessTrace> {
    traces
        .iter()
        .map(|t| ProcessTrace::of_calls(t.clone()))
        .collect()
}

fn bench(c: &mut Criterion) {
    let train = workload(1, 100, 10_000);
    let test = workload(2, 100, 10_000);
    let (train_processes, test_processes) = (processes(&train), processes(&test));
    let text = as_unm(&train);
    let settings = Settings::default();

    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(calls(&train)));
    group.sample_size(20);

    group.bench_function("parse_unm", |b| {
        b.iter(|| parse(Format::Unm, black_box(&text), Arch::I386).unwrap())
    });

    group.bench_function("train", |b| {
        b.iter(|| {
            let mut replay = Replay::new(settings.clone(), Arch::X86_64);
            for t in &train_processes {
                replay.train(black_box(t));
            }
            replay
        })
    });

    group.bench_function("train_dense_baseline", |b| {
        b.iter(|| {
            let mut table = DenseTable(vec![0; 512 * 512]);
            train.iter().map(|t| table.train(black_box(t))).sum::<u64>()
        })
    });

    let detector = {
        let mut replay = Replay::new(settings.clone(), Arch::X86_64);
        train_processes.iter().for_each(|t| replay.train(t));
        replay.normalize()
    };
    group.throughput(Throughput::Elements(calls(&test)));
    group.bench_function("test", |b| {
        b.iter(|| {
            test_processes
                .iter()
                .map(|t| detector.test(black_box(t)).anomalous_calls)
                .sum::<u64>()
        })
    });

    // Everything `ebph replay --format unm` does after reading the files: parse and train on
    // one text, parse and test the other.
    let test_text = as_unm(&test);
    group.throughput(Throughput::Elements(calls(&train) + calls(&test)));
    group.bench_function("end_to_end_unm", |b| {
        b.iter_batched(
            || Replay::new(settings.clone(), Arch::I386),
            |mut replay| {
                for p in parse(Format::Unm, &text, Arch::I386).unwrap() {
                    replay.train(&p);
                }
                let detector = replay.normalize();
                parse(Format::Unm, &test_text, Arch::I386)
                    .unwrap()
                    .iter()
                    .map(|p| detector.test(p).anomalous_calls)
                    .sum::<u64>()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
