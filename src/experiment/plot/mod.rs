//! `crossbert plot`: figures from a results CSV, ready for a paper.
//!
//! Three kinds of figure, chosen by the x column:
//!
//! * **x is an energy column** (`energy_…`): one marker per hardware point (seeds averaged),
//!   with vertical 95 % confidence bars on y, and the Pareto front of each series (minimum
//!   energy, maximum y) drawn as a black line whose points are labelled with their swept
//!   values: the accuracy–energy trade-off figure.
//! * **x is numeric** (typically a swept key such as `mapping.adc.adc_bits`): for each x
//!   value, the mean of y over every row with that x (all seeds, and all other points of the
//!   series), a line through the means and a shaded 95 % Student-t confidence band; a log
//!   axis when x is positive and spans two decades or more. When a cell pools rows that
//!   differ in other key columns (another task, another swept key), the command says so on
//!   stderr, since the band then mixes those differences in.
//! * **x is a text column** (e.g. `scope` in a per-layer fault campaign, or `task`): one
//!   position per value, in order of first appearance, with markers and 95 % bars.
//!
//! Around the data: axis labels in words with units ([`labels::axis`]: energies in µJ,
//! latency in µs), a title naming the study, model, task, base hardware and the number of
//! chip instances per point, and, when y is the metric (`value` or `delta`), the digital
//! model and the chance level ([`labels::chance`]) as reference lines (with the models on
//! the x axis, each model's digital line over its own position only). The legend sits to
//! the right of the data. `--group COLUMN` draws one series per value of that column.
//!
//! The format follows the file extension: `.png` at print resolution (2250 × 1350 pixels,
//! 7.5 × 4.5 inches at 300 dpi; text rasterised with the DejaVu Sans font bundled in
//! `data/fonts`, so no system fonts are needed) or `.svg` (vector). plotters has no PDF
//! backend; convert the SVG where a PDF is needed.
mod draw;
pub mod labels;

use super::results::ResultsTable;
use super::summarize::{column_values, Stats};
use anyhow::{bail, Context};
use labels::{AxisUnit, TitleFacts};
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
    /// Study name in the title; default: the results file's stem.
    pub study: Option<String>,
    /// Base hardware named in the title (a spec's `base`), when known.
    pub preset: Option<String>,
    /// The whole title instead of the generated one, for what the CSV cannot say (e.g. a
    /// held-out split evaluated as a folder's `dev.tsv`).
    pub title: Option<String>,
}

/// DejaVu Sans (Bitstream Vera licence, see `data/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../../data/fonts/DejaVuSans.ttf");

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

/// One hardware point (energy figure) or one x value (other figures) of a series.
struct Point {
    x: f64,
    y: Stats,
    /// The point's swept values, e.g. `adc_bits 6`: written beside Pareto points.
    label: String,
}

/// One line or marker set of the figure.
struct Series {
    name: String,
    /// Sorted by x.
    points: Vec<Point>,
}

/// A horizontal reference line.
struct Reference {
    name: String,
    y: f64,
    kind: ReferenceKind,
    /// The x range it spans, in axis units; `None`: the whole axis. With the models on the
    /// x axis each model's digital line spans its own category only, so that several
    /// checkpoints' lines can be told apart.
    x_span: Option<(f64, f64)>,
}

#[derive(Clone, Copy, PartialEq)]
enum ReferenceKind {
    Digital,
    Chance,
}

/// Everything drawn, in axis units.
struct Figure {
    title: String,
    x_axis: AxisUnit,
    y_axis: AxisUnit,
    layout: Layout,
    series: Vec<Series>,
    references: Vec<Reference>,
}

/// Draws the figure described by `request` from `table`.
pub fn plot(table: &ResultsTable, request: &PlotRequest) -> anyhow::Result<()> {
    register_font()?;
    table.check_unique_keys()?;
    let figure = figure(table, request)?;
    let extension = request
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if let Some(dir) = request.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    let out = &request.out;
    match extension.as_deref() {
        Some("png") => {
            let size = draw::pixels(draw::PNG_SCALE);
            draw::draw(
                BitMapBackend::new(out, size).into_drawing_area(),
                &figure,
                draw::PNG_SCALE,
                out,
            )
        }
        Some("svg") => {
            let size = draw::pixels(1.0);
            draw::draw(
                SVGBackend::new(out, size).into_drawing_area(),
                &figure,
                1.0,
                out,
            )
        }
        _ => bail!("--out {}: expected a .png or .svg file name", out.display()),
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

/// The data, labels and reference lines of the figure, in axis units.
fn figure(table: &ResultsTable, request: &PlotRequest) -> anyhow::Result<Figure> {
    let metric = table
        .column("metric")
        .ok()
        .and_then(|c| table.rows.first().map(|r| r.fields[c].clone()))
        .unwrap_or_default();
    let (x_axis, y_axis) = (
        labels::axis(&request.x, &metric),
        labels::axis(&request.y, &metric),
    );
    let (mut series, mut layout) = if request.x.starts_with("energy_") {
        (per_point_series(table, request)?, Layout::Energy)
    } else {
        per_x_series(table, request)?
    };
    let models_on_x = match &mut layout {
        Layout::Categories(values) if request.x == "model" => Some(values),
        _ => None,
    };
    let references = references(
        table,
        &request.y,
        &metric,
        models_on_x.as_deref().map(Vec::as_slice),
    )?;
    // Named by folder, as the legend names them: full paths crowd the axis.
    for value in models_on_x.into_iter().flatten() {
        *value = labels::model_name(value);
    }
    if series.iter().all(|s| s.points.is_empty()) {
        bail!("{}: no rows to plot", table.path.display());
    }
    for point in series.iter_mut().flat_map(|s| s.points.iter_mut()) {
        if !matches!(layout, Layout::Categories(_) | Layout::LogNumeric) {
            point.x *= x_axis.scale;
        }
        point.y = scaled(point.y, y_axis.scale);
    }
    let study = match &request.study {
        Some(study) => study.clone(),
        None => table
            .path
            .file_stem()
            .map_or("results".into(), |s| s.to_string_lossy().into_owned()),
    };
    let title = match &request.title {
        Some(title) => title.clone(),
        None => labels::title(&study, &title_facts(table)?, request.preset.as_deref()),
    };
    Ok(Figure {
        title,
        x_axis,
        y_axis,
        layout,
        series,
        references,
    })
}

fn scaled(stats: Stats, scale: f64) -> Stats {
    Stats {
        mean: stats.mean * scale,
        std: stats.std.map(|s| s * scale),
        ci95: stats.ci95.map(|(lo, hi)| (lo * scale, hi * scale)),
        ..stats
    }
}

/// The distinct values of a column, in order of first appearance.
fn distinct(table: &ResultsTable, column: &str) -> anyhow::Result<Vec<String>> {
    let c = table.column(column)?;
    let mut values: Vec<String> = Vec::new();
    for row in &table.rows {
        if !values.contains(&row.fields[c]) {
            values.push(row.fields[c].clone());
        }
    }
    Ok(values)
}

fn title_facts(table: &ResultsTable) -> anyhow::Result<TitleFacts> {
    let limits = distinct(table, "limit")?;
    let point_len = table.point_key_len()?;
    let mut seeds: BTreeMap<&[String], usize> = BTreeMap::new();
    for row in &table.rows {
        *seeds.entry(&row.fields[..point_len]).or_default() += 1;
    }
    let counts = seeds.values();
    Ok(TitleFacts {
        models: distinct(table, "model")?,
        tasks: distinct(table, "task")?,
        split: distinct(table, "split")?.join("/"),
        limit: match limits.as_slice() {
            [one] if !one.is_empty() => Some(one.clone()),
            _ => None,
        },
        chips_per_point: (
            counts.clone().copied().min().unwrap_or(0),
            counts.copied().max().unwrap_or(0),
        ),
    })
}

/// The digital model and chance as horizontal lines, when y is the metric itself (`value`)
/// or its change against digital (`delta`, where digital is 0). One digital line per task
/// and model; chance per task where the metric has one. `models_on_x`, the x categories
/// when they are the models, confines each model's digital line to its category.
fn references(
    table: &ResultsTable,
    y: &str,
    metric: &str,
    models_on_x: Option<&[String]>,
) -> anyhow::Result<Vec<Reference>> {
    if y != "value" && y != "delta" {
        return Ok(Vec::new());
    }
    let (model_c, task_c) = (table.column("model")?, table.column("task")?);
    let digital_c = table.column("digital_value")?;
    // (model, task, digital value), each once.
    let mut digital: Vec<(String, String, f64)> = Vec::new();
    for row in &table.rows {
        let value: f64 = row.fields[digital_c].parse().unwrap_or(f64::NAN);
        let (model, task) = (&row.fields[model_c], &row.fields[task_c]);
        if value.is_finite()
            && !digital
                .iter()
                .any(|(m, t, v)| m == model && t == task && *v == value)
        {
            digital.push((model.clone(), task.clone(), value));
        }
    }
    let several = |column: fn(&(String, String, f64)) -> &String| {
        digital.iter().any(|d| column(d) != column(&digital[0]))
    };
    let (several_models, several_tasks) = (several(|d| &d.0), several(|d| &d.1));
    // A digital line names its model when there are several; chance is the task's.
    let name = |what: &str, model: Option<&str>, task: &str| {
        let mut whose: Vec<String> = Vec::new();
        if let (true, Some(model)) = (several_models, model) {
            whose.push(labels::model_name(model));
        }
        if several_tasks {
            whose.push(task.to_string());
        }
        if whose.is_empty() {
            what.to_string()
        } else {
            format!("{what} ({})", whose.join(", "))
        }
    };
    let mut lines: Vec<Reference> = Vec::new();
    for (model, task, value) in &digital {
        // Against digital (`delta`) every task's digital model sits at 0: one line.
        let at = if y == "delta" { 0.0 } else { *value };
        let x_span = models_on_x
            .and_then(|models| models.iter().position(|m| m == model))
            .map(|i| (i as f64 - 0.4, i as f64 + 0.4));
        if !lines
            .iter()
            .any(|r| r.kind == ReferenceKind::Digital && r.y == at && r.x_span == x_span)
        {
            let label = if y == "delta" {
                "digital".into()
            } else {
                name("digital", Some(model), task)
            };
            lines.push(Reference {
                name: label,
                y: at,
                kind: ReferenceKind::Digital,
                x_span,
            });
        }
        if let Some(chance) = labels::chance(metric, task) {
            let at = if y == "delta" { chance - value } else { chance };
            if !lines
                .iter()
                .any(|r| r.kind == ReferenceKind::Chance && r.y == at)
            {
                lines.push(Reference {
                    name: name("chance", None, task),
                    y: at,
                    kind: ReferenceKind::Chance,
                    x_span: None,
                });
            }
        }
    }
    Ok(lines)
}

/// Series name of each row: the group column's label and value.
fn series_names(table: &ResultsTable, request: &PlotRequest) -> anyhow::Result<Vec<String>> {
    match &request.group {
        Some(group) => {
            let c = table.column(group)?;
            let label = labels::key_label(group);
            Ok(table
                .rows
                .iter()
                .map(|r| format!("{label}: {}", r.fields[c]))
                .collect())
        }
        None => Ok(vec!["mean over chip instances".into(); table.rows.len()]),
    }
}

/// The swept values of a point as a short label: the key columns (before `seed`) that vary
/// in the table, except the group column, by the last part of their name.
fn point_labels(table: &ResultsTable, request: &PlotRequest) -> anyhow::Result<Vec<String>> {
    let point_len = table.point_key_len()?;
    let varying: Vec<usize> = (0..point_len)
        .filter(|&c| Some(table.header[c].as_str()) != request.group.as_deref())
        .filter(|&c| {
            table
                .rows
                .iter()
                .any(|r| r.fields[c] != table.rows[0].fields[c])
        })
        .collect();
    Ok(table
        .rows
        .iter()
        .map(|r| {
            let parts: Vec<String> = varying
                .iter()
                .map(|&c| {
                    let key = table.header[c].rsplit('.').next().unwrap_or_default();
                    format!("{key} {}", r.fields[c])
                })
                .collect();
            parts.join(", ")
        })
        .collect())
}

/// Energy figure: one point per hardware point (rows grouped by the columns before `seed`).
fn per_point_series(table: &ResultsTable, request: &PlotRequest) -> anyhow::Result<Vec<Series>> {
    let (xc, yc) = (table.column(&request.x)?, table.column(&request.y)?);
    let point_len = table.point_key_len()?;
    let names = series_names(table, request)?;
    let point_label = point_labels(table, request)?;
    let mut points: BTreeMap<(String, Vec<String>), Vec<usize>> = BTreeMap::new();
    for (i, row) in table.rows.iter().enumerate() {
        points
            .entry((names[i].clone(), row.fields[..point_len].to_vec()))
            .or_default()
            .push(i);
    }
    let mut series: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for ((name, _), rows) in points {
        series.entry(name).or_default().push(Point {
            x: Stats::of(&column_values(table, &rows, xc)?).mean,
            y: Stats::of(&column_values(table, &rows, yc)?),
            label: point_label[rows[0]].clone(),
        });
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
    let scale = labels::axis(&request.x, "").scale;
    let (xs, layout) = x_positions(table, xc, scale);
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
            .map(|(x, rows)| {
                let y = Stats::of(&column_values(table, &rows, yc)?);
                Ok(Point {
                    x,
                    y,
                    label: String::new(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        series.insert(name, points);
    }
    let mut series = sorted(series);
    if let Layout::Categories(_) = layout {
        spread_series(&mut series);
    }
    Ok((series, layout))
}

/// x of every row: its number, or for a text column the position of its value. A log axis
/// gets log10 of the number in axis units (`scale`), since it cannot be rescaled after.
fn x_positions(table: &ResultsTable, c: usize, scale: f64) -> (Vec<f64>, Layout) {
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
                numbers.iter().map(|v| (v * scale).log10()).collect(),
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
            point.x += shift;
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

fn sorted(series: BTreeMap<String, Vec<Point>>) -> Vec<Series> {
    series
        .into_iter()
        .map(|(name, mut points)| {
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Series { name, points }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two models on one task (a hardware-aware checkpoint beside its standard one): one
    /// digital line per model, named by its folder, over its own model on a model axis;
    /// one chance line for the task.
    #[test]
    fn each_model_gets_its_own_digital_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.csv");
        let head = "model,task,split,limit,x,scope,seed,metric,value,digital_value,delta,\
                    seconds,version,config_hash,shard";
        let rows = [
            "m/standard,sst2,dev,,1,all,0,accuracy,0.83,0.892,-0.062,1,0.1.0,h,0/1",
            "m/standard,sst2,dev,,1,all,1,accuracy,0.84,0.892,-0.052,1,0.1.0,h,0/1",
            "m/aware,sst2,dev,,1,all,0,accuracy,0.85,0.883,-0.033,1,0.1.0,h,0/1",
        ];
        std::fs::write(&path, format!("{head}\n{}\n", rows.join("\n"))).unwrap();
        let table = ResultsTable::read(&path).unwrap();
        let lines = references(&table, "value", "accuracy", None).unwrap();
        let named: Vec<(&str, f64)> = lines.iter().map(|r| (r.name.as_str(), r.y)).collect();
        assert_eq!(
            named,
            [
                ("digital (standard)", 0.892),
                ("chance", 0.5),
                ("digital (aware)", 0.883)
            ]
        );
        assert!(lines.iter().all(|r| r.x_span.is_none()));
        // With the models on the x axis, each digital line spans its model's category.
        let models = ["m/aware".to_string(), "m/standard".to_string()];
        let lines = references(&table, "value", "accuracy", Some(&models)).unwrap();
        let spans: Vec<Option<(f64, f64)>> = lines.iter().map(|r| r.x_span).collect();
        assert_eq!(spans, [Some((0.6, 1.4)), None, Some((-0.4, 0.4))]);
    }
}
