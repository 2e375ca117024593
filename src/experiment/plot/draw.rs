//! Drawing a [`Figure`]: title on top, the data with its reference lines on the left, the
//! legend in its own panel on the right, so it never covers a point. Sizes are in logical
//! units of a 1000 × 600 figure, multiplied by the backend's scale (1 for SVG,
//! [`PNG_SCALE`] for print-resolution PNG).
use super::{Figure, Layout, Point, ReferenceKind, Series};
use crate::experiment::summarize::pareto_front;
use anyhow::anyhow;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// PNG pixels per logical unit: 2250 × 1350 pixels, 7.5 × 4.5 inches at 300 dpi.
pub const PNG_SCALE: f64 = 2.25;
const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 600.0;
const TITLE_HEIGHT: f64 = 40.0;
const LEGEND_WIDTH: f64 = 240.0;

/// Figure size in pixels at `scale`.
pub fn pixels(scale: f64) -> (u32, u32) {
    ((WIDTH * scale) as u32, (HEIGHT * scale) as u32)
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// How a legend entry is drawn.
enum Swatch {
    Marker(RGBAColor),
    Line(RGBAColor),
    Dashed(RGBAColor),
    /// Text only.
    Note,
}

const DIGITAL: RGBColor = RGBColor(90, 90, 90);
const CHANCE: RGBColor = RGBColor(200, 60, 60);

pub fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    figure: &Figure,
    scale: f64,
    out: &Path,
) -> anyhow::Result<()> {
    let fail = |e: &dyn std::fmt::Debug| anyhow!("drawing {}: {e:?}", out.display());
    let px = |v: f64| (v * scale).round() as i32;
    let font = |size: f64| ("sans-serif", size * scale);
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (top, body) = root.split_vertically(px(TITLE_HEIGHT));
    top.draw_text(
        &figure.title,
        &font(17.0).into_text_style(&top),
        (px(20.0), px(14.0)),
    )
    .map_err(|e| fail(&e))?;
    let (data_area, legend_area) = body.split_horizontally(px(WIDTH - LEGEND_WIDTH));

    let all = || figure.series.iter().flat_map(|s| s.points.iter());
    let x_range = match &figure.layout {
        Layout::Categories(values) => -0.5..values.len() as f64 - 0.5,
        _ => padded_range(all().map(|p| p.x)),
    };
    let data_y = || all().flat_map(|p| [band(p).0, band(p).1]);
    let (lo, hi) = min_max(data_y());
    // Chance is drawn only when it is near the data; far below, it would flatten the data
    // into a line (the legend then gives its value).
    let near = |y: f64| y >= lo - (hi - lo).max(0.02) && y <= hi + (hi - lo).max(0.02);
    let shown: Vec<bool> = figure
        .references
        .iter()
        .map(|r| r.kind == ReferenceKind::Digital || near(r.y))
        .collect();
    let shown_y = figure
        .references
        .iter()
        .zip(&shown)
        .filter(|(_, s)| **s)
        .map(|(r, _)| r.y);
    let y_range = padded_range(data_y().chain(shown_y));
    let (x_span, y_span) = (x_range.end - x_range.start, y_range.end - y_range.start);

    let category_rows = match &figure.layout {
        Layout::Categories(values) => Some(category_rows(values)),
        _ => None,
    };
    let second_row = match &category_rows {
        Some(rows) if rows.staggered => 1.3 * rows.size,
        _ => 0.0,
    };
    let mut chart = ChartBuilder::on(&data_area)
        .margin(px(12.0))
        .x_label_area_size(px(55.0 + second_row))
        .y_label_area_size(px(80.0))
        .build_cartesian_2d(x_range.clone(), y_range)
        .map_err(|e| fail(&e))?;
    let x_label = |x: &f64| match &figure.layout {
        Layout::LogNumeric => tick_label(10f64.powf(*x), 0.0),
        _ => tick_label(*x, x_span),
    };
    let x_desc = match &figure.layout {
        Layout::LogNumeric => format!("{} (log scale)", figure.x_axis.label),
        _ => figure.x_axis.label.clone(),
    };
    let value_label = |y: &f64| tick_label(*y, y_span);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(figure.y_axis.label.as_str())
        .x_label_formatter(&x_label)
        .y_label_formatter(&value_label)
        .label_style(font(14.0))
        .axis_desc_style(font(16.0))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08).stroke_width(px(1.0) as u32));
    if category_rows.is_some() {
        // The names are drawn below, one or two rows of them.
        mesh.x_labels(0).disable_x_mesh();
    }
    mesh.draw().map_err(|e| fail(&e))?;
    if let (Some(rows), Layout::Categories(values)) = (&category_rows, &figure.layout) {
        let style = font(rows.size).into_text_style(chart.plotting_area());
        let style = style.pos(Pos::new(HPos::Center, VPos::Top));
        let bottom = chart.y_range().start;
        for (i, name) in values.iter().enumerate() {
            let row = if rows.staggered { i % 2 } else { 0 };
            let dy = px(8.0 + row as f64 * second_row);
            chart
                .plotting_area()
                .draw(
                    &(EmptyElement::at((i as f64, bottom))
                        + Text::new(name.clone(), (0, dy), style.clone())),
                )
                .map_err(|e| fail(&e))?;
        }
    }

    let mut legend = Vec::new();
    for (reference, _) in figure.references.iter().zip(&shown).filter(|(_, s)| **s) {
        let color = reference_color(reference.kind);
        let (a, b) = reference.x_span.unwrap_or((x_range.start, x_range.end));
        chart
            .draw_series(DashedLineSeries::new(
                [(a, reference.y), (b, reference.y)],
                px(8.0),
                px(5.0),
                color.stroke_width(px(1.5) as u32),
            ))
            .map_err(|e| fail(&e))?;
    }
    for (reference, on_axis) in figure.references.iter().zip(&shown) {
        let text = if *on_axis {
            format!("{} {}", reference.name, tick_label(reference.y, 0.0))
        } else {
            format!(
                "{} {} (off axis)",
                reference.name,
                tick_label(reference.y, 0.0)
            )
        };
        legend.push((Swatch::Dashed(reference_color(reference.kind)), text));
    }
    for (i, s) in figure.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        draw_series(&mut chart, s, &figure.layout, color, scale).map_err(|e| fail(&e))?;
        legend.push((Swatch::Marker(color), s.name.clone()));
    }
    if let Layout::Energy = figure.layout {
        draw_fronts(&mut chart, &figure.series, scale).map_err(|e| fail(&e))?;
        legend.push((Swatch::Line(BLACK.to_rgba()), "Pareto front".into()));
    }
    if all().any(|p| p.y.ci95.is_some()) {
        legend.push((Swatch::Note, "bars, bands: 95 % CI of the mean".into()));
    }
    draw_legend(&legend_area, &legend, scale).map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// How the names under a category axis are set.
struct CategoryRows {
    /// Font size, logical units.
    size: f64,
    /// Every other name one row lower, so long names get twice the room.
    staggered: bool,
}

/// The largest font (at most the size of the other labels) at which neighbouring names do
/// not run into each other (a character is about 0.62 of the font size wide); names that
/// would be smaller than 10 on one row are staggered over two.
fn category_rows(values: &[String]) -> CategoryRows {
    let longest = values.iter().map(|v| v.chars().count()).max().unwrap_or(1) as f64;
    let room = (WIDTH - LEGEND_WIDTH - 110.0) / values.len() as f64;
    let fit = |room: f64| (0.9 * room / (0.62 * longest)).min(14.0);
    if fit(room) >= 10.0 || values.len() < 2 {
        CategoryRows {
            size: fit(room),
            staggered: false,
        }
    } else {
        CategoryRows {
            size: fit(2.0 * room),
            staggered: true,
        }
    }
}

fn reference_color(kind: ReferenceKind) -> RGBAColor {
    match kind {
        ReferenceKind::Digital => DIGITAL.to_rgba(),
        ReferenceKind::Chance => CHANCE.to_rgba(),
    }
}

/// Markers with 95 % bars (energy and category figures) or a line through the means with a
/// shaded 95 % band (numeric x).
fn draw_series<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    s: &Series,
    layout: &Layout,
    color: RGBAColor,
    scale: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let px = |v: f64| (v * scale).round() as i32;
    // A band needs two x values; a lone point (a partial study) gets a bar instead.
    if matches!(layout, Layout::Numeric | Layout::LogNumeric) && s.points.len() > 1 {
        let upper = s.points.iter().map(|p| (p.x, band(p).1));
        let lower = s.points.iter().rev().map(|p| (p.x, band(p).0));
        chart.draw_series(std::iter::once(Polygon::new(
            upper.chain(lower).collect::<Vec<_>>(),
            color.mix(0.2).filled(),
        )))?;
        chart.draw_series(LineSeries::new(
            s.points.iter().map(|p| (p.x, p.y.mean)),
            color.stroke_width(px(2.0) as u32),
        ))?;
    } else {
        chart.draw_series(s.points.iter().map(|p| {
            let (lo, hi) = band(p);
            ErrorBar::new_vertical(
                p.x,
                lo,
                p.y.mean,
                hi,
                color.stroke_width(px(1.5) as u32),
                px(8.0) as u32,
            )
        }))?;
    }
    chart.draw_series(
        s.points
            .iter()
            .map(|p| Circle::new((p.x, p.y.mean), px(4.5), color.filled())),
    )?;
    Ok(())
}

/// The Pareto front of each series as a black line, each front point labelled with its
/// swept values.
fn draw_fronts<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    series: &[Series],
    scale: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let px = |v: f64| (v * scale).round() as i32;
    let font = TextStyle::from(("sans-serif", 12.0 * scale).into_font());
    let (left, right) = (
        font.pos(Pos::new(HPos::Left, VPos::Bottom)),
        font.pos(Pos::new(HPos::Right, VPos::Bottom)),
    );
    let x_range = chart.x_range();
    let near_right = |x: f64| x > x_range.end - 0.25 * (x_range.end - x_range.start);
    for s in series {
        let means: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x, p.y.mean)).collect();
        let mut front: Vec<&Point> = s
            .points
            .iter()
            .zip(pareto_front(&means))
            .filter(|(_, on)| *on)
            .map(|(p, _)| p)
            .collect();
        front.sort_by(|a, b| a.x.total_cmp(&b.x));
        chart.draw_series(LineSeries::new(
            front.iter().map(|p| (p.x, p.y.mean)),
            BLACK.stroke_width(px(2.0) as u32),
        ))?;
        chart.draw_series(front.iter().filter(|p| !p.label.is_empty()).map(|p| {
            let (style, dx) = if near_right(p.x) {
                (&right, -px(6.0))
            } else {
                (&left, px(6.0))
            };
            EmptyElement::at((p.x, p.y.mean))
                + Text::new(p.label.clone(), (dx, -px(6.0)), style.clone())
        }))?;
    }
    Ok(())
}

/// One line per entry: its swatch, then its text (wrapped to the panel's width).
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, String)],
    scale: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let px = |v: f64| (v * scale).round() as i32;
    let style = ("sans-serif", 14.0 * scale).into_text_style(area);
    let mut top = 30.0;
    for (swatch, text) in entries {
        let y = px(top);
        let (x0, x1) = (px(4.0), px(30.0));
        match swatch {
            Swatch::Marker(color) => {
                area.draw(&Circle::new(((x0 + x1) / 2, y), px(4.5), color.filled()))?
            }
            Swatch::Line(color) => area.draw(&PathElement::new(
                vec![(x0, y), (x1, y)],
                color.stroke_width(px(2.0) as u32),
            ))?,
            Swatch::Dashed(color) => area
                .draw(&PathElement::new(
                    vec![(x0, y), (x0 + px(10.0), y)],
                    color.stroke_width(px(1.5) as u32),
                ))
                .and_then(|_| {
                    area.draw(&PathElement::new(
                        vec![(x1 - px(10.0), y), (x1, y)],
                        color.stroke_width(px(1.5) as u32),
                    ))
                })?,
            Swatch::Note => {}
        }
        let lines = wrap(text, LEGEND_CHARS);
        for (i, line) in lines.iter().enumerate() {
            area.draw_text(
                line,
                &style.pos(Pos::new(HPos::Left, VPos::Center)),
                (px(38.0), px(top + 18.0 * i as f64)),
            )?;
        }
        top += 26.0 + 18.0 * (lines.len() - 1) as f64;
    }
    Ok(())
}

/// Characters of legend text that fit beside a swatch at 14 px (the CI note just fits).
const LEGEND_CHARS: usize = 32;

/// `text` in lines of at most `width` characters, broken after spaces and hyphens (a
/// longer unbroken piece keeps its own line).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for piece in text.split_inclusive([' ', '-']) {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + piece.trim_end().chars().count() > width {
            lines.push(String::new());
        }
        lines.last_mut().expect("one line at least").push_str(piece);
    }
    lines.iter().map(|l| l.trim_end().to_string()).collect()
}

/// Lower and upper end of the y interval drawn for a point (the mean when n = 1).
fn band(p: &Point) -> (f64, f64) {
    p.y.ci95.unwrap_or((p.y.mean, p.y.mean))
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// A padded axis range covering `values`.
fn padded_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = min_max(values);
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else if lo != 0.0 {
        0.1 * lo.abs()
    } else {
        1.0
    };
    (lo - pad)..(hi + pad)
}

/// An axis label short enough not to overlap its neighbours: 3 significant digits, in
/// scientific notation outside 1e-3..1e4. A tick within a billionth of the axis `span` of
/// zero is 0 (tick positions are sums of steps, so a zero tick may land at ±1e-17).
pub(super) fn tick_label(v: f64, span: f64) -> String {
    let v = if v.abs() <= span * 1e-9 { 0.0 } else { v };
    let magnitude = v.abs();
    if v != 0.0 && !(1e-3..1e4).contains(&magnitude) {
        // 3 significant digits without trailing zeros: 1e4, 2.5e-4, 3.51e8.
        let text = format!("{v:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    } else {
        let text = format!("{v:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".into()
        } else {
            text.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_text_wraps_after_spaces_and_hyphens() {
        assert_eq!(wrap("digital 0.892", 28), ["digital 0.892"]);
        assert_eq!(
            wrap("digital (minilm-sst2-hwa-variation-30) 0.883", 28),
            ["digital (minilm-sst2-hwa-", "variation-30) 0.883"]
        );
        assert_eq!(wrap("a-very-long-unbroken-identifier-here", 10).len(), 5);
    }

    #[test]
    fn tick_labels_stay_short() {
        assert_eq!(tick_label(0.85, 1.0), "0.85");
        assert_eq!(tick_label(100.0, 1.0), "100");
        assert_eq!(tick_label(0.0, 1.0), "0");
        assert_eq!(tick_label(-0.0001, 1.0), "-1e-4");
        assert_eq!(tick_label(3.5e8, 1.0), "3.5e8");
        assert_eq!(tick_label(1e4, 1.0), "1e4");
        assert_eq!(tick_label(3.514e8, 1.0), "3.51e8");
        // A zero tick reached by adding steps of an axis 0.35 wide.
        assert_eq!(tick_label(-5.55e-17, 0.35), "0");
        assert_eq!(tick_label(-5.55e-17, 0.0), "-5.55e-17");
    }
}
