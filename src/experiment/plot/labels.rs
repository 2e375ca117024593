//! The words and units on a figure: axis labels from the results columns, the title, series
//! names, and the chance level of a metric.
use std::path::Path;

/// How a results column is shown on an axis: its label (with unit) and the factor from the
/// CSV's unit to the axis unit (pJ → µJ, ns → µs).
#[derive(Debug, Clone, PartialEq)]
pub struct AxisUnit {
    pub label: String,
    pub scale: f64,
}

/// Readable names of the swept keys of the shipped studies; any other key is shown as is.
const KEY_LABELS: [(&str, &str); 14] = [
    ("mapping.adc.adc_bits", "ADC resolution (bits)"),
    ("mapping.dac.dac_bits", "DAC resolution (bits)"),
    ("mapping.input_bits", "input bits"),
    ("mapping.weight_bits", "weight bits"),
    ("mapping.cell.bits_per_cell", "bits per cell"),
    ("mapping.array_rows", "array rows"),
    ("mapping.array_cols", "array columns"),
    ("mapping.encoding", "weight encoding"),
    ("mapping.drift_compensation", "drift compensation"),
    (
        "device.programming.sigma",
        "programming variation σ (relative)",
    ),
    ("device.read_time_s", "time since programming (s)"),
    ("device.stuck_at.rate_g_max", "stuck-at-G_max rate"),
    ("device.stuck_at.rate_g_min", "stuck-at-G_min rate"),
    // faults in a sensitivity campaign, a mapping setting in a mixed-precision study
    ("scope", "linears with the scoped setting"),
];

/// The name of a GLUE metric as a paper writes it.
pub fn metric_label(metric: &str) -> &str {
    match metric {
        "accuracy" => "accuracy",
        "f1" => "F1",
        "mcc" => "Matthews correlation",
        "pearson" => "Pearson r",
        "spearman" => "Spearman ρ",
        other => other,
    }
}

/// Label and unit of `column`; `metric` names what `value` and `delta` measure.
pub fn axis(column: &str, metric: &str) -> AxisUnit {
    let unit = |label: String, scale: f64| AxisUnit { label, scale };
    let metric = metric_label(metric);
    match column {
        "value" => unit(metric.to_string(), 1.0),
        "delta" => unit(format!("{metric} change vs digital"), 1.0),
        "digital_value" => unit(format!("digital {metric}"), 1.0),
        "energy_pj_per_inference" => unit("energy per inference (µJ)".into(), 1e-6),
        "energy_pj_per_token" => unit("energy per token (µJ)".into(), 1e-6),
        "latency_ns" => unit("latency per inference (µs)".into(), 1e-3),
        "area_mm2" => unit("area (mm²)".into(), 1.0),
        "arrays" => unit("crossbar arrays".into(), 1.0),
        "seconds" => unit("wall time per row (s)".into(), 1.0),
        other => match other
            .strip_prefix("energy_")
            .and_then(|c| c.strip_suffix("_pj"))
        {
            Some(part) => unit(
                format!("{} energy per inference (µJ)", part.replace('_', " ")),
                1e-6,
            ),
            None => unit(key_label(other).to_string(), 1.0),
        },
    }
}

/// The readable name of a key column.
pub fn key_label(key: &str) -> &str {
    KEY_LABELS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(key, |(_, label)| label)
}

/// The score of guessing uniformly at random: 1 / classes for accuracy, 0 for correlations.
/// `None` for F1, whose chance level depends on the label balance of the split.
pub fn chance(metric: &str, task: &str) -> Option<f64> {
    match metric {
        "accuracy" => Some(if task.starts_with("mnli") {
            1.0 / 3.0
        } else {
            0.5
        }),
        "mcc" | "pearson" | "spearman" => Some(0.0),
        _ => None,
    }
}

/// A model as figures name it: its checkpoint folder's name.
pub fn model_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or(path.into(), |n| n.to_string_lossy().into_owned())
}

/// `drift: minilm-sst2 on sst2 dev, reram-cmo, n = 5 chip instances per point`.
/// `study` is the figure's study (the spec's or the CSV's file stem), `preset` the spec's
/// base hardware when known; models and tasks are named when the figure has one of each.
pub fn title(study: &str, facts: &TitleFacts, preset: Option<&str>) -> String {
    let mut parts = vec![];
    let one_or_count = |values: &[String], what: &str| match values {
        [one] => one.clone(),
        many => format!("{} {what}", many.len()),
    };
    let models: Vec<String> = facts.models.iter().map(|m| model_name(m)).collect();
    let mut what = format!(
        "{} on {} {}",
        one_or_count(&models, "models"),
        one_or_count(&facts.tasks, "tasks"),
        facts.split
    );
    if let Some(limit) = &facts.limit {
        what.push_str(&format!(" (first {limit})"));
    }
    parts.push(what);
    if let Some(preset) = preset {
        parts.push(preset.to_string());
    }
    let (lo, hi) = facts.chips_per_point;
    let chips = if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    };
    let noun = if hi == 1 {
        "chip instance"
    } else {
        "chip instances"
    };
    parts.push(format!("n = {chips} {noun} per point"));
    format!("{study}: {}", parts.join(", "))
}

/// What the title says about a results table.
#[derive(Debug, Clone, PartialEq)]
pub struct TitleFacts {
    pub models: Vec<String>,
    pub tasks: Vec<String>,
    pub split: String,
    /// The row limit, when every row has the same one.
    pub limit: Option<String>,
    /// Fewest and most seeds of any point.
    pub chips_per_point: (usize, usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_get_words_and_units() {
        assert_eq!(axis("energy_pj_per_inference", "accuracy").scale, 1e-6);
        assert_eq!(
            axis("energy_adc_pj", "f1").label,
            "adc energy per inference (µJ)"
        );
        assert_eq!(
            axis("delta", "mcc").label,
            "Matthews correlation change vs digital"
        );
        assert_eq!(
            axis("mapping.adc.adc_bits", "accuracy").label,
            "ADC resolution (bits)"
        );
        assert_eq!(axis("my.key", "accuracy").label, "my.key");
        assert_eq!(chance("accuracy", "mnli-mm"), Some(1.0 / 3.0));
        assert_eq!(chance("f1", "mrpc"), None);
    }

    #[test]
    fn the_title_names_study_model_task_preset_and_n() {
        let facts = TitleFacts {
            models: vec!["../shared/models/minilm-sst2".into()],
            tasks: vec!["sst2".into()],
            split: "dev".into(),
            limit: None,
            chips_per_point: (5, 5),
        };
        assert_eq!(
            title("drift", &facts, Some("reram-cmo")),
            "drift: minilm-sst2 on sst2 dev, reram-cmo, n = 5 chip instances per point"
        );
        let facts = TitleFacts {
            tasks: vec!["sst2".into(), "mrpc".into()],
            limit: Some("200".into()),
            chips_per_point: (1, 3),
            ..facts
        };
        assert_eq!(
            title("adc", &facts, None),
            "adc: minilm-sst2 on 2 tasks dev (first 200), n = 1–3 chip instances per point"
        );
    }
}
