//! Chip-in-the-loop training: each analog linear's output carries the error of the emulated
//! chip itself instead of independent Gaussian noise.
//!
//! Every `reprogram_every` steps the current weights W_k of each analog linear are
//! programmed on training chip instance k, as the analog backend programs an evaluation
//! chip (same [`MappedMatrix`], device model, mapping and stream ids), and the chip's
//! ranges are calibrated on the `[calibration]` train examples, layer by layer on the
//! activations the chip itself produces (as [`crate::backend::AnalogModel::calibrate`]
//! does). Until the next programming, a step computes
//!
//! y = W·x + b + r,  r = chip_k(x) − W_k·x,
//!
//! so that with W = W_k the output is exactly the chip's, and as W moves away from the
//! snapshot the chip's error r still rides on the exact product of the current weights. The
//! error is a deterministic function of each token's input and the programmed conductances
//! (plus the per-read noise the device model has), which is what independent noise per step
//! misses (`experiments/README.md`, "Hardware-aware fine-tuning").
//!
//! With `chip_in_loop_weights = false` only the converters' part of the error is in the
//! loop: r = chip_k(x) − R_k·x, R_k the programmed matrix read back through ideal converters
//! (what the chip's weights are), and the programmed weights' own error is left to the
//! per-step Gaussian weight noise, measured as without the chip in the loop. This keeps
//! the fresh weight noise of every step (the model cannot follow one instance's weights)
//! while the converters' error keeps its dependence on the input and the conductances.
//!
//! Backward: r passes the output gradient unchanged (straight-through); the input and
//! weight gradients are those of W·x + b.
//!
//! Random draws: instance k's programming seed comes from (training seed,
//! [`Draw::TrainingChip`], k), so no training chip is an evaluation chip; within an
//! instance every draw is the backend's, keyed by (chip seed, matrix, tile, purpose), and
//! each token's per-read noise by its read id (train example index and position), so
//! results do not depend on the thread count.

use anyhow::Context;
use crossbar::rng::StreamKey;
use mapping::MappedMatrix;
use rand::Rng;

use crate::draws::Draw;
use crate::hardware::{HardwareConfig, LinearName};
use crate::model::{BatchId, Matrix};

use super::hardware_aware::read_back;
use super::kernels::linear_forward;
use super::params::LinearIndex;

/// The programming seed of training chip instance `instance` for training seed `seed`.
pub fn training_chip_seed(seed: u64, instance: u64) -> u64 {
    StreamKey::new(seed, 0, 0, Draw::TrainingChip.into())
        .with_index(instance)
        .rng()
        .random::<u64>()
}

/// One analog linear on the training chip: the programmed matrix, and the weights whose
/// exact product its error is measured against (the snapshot it was programmed from, or
/// its read-back through ideal converters).
pub struct ProgrammedLinear {
    reference: Vec<f32>,
    matrix: MappedMatrix,
}

impl ProgrammedLinear {
    /// `w` (weight tensor of `linear`) programmed on chip `chip_seed` with `name`'s own
    /// mapping and device model, as the analog backend programs it. Ranges that need
    /// calibration are not set yet ([`ProgrammedLinear::calibrate`]).
    pub fn program(
        hardware: &HardwareConfig,
        name: &LinearName,
        w: &[f32],
        linear: LinearIndex,
        chip_seed: u64,
    ) -> anyhow::Result<Self> {
        let matrix = MappedMatrix::program(
            w,
            linear.out_features,
            linear.in_features,
            hardware.mapping_for(name),
            hardware.device_for(name),
            chip_seed,
            name.matrix_id(),
        )
        .with_context(|| format!("programming {name} on the training chip"))?;
        Ok(Self {
            reference: w.to_vec(),
            matrix,
        })
    }

    /// Measures the error against the programmed weights instead of the snapshot: the same
    /// conductances (same chip seed and stream) read back through ideal converters, one
    /// one-hot input per row, so that r is what the converters and the DAC add.
    pub fn against_read_back(
        mut self,
        hardware: &HardwareConfig,
        name: &LinearName,
        linear: LinearIndex,
        chip_seed: u64,
    ) -> anyhow::Result<Self> {
        let device = hardware.device_for(name);
        self.reference = read_back(hardware, name, &self.reference, linear, device, chip_seed)
            .with_context(|| format!("{name} on the training chip"))?;
        Ok(self)
    }

    /// Sets the input scale and ADC ranges from the inputs `x` (a no-op for a mapping
    /// without calibrated ranges).
    pub fn calibrate(&mut self, x: &Matrix) {
        self.matrix
            .calibrate(x.as_slice(), x.rows())
            .expect("the training chip calibrates on inputs of its matrix's shape");
    }

    /// chip(x): the programmed matrix's output on `x` (before the bias), each row read
    /// with the read id `batch` gives it.
    pub fn chip_output(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix {
        let reads = batch.read_ids(x.rows());
        let (y, _) = self
            .matrix
            .forward(x.as_slice(), x.rows(), &reads)
            .expect("a calibrated training chip runs inputs of its matrix's shape");
        Matrix::from_vec(x.rows(), self.matrix.layout().out_features, y)
    }

    /// r = chip(x) − x·W_kᵀ, the chip's error on `x` for the snapshot W_k (or its
    /// read-back R_k).
    pub fn residual(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix {
        let mut r = self.chip_output(x, batch);
        let exact = linear_forward(x, &self.reference, &vec![0.0; r.cols()]);
        r.as_mut_slice()
            .iter_mut()
            .zip(exact.as_slice())
            .for_each(|(v, e)| *v -= e);
        r
    }
}

/// The training chip currently programmed: its instance and one [`ProgrammedLinear`] per
/// analog linear, in [`super::hardware_aware::HardwareAware::linears`] order.
pub struct TrainingChip {
    pub instance: u64,
    pub linears: Vec<ProgrammedLinear>,
}
