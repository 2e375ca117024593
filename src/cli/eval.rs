//! `crossbert eval`: a checkpoint's GLUE metrics on one split, digitally, or on a chip
//! (`--preset` / `--hardware`) next to the digital baseline, with the energy per inference.
//! The evaluation and its JSON report are [`crate::report`]'s (shared with Python).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::hardware::ChipArgs;
use crate::backend::multitask::{array_keys, ChipPlan};
use crate::glue::{self, evaluate::DEFAULT_BATCH_SIZE};
use crate::hardware::HardwareConfig;
use crate::model::CheckpointDir;
use crate::report::{evaluate, evaluate_on_shared_chip, EvalReport, EvalRequest};
use crate::tokenize::DEFAULT_MAX_LEN;

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
    #[arg(long, value_parser = super::at_least_one)]
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
    #[arg(long, value_parser = super::at_least_one, default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[command(flatten)]
    pub chip: ChipArgs,
    /// Chip instance: fixes every programming draw and the read noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A chip holding several checkpoints: every checkpoint on it, in the chip's order (the
    /// same list for each task's eval; `--model` is one of them). Arrays shared with other
    /// checkpoints keep their draws; those of the first checkpoint holding other content
    /// draw from their own streams (see `crossbert map --model A --model B`).
    #[arg(long, value_name = "DIR")]
    pub chip_model: Vec<PathBuf>,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let request = EvalRequest {
        model: args.model.clone(),
        task: args.task.clone(),
        data: args.data.clone(),
        split: args.split.clone(),
        limit: args.limit,
        max_len: args.max_len,
        batch_size: args.batch_size,
        hardware: args.chip.resolve()?,
        seed: args.seed,
        progress: std::io::stderr().is_terminal(),
    };
    let shared = match &request.hardware {
        Some(hardware) if !args.chip_model.is_empty() => Some(SharedChip::plan(&args, hardware)?),
        None if !args.chip_model.is_empty() => anyhow::bail!(
            "--chip-model: expected a chip (--preset or --hardware) to share, found none"
        ),
        _ => None,
    };
    let report = match &shared {
        Some(chip) => evaluate_on_shared_chip(&request, &chip.plan.stream_ids(chip.index))?,
        None => evaluate(&request)?,
    };
    write_out(&args, &report.result)?;
    if args.json {
        let mut json = report.to_json();
        if let Some(chip) = &shared {
            json.extend(chip.to_json());
        }
        println!("{}", serde_json::Value::Object(json));
    } else {
        print_summary(&report);
        if let Some(chip) = &shared {
            chip.print();
        }
    }
    Ok(())
}

/// The chip of `--chip-model`: its checkpoints' arrays and where `--model` is among them.
struct SharedChip {
    plan: ChipPlan,
    models: Vec<PathBuf>,
    /// `--model`'s place in the chip's list.
    index: usize,
}

impl SharedChip {
    fn plan(args: &EvalArgs, hardware: &HardwareConfig) -> anyhow::Result<Self> {
        let canonical = |p: &Path| {
            p.canonicalize()
                .with_context(|| format!("--chip-model: reading {}", p.display()))
        };
        let model = canonical(&args.model)?;
        let mut index = None;
        let mut keys = Vec::new();
        for (i, dir) in args.chip_model.iter().enumerate() {
            if canonical(dir)? == model {
                index.get_or_insert(i);
            }
            let checkpoint = CheckpointDir::open(dir)?;
            keys.push(array_keys(&checkpoint, hardware)?);
        }
        let Some(index) = index else {
            anyhow::bail!(
                "--chip-model: expected --model {} among the chip's checkpoints (list every \
                 checkpoint of the chip, in the same order for each task), found only {}",
                args.model.display(),
                args.chip_model
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        Ok(Self {
            plan: ChipPlan::new(keys)?,
            models: args.chip_model.clone(),
            index,
        })
    }

    /// (linears of `--model` shared with another checkpoint, all its analog linears).
    fn shared_linears(&self) -> (usize, usize) {
        let linears = &self.plan.models[self.index];
        let shared = linears
            .iter()
            .filter(|(_, key)| self.plan.is_shared(key))
            .count();
        (shared, linears.len())
    }

    fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let (shared, linears) = self.shared_linears();
        let models: Vec<String> = self
            .models
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut map = serde_json::Map::new();
        map.insert("chip_models".into(), models.into());
        map.insert("chip_model_index".into(), self.index.into());
        map.insert("linears_shared".into(), shared.into());
        map.insert("linears_analog".into(), linears.into());
        map
    }

    fn print(&self) {
        let (shared, linears) = self.shared_linears();
        println!(
            "on a chip of {} checkpoints (this one #{}): {shared} of its {linears} analog \
             linears shared with another",
            self.models.len(),
            self.index
        );
    }
}

fn write_out(args: &EvalArgs, result: &glue::Evaluation) -> anyhow::Result<()> {
    if let Some(path) = &args.out {
        std::fs::write(path, result.to_tsv())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn metrics_line(result: &glue::Evaluation) -> String {
    let all: Vec<String> = result
        .metrics
        .iter()
        .map(|(m, v)| format!("{} {v:.4}", m.name()))
        .collect();
    all.join(", ")
}

/// The human-readable lines of a report: metrics, and on a chip the digital baseline,
/// the difference, energy by component, latency, area and attention writes.
fn print_summary(report: &EvalReport) {
    let result = &report.result;
    let (task, split) = (result.task, result.split);
    let Some(chip) = &report.chip else {
        println!(
            "{task} {} ({} rows): {} ({:.2} s)",
            split.name(),
            result.examples.len(),
            metrics_line(result),
            result.seconds
        );
        return;
    };
    let (hardware, cost, baseline) = (&chip.hardware, &chip.cost, &chip.baseline);
    let (main, value) = result.metrics[0];
    let digital_value = baseline.metrics[0].1;
    println!(
        "{task} {} ({} rows) on {} seed {}: {} ({:.2} s); digital {} {digital_value:.4} ({:.2} s); difference {:+.4}",
        split.name(),
        result.examples.len(),
        hardware.preset,
        chip.seed,
        metrics_line(result),
        result.seconds,
        main.name(),
        baseline.seconds,
        value - digital_value,
    );
    println!(
        "energy per inference {:.4e} pJ ({:.1} tokens, {:.4e} pJ/token); latency {:.4e} ns ({}); area {:.3} mm²",
        cost.energy_pj.total_pj(),
        cost.tokens_per_inference,
        cost.energy_per_token_pj.total_pj(),
        cost.latency_ns,
        cost.schedule,
        cost.area_mm2.total_mm2()
    );
    println!(
        "throughput {:.0} inferences/s ({:.0} tokens/s); array utilization {:.1} %; {:.3} TOPS/W",
        cost.throughput_inferences_per_s,
        cost.throughput_tokens_per_s,
        100.0 * cost.array_utilization,
        cost.tops_per_w
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
