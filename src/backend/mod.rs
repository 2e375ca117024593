//! The analog backend: a model's weight matrices on crossbars, and what an inference costs.
//!
//! Model. Every linear layer selected by the hardware description (by default Q, K, V,
//! attention output, FFN-in and FFN-out of every stored encoder layer) becomes a
//! [`mapping::MappedMatrix`] programmed once per chip instance: the `seed` fixes every
//! programming draw, and each layer's draws come from its own stream, numbered
//! `matrix_id = layer·8 + kind index` ([`LinearName::matrix_id`]). An ALBERT group is
//! programmed once and its arrays serve every layer that shares it. The bias is added
//! digitally. The other linears (the head's two and the embedding projection by default)
//! stay digital in `f32`, and their operations are counted. The attention score products run digitally at the periphery's
//! `attention` precision (fp32 or int8), or with `[attention] mode = "crossbar"` on arrays
//! written every inference ([`attention`]).
//!
//! Calibration. Calibrated input scales and ADC ranges are measured on the first
//! `calibration.examples` examples of the task's TRAIN split, never on the split being
//! scored. They run through the analog model as one batch, and each layer calibrates on the
//! activations the analog layers before it really produce, then computes its output from
//! the new ranges. The result depends only on the checkpoint, the hardware, the seed and
//! the train file, so it is part of the seed-reproducible state.
//!
//! Per-read noise. Each token's read noise and ADC noise come from streams keyed by
//! (matrix, tile, read id), where the read id is the token's file-order example index and
//! position ([`crate::model::BatchId::read_ids`]): results depend neither on the batch size
//! nor on the number of threads.
//!
//! Cost ([`cost`]). Energy, latency and area per inference come from closed-form event
//! counts of the mapping (equal to the counts the forward passes produce, which a test
//! checks), the periphery's operation counts, and the technology table.
//!
//! [`LinearName::matrix_id`]: crate::hardware::LinearName::matrix_id

pub mod analog_linear;
pub mod attention;
pub mod cost;
pub mod dataflow;
pub mod glue_run;
pub mod multitask;
pub mod schedule;

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use mapping::{InputScale, MappedMatrix, MappingConfig};

use crate::hardware::{AttentionMode, HardwareConfig};
use crate::model::{
    digital_linear, CheckpointDir, LinearInfo, LinearOp, LinearSpec, ModelConfig, PackedBatch,
    SequenceClassifier,
};
use crate::tokenize::Encoded;

pub use analog_linear::{AnalogLinear, Measured};
pub use attention::{AttentionMeasured, CrossbarAttention};
pub use cost::InferenceCost;
pub use glue_run::GlueRun;
pub use multitask::{ArrayKey, ChipPlan, ContentHash, StreamIds};

/// Added to the example index of calibration (train-split) examples, so that their read ids
/// never meet those of evaluated examples (indices below it).
pub const CALIBRATION_EXAMPLES: u64 = 1 << 45;

/// Whether `hardware` may have ranges that must be measured on data before inference: some
/// mapping of it, top-level or of a layer override, calibrates (an [`AnalogModel`] asks
/// its own analog layers, see [`AnalogModel::calibrate`]).
pub fn needs_calibration(hardware: &HardwareConfig) -> bool {
    hardware.mappings().any(calibrates)
}

/// Whether a matrix mapped with `m` has an input scale or ADC ranges to calibrate.
fn calibrates(m: &MappingConfig) -> bool {
    m.input_scale == InputScale::Calibrated || (m.adc.range.is_calibrated() && !m.adc.ideal)
}

/// A checkpoint on one chip instance: the model, handles to its analog layers, and the
/// linears left digital.
pub struct AnalogModel {
    pub model: Box<dyn SequenceClassifier>,
    pub config: ModelConfig,
    pub hardware: HardwareConfig,
    pub seed: u64,
    /// Analog layers in model order.
    layers: Vec<Arc<AnalogLinear>>,
    digital: Vec<LinearInfo>,
    /// Per encoder layer, the attention products on crossbars (empty when digital).
    attention: Vec<Arc<CrossbarAttention>>,
}

impl AnalogModel {
    /// Loads the checkpoint in `dir` and programs its analog layers for chip `seed`. Ranges
    /// that need calibration are not set yet: call [`AnalogModel::calibrate`].
    pub fn load(dir: &Path, hardware: &HardwareConfig, seed: u64) -> anyhow::Result<Self> {
        Self::program(&CheckpointDir::open(dir)?, hardware, seed)
    }

    /// [`AnalogModel::load`] from a checkpoint already open (a sweep programs many chip
    /// instances of one checkpoint).
    pub fn program(
        checkpoint: &CheckpointDir,
        hardware: &HardwareConfig,
        seed: u64,
    ) -> anyhow::Result<Self> {
        Self::program_streams(checkpoint, hardware, seed, &StreamIds::single_task())
    }

    /// [`AnalogModel::program`] on a chip shared with other models: each linear draws from
    /// the stream `streams` gives it ([`ChipPlan::stream_ids`]).
    pub fn program_streams(
        checkpoint: &CheckpointDir,
        hardware: &HardwareConfig,
        seed: u64,
        streams: &StreamIds,
    ) -> anyhow::Result<Self> {
        hardware.validate().context("hardware description")?;
        let layers = RefCell::new(Vec::new());
        let digital = RefCell::new(Vec::new());
        let failure = RefCell::new(None);
        let factory = |spec: &LinearSpec| -> Box<dyn LinearOp> {
            if !hardware.is_analog(&spec.info.name) {
                digital.borrow_mut().push(spec.info.clone());
                return digital_linear(spec);
            }
            match program_linear(spec, hardware, seed, streams.id(&spec.info.name)) {
                Ok(op) => {
                    layers.borrow_mut().push(op.clone());
                    Box::new(op)
                }
                Err(e) => {
                    failure.borrow_mut().get_or_insert(e);
                    digital_linear(spec)
                }
            }
        };
        let config = checkpoint.config.clone();
        let mut model = checkpoint.classifier(&factory)?;
        model.set_periphery(&hardware.periphery);
        if let Some(e) = failure.into_inner() {
            return Err(e);
        }
        check_layer_patterns(hardware, model.linears())?;
        let attention: Vec<Arc<CrossbarAttention>> = match hardware.attention.mode {
            AttentionMode::Digital => Vec::new(),
            AttentionMode::Crossbar => (0..config.num_hidden_layers)
                .map(|l| {
                    // Attention arrays hold no linear's weights: the top-level mapping.
                    Arc::new(CrossbarAttention::new(
                        l,
                        &hardware.mapping,
                        &hardware.attention,
                        seed,
                    ))
                })
                .collect(),
        };
        if !attention.is_empty() {
            model.set_attention_products(&|l| attention[l].clone());
        }
        Ok(Self {
            model,
            config,
            hardware: hardware.clone(),
            seed,
            layers: layers.into_inner(),
            digital: digital.into_inner(),
            attention,
        })
    }

    /// The analog layers, in model order.
    pub fn layers(&self) -> &[Arc<AnalogLinear>] {
        &self.layers
    }

    /// Sets the calibrated ranges from `examples` (tokenized TRAIN examples), layer by
    /// layer through the analog model (see the module docs). A no-op when no analog layer's
    /// mapping has anything to calibrate.
    pub fn calibrate(&self, examples: &[Encoded]) -> anyhow::Result<()> {
        if !self.needs_calibration() {
            return Ok(());
        }
        if examples.is_empty() {
            bail!(
                "calibration.examples: expected at least 1 train example to calibrate the \
                 input and ADC ranges, found 0"
            );
        }
        let mut batch = PackedBatch::default();
        for (i, e) in examples.iter().enumerate() {
            batch.push_example(
                CALIBRATION_EXAMPLES + i as u64,
                &e.input_ids,
                &e.token_type_ids,
            );
        }
        self.layers
            .iter()
            .for_each(|l| l.calibrate_on_next_forward());
        self.model
            .forward(&batch)
            .context("calibration batch (train split)")?;
        self.check()?;
        self.take_measured();
        for a in &self.attention {
            a.take_measured(); // the calibration pass is not an inference
        }
        Ok(())
    }

    /// Whether some analog layer's own mapping (the top-level one or its override's)
    /// calibrates. Attention on crossbars has no calibrated ranges of its own.
    fn needs_calibration(&self) -> bool {
        self.layers
            .iter()
            .any(|l| l.with_matrix(|m| calibrates(m.config())))
    }

    /// The attention products of each encoder layer on crossbars (empty when digital).
    pub fn crossbar_attention(&self) -> &[Arc<CrossbarAttention>] {
        &self.attention
    }

    /// Fails with the first error an analog layer or the crossbar attention recorded
    /// during a forward pass.
    pub fn check(&self) -> anyhow::Result<()> {
        let linear = self.layers.iter().find_map(|l| l.error());
        match linear.or_else(|| self.attention.iter().find_map(|a| a.error())) {
            Some(e) => bail!(e),
            None => Ok(()),
        }
    }

    /// Events of every analog layer since the last call, layer by layer.
    pub fn take_measured(&self) -> Vec<(String, Measured)> {
        self.layers
            .iter()
            .map(|l| (l.name().to_string(), l.take_measured()))
            .collect()
    }

    /// Energy, latency and area of one inference, averaged over sequences of `lengths`
    /// tokens (e.g. the evaluated split).
    pub fn cost(&self, lengths: &[usize]) -> anyhow::Result<InferenceCost> {
        let tech = self
            .hardware
            .energy
            .resolve("energy")
            .context("resolving the energy technology table")?;
        cost::inference_cost(self, lengths, &tech)
    }
}

/// Fails if a `[layers]` pattern selects no linear of the model (a layer index beyond the
/// model's, or an ALBERT layer other than its stored groups): it would silently do nothing.
fn check_layer_patterns(hardware: &HardwareConfig, linears: &[LinearInfo]) -> anyhow::Result<()> {
    let layers = &hardware.layers;
    let patterns = layers.analog.iter().map(|p| ("layers.analog", p));
    let targets = layers
        .overrides
        .iter()
        .map(|o| ("layers.overrides target", &o.target));
    for (key, pattern) in patterns.chain(targets) {
        if !linears.iter().any(|l| pattern.matches(&l.name)) {
            let stored = linears.iter().filter_map(|l| l.name.layer).max();
            bail!(
                "{key} `{pattern}`: expected a pattern that selects a linear of this model \
                 (stored encoder layers 0 to {}, plus pooler, classifier{}), found none",
                stored.unwrap_or(0),
                if linears
                    .iter()
                    .any(|l| l.name.layer.is_none() && l.per_token())
                {
                    ", embedding_projection"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

/// Programs one linear layer onto crossbars, with its own mapping and device model (the
/// top-level ones unless a layer override sets them), its draws from stream `stream_id`
/// (its `matrix_id` on a single-task chip).
fn program_linear(
    spec: &LinearSpec,
    hardware: &HardwareConfig,
    seed: u64,
    stream_id: u32,
) -> anyhow::Result<Arc<AnalogLinear>> {
    let info = &spec.info;
    let name = &info.name;
    let matrix = MappedMatrix::program(
        spec.weight.as_slice(),
        spec.out_features(),
        spec.in_features(),
        hardware.mapping_for(name),
        hardware.device_for(name),
        seed,
        stream_id,
    )
    .with_context(|| format!("programming {} ({name})", info.checkpoint_name))?;
    Ok(Arc::new(AnalogLinear::new(
        info.clone(),
        matrix,
        spec.bias.clone(),
    )))
}
