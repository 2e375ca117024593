//! `crossbert plot`: figures from a results CSV.
//!
//! Two kinds of figure, chosen by the x column:
//!
//! * **x is an energy column** (`energy_…`): one marker per hardware point (seeds averaged),
//!   with vertical 95 % confidence bars on y, and the Pareto front of each series (minimum
//!   energy, maximum y) drawn as a black line: the accuracy–energy trade-off figure.
//! * **x is anything else** (typically a swept key such as `adc.bits`): for each x value,
//!   the mean of y over every row with that x (all seeds, and all other points of the
//!   series), a line through the means and a shaded 95 % Student-t confidence band. When a
//!   cell pools rows that differ in other key columns (another task, another swept key),
//!   the command says so on stderr, since the band then mixes those differences in.
//!
//! * **x is a text column** (e.g. `scope` in a per-layer fault campaign, or `task`): one
//!   position per value, in order of first appearance, with markers and 95 % bars.
//!
//! `--group COLUMN` draws one series per value of that column. The format follows the file
//! extension: `.png` (bitmap, text rasterised with the DejaVu Sans font bundled in
//! `data/fonts`, so no system fonts are needed) or `.svg`.
use super::results::ResultsTable;
use super::summarize::{column_values, pareto_front, Stats};
use anyhow::{anyhow, bail, Context};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What to draw.
#[derive(Debug, Clone)]
pub struct PlotRequest {
    pub x: String,
    pub y: String,
    pub group: Option<String>,
    /// `.png` or `.svg`.
    pub out: PathBuf,
}

/// Figure size in pixels.
const SIZE: (u32, u32) = (900, 600);

/// DejaVu Sans (Bitstream Vera licence, see `data/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../data/fonts/DejaVuSans.ttf");

/// How the x axis is drawn.
enum Layout {
    /// x is an energy column: markers, bars and the Pareto front.
    Energy,
    /// x is numeric: lines and confidence bands.
    Numeric,
    /// x is numeric, positive and spans two decades or more (e.g. fault rates, times):
    /// positions are log10(x), labels the values themselves.
    LogNumeric,
    /// x is text: these values at positions 0, 1, …; markers and bars.
    Categories(Vec<String>),
}

/// One line or marker set of the figure.
struct Series {
    name: String,
    /// (x, statistics of y), sorted by x.
    points: Vec<(f64, Stats)>,
}

/// Draws the figure described by `request` from `table`.
pub fn plot(table: &ResultsTable, request: &PlotRequest) -> anyhow::Result<()> {
    register_font()?;
    table.check_unique_keys()?;
    let (series, layout) = if request.x.starts_with("energy_") {
        (per_point_series(table, request)?, Layout::Energy)
    } else {
        per_x_series(table, request)?
    };
    if series.iter().all(|s| s.points.is_empty()) {
        bail!("{}: no rows to plot", table.path.display());
    }
    let extension = request
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if let Some(dir) = request.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    match extension.as_deref() {
        Some("png") => draw(
            BitMapBackend::new(&request.out, SIZE).into_drawing_area(),
            &series,
            request,
            &layout,
        ),
        Some("svg") => draw(
            SVGBackend::new(&request.out, SIZE).into_drawing_area(),
            &series,
            request,
            &layout,
        ),
        _ => bail!(
            "--out {}: expected a .png or .svg file name",
            request.out.display()
        ),
    }
}

fn register_font() -> anyhow::Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        bail!("the bundled font data/fonts/DejaVuSans.ttf could not be parsed")
    }
}

/// Series name of each row: the group column's value, or the y column's name.
fn series_names(table: &ResultsTable, request: &PlotRequest) -> anyhow::Result<Vec<String>> {
    match &request.group {
        Some(group) => {
            let c = table.column(group)?;
            Ok(table
                .rows
                .iter()
                .map(|r| format!("{group}={}", r.fields[c]))
                .collect())
        }
        None => Ok(vec![request.y.clone(); table.rows.len()]),
    }
}

/// Energy figure: one point per hardware point (rows grouped by the columns before `seed`).
fn per_point_series(table: &ResultsTable, request: &PlotRequest) -> anyhow::Result<Vec<Series>> {
    let (xc, yc) = (table.column(&request.x)?, table.column(&request.y)?);
    let point_len = table.point_key_len()?;
    let names = series_names(table, request)?;
    let mut points: BTreeMap<(String, Vec<String>), Vec<usize>> = BTreeMap::new();
    for (i, row) in table.rows.iter().enumerate() {
        points
            .entry((names[i].clone(), row.fields[..point_len].to_vec()))
            .or_default()
            .push(i);
    }
    let mut series: BTreeMap<String, Vec<(f64, Stats)>> = BTreeMap::new();
    for ((name, _), rows) in points {
        let x = Stats::of(&column_values(table, &rows, xc)?).mean;
        let y = Stats::of(&column_values(table, &rows, yc)?);
        series.entry(name).or_default().push((x, y));
    }
    Ok(sorted(series))
}

/// Parameter figure: y pooled over every row with the same series and x value.
fn per_x_series(
    table: &ResultsTable,
    request: &PlotRequest,
) -> anyhow::Result<(Vec<Series>, Layout)> {
    let (xc, yc) = (table.column(&request.x)?, table.column(&request.y)?);
    let names = series_names(table, request)?;
    let (xs, layout) = x_positions(table, xc);
    let mut cells: BTreeMap<String, Vec<(f64, Vec<usize>)>> = BTreeMap::new();
    for (i, &x) in xs.iter().enumerate() {
        let cell = cells.entry(names[i].clone()).or_default();
        match cell.iter_mut().find(|(cx, _)| *cx == x) {
            Some((_, rows)) => rows.push(i),
            None => cell.push((x, vec![i])),
        }
    }
    note_pooled_columns(table, request, &cells)?;
    let mut series = BTreeMap::new();
    for (name, cell) in cells {
        let points = cell
            .into_iter()
            .map(|(x, rows)| Ok((x, Stats::of(&column_values(table, &rows, yc)?))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        series.insert(name, points);
    }
    let mut series = sorted(series);
    if let Layout::Categories(_) = layout {
        spread_series(&mut series);
    }
    Ok((series, layout))
}

/// x of every row: its number, or for a text column the position of its value.
fn x_positions(table: &ResultsTable, c: usize) -> (Vec<f64>, Layout) {
    let numbers: Option<Vec<f64>> = table
        .rows
        .iter()
        .map(|r| r.fields[c].parse().ok())
        .collect();
    if let Some(numbers) = numbers {
        let (lo, hi) = numbers
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if lo > 0.0 && hi / lo >= 100.0 {
            return (
                numbers.iter().map(|v| v.log10()).collect(),
                Layout::LogNumeric,
            );
        }
        return (numbers, Layout::Numeric);
    }
    let mut categories: Vec<String> = Vec::new();
    let positions = table
        .rows
        .iter()
        .map(|r| {
            let value = &r.fields[c];
            match categories.iter().position(|v| v == value) {
                Some(p) => p as f64,
                None => {
                    categories.push(value.clone());
                    (categories.len() - 1) as f64
                }
            }
        })
        .collect();
    (positions, Layout::Categories(categories))
}

/// Shifts series sideways around each category position so their bars do not overlap.
fn spread_series(series: &mut [Series]) {
    let count = series.len() as f64;
    for (i, s) in series.iter_mut().enumerate() {
        let shift = 0.1 * (i as f64 - (count - 1.0) / 2.0);
        for point in &mut s.points {
            point.0 += shift;
        }
    }
}

/// Tells the user which key columns vary inside one (series, x) cell of a parameter figure.
fn note_pooled_columns(
    table: &ResultsTable,
    request: &PlotRequest,
    cells: &BTreeMap<String, Vec<(f64, Vec<usize>)>>,
) -> anyhow::Result<()> {
    let point_len = table.point_key_len()?;
    let pooled: Vec<&str> = (0..point_len)
        .filter(|&c| {
            let name = table.header[c].as_str();
            name != request.x && Some(name) != request.group.as_deref()
        })
        .filter(|&c| {
            cells.values().flatten().any(|(_, rows)| {
                rows.iter()
                    .any(|&r| table.rows[r].fields[c] != table.rows[rows[0]].fields[c])
            })
        })
        .map(|c| table.header[c].as_str())
        .collect();
    if !pooled.is_empty() {
        eprintln!(
            "plot: each point pools rows that differ in {}; use --group (or filter the CSV) \
             to separate them",
            pooled.join(", ")
        );
    }
    Ok(())
}

fn sorted(series: BTreeMap<String, Vec<(f64, Stats)>>) -> Vec<Series> {
    series
        .into_iter()
        .map(|(name, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series { name, points }
        })
        .collect()
}

/// Lower and upper end of the y interval drawn for a point (the mean when n = 1).
fn band(stats: &Stats) -> (f64, f64) {
    stats.ci95.unwrap_or((stats.mean, stats.mean))
}

/// A padded axis range covering `values`.
fn padded_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
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
fn tick_label(v: f64, span: f64) -> String {
    let v = if v.abs() <= span * 1e-9 { 0.0 } else { v };
    let magnitude = v.abs();
    if v != 0.0 && !(1e-3..1e4).contains(&magnitude) {
        format!("{v:.2e}")
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

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    series: &[Series],
    request: &PlotRequest,
    layout: &Layout,
) -> anyhow::Result<()> {
    let fail = |e: &dyn std::fmt::Debug| anyhow!("drawing {}: {e:?}", request.out.display());
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x_range = match layout {
        Layout::Categories(values) => -0.5..values.len() as f64 - 0.5,
        _ => padded_range(all().map(|p| p.0)),
    };
    let y_range = padded_range(all().flat_map(|p| [band(&p.1).0, band(&p.1).1]));
    let (x_span, y_span) = (x_range.end - x_range.start, y_range.end - y_range.start);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} vs {}", request.y, request.x),
            ("sans-serif", 24),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, y_range)
        .map_err(|e| fail(&e))?;
    let category_label = |x: &f64| match layout {
        Layout::Categories(values) if (x - x.round()).abs() < 1e-6 && *x >= 0.0 => {
            values.get(x.round() as usize).cloned().unwrap_or_default()
        }
        Layout::Categories(_) => String::new(),
        Layout::LogNumeric => tick_label(10f64.powf(*x), 0.0),
        _ => tick_label(*x, x_span),
    };
    let x_desc = match layout {
        Layout::LogNumeric => format!("{} (log scale)", request.x),
        _ => request.x.clone(),
    };
    let value_label = |y: &f64| tick_label(*y, y_span);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(request.y.as_str())
        .x_label_formatter(&category_label)
        .y_label_formatter(&value_label)
        .label_style(("sans-serif", 15));
    if let Layout::Categories(values) = layout {
        mesh.x_labels(values.len() + 1).disable_x_mesh();
    }
    mesh.draw().map_err(|e| fail(&e))?;

    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if !matches!(layout, Layout::Numeric | Layout::LogNumeric) {
            chart
                .draw_series(s.points.iter().map(|(x, y)| {
                    let (lo, hi) = band(y);
                    ErrorBar::new_vertical(*x, lo, y.mean, hi, color.stroke_width(1), 8)
                }))
                .map_err(|e| fail(&e))?;
        } else {
            let upper = s.points.iter().map(|(x, y)| (*x, band(y).1));
            let lower = s.points.iter().rev().map(|(x, y)| (*x, band(y).0));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    upper.chain(lower).collect::<Vec<_>>(),
                    color.mix(0.2).filled(),
                )))
                .map_err(|e| fail(&e))?;
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().map(|(x, y)| (*x, y.mean)),
                    color.stroke_width(2),
                ))
                .map_err(|e| fail(&e))?;
        }
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|(x, y)| Circle::new((*x, y.mean), 4, color.filled())),
            )
            .map_err(|e| fail(&e))?
            .label(s.name.as_str())
            .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
    }
    if let Layout::Energy = layout {
        draw_front(&mut chart, series).map_err(|e| fail(&e))?;
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// The Pareto front of each series, as black lines (one legend entry).
fn draw_front<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    series: &[Series],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for (i, s) in series.iter().enumerate() {
        let points: Vec<(f64, f64)> = s.points.iter().map(|(x, y)| (*x, y.mean)).collect();
        let mut front: Vec<(f64, f64)> = points
            .iter()
            .zip(pareto_front(&points))
            .filter(|(_, on)| *on)
            .map(|(p, _)| *p)
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        let line = chart.draw_series(LineSeries::new(front, BLACK.stroke_width(2)))?;
        if i == 0 {
            line.label("Pareto front").legend(|(x, y)| {
                PathElement::new(vec![(x - 8, y), (x + 8, y)], BLACK.stroke_width(2))
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_stay_short() {
        assert_eq!(tick_label(0.85, 1.0), "0.85");
        assert_eq!(tick_label(100.0, 1.0), "100");
        assert_eq!(tick_label(0.0, 1.0), "0");
        assert_eq!(tick_label(-0.0001, 1.0), "-1.00e-4");
        assert_eq!(tick_label(3.5e8, 1.0), "3.50e8");
        // A zero tick reached by adding steps of an axis 0.35 wide.
        assert_eq!(tick_label(-5.55e-17, 0.35), "0");
        assert_eq!(tick_label(-5.55e-17, 0.0), "-5.55e-17");
    }
}
