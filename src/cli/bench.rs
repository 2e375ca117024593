//! `crossbert bench`: throughput of the digital engine on one GLUE split, or with
//! `--scale` the time and memory of the analog emulation per model size and fidelity (see
//! `scale`).
//!
//! Without `--scale` it times tokenization and inference separately (best of `--repeat` runs, model loading
//! excluded), counts the floating-point operations of the matrix products actually done
//! (2 per multiply-accumulate, for the real sequence lengths: packing means no padding is
//! computed), and reads the process's peak resident memory (`VmHWM` in /proc/self/status).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::glue::evaluate::{predict_logits, tokenize_examples, DEFAULT_BATCH_SIZE};
use crate::glue::{self, LabelMap, Split, Task};
use crate::model::{digital_linear, load_classifier};
use crate::synth::ModelSize;
use crate::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};

mod scale;
mod train;

pub use scale::{EvalRow, ScaleRow};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Hugging Face checkpoint directory (the digital bench; with --scale, the checkpoint
    /// of the digital / one-shot / bit-sliced GLUE evals).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// GLUE data directory holding the task folders.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// GLUE task.
    #[arg(long, default_value = "sst2")]
    pub task: String,
    /// Labelled split: dev or train.
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Timed repetitions; the fastest is reported.
    #[arg(long, value_parser = super::at_least_one, default_value_t = 3)]
    pub repeat: usize,
    #[arg(long, value_parser = super::at_least_one, default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[arg(long, default_value_t = DEFAULT_MAX_LEN)]
    pub max_len: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Scale study: synthesize models (--sizes, --scale-config), run --sequences random
    /// sequences of --seq-len tokens on each of --presets, each in its own child process,
    /// and print wall time, CPU time, peak memory and time per sequence; with --model and
    /// --data also the digital, one-shot and isaac-32nm (bit-sliced) evals of --task's dev
    /// split.
    #[arg(long)]
    pub scale: bool,
    /// Model sizes of the scale study [default: base,large, or none with --scale-config].
    #[arg(long, value_delimiter = ',')]
    pub sizes: Option<Vec<ModelSize>>,
    /// Hugging Face config.json files of further architectures for the scale study.
    #[arg(long)]
    pub scale_config: Vec<PathBuf>,
    /// Hardware of the scale study: preset names or hardware TOML files (`….toml`).
    #[arg(long, value_delimiter = ',', default_values_t = ["isaac-32nm".to_string(), "one-shot".to_string()])]
    pub presets: Vec<String>,
    /// Timed sequences per (model, preset).
    #[arg(long, value_parser = super::at_least_one, default_value_t = 32)]
    pub sequences: usize,
    /// Tokens per sequence.
    #[arg(long, value_parser = super::at_least_one, default_value_t = 128)]
    pub seq_len: usize,
    /// Sequences per forward pass in the scale study.
    #[arg(long, value_parser = super::at_least_one, default_value_t = 8)]
    pub scale_batch: usize,
    /// Random sequences the chip calibrates its input and ADC ranges on (not timed with
    /// the sequences).
    #[arg(long, value_parser = super::at_least_one, default_value_t = 4)]
    pub calibration_sequences: usize,
    /// Directory for the synthesized checkpoints, reused when a model's config.json is
    /// already there [default: a temporary directory, removed afterwards].
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Training throughput instead: --steps AdamW steps of --batch-size sentences of the
    /// task's train split on --model (after 5 untimed steps), as `crossbert finetune` runs
    /// them.
    #[arg(long)]
    pub train: bool,
    /// Timed training steps of --train.
    #[arg(long, value_parser = super::at_least_one, default_value_t = 40)]
    pub steps: usize,
    /// With --train: keep the word-embedding table fixed, as `finetune --freeze-embeddings`.
    #[arg(long)]
    pub freeze_embeddings: bool,
    /// Internal: measure the checkpoint in this directory on the first of --presets in this
    /// process and print one JSON line (what --scale runs in each child process).
    #[arg(long, hide = true)]
    pub scale_child: Option<PathBuf>,
}

/// Peak resident set size of this process in MiB, from `VmHWM` (Linux only).
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.scale_child {
        return scale::child_run(&args, dir);
    }
    if args.scale {
        return scale::run(&args);
    }
    if args.train {
        return train::run(&args);
    }
    let (Some(model_dir), Some(data)) = (&args.model, &args.data) else {
        anyhow::bail!("bench: expected --model DIR and --data DIR (or --scale)");
    };
    let task = Task::parse(&args.task).map_err(anyhow::Error::msg)?;
    let split = Split::parse(&args.split).map_err(anyhow::Error::msg)?;
    let load_start = Instant::now();
    let (config, model) = load_classifier(model_dir, &digital_linear)?;
    let tokenizer = BertTokenizer::from_dir(model_dir, args.max_len)?;
    let load_seconds = load_start.elapsed().as_secs_f64();
    let labels = LabelMap::for_checkpoint(task, &config)?;
    let examples = glue::read_split(data, task, split, &labels)?;

    let (mut best_tokenize, mut best_infer) = (f64::INFINITY, f64::INFINITY);
    let mut lengths = Vec::new();
    for _ in 0..args.repeat.max(1) {
        let t = Instant::now();
        let encoded = tokenize_examples(&tokenizer, &examples)?;
        let tokenize = t.elapsed().as_secs_f64();
        let t = Instant::now();
        predict_logits(&model, &encoded, args.batch_size)?;
        let infer = t.elapsed().as_secs_f64();
        // The fastest complete run, so the two parts come from the same repetition.
        if tokenize + infer < best_tokenize + best_infer {
            (best_tokenize, best_infer) = (tokenize, infer);
        }
        lengths = encoded.iter().map(|e| e.input_ids.len()).collect();
    }
    let total = best_tokenize + best_infer;
    let flops = model.flops(&lengths) as f64;
    let tokens: usize = lengths.iter().sum();
    let report = serde_json::json!({
        "task": task.name(),
        "split": split.name(),
        "rows": examples.len(),
        "tokens": tokens,
        "threads": rayon::current_num_threads(),
        "batch_size": args.batch_size,
        "load_seconds": load_seconds,
        "tokenize_seconds": best_tokenize,
        "inference_seconds": best_infer,
        "total_seconds": total,
        "sentences_per_second": examples.len() as f64 / total,
        "gflop": flops / 1e9,
        "gflop_per_second": flops / 1e9 / best_infer,
        "peak_memory_mib": peak_memory_mib(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{task} {}: {} sentences, {tokens} tokens, {} threads\n\
             load {load_seconds:.3} s | tokenize {best_tokenize:.3} s | inference {best_infer:.3} s | total {total:.3} s\n\
             {:.1} sentences/s, {:.2} GFLOP in matrix products, {:.1} GFLOP/s, peak memory {} MiB",
            split.name(),
            examples.len(),
            rayon::current_num_threads(),
            examples.len() as f64 / total,
            flops / 1e9,
            flops / 1e9 / best_infer,
            peak_memory_mib().map_or("?".into(), |m| format!("{m:.0}")),
        );
    }
    Ok(())
}
