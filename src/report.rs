//! One GLUE evaluation and its report: what `crossbert eval --json` prints, built in one
//! place for the command line and the Python package (`crossbert.evaluate`).
//!
//! Digitally (no hardware) the checkpoint runs in float32; on a chip the digital baseline
//! runs first, then chip instance `seed` of the hardware (programmed, calibrated on the
//! first `calibration.examples` TRAIN examples, scored), with the cost of one inference.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::backend::{GlueRun, InferenceCost, StreamIds};
use crate::glue::{self, evaluate::DEFAULT_BATCH_SIZE, Evaluation, LabelMap, Split, Task};
use crate::hardware::HardwareConfig;
use crate::model::{digital_linear, load_classifier};
use crate::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};

/// What to evaluate: the arguments of `crossbert eval` (or `crossbert.evaluate`).
#[derive(Clone, Debug)]
pub struct EvalRequest {
    /// Hugging Face checkpoint directory.
    pub model: PathBuf,
    /// GLUE task name (`sst2`, `mnli-mm`, …).
    pub task: String,
    /// GLUE data directory holding the task folders.
    pub data: PathBuf,
    /// `dev` or `train`.
    pub split: String,
    /// Only the first N examples (`None`: all).
    pub limit: Option<usize>,
    /// Tokens per example, special tokens included.
    pub max_len: usize,
    /// Sequences per batch.
    pub batch_size: usize,
    /// The chip; `None` evaluates digitally only.
    pub hardware: Option<HardwareConfig>,
    /// Chip instance (ignored digitally).
    pub seed: u64,
    /// Draw a progress bar on stderr while the chip runs.
    pub progress: bool,
}

impl EvalRequest {
    /// A digital evaluation with the command line's defaults (dev split, all examples,
    /// 128 tokens, batches of 32).
    pub fn new(model: impl Into<PathBuf>, task: &str, data: impl Into<PathBuf>) -> Self {
        Self {
            model: model.into(),
            task: task.to_string(),
            data: data.into(),
            split: "dev".to_string(),
            limit: None,
            max_len: DEFAULT_MAX_LEN,
            batch_size: DEFAULT_BATCH_SIZE,
            hardware: None,
            seed: 0,
            progress: false,
        }
    }
}

/// The chip half of an analog evaluation.
pub struct ChipReport {
    pub hardware: HardwareConfig,
    pub seed: u64,
    /// The float32 result on the same examples.
    pub baseline: Evaluation,
    /// Energy, latency and area of one mean inference.
    pub cost: InferenceCost,
}

/// The result of [`evaluate`].
pub struct EvalReport {
    /// The evaluated result: digital, or on the chip (then its logits are the chip's).
    pub result: Evaluation,
    /// Baseline and cost when a chip was evaluated.
    pub chip: Option<ChipReport>,
    /// The checkpoint path as given (reported under `model`).
    pub model: PathBuf,
    pub max_len: usize,
}

/// Runs the evaluation `request` describes (the steps and their order are those of
/// `crossbert eval`, so errors are the same).
pub fn evaluate(request: &EvalRequest) -> anyhow::Result<EvalReport> {
    evaluate_on_shared_chip(request, &StreamIds::single_task())
}

/// [`evaluate`] on a chip shared with other models: the chip's linears are programmed from
/// the streams `streams` gives them ([`crate::backend::ChipPlan::stream_ids`]; ignored
/// digitally).
pub fn evaluate_on_shared_chip(
    request: &EvalRequest,
    streams: &StreamIds,
) -> anyhow::Result<EvalReport> {
    let task = Task::parse(&request.task).map_err(anyhow::Error::msg)?;
    let split = Split::parse(&request.split).map_err(anyhow::Error::msg)?;
    if let Some(hardware) = &request.hardware {
        let mut run = GlueRun::open(
            &request.model,
            &request.data,
            task,
            split,
            request.limit,
            request.max_len,
            request.batch_size,
        )?;
        run.progress = request.progress;
        let baseline = run.digital()?;
        let (result, cost) = run.on_shared_chip(hardware, request.seed, streams)?;
        return Ok(EvalReport {
            result,
            chip: Some(ChipReport {
                hardware: hardware.clone(),
                seed: request.seed,
                baseline,
                cost,
            }),
            model: request.model.clone(),
            max_len: request.max_len,
        });
    }
    let (config, model) = load_classifier(&request.model, &digital_linear)?;
    let tokenizer = BertTokenizer::from_dir(&request.model, request.max_len)?;
    let labels = LabelMap::for_checkpoint(task, &config)?;
    let mut examples = glue::read_split(&request.data, task, split, &labels)?;
    if let Some(limit) = request.limit {
        examples.truncate(limit);
    }
    let result = glue::evaluate(
        &model,
        config.problem_type(),
        &tokenizer,
        task,
        split,
        examples,
        request.batch_size,
        None,
    )?;
    Ok(EvalReport {
        result,
        chip: None,
        model: request.model.clone(),
        max_len: request.max_len,
    })
}

impl EvalReport {
    /// The object `crossbert eval --json` prints: `task, split, rows, metric, value,
    /// metrics, seconds, model, backend, max_len`, and on a chip the digital baseline, the
    /// difference, hardware, seed, energy, latency, area and attention figures.
    pub fn to_json(&self) -> Map<String, Value> {
        let result = &self.result;
        let (main, value) = result.metrics[0];
        let mut report = json_object(json!({
            "task": result.task.name(),
            "split": result.split.name(),
            "rows": result.examples.len(),
            "metric": main.name(),
            "value": value,
            "metrics": metrics_json(result),
            "seconds": result.seconds,
            "model": self.model.display().to_string(),
            "backend": if self.chip.is_some() { "analog" } else { "digital" },
            "max_len": self.max_len,
        }));
        let Some(chip) = &self.chip else {
            return report;
        };
        let (hardware, cost) = (&chip.hardware, &chip.cost);
        let digital_value = chip.baseline.metrics[0].1;
        let breakdown: Map<String, Value> = cost
            .energy_pj
            .components()
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect();
        report.extend(json_object(json!({
            "digital_value": digital_value,
            "difference": value - digital_value,
            "digital_metrics": metrics_json(&chip.baseline),
            "digital_seconds": chip.baseline.seconds,
            "hardware": hardware.preset,
            "seed": chip.seed,
            "energy_pj_per_inference": cost.energy_pj.total_pj(),
            "energy_pj_per_token": cost.energy_per_token_pj.total_pj(),
            "energy_breakdown_pj": breakdown,
            "tokens_per_inference": cost.tokens_per_inference,
            "latency_ns": cost.latency_ns,
            "schedule": cost.schedule,
            "throughput_inferences_per_s": cost.throughput_inferences_per_s,
            "throughput_tokens_per_s": cost.throughput_tokens_per_s,
            "array_utilization": cost.array_utilization,
            "tops_per_w": cost.tops_per_w,
            "area_mm2": cost.area_mm2.total_mm2(),
            "area_breakdown_mm2": cost.area_mm2,
            "attention_mode": hardware.attention.mode,
            "attention_writes_per_inference": cost.attention.as_ref().map(|a| a.writes_per_cell_per_inference),
            "attention_cell_writes_per_inference": cost.attention.as_ref().map(|a| a.cell_writes_per_inference),
            "inferences_to_endurance": cost.attention.as_ref().map(|a| a.inferences_to_endurance),
            "attention_crossbar": cost.attention,
            "drift_compensation": hardware.mapping.drift_compensation,
            "drift_compensation_reads": cost.drift_compensation_reads,
        })));
        report
    }
}

/// Metric name → value, in the task's order.
pub fn metrics_json(result: &Evaluation) -> Map<String, Value> {
    result
        .metrics
        .iter()
        .map(|(m, v)| (m.name().to_string(), (*v).into()))
        .collect()
}

/// The map of a `json!({..})` literal.
fn json_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a json!({{..}}) literal is an object"),
    }
}
