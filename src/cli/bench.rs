//! `crossbert bench`: throughput of the digital engine on one GLUE split.
//!
//! Times tokenization and inference separately (best of `--repeat` runs, model loading
//! excluded), counts the floating-point operations of the matrix products actually done
//! (2 per multiply-accumulate, for the real sequence lengths: packing means no padding is
//! computed), and reads the process's peak resident memory (`VmHWM` in /proc/self/status).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::glue::evaluate::{predict_logits, tokenize_examples, DEFAULT_BATCH_SIZE};
use crate::glue::{self, LabelMap, Split, Task};
use crate::model::{digital_linear, load_classifier};
use crate::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Hugging Face checkpoint directory.
    #[arg(long)]
    pub model: PathBuf,
    /// GLUE data directory holding the task folders.
    #[arg(long)]
    pub data: PathBuf,
    /// GLUE task.
    #[arg(long, default_value = "sst2")]
    pub task: String,
    /// Labelled split: dev or train.
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Timed repetitions; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[arg(long, default_value_t = DEFAULT_MAX_LEN)]
    pub max_len: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Peak resident set size of this process in MiB, from `VmHWM` (Linux only).
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let task = Task::parse(&args.task).map_err(anyhow::Error::msg)?;
    let split = Split::parse(&args.split).map_err(anyhow::Error::msg)?;
    let load_start = Instant::now();
    let (config, model) = load_classifier(&args.model, &digital_linear)?;
    let tokenizer = BertTokenizer::from_dir(&args.model, args.max_len)?;
    let load_seconds = load_start.elapsed().as_secs_f64();
    let labels = LabelMap::for_checkpoint(task, &config)?;
    let examples = glue::read_split(&args.data, task, split, &labels)?;

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
