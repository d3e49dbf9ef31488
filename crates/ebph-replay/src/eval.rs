//! Labelled evaluation: how well a detector's scores separate attack units from normal ones.
//!
//! A *unit* is what an administrator would call one alert or one intrusion: a trace file, a
//! directory of trace files (one intrusion, as in the UNM papers), or one process. A unit is
//! scored by its worst process. For each score, the measures are the ROC area (AUC), the
//! false-alarm rate at the lowest threshold that detects 90 % (and 100 %) of the attack units,
//! and detection and false alarms at a fixed threshold (the daemon's limits).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::TestResult;

/// How processes are grouped into units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// A trace file is a unit.
    File,
    /// A directory of trace files is a unit (one intrusion): each directory directly inside a
    /// path given, with everything under it; files given by name, or lying directly in the
    /// path given, make a unit of their directory.
    Dir,
    /// Every process is a unit.
    Process,
}

impl std::str::FromStr for Grouping {
    type Err = String;

    fn from_str(s: &str) -> Result<Grouping, String> {
        match s {
            "file" => Ok(Grouping::File),
            "dir" => Ok(Grouping::Dir),
            "process" => Ok(Grouping::Process),
            other => Err(format!("unknown grouping {other:?} (file, dir or process)")),
        }
    }
}

/// The scores a unit gets, from its worst process for each.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UnitScores {
    /// The highest locality frame count reached: what the daemon's limits act on.
    pub max_lfc: f64,
    /// Anomalous calls over calls.
    pub anomaly_rate: f64,
    /// Anomalous calls.
    pub anomalous_calls: f64,
}

/// The names of the scores, in report order.
pub const SCORES: [&str; 3] = ["max_lfc", "anomaly_rate", "anomalous_calls"];

impl UnitScores {
    /// Score `name` (one of [`SCORES`]).
    pub fn get(&self, name: &str) -> f64 {
        match name {
            "max_lfc" => self.max_lfc,
            "anomaly_rate" => self.anomaly_rate,
            "anomalous_calls" => self.anomalous_calls,
            other => panic!("unknown score {other}"),
        }
    }

    fn worst(self, r: &TestResult) -> UnitScores {
        let rate = if r.calls == 0 {
            0.0
        } else {
            r.anomalous_calls as f64 / r.calls as f64
        };
        UnitScores {
            max_lfc: self.max_lfc.max(f64::from(r.max_lfc)),
            anomaly_rate: self.anomaly_rate.max(rate),
            anomalous_calls: self.anomalous_calls.max(r.anomalous_calls as f64),
        }
    }
}

/// Collects test results into units.
#[derive(Debug)]
pub struct Units {
    grouping: Grouping,
    units: BTreeMap<String, UnitScores>,
}

impl Units {
    /// No units yet.
    pub fn new(grouping: Grouping) -> Units {
        Units {
            grouping,
            units: BTreeMap::new(),
        }
    }

    /// Adds the result of process `process` (its name in reports) of trace file `file`,
    /// found under the path `root` given (or given itself).
    pub fn add(&mut self, root: &Path, file: &Path, process: &str, result: &TestResult) {
        let unit = match self.grouping {
            Grouping::File => file.display().to_string(),
            Grouping::Dir => dir_unit(root, file).display().to_string(),
            Grouping::Process => process.to_owned(),
        };
        let scores = self.units.entry(unit).or_default();
        *scores = scores.worst(result);
    }

    /// The units, by name.
    pub fn scores(&self) -> impl Iterator<Item = (&str, &UnitScores)> {
        self.units.iter().map(|(n, s)| (n.as_str(), s))
    }

    /// How many units there are.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Score `name` of every unit.
    pub fn values(&self, name: &str) -> Vec<f64> {
        self.units.values().map(|s| s.get(name)).collect()
    }
}

/// The intrusion directory of `file` under `root` (see [`Grouping::Dir`]).
fn dir_unit(root: &Path, file: &Path) -> PathBuf {
    let rel = file.strip_prefix(root).unwrap_or(Path::new(""));
    let mut parts = rel.components();
    match (parts.next(), parts.next()) {
        (Some(first), Some(_)) => root.join(first),
        (Some(_), None) => root.to_path_buf(),
        _ => file.parent().map_or_else(PathBuf::new, Path::to_path_buf),
    }
}

/// The area under the ROC curve: the chance that an attack unit scores above a normal one,
/// ties counting half (the Mann-Whitney statistic). `None` without units on both sides.
pub fn auc(normal: &[f64], attack: &[f64]) -> Option<f64> {
    if normal.is_empty() || attack.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for &a in attack {
        for &n in normal {
            wins += if a > n {
                1.0
            } else if a == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(wins / (normal.len() * attack.len()) as f64)
}

/// Detection and false-alarm rates when units scoring at least `threshold` are flagged.
pub fn rates_at(normal: &[f64], attack: &[f64], threshold: f64) -> (f64, f64) {
    let share = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().filter(|&&s| s >= threshold).count() as f64 / v.len() as f64
        }
    };
    (share(attack), share(normal))
}

/// The false-alarm rate at the highest threshold that still detects at least `detection`
/// (0..=1) of the attack units. A threshold of 0 flags every unit, so when that is what it
/// takes (attacks that score 0), the rate is 1: that detection is out of reach. `None`
/// without attack units.
pub fn far_at_detection(normal: &[f64], attack: &[f64], detection: f64) -> Option<f64> {
    if attack.is_empty() {
        return None;
    }
    let mut sorted = attack.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    // The fewest top-scoring attack units that make up `detection`.
    let needed = ((detection * sorted.len() as f64) - 1e-9).ceil().max(1.0) as usize;
    let threshold = sorted[needed.min(sorted.len()) - 1];
    if threshold <= 0.0 {
        return Some(1.0);
    }
    Some(rates_at(normal, attack, threshold).1)
}

/// The ROC curve: (false-alarm rate, detection rate) for every threshold, from flagging
/// nothing (0, 0) to flagging everything (1, 1), thresholds taken from highest to lowest.
pub fn roc(normal: &[f64], attack: &[f64]) -> Vec<(f64, f64)> {
    let mut thresholds: Vec<f64> = normal.iter().chain(attack).copied().collect();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    let mut curve = vec![(0.0, 0.0)];
    for t in thresholds {
        let (dr, far) = rates_at(normal, attack, t);
        curve.push((far, dr));
    }
    if curve.last() != Some(&(1.0, 1.0)) {
        curve.push((1.0, 1.0));
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_pairs_and_halves_ties() {
        // 3 attack x 2 normal = 6 pairs: 5 wins, 1 tie (2 vs 2) = 5.5 / 6.
        assert_eq!(auc(&[1.0, 2.0], &[2.0, 3.0, 4.0]), Some(5.5 / 6.0));
        assert_eq!(auc(&[5.0], &[1.0]), Some(0.0));
        assert_eq!(auc(&[1.0], &[1.0]), Some(0.5));
        assert_eq!(auc(&[], &[1.0]), None);
    }

    #[test]
    fn the_roc_curve_steps_through_every_threshold() {
        // Thresholds 3, 2, 1: attacks [3, 1], normal [2, 1].
        assert_eq!(
            roc(&[2.0, 1.0], &[3.0, 1.0]),
            [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (1.0, 1.0)]
        );
    }

    #[test]
    fn false_alarms_at_a_detection_rate() {
        let normal = [0.0, 0.0, 1.0, 3.0, 5.0];
        // Ten attacks; 90 % is 9 of them: the 9th highest scores 2, which flags 2 of 5
        // normal units (3 and 5).
        let attack = [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 2.0, 0.0];
        assert_eq!(far_at_detection(&normal, &attack, 0.9), Some(0.4));
        // All ten needs threshold 0: everything is flagged.
        assert_eq!(far_at_detection(&normal, &attack, 1.0), Some(1.0));
        assert_eq!(rates_at(&normal, &attack, 6.0), (0.4, 0.0));
        assert_eq!(far_at_detection(&normal, &[], 0.9), None);
    }

    #[test]
    fn units_take_their_worst_process() {
        let r = |calls, anomalous_calls, max_lfc| TestResult {
            calls,
            anomalous_calls,
            max_lfc,
            novel: vec![],
        };
        let root = Path::new("x");
        let mut by_dir = Units::new(Grouping::Dir);
        by_dir.add(root, Path::new("x/a/1"), "x/a/1", &r(10, 1, 1));
        by_dir.add(root, Path::new("x/a/deep/2"), "x/a/deep/2", &r(100, 5, 4));
        by_dir.add(root, Path::new("x/b/1"), "x/b/1", &r(4, 2, 2));
        assert_eq!(by_dir.len(), 2);
        assert_eq!(by_dir.values("max_lfc"), [4.0, 2.0]);
        assert_eq!(by_dir.values("anomaly_rate"), [0.1, 0.5]);
        assert_eq!(by_dir.values("anomalous_calls"), [5.0, 2.0]);
        // Files lying in the root, or given by name: their directory.
        assert_eq!(dir_unit(root, Path::new("x/f")), Path::new("x"));
        assert_eq!(dir_unit(Path::new("y/f"), Path::new("y/f")), Path::new("y"));
        let mut by_file = Units::new(Grouping::File);
        by_file.add(root, Path::new("a/1"), "a/1:7", &r(10, 1, 1));
        by_file.add(root, Path::new("a/1"), "a/1:8", &r(10, 3, 2));
        assert_eq!(by_file.len(), 1);
        let mut by_process = Units::new(Grouping::Process);
        by_process.add(root, Path::new("a/1"), "a/1:7", &r(10, 1, 1));
        by_process.add(root, Path::new("a/1"), "a/1:8", &r(10, 3, 2));
        assert_eq!(by_process.len(), 2);
    }
}
