//! `ebph eval`: train on recorded traces, then measure how well the detector tells labelled
//! attack traces from normal ones.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use ebph_core::{Detector, Settings};
use ebph_replay::eval::{auc, far_at_detection, rates_at, roc, Grouping, Units, SCORES};
use ebph_replay::{inputs, read_trace_file, Tester};
use serde::Serialize;

use super::replay::Training;
use crate::table::{Align, Table};

/// Measure detection on labelled traces: train, then score normal and attack traces.
///
/// Trains one profile on the --train traces (as `ebph replay` does), then tests every process
/// of the --normal and --attack traces against that snapshot. Processes are grouped into
/// units (a trace file by default), each scored by its worst process, and for each score the
/// report gives, for each detector (lookahead pairs, n-grams, both: one training serves them
/// all), the ROC area, the false-alarm rate at 90 % and 100 % detection, detection and
/// false alarms at the daemon's delay-threshold, tolerize-limit and suspend-execve, and the
/// counts.
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
    /// Group the --normal traces differently from the attacks: `--group dir --normal-group
    /// file` scores each intrusion (a directory) against false alarms per normal trace file.
    #[arg(long, value_parser = parse_grouping, value_name = "GROUP")]
    normal_group: Option<Grouping>,
    /// The detectors to measure: pairs, ngrams, both (default: all three).
    #[arg(long, value_delimiter = ',', value_parser = parse_detector)]
    detector: Vec<Detector>,
    /// One JSON object per detector and score per line.
    #[arg(long)]
    json: bool,
    /// Also draw the ROC curves to FILE.png or FILE.svg.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

fn parse_grouping(s: &str) -> Result<Grouping, String> {
    s.parse()
}

fn parse_detector(s: &str) -> Result<Detector, String> {
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
    /// With max_lfc only: flagged when the LFC passes delay-threshold (held under `response
    /// delay`) / tolerize-limit / suspend-execve.
    #[serde(skip_serializing_if = "Option::is_none")]
    dr_at_delay_threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    far_at_delay_threshold: Option<f64>,
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
fn units(tester: &Tester, paths: &[PathBuf], group: Grouping, args: &Args) -> Result<Units> {
    let mut units = Units::new(group);
    for root in paths {
        for path in inputs(std::slice::from_ref(root))? {
            let file = read_trace_file(&path, args.training.format, args.training.arch)?;
            for process in &file.processes {
                let result = tester.test(process);
                units.add(root, &file.path, &file.name_of(process), &result);
            }
        }
    }
    Ok(units)
}

/// One line per score of one detector. `default`: the settings' detector is this one (the
/// daemon alerts on its max LFC).
fn evaluate(
    detector: Detector,
    normal: &Units,
    attack: &Units,
    settings: &Settings,
) -> Vec<ScoreLine> {
    SCORES
        .iter()
        .map(|&score| {
            let (n, a) = (normal.values(score), attack.values(score));
            // The daemon acts when the LFC goes above a limit.
            let at = |limit: u32| rates_at(&n, &a, f64::from(limit) + 1.0);
            let lfc = score == "max_lfc";
            let delay = lfc.then(|| at(settings.delay_threshold));
            let tolerize = lfc.then(|| at(settings.tolerize_limit));
            let suspend = (lfc && settings.suspend_execve > 0).then(|| at(settings.suspend_execve));
            ScoreLine {
                detector: detector.as_str(),
                score,
                default: lfc && detector == settings.detector,
                auc: auc(&n, &a),
                far_at_dr90: far_at_detection(&n, &a, 0.9),
                far_at_dr100: far_at_detection(&n, &a, 1.0),
                dr_at_delay_threshold: delay.map(|r| r.0),
                far_at_delay_threshold: delay.map(|r| r.1),
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

fn unit_name(group: Grouping) -> &'static str {
    match group {
        Grouping::File => "trace files",
        Grouping::Dir => "directories",
        Grouping::Process => "processes",
    }
}

pub fn run(args: Args) -> Result<()> {
    let settings = args.training.settings()?;
    let trained = args.training.tester(&settings)?;
    let detectors = if args.detector.is_empty() {
        Detector::ALL.to_vec()
    } else {
        args.detector.clone()
    };
    let mut lines = Vec::new();
    let mut values = Vec::new();
    let (mut normal_units, mut attack_units) = (0, 0);
    for &detector in &detectors {
        let tester = trained.with_detector(detector);
        let normal_group = args.normal_group.unwrap_or(args.group);
        let normal = units(&tester, &args.normal, normal_group, &args)?;
        let attack = units(&tester, &args.attack, args.group, &args)?;
        (normal_units, attack_units) = (normal.len(), attack.len());
        for line in evaluate(detector, &normal, &attack, &settings) {
            values.push((normal.values(line.score), attack.values(line.score)));
            lines.push(line);
        }
    }
    if let Some(path) = &args.plot {
        let curves: Vec<super::roc::Curve> = lines
            .iter()
            .zip(&values)
            .map(|(l, (n, a))| super::roc::Curve {
                label: format!(
                    "{} {} (AUC {})",
                    l.detector,
                    l.score,
                    l.auc.map_or_else(|| "-".to_owned(), |a| format!("{a:.3}"))
                ),
                points: roc(n, a),
            })
            .collect();
        let title = format!("ROC: {normal_units} normal, {attack_units} attack units");
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
        ("DR@DELAY", Align::Right),
        ("FAR@DELAY", Align::Right),
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
            rate(l.dr_at_delay_threshold),
            rate(l.far_at_delay_threshold),
            rate(l.dr_at_tolerize_limit),
            rate(l.far_at_tolerize_limit),
            rate(l.dr_at_suspend_execve),
            rate(l.far_at_suspend_execve),
        ]);
    }
    table.write(&mut out)?;
    let summary = trained.summary();
    writeln!(
        out,
        "\nTrained on {} processes ({} calls, {} lookahead pairs, {} n-gram bits, length {}). Units: {} normal ({}), {} attack ({}).",
        summary.train_processes,
        summary.train_count,
        summary.lookahead_pairs,
        summary.ngram_bits,
        settings.ngram_length,
        normal_units,
        unit_name(args.normal_group.unwrap_or(args.group)),
        attack_units,
        unit_name(args.group),
    )?;
    out.flush().context("writing the results")
}
