//! The training loop of `crossbert finetune`: epochs of shuffled mini-batches, AdamW with a
//! linear warm-up and decay, gradient clipping, and the dev metric after each epoch.
//!
//! Everything random derives from the seed: the order of the examples in epoch e from
//! (seed, e), each step's dropout masks from (seed, step, site). With the kernels' fixed
//! blocks (see [`super::kernels`]) a run is bit-identical for a seed whatever the number of
//! threads.

use std::time::Instant;

use crate::draws::Draw;
use crossbar::rng::StreamKey;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;

use crate::glue::evaluate::{predictions, score};
use crate::glue::{Example, Gold, Metric, Task};
use crate::hardware::HardwareConfig;
use crate::model::{Matrix, ModelConfig, PackedBatch};
use crate::tokenize::Encoded;

use super::bert::{loss, Dropout, Targets, TrainBert};
use super::hardware_aware::{AnalogTraining, HardwareAware};
use super::optimizer::{clip_global_norm, learning_rate, AdamW, AdamWConfig};
use super::params::{BertIndex, Params};

/// The settings of a fine-tuning run (the `crossbert finetune` flags).
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f32,
    pub batch_size: usize,
    /// Fraction of all steps spent warming the learning rate up from 0.
    pub warmup: f32,
    pub weight_decay: f32,
    pub seed: u64,
    /// Keep the word-embedding table as it is (it holds most of a small BERT's weights).
    pub freeze_embeddings: bool,
    /// Keep the lowest this many encoder layers (every tensor of each) as they are.
    pub freeze_layers: usize,
    /// Largest global gradient norm (Hugging Face's `max_grad_norm`, 1.0).
    pub max_grad_norm: f64,
    /// `hidden_dropout_prob` and `attention_probs_dropout_prob`.
    pub hidden_dropout: f32,
    pub attention_dropout: f32,
    /// Knowledge distillation from the starting checkpoint: the weight of its own
    /// (digital, dropout-free) predictions in each target, 0 = the labels alone.
    pub distill: f32,
}

/// Tokenized examples with what they should predict.
pub struct Dataset<'a> {
    pub encoded: &'a [Encoded],
    pub examples: &'a [Example],
}

/// What one epoch did.
#[derive(Debug, Clone)]
pub struct EpochReport {
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    pub train_seconds: f64,
    /// Training sentences per second of wall time.
    pub sentences_per_s: f64,
    /// Every metric of the task on the dev split, main metric first.
    pub dev: Vec<(Metric, f64)>,
}

/// A model being fine-tuned: its tensors and the optimizer's state.
pub struct Finetuner {
    pub config: ModelConfig,
    pub params: Params,
    index: BertIndex,
    optimizer: AdamW,
    /// The gradient of the current step (kept between steps to save the allocation).
    grads: Params,
    options: FinetuneOptions,
    step: usize,
    total_steps: usize,
    /// The chip of hardware-aware training (`None`: digital training).
    chip: Option<HardwareAware>,
    /// The starting tensors, the teacher of `options.distill` (`None` when 0).
    teacher: Option<Params>,
}

impl Finetuner {
    /// Prepares `params` for `options.epochs` epochs over `train_size` examples.
    pub fn new(
        config: ModelConfig,
        params: Params,
        options: FinetuneOptions,
        train_size: usize,
    ) -> Self {
        let index = BertIndex::new(&params, &config);
        let adamw = AdamWConfig {
            weight_decay: options.weight_decay,
            ..AdamWConfig::default()
        };
        let optimizer = AdamW::new(&params, adamw, |name| is_frozen(&options, name));
        let total_steps = options.epochs * train_size.div_ceil(options.batch_size);
        let teacher = (options.distill > 0.0).then(|| params.clone());
        Self {
            config,
            grads: params.zeros_like(),
            params,
            index,
            optimizer,
            options,
            step: 0,
            total_steps,
            chip: None,
            teacher,
        }
    }

    /// Trains against `hardware` from now on (hardware-aware fine-tuning), its ranges
    /// calibrated on `calibration` and its converter noise measured on `probe` (both train
    /// examples, see [`HardwareAware::measure_converters`]); returns what it does to each
    /// analog linear (measured noise included).
    pub fn use_hardware(
        &mut self,
        hardware: &HardwareConfig,
        calibration: &[Encoded],
        probe: &[Encoded],
    ) -> anyhow::Result<&[AnalogTraining]> {
        let mut chip = HardwareAware::new(hardware, &self.params, &self.index, self.options.seed)?;
        let model = TrainBert::new(&self.params, &self.index, &self.config);
        chip.measure_converters(&model, calibration, probe)?;
        // The first training chip now, so that a chip that cannot be programmed fails here.
        chip.program_training_chip(&model, calibration, self.step as u64)?;
        Ok(&self.chip.insert(chip).linears)
    }

    /// Calibrates the chip's input and output ranges on `examples` (train examples,
    /// noise-free weights); a no-op for digital training.
    pub fn calibrate(&self, examples: &[Encoded]) {
        let Some(chip) = &self.chip else {
            return;
        };
        let step = chip.calibration_step(&self.params);
        TrainBert {
            chip: Some(&step),
            ..self.model()
        }
        .logits(examples);
    }

    fn model(&self) -> TrainBert<'_> {
        TrainBert::new(&self.params, &self.index, &self.config)
    }

    /// The example order of epoch `epoch`.
    fn order(&self, epoch: usize, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = StreamKey::new(self.options.seed, 0, 0, Draw::TrainingOrder.into())
            .with_index(epoch as u64)
            .rng();
        order.shuffle(&mut rng);
        order
    }

    /// One optimizer step on the examples `rows`; returns the batch's mean loss.
    pub fn step(&mut self, data: &Dataset<'_>, rows: &[usize]) -> f64 {
        let (batch, mut targets) = batch_of(data, rows);
        if let Some(teacher) = &self.teacher {
            let teacher = TrainBert::new(teacher, &self.index, &self.config);
            targets =
                targets.distilled(&teacher.forward(&batch, None).logits, self.options.distill);
        }
        let dropout = Dropout {
            hidden: self.options.hidden_dropout,
            attention: self.options.attention_dropout,
            seed: self.options.seed,
            step: self.step as u64,
        };
        if let Some(chip) = &mut self.chip {
            let calibration = &data.encoded[..chip.calibration_examples.min(data.encoded.len())];
            let model = TrainBert::new(&self.params, &self.index, &self.config);
            chip.program_training_chip(&model, calibration, self.step as u64)
                .expect("the training chip programmed at the start programs again");
        }
        let optimizer = &self.optimizer;
        let trained = |i| optimizer.is_trained(i);
        self.grads.fill_zero(trained);
        let chip = self
            .chip
            .as_ref()
            .map(|c| c.perturb(&self.params, self.step as u64).for_batch(&batch));
        // The model borrows the parameters while the gradients are written.
        let model = TrainBert {
            chip: chip.as_ref(),
            ..TrainBert::new(&self.params, &self.index, &self.config)
        };
        let forward = model.forward(&batch, Some(dropout));
        let (value, d_logits) = loss(&forward.logits, &targets);
        let train_words = !self.options.freeze_embeddings;
        model.backward(&forward.tape, &d_logits, &mut self.grads, train_words);
        clip_global_norm(&mut self.grads, trained, self.options.max_grad_norm);
        let warmup = (self.options.warmup * self.total_steps as f32).round() as usize;
        let lr = learning_rate(self.options.lr, self.step, warmup, self.total_steps);
        self.optimizer.step(&mut self.params, &self.grads, lr);
        if let Some(chip) = &self.chip {
            chip.clip_weights(&mut self.params, |i| self.optimizer.is_trained(i));
        }
        self.step += 1;
        value
    }

    /// Runs every epoch, scoring `dev` after each; `report` sees each epoch as it ends.
    pub fn train(
        &mut self,
        task: Task,
        train: &Dataset<'_>,
        dev: &Dataset<'_>,
        mut report: impl FnMut(&EpochReport),
    ) -> Vec<EpochReport> {
        let mut reports = Vec::new();
        for epoch in 0..self.options.epochs {
            if let Some(chip) = &self.chip {
                self.calibrate(
                    &train.encoded[..chip.calibration_examples.min(train.encoded.len())],
                );
            }
            let bar = progress_bar(train.encoded.len(), epoch, self.options.epochs);
            let start = Instant::now();
            let (mut sum, mut steps) = (0.0, 0usize);
            for rows in self
                .order(epoch, train.encoded.len())
                .chunks(self.options.batch_size)
            {
                sum += self.step(train, rows);
                steps += 1;
                bar.inc(rows.len() as u64);
                bar.set_message(format!("{:.4}", sum / steps as f64));
            }
            bar.finish_and_clear();
            let train_seconds = start.elapsed().as_secs_f64();
            let logits = self.logits(dev.encoded);
            let predicted = predictions(&logits, self.config.problem_type());
            let epoch_report = EpochReport {
                epoch: epoch + 1,
                train_loss: sum / steps.max(1) as f64,
                train_seconds,
                sentences_per_s: train.encoded.len() as f64 / train_seconds,
                dev: score(task, &predicted, dev.examples),
            };
            report(&epoch_report);
            reports.push(epoch_report);
        }
        reports
    }

    /// Logits of every example (no dropout), in input order.
    pub fn logits(&self, encoded: &[Encoded]) -> Matrix {
        self.model().logits(encoded)
    }
}

/// Whether the tensor `name` stays as it is: the word embeddings under `freeze_embeddings`,
/// every tensor of the encoder layers below `freeze_layers`. Frozen tensors are left out of
/// the optimizer (so also out of weight decay, gradient clipping and the hardware-aware
/// weight clip), so they are written bit-identical to the base: checkpoints fine-tuned from
/// one base with the same frozen layers share those layers' arrays on a multi-task chip.
pub fn is_frozen(options: &FinetuneOptions, name: &str) -> bool {
    if options.freeze_embeddings && name == "bert.embeddings.word_embeddings.weight" {
        return true;
    }
    encoder_layer(name).is_some_and(|layer| layer < options.freeze_layers)
}

/// The encoder layer of a `bert.encoder.layer.{i}.…` tensor name.
fn encoder_layer(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("bert.encoder.layer.")?;
    rest.split('.').next()?.parse().ok()
}

/// The packed batch and targets of the examples `rows`.
fn batch_of(data: &Dataset<'_>, rows: &[usize]) -> (PackedBatch, Targets) {
    let mut batch = PackedBatch::default();
    for &i in rows {
        batch.push_example(
            i as u64,
            &data.encoded[i].input_ids,
            &data.encoded[i].token_type_ids,
        );
    }
    let golds: Vec<Gold> = rows.iter().map(|&i| data.examples[i].gold).collect();
    (batch, Targets::from_golds(&golds))
}

fn progress_bar(sentences: usize, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(sentences as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "epoch {}/{epochs} {{bar:30}} {{pos}}/{{len}} sentences, {{per_sec}}, ETA {{eta}}, loss {{msg}}",
            epoch + 1
        ))
        .expect("a valid template"),
    );
    bar
}
