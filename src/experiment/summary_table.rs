//! The summary as a person reads it on a terminal: one aligned line per hardware point.
//!
//! Key columns that hold the same value on every point (model, task, split, …) move to a
//! heading; the columns that vary stay, followed by the metric's mean over chip instances
//! with its 95 % interval and n, the change against the digital model, the energy per
//! inference in µJ, and `*` on the accuracy–energy Pareto front. The CSV from
//! [`summarize`](super::summarize()) keeps every column at full precision.

/// Decimals of a metric in the table: GLUE dev sets have at most ~10,000 examples, so four
/// decimals show every accuracy step.
const METRIC_DECIMALS: usize = 4;

/// The aligned text table of a summary `(header, rows)` from [`summarize`](super::summarize()).
pub fn summary_table(header: &[String], rows: &[Vec<String>]) -> String {
    let col = |name: &str| header.iter().position(|h| h == name);
    let keys = col("metric").unwrap_or(0);
    let (constant, varying): (Vec<usize>, Vec<usize>) =
        (0..keys).partition(|&c| rows.iter().all(|r| r[c] == rows[0][c]));
    let mut out = String::new();
    if let Some(first) = rows.first() {
        let fixed: Vec<String> = constant
            .iter()
            .filter(|&&c| !first[c].is_empty())
            .map(|&c| format!("{} = {}", header[c], first[c]))
            .collect();
        out.push_str(&fixed.join(", "));
        out.push('\n');
    }
    let metric = |r: &[String], name: &str| {
        col(name).map_or(String::new(), |c| rounded(&r[c], METRIC_DECIMALS, 1.0))
    };
    let mut table: Vec<Vec<String>> = vec![varying
        .iter()
        .map(|&c| header[c].clone())
        .chain(
            [
                "metric",
                "n",
                "mean",
                "95 % CI",
                "Δ digital",
                "µJ/inference",
                "pareto",
            ]
            .map(String::from),
        )
        .collect()];
    for r in rows {
        let low = metric(r, "value_ci95_low");
        let interval = if low.is_empty() {
            String::new()
        } else {
            format!("{low} – {}", metric(r, "value_ci95_high"))
        };
        let energy =
            col("energy_pj_per_inference_mean").map_or(String::new(), |c| significant(&r[c], 1e-6));
        let pareto = col("pareto").is_some_and(|c| r[c] == "true");
        let mut line: Vec<String> = varying.iter().map(|&c| r[c].clone()).collect();
        line.extend([
            col("metric").map_or(String::new(), |c| r[c].clone()),
            col("n").map_or(String::new(), |c| r[c].clone()),
            metric(r, "value_mean"),
            interval,
            signed(&metric(r, "delta_mean")),
            energy,
            if pareto { "*" } else { "" }.to_string(),
        ]);
        table.push(line);
    }
    out.push_str(&aligned(&table));
    out
}

/// `text` as a number times `scale` with `decimals` decimals; empty or non-numeric text as is.
fn rounded(text: &str, decimals: usize, scale: f64) -> String {
    text.parse::<f64>()
        .map_or(text.to_string(), |v| format!("{:.decimals$}", v * scale))
}

/// `text` as a number times `scale` to 4 significant digits (energies span µJ to pJ).
fn significant(text: &str, scale: f64) -> String {
    match text.parse::<f64>() {
        Ok(v) if v != 0.0 && v.is_finite() => {
            let decimals = (3 - (v * scale).abs().log10().floor() as i32).max(0) as usize;
            format!("{:.decimals$}", v * scale)
        }
        _ => rounded(text, 0, scale),
    }
}

/// A leading `+` on positive numbers, so gains and losses read apart.
fn signed(text: &str) -> String {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 => format!("+{text}"),
        _ => text.to_string(),
    }
}

/// Rows of cells padded to each column's widest cell (in characters), two spaces apart;
/// numbers right-aligned, text left-aligned.
fn aligned(table: &[Vec<String>]) -> String {
    let columns = table.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric: Vec<bool> = (0..columns)
        .map(|c| {
            table[1..]
                .iter()
                .all(|r| r[c].is_empty() || r[c].trim_start_matches('+').parse::<f64>().is_ok())
        })
        .collect();
    let mut out = String::new();
    for row in table {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = " ".repeat(width[c] - cell.chars().count());
                if numeric[c] {
                    format!("{pad}{cell}")
                } else {
                    format!("{cell}{pad}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn constant_keys_go_to_the_heading_and_numbers_are_rounded_and_aligned() {
        let header = strings(&[
            "model",
            "adc_bits",
            "metric",
            "n",
            "value_mean",
            "value_ci95_low",
            "value_ci95_high",
            "delta_mean",
            "energy_pj_per_inference_mean",
            "pareto",
        ]);
        let rows = vec![
            strings(&[
                "m", "4", "accuracy", "5", "0.61234", "0.6", "0.62468", "-0.28", "1.5e8", "true",
            ]),
            strings(&[
                "m",
                "10",
                "accuracy",
                "1",
                "0.9",
                "",
                "",
                "0.01",
                "350507781.4",
                "false",
            ]),
        ];
        let text = summary_table(&header, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "model = m");
        assert!(
            lines[1].starts_with("adc_bits  metric    n    mean  95 % CI"),
            "{text}"
        );
        assert!(lines[2].contains("0.6123  0.6000 – 0.6247"), "{text}");
        assert!(
            lines[2].contains("-0.2800") && lines[2].ends_with("150.0  *"),
            "{text}"
        );
        assert!(
            lines[3].contains("+0.0100") && lines[3].ends_with("350.5"),
            "{text}"
        );
        // Numbers right-aligned: the one-digit bits value is padded on the left.
        assert!(lines[2].starts_with("       4"), "{text}");
    }
}
