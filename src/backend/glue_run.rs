//! One GLUE evaluation on a chip: the digital baseline and the same examples on the
//! programmed, calibrated crossbars, with the cost of one inference. Shared by
//! `crossbert eval --preset/--hardware` and the sweep's evaluator.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::{AnalogModel, InferenceCost};
use crate::glue::{self, evaluate::tokenize_examples, Evaluation, Example, LabelMap, Split, Task};
use crate::hardware::HardwareConfig;
use crate::model::{digital_linear, load_classifier, BertConfig};
use crate::tokenize::BertTokenizer;

/// A task's examples, read and labelled for one checkpoint.
pub struct GlueRun {
    pub model: PathBuf,
    pub data: PathBuf,
    pub task: Task,
    pub split: Split,
    pub config: BertConfig,
    pub tokenizer: BertTokenizer,
    pub labels: LabelMap,
    pub examples: Vec<Example>,
    pub batch_size: usize,
    /// Show a progress bar with rate and ETA on stderr while the chip runs (`eval` on a
    /// terminal; off for sweeps, which have their own).
    pub progress: bool,
}

impl GlueRun {
    /// Reads the first `limit` examples (all when `None`) of `split` for the checkpoint.
    pub fn open(
        model: &Path,
        data: &Path,
        task: Task,
        split: Split,
        limit: Option<usize>,
        max_len: usize,
        batch_size: usize,
    ) -> anyhow::Result<Self> {
        let (config, _) = load_classifier(model, &digital_linear)?;
        let tokenizer = BertTokenizer::from_dir(model, max_len)?;
        let labels = LabelMap::for_checkpoint(task, &config)?;
        let mut examples = glue::read_split(data, task, split, &labels)?;
        if let Some(limit) = limit {
            examples.truncate(limit);
        }
        Ok(Self {
            model: model.to_path_buf(),
            data: data.to_path_buf(),
            task,
            split,
            config,
            tokenizer,
            labels,
            examples,
            batch_size,
            progress: false,
        })
    }

    /// The float32 digital result.
    pub fn digital(&self) -> anyhow::Result<Evaluation> {
        let (_, model) = load_classifier(&self.model, &digital_linear)?;
        self.score(&model, None)
    }

    /// Chip instance `seed` of `hardware`: programmed, calibrated on the first
    /// `calibration.examples` TRAIN examples, scored, and the cost of one inference
    /// averaged over the scored sequences.
    pub fn on_chip(
        &self,
        hardware: &HardwareConfig,
        seed: u64,
    ) -> anyhow::Result<(Evaluation, InferenceCost)> {
        let chip = AnalogModel::load(&self.model, hardware, seed)?;
        let mut train = glue::read_split(&self.data, self.task, Split::Train, &self.labels)
            .context("reading the TRAIN split for calibration")?;
        train.truncate(hardware.calibration.examples);
        chip.calibrate(&tokenize_examples(&self.tokenizer, &train)?)?;
        let bar = self.progress.then(|| sequence_bar(self.examples.len()));
        let result = self.score(&chip.model, bar.as_ref())?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        chip.check()?;
        let lengths: Vec<usize> = tokenize_examples(&self.tokenizer, &result.examples)?
            .iter()
            .map(|e| e.input_ids.len())
            .collect();
        let cost = chip.cost(&lengths)?;
        Ok((result, cost))
    }

    fn score(
        &self,
        model: &crate::model::BertForSequenceClassification,
        progress: Option<&ProgressBar>,
    ) -> anyhow::Result<Evaluation> {
        glue::evaluate(
            model,
            self.config.problem_type(),
            &self.tokenizer,
            self.task,
            self.split,
            self.examples.clone(),
            self.batch_size,
            progress,
        )
    }
}

/// A bar over `total` sequences with rate and ETA, drawn on stderr.
fn sequence_bar(total: usize) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:30}] {pos}/{len} sequences, {per_sec}, ETA {eta}",
    )
    .expect("valid progress template");
    ProgressBar::new(total as u64).with_style(style)
}
