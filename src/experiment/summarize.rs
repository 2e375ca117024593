//! `crossbert summarize`: chip-instance statistics per hardware point, and the
//! accuracy–energy Pareto front.
//!
//! Rows are grouped by their point key (every column before `seed`). For `value`, `delta`
//! and `energy_pj_per_inference` the summary gives the mean, the sample standard deviation
//! (n − 1 in the denominator) and the 95 % confidence interval of the mean,
//! mean ± t(0.975, n − 1)·s/√n with Student's t from `statrs`; with a single seed std and
//! interval are left empty. Every other numeric result column gets its mean. A point is on
//! the Pareto front of its (model, task, split, limit) when no other point has a mean
//! metric at least as high and a mean energy at least as low, and is better in one of them
//! (every GLUE metric is higher-is-better).
use super::results::{ResultsTable, LEADING_KEY_COLUMNS};
use anyhow::{bail, Context};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::HashMap;

/// Mean, spread and 95 % interval of one column within one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation; `None` for n = 1.
    pub std: Option<f64>,
    /// 95 % Student-t confidence interval of the mean; `None` for n = 1.
    pub ci95: Option<(f64, f64)>,
}

impl Stats {
    /// Statistics of a non-empty sample.
    pub fn of(values: &[f64]) -> Stats {
        let n = values.len();
        // Summed as offsets from the first value, so seeds that agree exactly (ideal
        // devices) give exactly their value as the mean and a standard deviation of 0.
        let first = values[0];
        let mean = first + values.iter().map(|v| v - first).sum::<f64>() / n as f64;
        if n < 2 {
            return Stats {
                n,
                mean,
                std: None,
                ci95: None,
            };
        }
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = variance.sqrt();
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .expect("n - 1 >= 1 degrees of freedom")
            .inverse_cdf(0.975);
        let half = t * std / (n as f64).sqrt();
        Stats {
            n,
            mean,
            std: Some(std),
            ci95: Some((mean - half, mean + half)),
        }
    }
}

/// Which points are on the Pareto front of (minimise x, maximise y).
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(x, y)| {
            x.is_finite()
                && y.is_finite()
                && !points.iter().any(|&(qx, qy)| {
                    qx <= x && qy >= y && (qx < x || qy > y) && qx.is_finite() && qy.is_finite()
                })
        })
        .collect()
}

/// Columns summarised with std and interval; other numeric result columns get a mean.
const SPREAD_COLUMNS: [&str; 3] = ["value", "delta", "energy_pj_per_inference"];
/// Result columns that are not measurements.
const NOT_MEASURED: [&str; 5] = ["metric", "seconds", "version", "config_hash", "shard"];

/// The summary table (header, rows) of a results table, groups in first-appearance order.
pub fn summarize(table: &ResultsTable) -> anyhow::Result<(Vec<String>, Vec<Vec<String>>)> {
    // A repeated row would count one chip instance twice.
    table.check_unique_keys()?;
    let point_len = table.point_key_len()?;
    let metric = table.key_len()?;
    let mean_only: Vec<usize> = (metric + 1..table.header.len())
        .filter(|&c| {
            let name = table.header[c].as_str();
            !SPREAD_COLUMNS.contains(&name)
                && !NOT_MEASURED.contains(&name)
                && table
                    .rows
                    .iter()
                    .all(|r| r.fields[c].parse::<f64>().is_ok())
        })
        .collect();
    let spread: Vec<usize> = SPREAD_COLUMNS
        .iter()
        .map(|c| table.column(c))
        .collect::<anyhow::Result<_>>()?;

    let groups = group_rows(table, point_len);
    let mut header: Vec<String> = table.header[..point_len].to_vec();
    header.extend(["metric".to_string(), "n".to_string()]);
    for &c in &spread {
        let name = &table.header[c];
        for suffix in ["mean", "std", "ci95_low", "ci95_high"] {
            header.push(format!("{name}_{suffix}"));
        }
    }
    header.extend(
        mean_only
            .iter()
            .map(|&c| format!("{}_mean", table.header[c])),
    );
    header.push("pareto".to_string());

    let mut rows = Vec::new();
    let mut front_input = Vec::new();
    for indices in &groups {
        let first = &table.rows[indices[0]];
        let mut row: Vec<String> = first.fields[..point_len].to_vec();
        let metric_name = &first.fields[metric];
        if let Some(other) = indices
            .iter()
            .find(|&&i| &table.rows[i].fields[metric] != metric_name)
        {
            bail!(
                "{}: lines {} and {} of the same point report different metrics",
                table.path.display(),
                first.line,
                table.rows[*other].line
            );
        }
        row.extend([metric_name.clone(), indices.len().to_string()]);
        let mut means = Vec::new();
        for &c in &spread {
            let stats = Stats::of(&column_values(table, indices, c)?);
            means.push(stats.mean);
            row.extend([
                stats.mean.to_string(),
                stats.std.map_or(String::new(), |s| s.to_string()),
                stats.ci95.map_or(String::new(), |ci| ci.0.to_string()),
                stats.ci95.map_or(String::new(), |ci| ci.1.to_string()),
            ]);
        }
        for &c in &mean_only {
            row.push(
                Stats::of(&column_values(table, indices, c)?)
                    .mean
                    .to_string(),
            );
        }
        front_input.push((means[2], means[0]));
        rows.push(row);
    }
    mark_fronts(&mut rows, &front_input);
    Ok((header, rows))
}

/// Row indices grouped by point key, in first-appearance order.
fn group_rows(table: &ResultsTable, point_len: usize) -> Vec<Vec<usize>> {
    let mut index: HashMap<&[String], usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, row) in table.rows.iter().enumerate() {
        let slot = *index.entry(&row.fields[..point_len]).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push(i);
    }
    groups
}

/// The numbers in column `c` of the given rows; an error names file, line and column.
pub fn column_values(table: &ResultsTable, rows: &[usize], c: usize) -> anyhow::Result<Vec<f64>> {
    rows.iter()
        .map(|&i| {
            let row = &table.rows[i];
            row.fields[c].parse::<f64>().with_context(|| {
                format!(
                    "{}: line {}: column {:?}: expected a number, found {:?}",
                    table.path.display(),
                    row.line,
                    table.header[c],
                    row.fields[c]
                )
            })
        })
        .collect()
}

/// Appends the `pareto` column: the front is computed within each (model, task, split,
/// limit), i.e. the leading key columns.
fn mark_fronts(rows: &mut [Vec<String>], points: &[(f64, f64)]) {
    let lead = LEADING_KEY_COLUMNS.len();
    let mut families: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        families.entry(row[..lead].to_vec()).or_default().push(i);
    }
    let mut on_front = vec![false; rows.len()];
    for members in families.values() {
        let family: Vec<(f64, f64)> = members.iter().map(|&i| points[i]).collect();
        for (&i, front) in members.iter().zip(pareto_front(&family)) {
            on_front[i] = front;
        }
    }
    for (row, front) in rows.iter_mut().zip(on_front) {
        row.push(front.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn stats_match_hand_computation() {
        // 0.80, 0.82, 0.84: mean 0.82, s = 0.02, t(0.975, 2) = 4.302653 (t table),
        // half-width = 4.302653 * 0.02 / sqrt(3) = 0.0496828.
        let s = Stats::of(&[0.80, 0.82, 0.84]);
        assert_relative_eq!(s.mean, 0.82, epsilon = 1e-12);
        assert_relative_eq!(s.std.unwrap(), 0.02, epsilon = 1e-12);
        let (lo, hi) = s.ci95.unwrap();
        assert_relative_eq!(hi - s.mean, 0.049_682_8, epsilon = 1e-6);
        assert_relative_eq!(s.mean - lo, 0.049_682_8, epsilon = 1e-6);
        let single = Stats::of(&[0.5]);
        assert_eq!((single.std, single.ci95), (None, None));
        // Identical seeds: the value itself and no spread, not rounding noise.
        let same = Stats::of(&[0.883_027_522_935_779_8; 5]);
        assert_eq!((same.mean, same.std), (0.883_027_522_935_779_8, Some(0.0)));
    }

    #[test]
    fn pareto_front_keeps_undominated_points() {
        // (energy, accuracy): b dominates a; c is cheaper but worse; d is dominated by b.
        let points = [
            (10.0, 0.80),
            (10.0, 0.85),
            (5.0, 0.70),
            (12.0, 0.84),
            (f64::NAN, 0.9),
        ];
        assert_eq!(pareto_front(&points), [false, true, true, false, false]);
    }
}
