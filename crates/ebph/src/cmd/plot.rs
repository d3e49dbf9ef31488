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
/// more distances; the last column: n-gram bits per call, darker = more) and each
/// process's LFC over time from its first anomaly (triangles: only an unseen n-gram). The
/// file's extension picks PNG or SVG.
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
    let (width, height) = root.dim_in_pixel();
    let (top, bottom) = root.split_vertically(height * 7 / 10);
    let (map, legend) = top.split_horizontally(width - (width / 8).clamp(90, 160));
    heatmap(&map, profile).map_err(err)?;
    heatmap_legend(&legend, profile).map_err(err)?;
    timeline(&bottom, anomalies).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Blue, darker for more distances (1..=8) at which a pair was seen.
fn pair_colour(distances: usize) -> RGBAColor {
    BLUE.mix(0.2 + 0.8 * (distances.min(8) as f64 / 8.0))
}

/// Green, darker for more of a call's n-gram bits (of the fullest call's).
fn ngram_colour(bits: usize, fullest: usize) -> RGBAColor {
    GREEN.mix(0.2 + 0.8 * (bits as f64 / fullest.max(1) as f64))
}

/// Every call of the profile, sorted by name: the heatmap's rows and columns.
fn calls_of(profile: &ProfileDetail) -> Vec<&str> {
    let mut calls: Vec<&str> = profile
        .pairs
        .iter()
        .flat_map(|p| [p.call.as_str(), p.prev.as_str()])
        .chain(profile.ngrams.iter().map(|g| g.call.as_str()))
        .collect();
    calls.sort_unstable();
    calls.dedup();
    calls
}

/// The lookahead pairs: a row per call, a column per earlier call, a cell's shade the number
/// of distances the pair was seen at; then a column of the n-gram bits each call ends. Every
/// label is centred on its row or column; with more calls than fit, every k-th is labelled.
fn heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    profile: &ProfileDetail,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let calls = calls_of(profile);
    let n = calls.len().max(1) as i32;
    let index = |name: &str| calls.binary_search(&name).unwrap_or(0) as i32;
    let ngram_column = calls.len() as i32;
    let (width, height) = area.dim_in_pixel();
    // Room for the longest name, at a font that fits a cell (or a few cells, then thinned).
    let label_area = 130.min(width / 5);
    let cell = (height.saturating_sub(label_area + 60) / n as u32).max(1);
    let font = cell.clamp(8, 13);
    let every = (font as f64 * 1.1 / cell as f64).ceil().max(1.0) as i32;
    let name_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) if i % every == 0 => calls
            .get(*i as usize)
            .map_or_else(String::new, |s| s.to_string()),
        _ => String::new(),
    };
    let column_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) if *i == ngram_column => "n-grams".to_owned(),
        other => name_of(other),
    };
    let title = format!(
        "{}  ({}, {} pairs, {} n-gram bits)",
        profile.summary.path,
        profile.summary.status,
        profile.summary.lookahead_pairs,
        profile.summary.ngram_bits
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(label_area)
        .y_label_area_size(label_area)
        .build_cartesian_2d((0..n + 1).into_segmented(), (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n as usize + 1)
        .y_labels(n as usize)
        .x_label_formatter(&column_of)
        .y_label_formatter(&name_of)
        .x_label_style(
            ("sans-serif", font)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .y_label_style(("sans-serif", font))
        .x_desc("earlier call (seen 1 to 8 calls before)")
        .y_desc("call")
        .axis_desc_style(("sans-serif", 13))
        .draw()?;
    let cell_at = |x: i32, y: i32| {
        [
            (SegmentValue::Exact(x), SegmentValue::Exact(y)),
            (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
        ]
    };
    chart.draw_series(profile.pairs.iter().map(|p| {
        Rectangle::new(
            cell_at(index(&p.prev), index(&p.call)),
            pair_colour(p.distances.len()).filled(),
        )
    }))?;
    let fullest = fullest_ngram_row(profile);
    chart.draw_series(
        profile
            .ngrams
            .iter()
            .filter(|g| !g.bits.is_empty())
            .map(|g| {
                Rectangle::new(
                    cell_at(ngram_column, index(&g.call)),
                    ngram_colour(g.bits.len(), fullest).filled(),
                )
            }),
    )?;
    Ok(())
}

/// The heatmap's colour scales: distances for the pairs, bits for the n-grams.
fn heatmap_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    profile: &ProfileDetail,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let fullest = fullest_ngram_row(profile);
    let distances = (1..=8usize).map(|d| {
        let label = if d == 1 {
            "1 distance".to_owned()
        } else {
            format!("{d} distances")
        };
        (pair_colour(d), label)
    });
    let bits = [0.25f64, 0.5, 0.75, 1.0].into_iter().map(|share| {
        let bits = (share * fullest as f64).round() as usize;
        let label = if share == 1.0 {
            format!("{bits} (fullest)")
        } else {
            bits.to_string()
        };
        (ngram_colour(bits, fullest), label)
    });
    let scales: [(&str, Vec<(RGBAColor, String)>); 2] = [
        ("pair seen at", distances.collect()),
        ("n-gram bits", bits.collect()),
    ];
    let style = ("sans-serif", 12).into_font();
    let box_size = 16i32;
    let mut y = (area.dim_in_pixel().1 as i32 / 6).max(40);
    for (heading, swatches) in scales {
        area.draw(&Text::new(heading, (4, y), style.clone()))?;
        y += 16;
        for (colour, label) in swatches {
            area.draw(&Rectangle::new(
                [(4, y), (4 + box_size, y + box_size - 2)],
                colour.filled(),
            ))?;
            area.draw(&Text::new(label, (4 + box_size + 6, y + 2), style.clone()))?;
            y += box_size;
        }
        y += 24;
    }
    Ok(())
}

/// The most n-gram bits any call of the profile has (0 without any).
fn fullest_ngram_row(profile: &ProfileDetail) -> usize {
    profile
        .ngrams
        .iter()
        .map(|g| g.bits.len())
        .max()
        .unwrap_or(0)
}

/// The processes with the most anomalies get a line each; the rest are counted in the
/// caption.
const TIMELINE_PROCESSES: usize = 8;

/// Each process's LFC over its own time, from its first anomaly: a line per process (the
/// ones with the most anomalies), points where it made an anomalous call (circles: an unseen
/// pair; triangles: an unseen n-gram alone). The time axis is in milliseconds or seconds,
/// whichever fits the longest.
fn timeline<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    anomalies: &[Anomaly],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let seconds = |a: &Anomaly| {
        humantime::parse_rfc3339(&a.time).map_or(0.0, |t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        })
    };
    let mut by_pid: std::collections::BTreeMap<u32, Vec<(f64, &Anomaly)>> = Default::default();
    for a in anomalies {
        by_pid.entry(a.pid).or_default().push((seconds(a), a));
    }
    let mut processes: Vec<(u32, Vec<(f64, &Anomaly)>)> = by_pid.into_iter().collect();
    processes.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let shown = processes.len().min(TIMELINE_PROCESSES);
    for (_, points) in &mut processes {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let start = points[0].0;
        points.iter_mut().for_each(|p| p.0 -= start);
    }
    let longest = processes[..shown]
        .iter()
        .flat_map(|(_, points)| points.last().map(|p| p.0))
        .fold(0.0, f64::max);
    let (scale, unit) = if longest < 2.0 {
        (1000.0, "ms")
    } else {
        (1.0, "s")
    };
    let end = (longest * scale).max(if scale > 1.0 { 10.0 } else { 1.0 }) * 1.05;
    let top_lfc = anomalies.iter().map(|a| a.lfc).max().unwrap_or(1).max(1);
    let ngram_only = |a: &Anomaly| a.misses == 0 && a.novel_ngram;
    let mut caption = format!(
        "{} anomalies ({} by an unseen n-gram alone) in {} processes",
        anomalies.len(),
        anomalies.iter().filter(|a| ngram_only(a)).count(),
        processes.len()
    );
    if processes.len() > shown {
        caption.push_str(&format!("; the {shown} with the most are drawn"));
    }
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..end, 0u32..top_lfc + 1)?;
    chart
        .configure_mesh()
        .x_desc(format!("{unit} since the process's first anomaly"))
        .y_desc("LFC")
        .label_style(("sans-serif", 12))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, (pid, points)) in processes[..shown].iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(t, a)| (t * scale, a.lfc)),
                colour.stroke_width(2),
            ))?
            .label(format!("pid {pid} ({} anomalies)", points.len()))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
        chart.draw_series(points.iter().map(|(t, a)| {
            let at = (t * scale, a.lfc);
            if ngram_only(a) {
                TriangleMarker::new(at, 5, colour.filled()).into_dyn()
            } else {
                Circle::new(at, 3, colour.filled()).into_dyn()
            }
        }))?;
    }
    if shown > 0 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 11))
            .draw()?;
    }
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
            execs: Default::default(),
            endpoints: Default::default(),
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
        assert!(text.contains("2 anomalies (1 by an unseen n-gram alone) in 1 processes"));
        assert!(
            text.contains("pid 1 (2 anomalies)"),
            "the process's line is named"
        );
        assert!(
            text.contains("distances") && text.contains("(fullest)"),
            "the legend"
        );

        assert!(render(&profile(), &[], &dir.path().join("profile.gif"), 100).is_err());
    }
}
