//! ROC curves of `ebph eval`, drawn to a PNG or SVG file.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One curve: its label and its (false-alarm rate, detection rate) points.
pub struct Curve {
    /// What it is, e.g. `pairs max_lfc (AUC 0.990)`.
    pub label: String,
    /// From (0, 0) to (1, 1).
    pub points: Vec<(f64, f64)>,
}

/// Draws `curves` with `title` to `path` (`.png` or `.svg`).
pub fn draw(path: &Path, title: &str, curves: &[Curve]) -> Result<()> {
    super::plot::register_font()?;
    let size = (900, 800);
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "png" => render(
            BitMapBackend::new(path, size).into_drawing_area(),
            title,
            curves,
        ),
        "svg" => render(
            SVGBackend::new(path, size).into_drawing_area(),
            title,
            curves,
        ),
        _ => bail!("{}: write the plot to a .png or .svg file", path.display()),
    }
    .with_context(|| format!("drawing {}", path.display()))
}

fn render<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    curves: &[Curve],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("false-alarm rate (normal units flagged)")
        .y_desc("detection rate (attack units flagged)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    // Chance: a detector that flags at random.
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            ShapeStyle::from(&RGBColor(180, 180, 180)).stroke_width(1),
        ))
        .map_err(err)?;
    for (i, curve) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                curve.points.iter().copied(),
                ShapeStyle::from(&color).stroke_width(3),
            ))
            .map_err(err)?
            .label(curve.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
