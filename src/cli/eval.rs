//! `crossbert eval`: a checkpoint's GLUE metrics on one split, digitally, or on a chip
//! (`--preset` / `--hardware`) next to the digital baseline, with the energy per inference.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::hardware::ChipArgs;
use crate::backend::GlueRun;
use crate::glue::{self, evaluate::DEFAULT_BATCH_SIZE, LabelMap, Split, Task};
use crate::hardware::HardwareConfig;
use crate::model::{digital_linear, load_classifier};
use crate::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Hugging Face checkpoint directory (config.json, safetensors, tokenizer.json or vocab.txt).
    #[arg(long)]
    pub model: PathBuf,
    /// GLUE task: cola, sst2, mrpc, stsb, qqp, mnli, mnli-mm, qnli, rte, wnli.
    #[arg(long)]
    pub task: String,
    /// GLUE data directory holding the task folders (SST-2/, MRPC/, …).
    #[arg(long)]
    pub data: PathBuf,
    /// Labelled split: dev or train.
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Evaluate only the first N examples.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write one row per example (index, logit_0…, prediction, label) to this TSV file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object on stdout instead of a summary line.
    #[arg(long)]
    pub json: bool,
    /// Maximum tokens per example, special tokens included (longest-first truncation).
    #[arg(long, default_value_t = DEFAULT_MAX_LEN)]
    pub max_len: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[command(flatten)]
    pub chip: ChipArgs,
    /// Chip instance: fixes every programming draw and the read noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    if let Some(hardware) = args.chip.resolve()? {
        return run_analog(&args, &hardware);
    }
    let task = Task::parse(&args.task).map_err(anyhow::Error::msg)?;
    let split = Split::parse(&args.split).map_err(anyhow::Error::msg)?;
    let (config, model) = load_classifier(&args.model, &digital_linear)?;
    let tokenizer = BertTokenizer::from_dir(&args.model, args.max_len)?;
    let labels = LabelMap::for_checkpoint(task, &config)?;
    let mut examples = glue::read_split(&args.data, task, split, &labels)?;
    if let Some(limit) = args.limit {
        examples.truncate(limit);
    }
    let result = glue::evaluate(
        &model,
        config.problem_type(),
        &tokenizer,
        task,
        split,
        examples,
        args.batch_size,
    )?;
    write_out(&args, &result)?;
    if args.json {
        println!(
            "{}",
            serde_json::Value::Object(report_json(&args, &result, "digital"))
        );
    } else {
        println!(
            "{task} {} ({} rows): {} ({:.2} s)",
            split.name(),
            result.examples.len(),
            metrics_line(&result),
            result.seconds
        );
    }
    Ok(())
}

/// The JSON keys every `eval --json` report has, digital or analog.
fn report_json(
    args: &EvalArgs,
    result: &glue::Evaluation,
    backend: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let (main, value) = result.metrics[0];
    json_object(serde_json::json!({
        "task": result.task.name(),
        "split": result.split.name(),
        "rows": result.examples.len(),
        "metric": main.name(),
        "value": value,
        "metrics": metrics_json(result),
        "seconds": result.seconds,
        "model": args.model.display().to_string(),
        "backend": backend,
        "max_len": args.max_len,
    }))
}

/// The map of a `json!({..})` literal.
fn json_object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a json!({{..}}) literal is an object"),
    }
}

fn write_out(args: &EvalArgs, result: &glue::Evaluation) -> anyhow::Result<()> {
    if let Some(path) = &args.out {
        std::fs::write(path, result.to_tsv())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn metrics_json(result: &glue::Evaluation) -> serde_json::Map<String, serde_json::Value> {
    result
        .metrics
        .iter()
        .map(|(m, v)| (m.name().to_string(), (*v).into()))
        .collect()
}

fn metrics_line(result: &glue::Evaluation) -> String {
    let all: Vec<String> = result
        .metrics
        .iter()
        .map(|(m, v)| format!("{} {v:.4}", m.name()))
        .collect();
    all.join(", ")
}

/// Digital baseline, then the chip: programmed for `--seed`, calibrated on the first
/// `calibration.examples` TRAIN examples, evaluated on the split; then its cost.
fn run_analog(args: &EvalArgs, hardware: &HardwareConfig) -> anyhow::Result<()> {
    let task = Task::parse(&args.task).map_err(anyhow::Error::msg)?;
    let split = Split::parse(&args.split).map_err(anyhow::Error::msg)?;
    let run = GlueRun::open(
        &args.model,
        &args.data,
        task,
        split,
        args.limit,
        args.max_len,
        args.batch_size,
    )?;
    let baseline = run.digital()?;
    let (result, cost) = run.on_chip(hardware, args.seed)?;
    write_out(args, &result)?;

    let (main, value) = result.metrics[0];
    let digital_value = baseline.metrics[0].1;
    let breakdown: serde_json::Map<String, serde_json::Value> = cost
        .energy_pj
        .components()
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    if args.json {
        let mut report = report_json(args, &result, "analog");
        report.extend(json_object(serde_json::json!({
            "digital_value": digital_value,
            "difference": value - digital_value,
            "digital_metrics": metrics_json(&baseline),
            "digital_seconds": baseline.seconds,
            "hardware": hardware.preset,
            "seed": args.seed,
            "energy_pj_per_inference": cost.energy_pj.total_pj(),
            "energy_pj_per_token": cost.energy_per_token_pj.total_pj(),
            "energy_breakdown_pj": breakdown,
            "tokens_per_inference": cost.tokens_per_inference,
            "latency_ns": cost.latency_ns,
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
        println!("{}", serde_json::Value::Object(report));
    } else {
        println!(
            "{task} {} ({} rows) on {} seed {}: {} ({:.2} s); digital {} {digital_value:.4} ({:.2} s); difference {:+.4}",
            split.name(),
            result.examples.len(),
            hardware.preset,
            args.seed,
            metrics_line(&result),
            result.seconds,
            main.name(),
            baseline.seconds,
            value - digital_value,
        );
        println!(
            "energy per inference {:.4e} pJ ({:.1} tokens, {:.4e} pJ/token); latency {:.4e} ns; area {:.3} mm²",
            cost.energy_pj.total_pj(),
            cost.tokens_per_inference,
            cost.energy_per_token_pj.total_pj(),
            cost.latency_ns,
            cost.area_mm2.total_mm2()
        );
        for (k, v) in cost.energy_pj.components() {
            println!("  {k:<12} {v:>14.4e} pJ");
        }
        if let Some(a) = &cost.attention {
            println!(
                "attention on crossbars: {:.4e} pJ per inference; {:.4e} cell writes per inference; each cell written {} times per inference; {:.3e} inferences to endurance ({:.1e} cycles)",
                a.energy_pj,
                a.cell_writes_per_inference,
                a.writes_per_cell_per_inference,
                a.inferences_to_endurance,
                a.endurance_cycles
            );
        }
    }
    Ok(())
}
