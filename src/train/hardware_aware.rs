//! Hardware-aware fine-tuning: the chip's non-idealities in the forward pass of training, so
//! that the weights learn to tolerate them (aihwkit's noise-injection training, with the
//! noise measured on crossbert's device model rather than chosen).
//!
//! Every linear that the hardware description runs on crossbars gets, in each step:
//! 1. **weight noise**: W̃_ok = W_ok + sqrt(σ_a²·max_k|W_ok|² + σ_p²·W_ok²)·ε, ε ~ N(0, 1)
//!    drawn from (seed, tensor, row block, step): an additive part relative to the output's
//!    largest weight and a part proportional to the weight, both measured by programming the
//!    matrix once on a chip instance (see [`crate::hardware::training`]) or given;
//! 2. **stuck-at drop-out**: each weight zeroed with the probability that one of its cells
//!    is stuck;
//! 3. **input quantization** at the DAC precision, over the hardware's input scale;
//! 4. **converter noise** on the linear's output (before its digital bias):
//!    ỹ = y + sqrt(τ_a²·Y² + τ_p²·y²)·ε, Y the calibrated max|y|, ε drawn from (seed, bias
//!    tensor, token block, step): what the ADCs add, measured by running the inputs the
//!    linear sees on train examples through its matrix programmed once, with its real
//!    converters and with ideal ones (see [`HardwareAware::measure_converters`]), or given;
//! 5. optionally, **output quantization and clipping** over the calibrated range of the
//!    linear's output (before its digital bias); off by default, see
//!    [`crate::hardware::training`] for why.
//!
//! The backward pass differentiates the noisy forward pass: the input gradient flows through
//! W̃, the quantizers and clipping pass gradients unchanged (straight-through), and the
//! weight gradient is applied to the noise-free W; the converter noise passes the output
//! gradient unchanged. Ranges are calibrated on the
//! `[calibration]` train examples at the start of every epoch, noise-free and unquantized.
//! Optionally each output's weights are clipped to ±k standard deviations after every step.
//!
//! With `[training] chip_in_loop = true` each analog output also carries the emulated
//! chip's own error on its input (see [`super::chip_in_loop`]); the converter noise and the
//! input quantization then default to off, and so do the weight noise and the drop-out
//! unless `chip_in_loop_weights = false` leaves the programmed weights' error to them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::draws::Draw;
use anyhow::Context;
use crossbar::device::StuckAtFaults;
use crossbar::rng::StreamKey;
use crossbar::DeviceConfig;
use mapping::quantize::{max_code, quantize, scale_for};
use mapping::{Encoding, InputScale, MappedMatrix, MappingConfig};
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::Serialize;

use crate::backend::CALIBRATION_EXAMPLES;
use crate::hardware::{HardwareConfig, LinearKind, LinearName};
use crate::model::{BatchId, Matrix, PackedBatch};
use crate::tokenize::Encoded;

use super::bert::TrainBert;
use super::chip_in_loop::{training_chip_seed, ProgrammedLinear, TrainingChip};
use super::kernels::linear_forward;
use super::params::{BertIndex, LinearIndex, Params};

/// Output rows per random stream of the weight noise, and token rows per stream of the
/// converter noise (fixed, so that the draws do not depend on the thread count).
const ROW_BLOCK: usize = 64;

/// What hardware-aware training does to one analog linear.
#[derive(Debug, Clone, Serialize)]
pub struct AnalogTraining {
    /// `<layer>.<kind>`, as hardware descriptions name it.
    pub name: String,
    /// σ_a of the additive weight noise, relative to each output's max|w|.
    pub weight_noise: f64,
    /// σ_p of the weight noise proportional to the weight.
    pub weight_noise_proportional: f64,
    /// The read-back error measured on the device model (`None` when both parts are given).
    pub measured: Option<MeasuredNoise>,
    /// τ_a of the additive converter noise, relative to the linear's calibrated max|y|.
    pub output_noise: f64,
    /// τ_p of the converter noise proportional to the output.
    pub output_noise_proportional: f64,
    /// The converter error measured on the calibration inputs (`None` when given, or for
    /// ideal converters).
    pub measured_output: Option<MeasuredNoise>,
    /// Factor on every noise in every step.
    pub noise_scale: f64,
    pub stuck_at_dropout: f32,
    /// Input and output quantization bits (0: off).
    pub input_bits: u8,
    pub output_bits: u8,
    /// Whether the linear's inputs are quantized over a calibrated scale (its mapping's
    /// `input_scale`), else over each token's own.
    #[serde(skip)]
    calibrated_input: bool,
    #[serde(skip)]
    linear: LinearIndex,
    #[serde(skip)]
    hardware_name: LinearName,
}

/// The chip as training sees it: one [`AnalogTraining`] per analog linear, the shared
/// choices, and the calibrated ranges.
pub struct HardwareAware {
    pub linears: Vec<AnalogTraining>,
    /// Position in `linears` of the linear whose weight is tensor i.
    by_weight: Vec<Option<usize>>,
    clip_outputs: bool,
    weight_clip_sigmas: Option<f32>,
    /// Train examples the ranges are calibrated on (`[calibration] examples`).
    pub calibration_examples: usize,
    seed: u64,
    /// The hardware, and the chip instance the noise is measured on.
    hardware: HardwareConfig,
    chip_seed: u64,
    /// Per linear, the calibrated max|x| and max|y| as `f32` bits (non-negative floats
    /// order as their bits, so `fetch_max` is a float max; any thread order gives the same).
    ranges: Vec<[AtomicU32; 2]>,
    /// Steps between programmings of the training chip; `None` without chip in the loop.
    reprogram_every: Option<u64>,
    /// The training chip currently programmed (chip in the loop only).
    training_chip: Option<TrainingChip>,
    /// Whether the chip's error is measured against its read-back weights
    /// (`chip_in_loop_weights = false`).
    read_back_reference: bool,
}

impl HardwareAware {
    /// The training view of `hardware` for the model in `params`, noise drawn from `seed`;
    /// measures the weight noise of every analog linear (unless given) on a chip instance
    /// derived from `seed`.
    pub fn new(
        hardware: &HardwareConfig,
        params: &Params,
        index: &BertIndex,
        seed: u64,
    ) -> anyhow::Result<Self> {
        hardware.validate().context("hardware description")?;
        let t = &hardware.training;
        let chip_seed = measurement_chip(seed);
        // In the loop the chip makes the noise, the stuck cells and the DAC's rounding
        // itself: what the Gaussian model stands in for defaults to off.
        let in_loop = t.chip_in_loop();
        let weights_in_loop = t.chip_weights_in_loop();
        let mut linears = Vec::new();
        for (name, linear) in named_linears(index) {
            if !hardware.is_analog(&name) {
                continue;
            }
            let measured = match (t.weight_noise, t.weight_noise_proportional) {
                (Some(_), Some(_)) => None,
                _ if weights_in_loop => None,
                _ => Some(measure_weight_noise(
                    hardware, &name, params, linear, chip_seed,
                )?),
            };
            let fit = measured.unwrap_or_default();
            // this linear's own device model and mapping (a layer override may set either)
            let (device, mapping) = (hardware.device_for(&name), hardware.mapping_for(&name));
            let dropout = t.stuck_at_dropout.unwrap_or_else(|| match weights_in_loop {
                true => 0.0,
                false => stuck_weight_probability(&device.stuck_at, mapping),
            });
            let default_input_bits = if in_loop { 0 } else { mapping.input_bits };
            linears.push(AnalogTraining {
                name: name.to_string(),
                weight_noise: t.weight_noise.unwrap_or(fit.additive),
                weight_noise_proportional: t.weight_noise_proportional.unwrap_or(fit.proportional),
                measured,
                // Until measure_converters measures them on activations.
                output_noise: t.output_noise.unwrap_or(0.0),
                output_noise_proportional: t.output_noise_proportional.unwrap_or(0.0),
                measured_output: None,
                noise_scale: t.noise_scale.unwrap_or(1.0),
                stuck_at_dropout: dropout as f32,
                input_bits: t.input_bits.unwrap_or(default_input_bits),
                output_bits: t.output_bits.unwrap_or(0),
                calibrated_input: mapping.input_scale == InputScale::Calibrated,
                linear,
                hardware_name: name,
            });
        }
        let mut by_weight = vec![None; params.len()];
        for (k, l) in linears.iter().enumerate() {
            by_weight[l.linear.weight] = Some(k);
        }
        let ranges = linears.iter().map(|_| Default::default()).collect();
        Ok(Self {
            by_weight,
            clip_outputs: t.clip_outputs.unwrap_or(false),
            weight_clip_sigmas: t.weight_clip_sigmas.map(|k| k as f32),
            calibration_examples: hardware.calibration.examples,
            seed,
            hardware: hardware.clone(),
            chip_seed,
            ranges,
            linears,
            reprogram_every: in_loop.then(|| t.reprogram_every() as u64),
            read_back_reference: in_loop && !weights_in_loop,
            training_chip: None,
        })
    }

    /// Whether the chip is in the loop, and every how many steps it is reprogrammed.
    pub fn reprogram_every(&self) -> Option<u64> {
        self.reprogram_every
    }

    /// With the chip in the loop, programs the training chip of step `step` (instance
    /// step / `reprogram_every`) from the weights of `model` unless it is programmed
    /// already, and calibrates its ranges on `calibration` (train examples) layer by layer
    /// through the chip, as the analog backend calibrates an evaluation chip. A no-op
    /// without the chip in the loop.
    pub fn program_training_chip(
        &mut self,
        model: &TrainBert<'_>,
        calibration: &[Encoded],
        step: u64,
    ) -> anyhow::Result<()> {
        let Some(every) = self.reprogram_every else {
            return Ok(());
        };
        let instance = step / every;
        if self.training_chip.as_ref().map(|c| c.instance) == Some(instance) {
            return Ok(());
        }
        anyhow::ensure!(
            !calibration.is_empty(),
            "training.chip_in_loop: expected at least 1 train example to calibrate the \
             training chip on, found 0"
        );
        let chip_seed = training_chip_seed(self.seed, instance);
        let programmed = self
            .linears
            .iter()
            .map(|l| {
                let (hw, name) = (&self.hardware, &l.hardware_name);
                let w = model.params.get(l.linear.weight);
                let p = ProgrammedLinear::program(hw, name, w, l.linear, chip_seed)?;
                match self.read_back_reference {
                    true => p.against_read_back(hw, name, l.linear, chip_seed),
                    false => Ok(p),
                }
                .map(Mutex::new)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut batch = PackedBatch::default();
        for (i, e) in calibration.iter().enumerate() {
            let id = CALIBRATION_EXAMPLES + i as u64;
            batch.push_example(id, &e.input_ids, &e.token_type_ids);
        }
        let pass = ChipStep {
            programming: Some(programmed),
            ..self.noise_free_step(model.params, false).for_batch(&batch)
        };
        TrainBert {
            chip: Some(&pass),
            ..TrainBert::new(model.params, model.index, model.config)
        }
        .forward(&batch, None);
        let linears = pass
            .programming
            .into_iter()
            .flatten()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .collect();
        self.training_chip = Some(TrainingChip { instance, linears });
        Ok(())
    }

    /// The chip of training step `step`: every analog weight with its noise and drop-out.
    pub fn perturb(&self, params: &Params, step: u64) -> ChipStep<'_> {
        let weights = self
            .linears
            .iter()
            .map(|l| self.noisy_weight(l, params.get(l.linear.weight), step))
            .collect();
        ChipStep {
            chip: self,
            weights,
            step,
            calibration: None,
            batch: None,
            programming: None,
        }
    }

    /// The noise-free chip that records ranges (see [`super::finetune::Finetuner::calibrate`]).
    pub fn calibration_step(&self, params: &Params) -> ChipStep<'_> {
        for r in self.ranges.iter().flatten() {
            r.store(0, Ordering::Relaxed);
        }
        self.noise_free_step(params, true)
    }

    /// A noise-free pass, recording the ranges when `ranges`.
    fn noise_free_step(&self, params: &Params, ranges: bool) -> ChipStep<'_> {
        let weights = self
            .linears
            .iter()
            .map(|l| params.get(l.linear.weight).to_vec())
            .collect();
        ChipStep {
            chip: self,
            weights,
            step: 0,
            calibration: Some(Calibration {
                ranges,
                inputs: None,
            }),
            batch: None,
            programming: None,
        }
    }

    /// Calibrates the ranges on the `calibration` examples and, unless both parts are given
    /// or the converters are ideal, measures each analog linear's converter noise: its
    /// matrix is programmed once on the measurement chip, calibrated on the inputs it sees
    /// on `calibration` (as the chip calibrates), and run on the inputs it sees on `probe`
    /// (other train examples, so that the error includes what the calibrated ranges clip)
    /// with the hardware's converters and with ideal ones; with e = (real − ideal)/Y and
    /// u = |ideal|/Y (Y the calibrated max|y|, which the injected noise is relative to),
    /// τ_a and τ_p are the fit E(e²) = τ_a² + τ_p²·u², as for the weight noise.
    pub fn measure_converters(
        &mut self,
        model: &TrainBert<'_>,
        calibration: &[Encoded],
        probe: &[Encoded],
    ) -> anyhow::Result<()> {
        let t = &self.hardware.training;
        // In the loop, the chip's own converters act instead (unless noise is given).
        let given = (t.output_noise.is_some() && t.output_noise_proportional.is_some())
            || self.reprogram_every.is_some();
        let all_ideal = self
            .linears
            .iter()
            .all(|l| self.hardware.mapping_for(&l.hardware_name).adc.ideal);
        let measure = !(given || all_ideal || probe.is_empty());
        let params = model.params;
        let pass = |examples: &[Encoded], step: ChipStep<'_>| {
            TrainBert {
                chip: Some(&step),
                ..TrainBert::new(params, model.index, model.config)
            }
            .logits(examples);
            step.calibration.and_then(|c| c.inputs)
        };
        let seen = pass(
            calibration,
            self.calibration_step(params).keeping_inputs(measure),
        );
        let Some(seen) = seen else {
            return Ok(()); // nothing to measure: the ranges are calibrated
        };
        let tested = pass(
            probe,
            self.noise_free_step(params, false).keeping_inputs(true),
        )
        .unwrap_or_default();
        let (hardware, chip_seed) = (&self.hardware, self.chip_seed);
        let ranges = self.ranges();
        let fits: Vec<MeasuredNoise> = self
            .linears
            .iter()
            .zip(seen.into_iter().zip(tested))
            .zip(ranges)
            .map(|((l, (seen, tested)), (_, y_range))| {
                let inputs =
                    [seen, tested].map(|x| x.into_inner().unwrap_or_else(|p| p.into_inner()));
                let w = params.get(l.linear.weight);
                measure_converter_noise(hardware, l, w, &inputs, y_range, chip_seed)
            })
            .collect::<anyhow::Result<_>>()?;
        let t = &self.hardware.training;
        for (l, fit) in self.linears.iter_mut().zip(fits) {
            l.output_noise = t.output_noise.unwrap_or(fit.additive);
            l.output_noise_proportional = t.output_noise_proportional.unwrap_or(fit.proportional);
            l.measured_output = Some(fit);
        }
        Ok(())
    }

    /// The calibrated (max|x|, max|y|) of each analog linear.
    pub fn ranges(&self) -> Vec<(f32, f32)> {
        self.ranges
            .iter()
            .map(|[x, y]| (load(x), load(y)))
            .collect()
    }

    fn noisy_weight(&self, l: &AnalogTraining, w: &[f32], step: u64) -> Vec<f32> {
        let inputs = l.linear.in_features;
        let mut noisy = w.to_vec();
        let variance = |sigma: f64| (sigma * l.noise_scale).powi(2) as f32;
        let (additive, proportional) = (
            variance(l.weight_noise),
            variance(l.weight_noise_proportional),
        );
        let drop = l.stuck_at_dropout;
        if additive == 0.0 && proportional == 0.0 && drop == 0.0 {
            return noisy;
        }
        noisy
            .par_chunks_mut(ROW_BLOCK * inputs)
            .enumerate()
            .for_each(|(block, rows)| {
                let mut rng = StreamKey::new(
                    self.seed,
                    l.linear.weight as u32,
                    block as u32,
                    Draw::TrainingNoise.into(),
                )
                .with_index(step)
                .rng();
                for row in rows.chunks_exact_mut(inputs) {
                    let floor = additive * max_abs(row).powi(2);
                    for v in row.iter_mut() {
                        let std = (floor + proportional * *v * *v).sqrt();
                        if drop > 0.0 && rng.random::<f32>() < drop {
                            *v = 0.0;
                        }
                        *v += std * rng.sample::<f32, _>(StandardNormal);
                    }
                }
            });
        noisy
    }

    /// Clips each analog output's weights to ±k standard deviations of that output's
    /// weights (no-op without `weight_clip_sigmas`), in the tensors `trained` selects
    /// (frozen ones stay as they are).
    pub fn clip_weights(&self, params: &mut Params, trained: impl Fn(usize) -> bool) {
        let Some(k) = self.weight_clip_sigmas else {
            return;
        };
        for l in self.linears.iter().filter(|l| trained(l.linear.weight)) {
            let inputs = l.linear.in_features;
            params
                .get_mut(l.linear.weight)
                .par_chunks_mut(inputs)
                .for_each(|row| {
                    let n = row.len() as f64;
                    let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
                    let var = row
                        .iter()
                        .map(|&v| (f64::from(v) - mean).powi(2))
                        .sum::<f64>()
                        / n;
                    let bound = k * var.sqrt() as f32;
                    row.iter_mut().for_each(|v| *v = v.clamp(-bound, bound));
                });
        }
    }
}

fn load(bits: &AtomicU32) -> f32 {
    f32::from_bits(bits.load(Ordering::Relaxed))
}

fn max_abs(values: &[f32]) -> f32 {
    values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// The chip instance the weight noise is measured on: derived from the training seed, and
/// unlikely to be one of the instances an evaluation draws (0, 1, 2, …).
fn measurement_chip(seed: u64) -> u64 {
    StreamKey::new(seed, 0, 0, Draw::TrainingNoise.into())
        .rng()
        .random::<u64>()
}

/// Every linear of the encoder and head with its hardware name.
fn named_linears(index: &BertIndex) -> Vec<(LinearName, LinearIndex)> {
    let mut all = Vec::new();
    for (l, layer) in index.layers.iter().enumerate() {
        let kinds = [
            (LinearKind::Query, layer.query),
            (LinearKind::Key, layer.key),
            (LinearKind::Value, layer.value),
            (LinearKind::AttentionOutput, layer.attention_output),
            (LinearKind::Intermediate, layer.intermediate),
            (LinearKind::Output, layer.output),
        ];
        all.extend(kinds.map(|(kind, ix)| (LinearName::encoder(l, kind), ix)));
    }
    all.push((LinearName::head(LinearKind::Pooler), index.pooler));
    all.push((LinearName::head(LinearKind::Classifier), index.classifier));
    all
}

/// How far a programmed matrix reads back from its weights, relative to each output's
/// max|w|: e = (read-back − w) / max|w|, u = |w| / max|w|.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MeasuredNoise {
    /// RMS of e over every weight.
    pub rms: f64,
    /// σ_a and σ_p of the least-squares fit E(e² | u) = σ_a² + σ_p²·u² (both ≥ 0): the
    /// additive part (rounding, absolute conductance noise) and the part that grows with
    /// the weight (noise relative to the conductance).
    pub additive: f64,
    pub proportional: f64,
}

impl MeasuredNoise {
    /// The fit over (u², e²) pairs: least squares weighted by 1/Var(e²) ∝ 1/σ(u)⁴ (for
    /// Gaussian errors), iterated from the unweighted fit. Unweighted, the few largest
    /// weights, whose error levels off once their top slice is full, would set the slope.
    fn fit(points: &[(f64, f64)]) -> Self {
        let rms = (points.iter().map(|p| p.1).sum::<f64>() / points.len().max(1) as f64).sqrt();
        let mut fit = weighted_line(points, |_| 1.0);
        for _ in 0..4 {
            let (a2, b2) = fit;
            let floor = 1e-6 * rms * rms; // keeps the weights finite for exact read-backs
            fit = weighted_line(points, |x| 1.0 / (a2 + b2 * x + floor).powi(2));
        }
        Self {
            rms,
            additive: fit.0.sqrt(),
            proportional: fit.1.sqrt(),
        }
    }
}

/// (intercept, slope) ≥ 0 of the weighted least-squares line through (x, y) pairs.
fn weighted_line(points: &[(f64, f64)], weight: impl Fn(f64) -> f64) -> (f64, f64) {
    let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, y) in points {
        let w = weight(x);
        sw += w;
        sx += w * x;
        sy += w * y;
        sxx += w * x * x;
        sxy += w * x * y;
    }
    if sw == 0.0 {
        return (0.0, 0.0);
    }
    let (mx, my) = (sx / sw, sy / sw);
    let var = sxx / sw - mx * mx;
    let slope = if var > 0.0 {
        (sxy / sw - mx * my) / var
    } else {
        0.0
    };
    if slope <= 0.0 {
        (my.max(0.0), 0.0)
    } else if my - slope * mx < 0.0 {
        (0.0, sxy / sxx) // through the origin
    } else {
        (my - slope * mx, slope)
    }
}

/// `linear`'s weight `w` programmed once on chip instance `chip_seed` with `mapping`
/// (stuck cells left out: they are the drop-out's).
fn program_for_measurement(
    hardware: &HardwareConfig,
    name: &LinearName,
    w: &[f32],
    linear: LinearIndex,
    mapping: &MappingConfig,
    chip_seed: u64,
) -> anyhow::Result<MappedMatrix> {
    let mut device = hardware.device_for(name).clone();
    device.stuck_at = StuckAtFaults::default();
    program(name, w, linear, mapping, &device, chip_seed)
        .with_context(|| format!("programming {name} to measure its noise"))
}

fn program(
    name: &LinearName,
    w: &[f32],
    linear: LinearIndex,
    mapping: &MappingConfig,
    device: &DeviceConfig,
    chip_seed: u64,
) -> Result<MappedMatrix, crossbar::ConfigError> {
    let (outputs, inputs) = (linear.out_features, linear.in_features);
    MappedMatrix::program(
        w,
        outputs,
        inputs,
        mapping,
        device,
        chip_seed,
        name.matrix_id(),
    )
}

/// The weights `w` (outputs × inputs) of `linear` as chip instance `chip_seed` stores
/// them: programmed with `device` and read back through ideal converters, one one-hot
/// input per row, in `w`'s layout.
pub(super) fn read_back(
    hardware: &HardwareConfig,
    name: &LinearName,
    w: &[f32],
    linear: LinearIndex,
    device: &DeviceConfig,
    chip_seed: u64,
) -> anyhow::Result<Vec<f32>> {
    let (outputs, inputs) = (linear.out_features, linear.in_features);
    let mut mapping = hardware.mapping_for(name).clone();
    mapping.adc.ideal = true;
    mapping.input_scale = InputScale::Dynamic;
    let matrix = program(name, w, linear, &mapping, device, chip_seed)
        .with_context(|| format!("programming {name} to read it back"))?;
    let mut eye = vec![0.0f32; inputs * inputs];
    eye.iter_mut().step_by(inputs + 1).for_each(|v| *v = 1.0);
    let (read, _) = matrix
        .forward(&eye, inputs, &mapping::read_ids(0, inputs))
        .with_context(|| format!("reading {name} back"))?;
    // read[k·outputs + o] is the weight from input k to output o
    Ok((0..outputs * inputs)
        .map(|i| read[(i % inputs) * outputs + i / inputs])
        .collect())
}

/// The read-back error of `linear` programmed once on chip instance `chip_seed` (stuck
/// cells left out: they are the drop-out's) and read through ideal converters.
fn measure_weight_noise(
    hardware: &HardwareConfig,
    name: &LinearName,
    params: &Params,
    linear: LinearIndex,
    chip_seed: u64,
) -> anyhow::Result<MeasuredNoise> {
    let inputs = linear.in_features;
    let w = params.get(linear.weight);
    let mut device = hardware.device_for(name).clone();
    device.stuck_at = StuckAtFaults::default();
    let read = read_back(hardware, name, w, linear, &device, chip_seed)?;
    let mut points = Vec::with_capacity(w.len());
    for (row, read) in w.chunks_exact(inputs).zip(read.chunks_exact(inputs)) {
        let m = f64::from(max_abs(row));
        if m == 0.0 {
            continue;
        }
        for (&v, &r) in row.iter().zip(read) {
            let e = f64::from(r - v) / m;
            points.push(((f64::from(v) / m).powi(2), e * e));
        }
    }
    Ok(MeasuredNoise::fit(&points))
}

/// What the converters add to the output of `l` (weight `w`), relative to `range` (its
/// calibrated max|y|): the matrix programmed once on chip instance `chip_seed`, calibrated
/// on `calibration` and run on `probe` (inputs, tokens × in, row-major) with the
/// hardware's converters and with ideal ones (same conductances, same read ids).
fn measure_converter_noise(
    hardware: &HardwareConfig,
    l: &AnalogTraining,
    w: &[f32],
    [calibration, probe]: &[Vec<f32>; 2],
    range: f32,
    chip_seed: u64,
) -> anyhow::Result<MeasuredNoise> {
    let tokens = |x: &[f32]| x.len() / l.linear.in_features;
    let run = |ideal: bool| -> anyhow::Result<Vec<f32>> {
        let name = &l.hardware_name;
        let mut mapping = hardware.mapping_for(name).clone();
        mapping.adc.ideal = ideal;
        let mut matrix = program_for_measurement(hardware, name, w, l.linear, &mapping, chip_seed)?;
        let n = tokens(probe);
        matrix
            .calibrate(calibration, tokens(calibration))
            .and_then(|()| matrix.forward(probe, n, &mapping::read_ids(0, n)))
            .map(|(y, _)| y)
            .with_context(|| format!("running {name} to measure its converter noise"))
    };
    let (real, ideal) = (run(false)?, run(true)?);
    let range = f64::from(range);
    if range == 0.0 {
        return Ok(MeasuredNoise::default()); // an output that is 0 on every calibration token
    }
    let points: Vec<(f64, f64)> = real
        .iter()
        .zip(&ideal)
        .map(|(&r, &i)| {
            let e = f64::from(r - i) / range;
            ((f64::from(i) / range).powi(2), e * e)
        })
        .collect();
    Ok(MeasuredNoise::fit(&points))
}

/// Probability that a weight has at least one stuck cell (independent cells).
fn stuck_weight_probability(faults: &StuckAtFaults, mapping: &MappingConfig) -> f64 {
    let rate = faults.rate_g_max + faults.rate_g_min;
    if rate == 0.0 {
        return 0.0;
    }
    let pair = if mapping.encoding == Encoding::Differential {
        2
    } else {
        1
    };
    let cells = (mapping.slices() * pair) as i32;
    1.0 - (1.0 - rate).powi(cells)
}

/// The analog weights and quantizers of one training step (or of a calibration pass).
pub struct ChipStep<'a> {
    chip: &'a HardwareAware,
    /// The weight each analog linear computes with, in `chip.linears` order.
    weights: Vec<Vec<f32>>,
    /// The training step (selects the converter noise).
    step: u64,
    /// Set for a noise-free pass that records the ranges.
    calibration: Option<Calibration>,
    /// The examples and lengths of the batch (the read ids of the training chip).
    batch: Option<(Vec<u64>, Vec<usize>)>,
    /// Set for the pass that calibrates a newly programmed training chip: each analog
    /// linear's matrix, calibrated on its input and then run on it.
    programming: Option<Vec<Mutex<ProgrammedLinear>>>,
}

/// What a noise-free pass records: the ranges (when `ranges`), and each analog linear's
/// inputs, in `chip.linears` order, when the converter noise is to be measured on them.
struct Calibration {
    ranges: bool,
    inputs: Option<Vec<Mutex<Vec<f32>>>>,
}

impl ChipStep<'_> {
    /// This step on `batch`: the training chip reads each token with the read id the
    /// backend gives it (example index and position), so its per-read noise is the same
    /// whatever the batch composition and thread count.
    pub fn for_batch(mut self, batch: &PackedBatch) -> Self {
        self.batch = Some((batch.examples.clone(), batch.lengths.clone()));
        self
    }

    /// The batch identity of `rows` rows (without [`ChipStep::for_batch`]: one sequence,
    /// rows numbered from 0).
    fn with_batch<T>(&self, rows: usize, f: impl FnOnce(BatchId<'_>) -> T) -> T {
        match &self.batch {
            Some((examples, lengths)) => f(BatchId { examples, lengths }),
            None => f(BatchId {
                examples: &[0],
                lengths: &[rows],
            }),
        }
    }

    /// This noise-free pass also keeping the inputs (when `keep`).
    fn keeping_inputs(mut self, keep: bool) -> Self {
        if let (true, Some(c)) = (keep, &mut self.calibration) {
            c.inputs = Some(self.chip.linears.iter().map(|_| Mutex::default()).collect());
        }
        self
    }

    /// The weight tensor `i` computes with in this step, if it is analog.
    pub fn weight(&self, i: usize) -> Option<&[f32]> {
        self.chip
            .by_weight
            .get(i)
            .copied()
            .flatten()
            .map(|k| self.weights[k].as_slice())
    }

    /// y = Q_out(Q_in(x)·W̃ᵀ + converter noise) + b for the analog linear whose weight is
    /// tensor `weight`.
    pub fn linear(&self, weight: usize, x: &Matrix, bias: &[f32]) -> Option<Matrix> {
        let k = self.chip.by_weight.get(weight).copied().flatten()?;
        let l = &self.chip.linears[k];
        let [x_range, y_range] = &self.chip.ranges[k];
        let w = &self.weights[k];
        if let Some(programming) = &self.programming {
            let mut linear = programming[k].lock().unwrap_or_else(|p| p.into_inner());
            linear.calibrate(x);
            let mut y = self.with_batch(x.rows(), |b| linear.chip_output(x, b));
            add_bias(&mut y, bias);
            return Some(y);
        }
        if let Some(calibration) = &self.calibration {
            if let Some(inputs) = &calibration.inputs {
                let mut kept = inputs[k].lock().unwrap_or_else(|p| p.into_inner());
                kept.extend_from_slice(x.as_slice());
            }
            if !calibration.ranges {
                return Some(linear_forward(x, w, bias));
            }
            x_range.fetch_max(max_abs(x.as_slice()).to_bits(), Ordering::Relaxed);
            let y = without_bias(x, w, bias, |y| {
                y_range.fetch_max(max_abs(y.as_slice()).to_bits(), Ordering::Relaxed);
            });
            return Some(y);
        }
        // The chip's error on the unquantized input: the chip quantizes it itself.
        let residual = self
            .chip
            .training_chip
            .as_ref()
            .map(|c| self.with_batch(x.rows(), |b| c.linears[k].residual(x, b)));
        // Before any calibration the range is 0: each token's own range stands in.
        let fixed_input = Some(load(x_range)).filter(|&r| l.calibrated_input && r > 0.0);
        let xq = quantize_inputs(x, l.input_bits, fixed_input);
        let x = xq.as_ref().unwrap_or(x);
        let noisy = l.output_noise > 0.0 || l.output_noise_proportional > 0.0;
        if !noisy && l.output_bits == 0 && !self.chip.clip_outputs && residual.is_none() {
            // Nothing acts between the product and the bias: the digital kernel as it is.
            return Some(linear_forward(x, w, bias));
        }
        let range = load(y_range);
        Some(without_bias(x, w, bias, |y| {
            if let Some(r) = &residual {
                let values = y.as_mut_slice().iter_mut();
                values.zip(r.as_slice()).for_each(|(v, e)| *v += e);
            }
            if noisy {
                self.converter_noise(l, y, range);
            }
            quantize_outputs(y, l.output_bits, self.chip.clip_outputs, range)
        }))
    }

    /// Adds to each output y a Gaussian of variance (τ_a·range)² + (τ_p·y)², scaled by
    /// `noise_scale`; one stream per block of token rows.
    fn converter_noise(&self, l: &AnalogTraining, y: &mut Matrix, range: f32) {
        let scale = l.noise_scale as f32;
        let floor = (l.output_noise as f32 * scale * range).powi(2);
        let proportional = (l.output_noise_proportional as f32 * scale).powi(2);
        let width = y.cols();
        y.as_mut_slice()
            .par_chunks_mut(ROW_BLOCK * width)
            .enumerate()
            .for_each(|(block, rows)| {
                let key = StreamKey::new(
                    self.chip.seed,
                    l.linear.bias as u32,
                    block as u32,
                    Draw::TrainingNoise.into(),
                );
                let mut rng = key.with_index(self.step).rng();
                for v in rows {
                    let std = (floor + proportional * *v * *v).sqrt();
                    *v += std * rng.sample::<f32, _>(StandardNormal);
                }
            });
    }
}

/// x·Wᵀ, then `convert` (what the ADC does to the analog product), then the digital bias.
fn without_bias(x: &Matrix, w: &[f32], bias: &[f32], convert: impl FnOnce(&mut Matrix)) -> Matrix {
    let mut y = linear_forward(x, w, &vec![0.0; bias.len()]);
    convert(&mut y);
    add_bias(&mut y, bias);
    y
}

fn add_bias(y: &mut Matrix, bias: &[f32]) {
    for row in y.as_mut_slice().chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
    }
}

/// Inputs at `bits` over a fixed range (clipped), or each token's own max|x|; `None` when
/// quantization is off.
fn quantize_inputs(x: &Matrix, bits: u8, fixed_range: Option<f32>) -> Option<Matrix> {
    if bits == 0 {
        return None;
    }
    let code = max_code(bits);
    let mut q = x.clone();
    let width = x.cols();
    q.as_mut_slice().par_chunks_mut(width).for_each(|row| {
        let scale = scale_for(fixed_range.unwrap_or_else(|| max_abs(row)), bits);
        row.iter_mut()
            .for_each(|v| *v = quantize(*v, scale, code) as f32 * scale);
    });
    Some(q)
}

/// Outputs quantized at `bits` over ±range and clipped to it (each step optional).
fn quantize_outputs(y: &mut Matrix, bits: u8, clip: bool, range: f32) {
    if range <= 0.0 {
        return; // never calibrated, or an all-zero output: nothing to convert against
    }
    let values = y.as_mut_slice();
    if bits > 0 {
        let scale = scale_for(range, bits);
        // quantize() clips the code to ±code, ±range for the ADC's largest code.
        let code = if clip { max_code(bits) } else { i32::MAX };
        values
            .par_iter_mut()
            .for_each(|v| *v = quantize(*v, scale, code) as f32 * scale);
    } else if clip {
        values
            .par_iter_mut()
            .for_each(|v| *v = v.clamp(-range, range));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, values: &[f32]) -> Matrix {
        Matrix::from_vec(rows, values.len() / rows, values.to_vec())
    }

    fn assert_close(got: &[f32], want: &[f32]) {
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn inputs_quantize_per_token_or_over_the_calibrated_range() {
        let x = matrix(2, &[1.0, -0.26, 0.1, 0.5]);
        // 3 bits: codes ±3; token 0 step 1/3, token 1 step 0.5/3.
        let q = quantize_inputs(&x, 3, None).unwrap();
        assert_close(q.as_slice(), &[1.0, -1.0 / 3.0, 0.5 / 3.0, 0.5]);
        // A calibrated range of 0.3: step 0.1 for every token, 1.0 and 0.5 clip.
        let q = quantize_inputs(&x, 3, Some(0.3)).unwrap();
        assert_close(q.as_slice(), &[0.3, -0.3, 0.1, 0.3]);
        assert!(quantize_inputs(&x, 0, None).is_none());
    }

    #[test]
    fn outputs_quantize_and_clip_to_the_calibrated_range() {
        let values = [2.0, -0.95, 0.26, 0.0];
        // 3 bits over ±0.9: step 0.3; 2.0 and −0.95 clip.
        let mut y = matrix(1, &values);
        quantize_outputs(&mut y, 3, true, 0.9);
        assert_close(y.as_slice(), &[0.9, -0.9, 0.3, 0.0]);
        // Unclipped, the step stays and large values keep their codes.
        let mut y = matrix(1, &values);
        quantize_outputs(&mut y, 3, false, 0.9);
        assert_close(y.as_slice(), &[2.1, -0.9, 0.3, 0.0]);
        // Clipping alone.
        let mut y = matrix(1, &values);
        quantize_outputs(&mut y, 0, true, 0.9);
        assert_close(y.as_slice(), &[0.9, -0.9, 0.26, 0.0]);
    }

    #[test]
    fn the_noise_fit_separates_the_additive_and_proportional_parts() {
        // e² = 0.01² + 0.2²·u² exactly on a grid of u.
        let points: Vec<(f64, f64)> = (0..=100)
            .map(|i| {
                let u2 = (i as f64 / 100.0).powi(2);
                (u2, 0.01f64.powi(2) + 0.04 * u2)
            })
            .collect();
        let fit = MeasuredNoise::fit(&points);
        assert!((fit.additive - 0.01).abs() < 1e-9, "{fit:?}");
        assert!((fit.proportional - 0.2).abs() < 1e-9, "{fit:?}");
        // Noise that falls with the weight is all additive.
        let falling: Vec<(f64, f64)> = points.iter().map(|&(u2, e2)| (1.0 - u2, e2)).collect();
        assert_eq!(MeasuredNoise::fit(&falling).proportional, 0.0);
    }

    #[test]
    fn a_weight_with_a_stuck_cell_is_as_likely_as_its_cells_say() {
        let mapping = MappingConfig::default(); // 8-bit differential weights on 2-bit cells
        let faults = StuckAtFaults {
            rate_g_max: 0.01,
            ..StuckAtFaults::default()
        };
        // 4 slices × 2 columns = 8 cells.
        let p = stuck_weight_probability(&faults, &mapping);
        assert!((p - (1.0 - 0.99f64.powi(8))).abs() < 1e-12, "{p}");
        let none = StuckAtFaults::default();
        assert_eq!(stuck_weight_probability(&none, &mapping), 0.0);
    }
}
