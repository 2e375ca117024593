//! `crossbert finetune-head`: a linear probe on a frozen base encoder, written as a
//! normal classification checkpoint (see [`crate::probe`]).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::glue::evaluate::DEFAULT_BATCH_SIZE;
use crate::glue::{self, Gold, LabelMap, Split, Task};
use crate::model::encoder::EncoderModel;
use crate::model::{digital_linear, Checkpoint, ModelConfig};
use crate::probe::{self, LogisticOptions, Probe};
use crate::tokenize::BertTokenizer;
use crate::train::Targets;

use super::finetune::TaskRun;

#[derive(Args, Debug)]
pub struct FinetuneHeadArgs {
    /// Base encoder checkpoint (config.json, model.safetensors, tokenizer.json or vocab.txt);
    /// tensor names with or without the `bert.` prefix.
    #[arg(long)]
    pub base: PathBuf,
    #[command(flatten)]
    pub run: TaskRun,
    /// L2 penalty on the head's weights (added to the mean loss).
    #[arg(long, default_value_t = LogisticOptions::default().l2)]
    pub l2: f64,
    /// Maximum gradient steps of the logistic regression.
    #[arg(long, default_value_t = LogisticOptions::default().iterations)]
    pub iterations: usize,
    /// Sequences per batch when computing features.
    #[arg(long, value_parser = super::at_least_one, default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
}

pub fn run(args: FinetuneHeadArgs) -> anyhow::Result<()> {
    let task = Task::parse(&args.run.task).map_err(anyhow::Error::msg)?;
    let config_path = args.base.join("config.json");
    let config = ModelConfig::from_file(&config_path)?;
    crate::train::require_bert(&config, &config_path)?;
    let base_config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )
    .with_context(|| format!("parsing {}", config_path.display()))?;
    let weights = Checkpoint::open(&args.base)?;
    let layout = config.model_type.layout(&config);
    let encoder = EncoderModel::load(&weights, &config, &layout, &digital_linear)?;
    let tokenizer = BertTokenizer::from_dir(&args.base, args.run.max_len)?;

    let mut examples = glue::read_split(
        &args.run.data,
        task,
        Split::Train,
        &LabelMap::standard(task),
    )?;
    if let Some(n) = args.run.max_train {
        examples.truncate(n);
    }
    let start = Instant::now();
    let features = probe::pooled_features(&encoder, &tokenizer, &examples, args.batch_size)?;
    let feature_seconds = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let golds: Vec<Gold> = examples.iter().map(|e| e.gold).collect();
    let (head, summary) = match Targets::from_golds(&golds) {
        Targets::Scores(targets) => {
            let head = probe::train_ridge(&features, &targets, args.l2)?;
            (head, "ridge regression".to_string())
        }
        Targets::Classes(classes) => {
            let options = LogisticOptions {
                l2: args.l2,
                iterations: args.iterations,
                ..LogisticOptions::default()
            };
            let n_classes = task.label_names().len();
            let (head, losses) = probe::train_logistic(&features, &classes, n_classes, &options)?;
            let accuracy = train_accuracy(&head, &features, &classes);
            let summary = format!(
                "logistic regression: loss {:.4} -> {:.4} in {} steps, train accuracy {:.4}",
                losses[0],
                losses[losses.len() - 1],
                losses.len() - 1,
                accuracy
            );
            (head, summary)
        }
        Targets::Distributions(_) => unreachable!("gold labels are classes or scores"),
    };
    let train_seconds = start.elapsed().as_secs_f64();

    probe::write_probe_checkpoint(
        &args.base,
        &base_config,
        &weights,
        &head,
        task,
        &args.run.out,
    )?;
    println!(
        "{task}: {} train rows, features {:.1} s, {summary} ({:.1} s); wrote {}",
        examples.len(),
        feature_seconds,
        train_seconds,
        args.run.out.display()
    );
    Ok(())
}

fn train_accuracy(head: &Probe, features: &crate::model::Matrix, classes: &[usize]) -> f64 {
    let predicted = head.classify(features);
    let right = predicted
        .iter()
        .zip(classes)
        .filter(|(p, c)| p == c)
        .count();
    right as f64 / classes.len().max(1) as f64
}
