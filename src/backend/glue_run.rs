//! One GLUE evaluation on a chip: the digital baseline and the same examples on the
//! programmed, calibrated crossbars, with the cost of one inference. Shared by
//! `crossbert eval --preset/--hardware` and the sweep's evaluator.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::{AnalogModel, InferenceCost, StreamIds};
use crate::glue::{self, evaluate::tokenize_examples, Evaluation, Example, LabelMap, Split, Task};
use crate::hardware::HardwareConfig;
use crate::model::{digital_linear, CheckpointDir, SequenceClassifier};
use crate::tokenize::{BertTokenizer, Encoded};

/// A task's examples, read and labelled for one checkpoint. Opened once, it runs any number
/// of chip instances: the checkpoint is read once (its config without decoding the
/// weights), and the calibration examples are read and tokenized once.
pub struct GlueRun {
    pub checkpoint: CheckpointDir,
    pub data: PathBuf,
    pub task: Task,
    pub split: Split,
    pub tokenizer: BertTokenizer,
    pub labels: LabelMap,
    pub examples: Vec<Example>,
    pub batch_size: usize,
    /// Show a progress bar with rate and ETA on stderr while the chip runs (`eval` on a
    /// terminal; off for sweeps, which have their own).
    pub progress: bool,
    /// The largest `calibration.examples` asked for so far, and that many first TRAIN
    /// examples tokenized (fewer when the split is shorter).
    calibration: Mutex<(usize, Vec<Encoded>)>,
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
        let checkpoint = CheckpointDir::open(model)?;
        let tokenizer = BertTokenizer::from_dir(model, max_len)?;
        let labels = LabelMap::for_checkpoint(task, &checkpoint.config)?;
        let mut examples = glue::read_split(data, task, split, &labels)?;
        if let Some(limit) = limit {
            examples.truncate(limit);
        }
        Ok(Self {
            checkpoint,
            data: data.to_path_buf(),
            task,
            split,
            tokenizer,
            labels,
            examples,
            batch_size,
            progress: false,
            calibration: Mutex::new((0, Vec::new())),
        })
    }

    /// The float32 digital result.
    pub fn digital(&self) -> anyhow::Result<Evaluation> {
        let model = self.checkpoint.classifier(&digital_linear)?;
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
        self.on_shared_chip(hardware, seed, &StreamIds::single_task())
    }

    /// [`GlueRun::on_chip`] on a chip shared with other models, each linear programmed from
    /// the stream `streams` gives it ([`crate::backend::ChipPlan::stream_ids`]).
    pub fn on_shared_chip(
        &self,
        hardware: &HardwareConfig,
        seed: u64,
        streams: &StreamIds,
    ) -> anyhow::Result<(Evaluation, InferenceCost)> {
        let chip = AnalogModel::program_streams(&self.checkpoint, hardware, seed, streams)?;
        chip.calibrate(&self.calibration_examples(hardware.calibration.examples)?)?;
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

    /// The first `n` TRAIN examples (fewer when the split is shorter), tokenized; the
    /// split is read again only when `n` exceeds every earlier request.
    fn calibration_examples(&self, n: usize) -> anyhow::Result<Vec<Encoded>> {
        let mut cached = self.calibration.lock().expect("not poisoned");
        if cached.0 < n {
            let mut train = glue::read_split(&self.data, self.task, Split::Train, &self.labels)
                .context("reading the TRAIN split for calibration")?;
            train.truncate(n);
            *cached = (n, tokenize_examples(&self.tokenizer, &train)?);
        }
        Ok(cached.1[..n.min(cached.1.len())].to_vec())
    }

    fn score(
        &self,
        model: &dyn SequenceClassifier,
        progress: Option<&ProgressBar>,
    ) -> anyhow::Result<Evaluation> {
        glue::evaluate(
            model,
            self.checkpoint.config.problem_type(),
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
