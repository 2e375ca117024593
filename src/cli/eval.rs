//! `crossbert eval`: a checkpoint's GLUE metrics on one split, digitally.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::glue::{self, evaluate::DEFAULT_BATCH_SIZE, LabelMap, Split, Task};
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
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
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
    if let Some(path) = &args.out {
        std::fs::write(path, result.to_tsv())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let (main, value) = result.metrics[0];
    if args.json {
        let metrics: serde_json::Map<String, serde_json::Value> = result
            .metrics
            .iter()
            .map(|(m, v)| (m.name().to_string(), (*v).into()))
            .collect();
        let report = serde_json::json!({
            "task": task.name(),
            "split": split.name(),
            "rows": result.examples.len(),
            "metric": main.name(),
            "value": value,
            "metrics": metrics,
            "seconds": result.seconds,
            "model": args.model.display().to_string(),
            "backend": "digital",
            "max_len": args.max_len,
        });
        println!("{report}");
    } else {
        let all: Vec<String> = result
            .metrics
            .iter()
            .map(|(m, v)| format!("{} {v:.4}", m.name()))
            .collect();
        println!(
            "{task} {} ({} rows): {} ({:.2} s)",
            split.name(),
            result.examples.len(),
            all.join(", "),
            result.seconds
        );
    }
    Ok(())
}
