//! `crossbert finetune`: fine-tunes every weight of a BERT checkpoint on a GLUE task and
//! writes a Hugging Face checkpoint (see [`crate::train`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};

use crate::glue::evaluate::tokenize_examples;
use crate::glue::{self, LabelMap, Split, Task};
use crate::model::{Checkpoint, ModelConfig, ProblemType};
use crate::probe::probe_config;
use crate::synth::{copy_tokenizer, write_text};
use crate::tokenize::{BertTokenizer, Encoded, DEFAULT_MAX_LEN};
use crate::train::finetune::{Dataset, EpochReport, FinetuneOptions, Finetuner};
use crate::train::hardware_aware::{AnalogTraining, MeasuredNoise};
use crate::train::params::{Origin, Params};

use super::hardware::ChipArgs;

#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// Checkpoint to start from: a base encoder (a new task head is initialized) or a
    /// fine-tuned classifier for the task (its head is kept).
    #[arg(long)]
    pub base: PathBuf,
    #[command(flatten)]
    pub run: TaskRun,
    #[arg(long, default_value_t = 1, value_parser = super::at_least_one)]
    pub epochs: usize,
    /// Peak learning rate of AdamW.
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f32,
    /// Training sentences per step.
    #[arg(long, default_value_t = 32, value_parser = super::at_least_one)]
    pub batch_size: usize,
    /// Fraction of the steps over which the learning rate rises linearly from 0 (then it
    /// falls linearly to 0 at the last step).
    #[arg(long, default_value_t = 0.1, value_parser = fraction)]
    pub warmup: f32,
    /// AdamW's decoupled weight decay (not applied to biases and LayerNorm weights).
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f32,
    /// Seed of the example order, dropout and a new head's weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep the word-embedding table fixed.
    #[arg(long)]
    pub freeze_embeddings: bool,
    /// Keep the lowest K encoder layers (attention, LayerNorms, FFN) bit-identical to the
    /// base: out of the optimizer and weight decay, written unchanged. Checkpoints of
    /// several tasks fine-tuned from one base with the same K share those layers' arrays
    /// on one chip (`crossbert map --model A --model B`).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub freeze_layers: usize,
    /// Knowledge distillation from the base: each example's target becomes
    /// (1 − ALPHA)·its label + ALPHA·the base's own digital, dropout-free prediction
    /// (class probabilities; the score for STS-B). Needs a base with the task's head.
    #[arg(long, value_name = "ALPHA", default_value_t = 0.0, value_parser = weight)]
    pub distill: f32,
    /// Hardware-aware fine-tuning: train with this chip's weight noise, stuck-at drop-out
    /// and converters in the forward pass (its `[training]` section; without a flag,
    /// digital training).
    #[command(flatten)]
    pub chip: ChipArgs,
}

/// The task, data and output of a training command (`finetune`, `finetune-head`).
#[derive(Args, Debug)]
pub struct TaskRun {
    /// GLUE task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli.
    #[arg(long)]
    pub task: String,
    /// GLUE data directory holding the task folders (trained on its train split).
    #[arg(long)]
    pub data: PathBuf,
    /// Output checkpoint directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Train on the first N rows of the train split only.
    #[arg(long, value_parser = super::at_least_one)]
    pub max_train: Option<usize>,
    /// Maximum tokens per example, special tokens included.
    #[arg(long, default_value_t = DEFAULT_MAX_LEN)]
    pub max_len: usize,
}

fn fraction(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!(
            "expected a fraction of the steps in [0, 1), found {v}"
        )),
        Err(e) => Err(format!("expected a fraction of the steps in [0, 1) ({e})")),
    }
}

fn weight(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!("expected a weight in [0, 1], found {v}")),
        Err(e) => Err(format!("expected a weight in [0, 1] ({e})")),
    }
}

/// The dropout rates of a `config.json`, Hugging Face's 0.1 when absent.
fn dropout_rates(config: &Value) -> (f32, f32) {
    let rate = |key: &str| config.get(key).and_then(Value::as_f64).unwrap_or(0.1) as f32;
    (
        rate("hidden_dropout_prob"),
        rate("attention_probs_dropout_prob"),
    )
}

/// A base checkpoint ready to train on a task: its tensors, the config to write, and the
/// tokenized train and dev splits.
pub(crate) struct Prepared {
    pub task: Task,
    pub config: ModelConfig,
    /// The `config.json` of the output checkpoint.
    pub out_config: Value,
    pub params: Params,
    pub new_head: bool,
    pub train: Vec<glue::Example>,
    pub train_encoded: Vec<Encoded>,
    pub dev: Vec<glue::Example>,
    pub dev_encoded: Vec<Encoded>,
    /// `hidden_dropout_prob` and `attention_probs_dropout_prob` of the base.
    pub dropout: (f32, f32),
}

pub(crate) fn prepare(
    base: &Path,
    task: &str,
    data: &Path,
    max_len: usize,
    max_train: Option<usize>,
    seed: u64,
) -> anyhow::Result<Prepared> {
    let task = Task::parse(task).map_err(anyhow::Error::msg)?;
    let config_path = base.join("config.json");
    let base_value: Value = serde_json::from_str(
        &std::fs::read_to_string(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )
    .with_context(|| format!("parsing {}", config_path.display()))?;
    let base_config = ModelConfig::from_file(&config_path)?;
    crate::train::require_bert(&base_config, &config_path)?;
    let weights = Checkpoint::open(base)?;
    let labels = if task.is_regression() {
        1
    } else {
        task.label_names().len()
    };
    let fits = head_fits(&base_config, task, labels);
    let (params, origins) = Params::load(&weights, &base_config, labels, fits, seed)?;
    let new_head = origins.contains(&Origin::Initialized);
    // A kept head with named labels keeps its checkpoint's label order; a new head, or one
    // with only placeholder names (read in GLUE's standard order), gets the task's names.
    let out_config = if new_head || placeholder_labels(&base_config, labels) {
        probe_config(&base_value, task, labels)?
    } else {
        let mut value = base_value.clone();
        value["architectures"] = json!(["BertForSequenceClassification"]);
        value
    };
    let config = ModelConfig::from_json(&out_config.to_string(), "the output config.json")?;
    let label_map = LabelMap::for_checkpoint(task, &config)?;
    let tokenizer = BertTokenizer::from_dir(base, max_len)?;
    let mut train = glue::read_split(data, task, Split::Train, &label_map)?;
    if let Some(n) = max_train {
        train.truncate(n);
    }
    let dev = glue::read_split(data, task, Split::Dev, &label_map)?;
    let train_encoded = tokenize_examples(&tokenizer, &train)?;
    let dev_encoded = tokenize_examples(&tokenizer, &dev)?;
    check_inputs(&config, &train_encoded, "train", base)?;
    check_inputs(&config, &dev_encoded, "dev", base)?;
    Ok(Prepared {
        task,
        config,
        dropout: dropout_rates(&base_value),
        out_config,
        params,
        new_head,
        train,
        train_encoded,
        dev,
        dev_encoded,
    })
}

pub fn run(args: FinetuneArgs) -> anyhow::Result<()> {
    let hardware = args.chip.resolve()?;
    // Checked before the (slow) tokenization of the data.
    let base_config = ModelConfig::from_file(&args.base.join("config.json"))?;
    check_freeze_layers(args.freeze_layers, &base_config, &args.base)?;
    let p = prepare(
        &args.base,
        &args.run.task,
        &args.run.data,
        args.run.max_len,
        args.run.max_train,
        args.seed,
    )?;
    let options = FinetuneOptions {
        epochs: args.epochs,
        lr: args.lr,
        batch_size: args.batch_size,
        warmup: args.warmup,
        weight_decay: args.weight_decay,
        seed: args.seed,
        freeze_embeddings: args.freeze_embeddings,
        freeze_layers: args.freeze_layers,
        max_grad_norm: 1.0,
        hidden_dropout: p.dropout.0,
        attention_dropout: p.dropout.1,
        distill: args.distill,
    };
    if args.distill > 0.0 && p.new_head {
        anyhow::bail!(
            "--distill {} needs a base with a {} head to learn from; {} has none (a new \
             head is initialized), so fine-tune it without --distill first",
            args.distill,
            p.task,
            args.base.display()
        );
    }
    println!(
        "{}: {} train and {} dev sentences, {} head, {} steps of {} ({} threads)",
        p.task,
        p.train.len(),
        p.dev.len(),
        if p.new_head {
            "new"
        } else {
            "the checkpoint's"
        },
        args.epochs * p.train.len().div_ceil(args.batch_size),
        args.batch_size,
        rayon::current_num_threads(),
    );
    let start = Instant::now();
    let mut tuner = Finetuner::new(p.config, p.params, options.clone(), p.train.len());
    let hardware_log = match &hardware {
        Some(hw) => {
            // The calibration examples, then as many others to measure the converters on
            // (the calibration examples themselves when the train split has no others).
            let n = hw.calibration.examples;
            let (calibration, rest) = p.train_encoded.split_at(n.min(p.train_encoded.len()));
            let probe = if rest.is_empty() {
                calibration
            } else {
                &rest[..n.min(rest.len())]
            };
            let linears = tuner.use_hardware(hw, calibration, probe)?;
            print_chip(&hw.preset, linears);
            if hw.training.chip_in_loop() {
                println!(
                    "  chip in the loop: each analog output carries its error on a training chip \
                     instance, reprogrammed every {} steps",
                    hw.training.reprogram_every()
                );
            }
            Some(json!({
                "preset": hw.preset,
                "file": args.chip.hardware,
                "training": hw.training,
                "linears": linears,
            }))
        }
        None => None,
    };
    let reports = tuner.train(
        p.task,
        &Dataset {
            encoded: &p.train_encoded,
            examples: &p.train,
        },
        &Dataset {
            encoded: &p.dev_encoded,
            examples: &p.dev,
        },
        print_epoch,
    );
    std::fs::create_dir_all(&args.run.out)
        .with_context(|| format!("creating {}", args.run.out.display()))?;
    tuner
        .params
        .write_safetensors(&args.run.out.join(crate::model::checkpoint::SINGLE_FILE))?;
    write_text(
        &args.run.out.join("config.json"),
        &serde_json::to_string_pretty(&p.out_config)?,
    )?;
    copy_tokenizer(&args.base, &args.run.out)?;
    let seconds = start.elapsed().as_secs_f64();
    write_log(&args, &options, &reports, hardware_log, seconds)?;
    println!("wrote {}", args.run.out.display());
    Ok(())
}

/// `--freeze-layers K` must name layers the base has.
fn check_freeze_layers(k: usize, config: &ModelConfig, base: &Path) -> anyhow::Result<()> {
    let layers = config.num_hidden_layers;
    if k > layers {
        anyhow::bail!(
            "--freeze-layers: expected at most num_hidden_layers = {layers} of {}, found {k}",
            base.join("config.json").display()
        );
    }
    Ok(())
}

/// Whether the base's classifier, if it has one, already predicts this task's outputs (then
/// it is kept): the same number, regression for STS-B, and class names that are the task's
/// or Hugging Face's placeholders. A head for another task is replaced by a new one.
fn head_fits(config: &ModelConfig, task: Task, labels: usize) -> bool {
    if config.num_labels() != labels {
        return false;
    }
    if task.is_regression() {
        return config.problem_type() == ProblemType::Regression;
    }
    let names = task.label_names();
    placeholder_labels(config, labels)
        || (0..labels).all(|i| names.contains(&config.label_name(i).as_str()))
}

fn placeholder_labels(config: &ModelConfig, labels: usize) -> bool {
    (0..labels).all(|i| config.label_name(i) == format!("LABEL_{i}"))
}

/// Every token id and position of the training data must exist in the model.
fn check_inputs(
    config: &ModelConfig,
    encoded: &[Encoded],
    split: &str,
    base: &Path,
) -> anyhow::Result<()> {
    for (row, e) in encoded.iter().enumerate() {
        if e.input_ids.len() > config.max_position_embeddings {
            anyhow::bail!(
                "{split} row {row}: {} tokens, but {} has max_position_embeddings {} (lower --max-len)",
                e.input_ids.len(),
                base.display(),
                config.max_position_embeddings
            );
        }
        if let Some(&id) = e
            .input_ids
            .iter()
            .find(|&&id| id as usize >= config.vocab_size)
        {
            anyhow::bail!(
                "{split} row {row}: token id {id}, but {} has vocab_size {}: tokenizer and model do not match",
                base.display(),
                config.vocab_size
            );
        }
    }
    Ok(())
}

fn print_epoch(r: &EpochReport) {
    let metrics: Vec<String> = r
        .dev
        .iter()
        .map(|(m, v)| format!("{} {v:.4}", m.name()))
        .collect();
    println!(
        "epoch {}: train loss {:.4}, {:.1} s ({:.1} sentences/s); dev {}",
        r.epoch,
        r.train_loss,
        r.train_seconds,
        r.sentences_per_s,
        metrics.join(", ")
    );
}

/// What hardware-aware training injects, linear by linear.
fn print_chip(preset: &str, linears: &[AnalogTraining]) {
    println!(
        "hardware-aware training on {preset}: {} analog linears",
        linears.len()
    );
    for l in linears {
        let measured = |m: Option<MeasuredNoise>| {
            m.map(|m| format!(" (measured; RMS {:.4})", m.rms))
                .unwrap_or_default()
        };
        println!(
            "  {:<20} weight noise {:.4}·max|w| + {:.4}·|w|{}, converter noise {:.4}·max|y| + \
             {:.4}·|y|{}, both × {}; stuck-at drop-out {:.4}, input {} bits, output {} bits",
            l.name,
            l.weight_noise,
            l.weight_noise_proportional,
            measured(l.measured),
            l.output_noise,
            l.output_noise_proportional,
            measured(l.measured_output),
            l.noise_scale,
            l.stuck_at_dropout,
            l.input_bits,
            l.output_bits,
        );
    }
}

/// `training.json` beside the checkpoint: the settings and every epoch's numbers.
fn write_log(
    args: &FinetuneArgs,
    o: &FinetuneOptions,
    reports: &[EpochReport],
    hardware: Option<Value>,
    seconds: f64,
) -> anyhow::Result<()> {
    let epochs: Vec<Value> = reports
        .iter()
        .map(|r| {
            let dev: serde_json::Map<String, Value> = r
                .dev
                .iter()
                .map(|(m, v)| (m.name().to_string(), json!(v)))
                .collect();
            json!({
                "epoch": r.epoch,
                "train_loss": r.train_loss,
                "train_seconds": r.train_seconds,
                "sentences_per_s": r.sentences_per_s,
                "dev": dev,
            })
        })
        .collect();
    let log = json!({
        "base": args.base,
        "task": args.run.task,
        "epochs": o.epochs,
        "lr": o.lr,
        "batch_size": o.batch_size,
        "warmup": o.warmup,
        "weight_decay": o.weight_decay,
        "max_train": args.run.max_train,
        "max_len": args.run.max_len,
        "seed": o.seed,
        "freeze_embeddings": o.freeze_embeddings,
        "freeze_layers": o.freeze_layers,
        "max_grad_norm": o.max_grad_norm,
        "hidden_dropout": o.hidden_dropout,
        "attention_dropout": o.attention_dropout,
        "distill": o.distill,
        "threads": rayon::current_num_threads(),
        "hardware": hardware,
        "seconds": seconds,
        "history": epochs,
    });
    write_text(
        &args.run.out.join("training.json"),
        &serde_json::to_string_pretty(&log)?,
    )
}
