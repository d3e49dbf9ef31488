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
///
/// strace traces also show what processes executed and which addresses they connected to or
/// bound: these are learned and tested as the engine does (watch-execs, watch-endpoints), and
/// the novel ones are listed. A process is followed up to an exec of another program: what
/// it does after that belongs to the other program's profile.
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
                replay.train(process);
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
    novel: &'a [ebph_replay::Observed],
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
    /// Processes with an anomalous call or a novel exec or endpoint.
    anomalous_processes: u64,
    /// Novel execs and endpoints in every test process.
    novel: usize,
}

pub fn run(args: Args) -> Result<()> {
    let t = &args.training;
    let detector = t.tester(&t.settings()?)?;

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut rows = Vec::new();
    let (mut tested, mut anomalous, mut total) = (0u64, 0u64, TestResult::default());
    let mut novel = 0;
    for path in inputs(&args.test)? {
        let file = read_trace_file(&path, t.format, t.arch)?;
        for process in &file.processes {
            let result = detector.test(process);
            let name = file.name_of(process);
            tested += 1;
            anomalous += u64::from(result.anomalous_calls > 0 || !result.novel.is_empty());
            total.calls += result.calls;
            total.anomalous_calls += result.anomalous_calls;
            novel += result.novel.len();
            if args.json {
                let line = TraceLine {
                    trace: &name,
                    calls: result.calls,
                    anomalous_calls: result.anomalous_calls,
                    max_lfc: result.max_lfc,
                    novel: &result.novel,
                };
                serde_json::to_writer(&mut out, &line)?;
                writeln!(out)?;
            } else {
                rows.push((name, result));
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
                novel,
            },
        };
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
    } else {
        if tested > 0 {
            table(&rows, novel > 0).write(&mut out)?;
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
            let novel = match novel {
                0 => String::new(),
                n => format!(", {n} novel execs or endpoints"),
            };
            writeln!(
                out,
                "Tested {tested} processes: {anomalous} with anomalies ({} of {} calls anomalous{novel}).",
                total.anomalous_calls, total.calls
            )?;
        }
    }
    out.flush().context("writing the results")
}

/// The table of test results; the NOVEL column only when something was novel.
fn table(rows: &[(String, TestResult)], novel: bool) -> Table {
    let mut columns = vec![
        ("TRACE", Align::Left),
        ("CALLS", Align::Right),
        ("ANOMALOUS", Align::Right),
        ("MAX_LFC", Align::Right),
    ];
    if novel {
        columns.push(("NOVEL", Align::Left));
    }
    let mut table = Table::new(&columns);
    for (name, result) in rows {
        let mut cells = vec![
            name.clone(),
            result.calls.to_string(),
            result.anomalous_calls.to_string(),
            result.max_lfc.to_string(),
        ];
        if novel {
            let seen: Vec<String> = result.novel.iter().map(ToString::to_string).collect();
            cells.push(if seen.is_empty() {
                "-".into()
            } else {
                seen.join(", ")
            });
        }
        table.row(cells);
    }
    table
}
