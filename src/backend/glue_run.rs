//! One GLUE evaluation on a chip: the digital baseline and the same examples on the
//! programmed, calibrated crossbars, with the cost of one inference. Shared by
//! `crossbert eval --preset/--hardware` and the sweep's evaluator.

use std::path::{Path, PathBuf};

use anyhow::Context;

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
        })
    }

    /// The float32 digital result.
    pub fn digital(&self) -> anyhow::Result<Evaluation> {
        let (_, model) = load_classifier(&self.model, &digital_linear)?;
        self.score(&model)
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
        let result = self.score(&chip.model)?;
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
    ) -> anyhow::Result<Evaluation> {
        glue::evaluate(
            model,
            self.config.problem_type(),
            &self.tokenizer,
            self.task,
            self.split,
            self.examples.clone(),
            self.batch_size,
        )
    }
}
