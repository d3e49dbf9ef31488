//! `ebph plot`: a profile's lookahead pairs and n-grams as a heatmap, and its anomalies as a
//! timeline.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use ebph_api::client::Client;
use ebph_api::protocol::{Anomaly, ProfileDetail, Target};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Draw a profile: its lookahead pairs as a heatmap (calls on both axes, darker = seen at
/// more distances; the last column: n-gram bits per call, darker = more) and its anomalies
/// over time (red: unseen pairs; blue triangles: only an unseen n-gram). The file's
/// extension picks PNG or SVG.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The executable's path, or the profile's key.
    target: String,
    /// The picture to write: FILE.png or FILE.svg (or give it with --output).
    #[arg(
        value_name = "FILE",
        required_unless_present = "output",
        conflicts_with = "output"
    )]
    file: Option<PathBuf>,
    /// The picture to write: FILE.png or FILE.svg.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Width and height in pixels.
    #[arg(long, default_value_t = 1200)]
    size: u32,
}

/// Where Debian's fonts-dejavu-core puts the font text is drawn with.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Registers the font once; plotters measures and draws text with it.
pub(crate) fn register_font() -> Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = std::fs::read(FONT).map_err(|e| {
            format!("{FONT}: {e} (install the font: apt-get install fonts-dejavu-core)")
        })?;
        plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            Box::leak(bytes.into_boxed_slice()),
        )
        .map_err(|_| format!("{FONT} is not a font plotters can read"))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

pub fn run(client: &Client, args: Args) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let profile: ProfileDetail = client.profile(&Target::named(&args.target))?;
    let anomalies: Vec<Anomaly> = client.anomalies(100_000)?;
    let anomalies: Vec<Anomaly> = anomalies
        .into_iter()
        .filter(|a| a.key == profile.summary.key)
        .collect();
    let output = args
        .file
        .or(args.output)
        .expect("clap requires a file or --output");
    render(&profile, &anomalies, &output, args.size)?;
    writeln!(out, "wrote {}", output.display())?;
    Ok(())
}

/// Renders `profile` and its `anomalies` to `path` (`.png` or `.svg`), `size` pixels square.
pub fn render(
    profile: &ProfileDetail,
    anomalies: &[Anomaly],
    path: &Path,
    size: u32,
) -> Result<()> {
    register_font()?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension {
        "png" => draw(
            BitMapBackend::new(path, (size, size)).into_drawing_area(),
            profile,
            anomalies,
        ),
        "svg" => draw(
            SVGBackend::new(path, (size, size)).into_drawing_area(),
            profile,
            anomalies,
        ),
        _ => bail!(
            "{}: write the picture to a .png or .svg file",
            path.display()
        ),
    }
    .with_context(|| format!("drawing {}", path.display()))
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    profile: &ProfileDetail,
    anomalies: &[Anomaly],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    root.fill(&WHITE).map_err(err)?;
    let height = root.dim_in_pixel().1;
    let (top, bottom) = root.split_vertically(height * 3 / 4);

    // Heatmap: one row per call, one column per earlier call, shade = distances seen; then
    // one column for the n-grams each call ends, shade = bits set.
    let mut calls: Vec<&str> = profile
        .pairs
        .iter()
        .flat_map(|p| [p.call.as_str(), p.prev.as_str()])
        .chain(profile.ngrams.iter().map(|g| g.call.as_str()))
        .collect();
    calls.sort_unstable();
    calls.dedup();
    let index = |name: &str| calls.binary_search(&name).unwrap_or(0) as i32;
    let n = calls.len().max(1) as i32;
    let ngram_column = calls.len() as i32;
    let title = format!(
        "{}  ({}, {} pairs, {} n-gram bits)",
        profile.summary.path,
        profile.summary.status,
        profile.summary.lookahead_pairs,
        profile.summary.ngram_bits
    );
    let label = |v: &i32| {
        calls
            .get(*v as usize)
            .map_or_else(String::new, |s| s.to_string())
    };
    let x_label = |v: &i32| {
        if *v == ngram_column {
            "n-grams".to_owned()
        } else {
            label(v)
        }
    };
    let mut chart = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(90)
        .y_label_area_size(110)
        .build_cartesian_2d(0..n + 1, 0..n)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(calls.len() + 1)
        .y_labels(calls.len())
        .x_label_formatter(&x_label)
        .y_label_formatter(&label)
        .x_label_style(
            ("sans-serif", 10)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .y_label_style(("sans-serif", 10))
        .x_desc("earlier call")
        .y_desc("call")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(profile.pairs.iter().map(|p| {
            let (x, y) = (index(&p.prev), index(&p.call));
            let shade = 0.25 + 0.75 * (p.distances.len() as f64 / 8.0);
            Rectangle::new([(x, y), (x + 1, y + 1)], BLUE.mix(shade).filled())
        }))
        .map_err(err)?;
    let fullest = profile
        .ngrams
        .iter()
        .map(|g| g.bits.len())
        .max()
        .unwrap_or(1);
    chart
        .draw_series(
            profile
                .ngrams
                .iter()
                .filter(|g| !g.bits.is_empty())
                .map(|g| {
                    let y = index(&g.call);
                    let shade = 0.25 + 0.75 * (g.bits.len() as f64 / fullest as f64);
                    Rectangle::new(
                        [(ngram_column, y), (ngram_column + 1, y + 1)],
                        GREEN.mix(shade).filled(),
                    )
                }),
        )
        .map_err(err)?;

    // Timeline: each anomaly's LFC, by seconds since the first.
    let times: Vec<f64> = anomalies
        .iter()
        .map(|a| {
            humantime::parse_rfc3339(&a.time).map_or(0.0, |t| {
                t.duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64())
            })
        })
        .collect();
    let start = times.iter().copied().fold(f64::INFINITY, f64::min);
    let start = if start.is_finite() { start } else { 0.0 };
    let end = times.iter().map(|t| t - start).fold(1.0, f64::max);
    let top_lfc = anomalies.iter().map(|a| a.lfc).max().unwrap_or(1).max(1);
    let ngram_only = |a: &Anomaly| a.misses == 0 && a.novel_ngram;
    let caption = format!(
        "{} anomalies ({} by an unseen n-gram alone)",
        anomalies.len(),
        anomalies.iter().filter(|a| ngram_only(a)).count()
    );
    let mut timeline = ChartBuilder::on(&bottom)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..end * 1.05, 0u32..top_lfc + 1)
        .map_err(err)?;
    timeline
        .configure_mesh()
        .x_desc("seconds since the first anomaly")
        .y_desc("LFC")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    timeline
        .draw_series(
            anomalies
                .iter()
                .zip(&times)
                .filter(|(a, _)| !ngram_only(a))
                .map(|(a, t)| Circle::new((t - start, a.lfc), 4, RED.filled())),
        )
        .map_err(err)?;
    timeline
        .draw_series(
            anomalies
                .iter()
                .zip(&times)
                .filter(|(a, _)| ngram_only(a))
                .map(|(a, t)| TriangleMarker::new((t - start, a.lfc), 6, BLUE.filled())),
        )
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebph_api::protocol::{NgramBits, Pair, ProfileSummary};

    fn profile() -> ProfileDetail {
        let pair = |call: &str, prev: &str, distances: &[u8]| Pair {
            call: call.into(),
            prev: prev.into(),
            distances: distances.to_vec(),
        };
        ProfileDetail {
            summary: ProfileSummary {
                key: "254:0:1".into(),
                path: "/usr/bin/anomaly".into(),
                status: "normal".into(),
                train_count: 10,
                last_mod_count: 2,
                sequences: 5,
                anomalies: 2,
                repeats: 0,
                train_partial: false,
                normal_time: None,
                lookahead_pairs: 6,
                ngram_bits: 4,
                memory_bytes: 4096,
            },
            pairs: vec![
                pair("write", "brk", &[1, 2]),
                pair("brk", "mmap", &[1]),
                pair("write", "write", &[1, 2, 3]),
            ],
            ngrams: vec![NgramBits {
                call: "write".into(),
                bits: vec![3, 17, 900, 2000],
                false_hit_rate: 0.000001,
            }],
        }
    }

    fn anomaly(time: &str, lfc: u32, novel_ngram: bool) -> Anomaly {
        Anomaly {
            time: time.into(),
            pid: 1,
            tid: 1,
            key: "254:0:1".into(),
            path: "/usr/bin/anomaly".into(),
            syscall: "write".into(),
            misses: if novel_ngram { 0 } else { 2 },
            lfc,
            sequence: vec!["write".into()],
            novel_ngram,
        }
    }

    #[test]
    fn a_png_of_the_expected_size_and_an_svg_with_call_names() {
        if std::fs::metadata(FONT).is_err() {
            ebph_test_support::skip_or_fail(&format!(
                "{FONT} is missing (scripts/install-deps installs fonts-dejavu-core)"
            ));
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let anomalies = [
            anomaly("2026-11-24T02:05:22.490Z", 1, false),
            anomaly("2026-11-24T02:05:23.000Z", 4, true),
        ];
        let png = dir.path().join("profile.png");
        render(&profile(), &anomalies, &png, 640).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR: width and height, big-endian, right after the chunk's length and type.
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 640);
        assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 640);
        assert!(
            bytes.len() > 5_000,
            "an empty-looking picture: {} bytes",
            bytes.len()
        );

        let svg = dir.path().join("profile.svg");
        render(&profile(), &[], &svg, 500).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<svg") && text.contains("write") && text.contains("mmap"));
        assert!(text.contains("0 anomalies"));
        assert!(
            text.contains("n-grams") && text.contains("4 n-gram bits"),
            "the n-gram column"
        );
        let svg = dir.path().join("anomalies.svg");
        render(&profile(), &anomalies, &svg, 500).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("2 anomalies (1 by an unseen n-gram alone)"));

        assert!(render(&profile(), &[], &dir.path().join("profile.gif"), 100).is_err());
    }
}
