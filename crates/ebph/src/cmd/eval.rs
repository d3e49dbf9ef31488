//! `ebph eval`: train on recorded traces, then measure how well the detector tells labelled
//! attack traces from normal ones.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use ebph_core::Settings;
use ebph_replay::eval::{auc, far_at_detection, rates_at, roc, Grouping, Units, SCORES};
use ebph_replay::{inputs, read_trace_file, Detector};
use serde::Serialize;

use super::replay::Training;
use crate::table::{Align, Table};

/// Measure detection on labelled traces: train, then score normal and attack traces.
///
/// Trains one profile on the --train traces (as `ebph replay` does), then tests every process
/// of the --normal and --attack traces against that snapshot. Processes are grouped into
/// units (a trace file by default), each scored by its worst process, and for each score the
/// report gives the ROC area, the false-alarm rate at 90 % and 100 % detection, detection and
/// false alarms at the daemon's tolerize-limit and suspend-execve, and the counts.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Scores: max_lfc (the highest locality frame count: what the daemon acts on), anomaly_rate
(anomalous calls over calls), anomalous_calls. far_at_dr90 is the share of normal units
flagged at the highest threshold that flags 90 % of the attack units; 1 means that takes a
threshold of 0 (attacks without any anomaly), i.e. it is out of reach.

Examples:
  ebph eval --format unm --train lpr/normal-train --normal lpr/normal-test --attack lpr/attacks --group dir
  ebph eval --format adfa --train Training_Data_Master --normal Validation_Data_Master --attack Attack_Data_Master --json")]
pub struct Args {
    #[command(flatten)]
    training: Training,
    /// Traces of normal use, not trained on.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    normal: Vec<PathBuf>,
    /// Traces of attacks.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    attack: Vec<PathBuf>,
    /// What one unit (one alert) is: file (a trace file), dir (a directory of trace files: one
    /// intrusion) or process.
    #[arg(long, default_value = "file", value_parser = parse_grouping)]
    group: Grouping,
    /// One JSON object per score per line.
    #[arg(long)]
    json: bool,
    /// Also draw the ROC curves to FILE.png or FILE.svg.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

fn parse_grouping(s: &str) -> Result<Grouping, String> {
    s.parse()
}

/// One score's results: a line of `--json`.
#[derive(Debug, Serialize)]
struct ScoreLine {
    detector: &'static str,
    score: &'static str,
    /// The detector and score the daemon alerts on by default.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    default: bool,
    auc: Option<f64>,
    far_at_dr90: Option<f64>,
    far_at_dr100: Option<f64>,
    /// With max_lfc only: flagged when the LFC passes tolerize-limit / suspend-execve.
    #[serde(skip_serializing_if = "Option::is_none")]
    dr_at_tolerize_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    far_at_tolerize_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dr_at_suspend_execve: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    far_at_suspend_execve: Option<f64>,
    normal: usize,
    attack: usize,
}

/// Tests every process of `paths` into units.
fn units(detector: &Detector, paths: &[PathBuf], args: &Args) -> Result<Units> {
    let mut units = Units::new(args.group);
    for root in paths {
        for path in inputs(std::slice::from_ref(root))? {
            let file = read_trace_file(&path, args.training.format, args.training.arch)?;
            for process in &file.processes {
                let result = detector.test(&process.calls);
                units.add(root, &file.path, &file.name_of(process), &result);
            }
        }
    }
    Ok(units)
}

fn evaluate(normal: &Units, attack: &Units, settings: &Settings) -> Vec<ScoreLine> {
    SCORES
        .iter()
        .map(|&score| {
            let (n, a) = (normal.values(score), attack.values(score));
            // The daemon acts when the LFC goes above a limit.
            let at = |limit: u32| rates_at(&n, &a, f64::from(limit) + 1.0);
            let lfc = score == "max_lfc";
            let tolerize = lfc.then(|| at(settings.tolerize_limit));
            let suspend = (lfc && settings.suspend_execve > 0).then(|| at(settings.suspend_execve));
            ScoreLine {
                detector: "pairs",
                score,
                default: lfc,
                auc: auc(&n, &a),
                far_at_dr90: far_at_detection(&n, &a, 0.9),
                far_at_dr100: far_at_detection(&n, &a, 1.0),
                dr_at_tolerize_limit: tolerize.map(|r| r.0),
                far_at_tolerize_limit: tolerize.map(|r| r.1),
                dr_at_suspend_execve: suspend.map(|r| r.0),
                far_at_suspend_execve: suspend.map(|r| r.1),
                normal: n.len(),
                attack: a.len(),
            }
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let settings = args.training.settings()?;
    let detector = args.training.detector(&settings)?;
    let normal = units(&detector, &args.normal, &args)?;
    let attack = units(&detector, &args.attack, &args)?;
    let lines = evaluate(&normal, &attack, &settings);
    if let Some(path) = &args.plot {
        let curves: Vec<super::roc::Curve> = lines
            .iter()
            .map(|l| super::roc::Curve {
                label: format!(
                    "{} {} (AUC {})",
                    l.detector,
                    l.score,
                    l.auc.map_or_else(|| "-".to_owned(), |a| format!("{a:.3}"))
                ),
                points: roc(&normal.values(l.score), &attack.values(l.score)),
            })
            .collect();
        let title = format!(
            "ROC: {} normal, {} attack units",
            normal.len(),
            attack.len()
        );
        super::roc::draw(path, &title, &curves)?;
        if !args.json {
            eprintln!("wrote {}", path.display());
        }
    }

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if args.json {
        for line in &lines {
            serde_json::to_writer(&mut out, line)?;
            writeln!(out)?;
        }
        return out.flush().context("writing the results");
    }
    let rate = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{:.3}", r));
    let mut table = Table::new(&[
        ("DETECTOR", Align::Left),
        ("SCORE", Align::Left),
        ("AUC", Align::Right),
        ("FAR@DR90", Align::Right),
        ("FAR@DR100", Align::Right),
        ("DR@TOLERIZE", Align::Right),
        ("FAR@TOLERIZE", Align::Right),
        ("DR@SUSPEND", Align::Right),
        ("FAR@SUSPEND", Align::Right),
    ]);
    for l in &lines {
        let name = if l.default {
            format!("{} (default)", l.score)
        } else {
            l.score.to_owned()
        };
        table.row(vec![
            l.detector.to_owned(),
            name,
            rate(l.auc),
            rate(l.far_at_dr90),
            rate(l.far_at_dr100),
            rate(l.dr_at_tolerize_limit),
            rate(l.far_at_tolerize_limit),
            rate(l.dr_at_suspend_execve),
            rate(l.far_at_suspend_execve),
        ]);
    }
    table.write(&mut out)?;
    let summary = detector.summary();
    writeln!(
        out,
        "\nTrained on {} processes ({} calls, {} lookahead pairs). Units ({}): {} normal, {} attack.",
        summary.train_processes,
        summary.train_count,
        summary.lookahead_pairs,
        match args.group {
            Grouping::File => "trace files",
            Grouping::Dir => "directories",
            Grouping::Process => "processes",
        },
        normal.len(),
        attack.len()
    )?;
    out.flush().context("writing the results")
}
