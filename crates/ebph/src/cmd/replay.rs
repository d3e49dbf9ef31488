//! `ebph replay`: train a profile on recorded traces and test other traces against it.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use ebph_core::{Arch, Settings};
use ebph_replay::{inputs, read_trace_file, Format, Replay, TestResult, Tester};
use serde::Serialize;

use crate::table::{Align, Table};

/// Train a profile on recorded system-call traces, then test other traces against it.
///
/// Every training process runs through one profile, each from an empty window. The profile
/// is then made normal, and each test process is tested against that same snapshot: results
/// do not depend on the order of the tests, and are not cut short by the anomaly limit.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ebph replay --format unm --train login/normal --test login/abnormal
  ebph replay --format strace --train good.strace --test odd.strace --json
  ebph replay --format adfa --arch i386 --set window=6 --train Training_Data_Master")]
pub struct Args {
    #[command(flatten)]
    training: Training,
    /// Files or directories to test against the trained profile.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    test: Vec<PathBuf>,
    /// Print one JSON object per test process per line, then a summary object.
    #[arg(long)]
    json: bool,
}

/// What `ebph replay` and `ebph eval` train on, and how they read traces.
#[derive(Debug, clap::Args)]
pub struct Training {
    /// Trace format: adfa (one trace per file, numbers), unm (lines "PID SYSCALL") or strace
    /// (output of strace -f -o FILE).
    #[arg(long, short, value_parser = parse_format)]
    pub format: Format,
    /// System-call numbering: x86_64 or i386.
    #[arg(long, default_value = "x86_64", value_parser = parse_arch)]
    pub arch: Arch,
    /// Files or directories (every regular file under them, by path) to train on.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub train: Vec<PathBuf>,
    /// Change a setting for this run (for example window=6); may be repeated.
    #[arg(long = "set", short = 's', value_name = "NAME=VALUE", value_parser = parse_assignment)]
    pub settings: Vec<(String, String)>,
}

impl Training {
    /// The default settings with every `--set` applied.
    pub fn settings(&self) -> Result<Settings> {
        let mut settings = Settings::default();
        for (name, value) in &self.settings {
            settings.set(name, value)?;
        }
        Ok(settings)
    }

    /// Trains one profile on every process of `--train`, then normalizes it.
    pub fn tester(&self, settings: &Settings) -> Result<Tester> {
        let mut replay = Replay::new(settings.clone(), self.arch);
        for path in inputs(&self.train)? {
            let file = read_trace_file(&path, self.format, self.arch)?;
            for process in &file.processes {
                replay.train(&process.calls);
            }
        }
        Ok(replay.normalize())
    }
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_arch(s: &str) -> Result<Arch, String> {
    s.parse()
        .map_err(|e: ebph_core::ArchParseError| e.to_string())
}

fn parse_assignment(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, found {s:?}"))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// One line of `--json` output for a test process.
#[derive(Serialize)]
struct TraceLine<'a> {
    trace: &'a str,
    calls: u64,
    anomalous_calls: u64,
    max_lfc: u32,
}

/// The last line of `--json` output.
#[derive(Serialize)]
struct SummaryLine {
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    training: ebph_replay::Summary,
    test_processes: u64,
    anomalous_processes: u64,
}

pub fn run(args: Args) -> Result<()> {
    let t = &args.training;
    let detector = t.tester(&t.settings()?)?;

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut table = Table::new(&[
        ("TRACE", Align::Left),
        ("CALLS", Align::Right),
        ("ANOMALOUS", Align::Right),
        ("MAX_LFC", Align::Right),
    ]);
    let (mut tested, mut anomalous, mut total) = (0u64, 0u64, TestResult::default());
    for path in inputs(&args.test)? {
        let file = read_trace_file(&path, t.format, t.arch)?;
        for process in &file.processes {
            let result = detector.test(&process.calls);
            let name = file.name_of(process);
            tested += 1;
            anomalous += u64::from(result.anomalous_calls > 0);
            total.calls += result.calls;
            total.anomalous_calls += result.anomalous_calls;
            if args.json {
                let line = TraceLine {
                    trace: &name,
                    calls: result.calls,
                    anomalous_calls: result.anomalous_calls,
                    max_lfc: result.max_lfc,
                };
                serde_json::to_writer(&mut out, &line)?;
                writeln!(out)?;
            } else {
                table.row(vec![
                    name,
                    result.calls.to_string(),
                    result.anomalous_calls.to_string(),
                    result.max_lfc.to_string(),
                ]);
            }
        }
    }

    let summary = detector.summary();
    if args.json {
        let line = SummaryLine {
            summary: Summary {
                training: summary,
                test_processes: tested,
                anomalous_processes: anomalous,
            },
        };
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
    } else {
        if tested > 0 {
            table.write(&mut out)?;
            writeln!(out)?;
        }
        writeln!(
            out,
            "Trained on {} processes ({} calls): {} sequences learned, {} lookahead pairs.",
            summary.train_processes,
            summary.train_count,
            summary.sequences,
            summary.lookahead_pairs
        )?;
        if tested > 0 {
            writeln!(
                out,
                "Tested {tested} processes: {anomalous} with anomalous calls ({} of {} calls anomalous).",
                total.anomalous_calls, total.calls
            )?;
        }
    }
    out.flush().context("writing the results")
}
