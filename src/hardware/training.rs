//! How `crossbert finetune --preset/--hardware` injects the chip into training
//! (hardware-aware fine-tuning, see [`crate::train::hardware_aware`]).
//!
//! ```toml
//! [training]
//! weight_noise = 0.015       # σ_a: additive weight noise each step, relative to the
//!                            # output's max|w|; default: measured
//! weight_noise_proportional = 0.2  # σ_p: weight noise relative to the weight itself;
//!                            # default: measured
//! output_noise = 0.002      # τ_a: additive converter noise each step, relative to the
//!                            # linear's calibrated max|y|; default: measured
//! output_noise_proportional = 0.01  # τ_p: converter noise relative to the output; default: measured
//! noise_scale = 1.0          # multiplies every noise (measured or given); default 1
//! input_bits = 8             # DAC-side quantization (straight-through); default mapping.input_bits
//! output_bits = 8            # ADC-side quantization (straight-through); default 0 (off)
//! clip_outputs = true        # clip outputs to their calibrated range; default false
//! weight_clip_sigmas = 2.5   # clip each output's weights to ±k·std after every step; default off
//! stuck_at_dropout = 0.05    # fraction of analog weights zeroed each step; default from device.stuck_at
//! chip_in_loop = true        # each analog output carries the emulated chip's own error; default false
//! reprogram_every = 25       # steps between programmings of the training chip; default 25
//! chip_in_loop_weights = true  # false: only the converters' error in the loop; default true
//! ```
//!
//! Every field is optional: absent, it is derived from the rest of the hardware description,
//! so that `--preset reram-cmo` alone trains against that chip.
//!
//! - `weight_noise`, `weight_noise_proportional`: each step adds to every analog weight w
//!   of an output whose largest weight is m a Gaussian of variance σ_a²·m² + σ_p²·w². To
//!   measure them, each analog matrix is programmed once onto a chip instance of this
//!   hardware (its weight quantization, bit slicing, programming variation, drift and 1/f
//!   deviation at `device.read_time_s`, drift compensation; stuck cells excluded, they are
//!   `stuck_at_dropout`'s) and read back with ideal converters; with e = (read-back − w)/m
//!   and u = |w|/m, σ_a² and σ_p² are the least-squares fit E(e²) = σ_a² + σ_p²·u². The
//!   additive part is aihwkit's weight noise relative to each column's max|w|; the
//!   proportional part is what noise relative to the conductance (e.g. NeuroSim's relative
//!   programming variation) does: 30 % variation on isaac-32nm reads back with an RMS of
//!   0.075 of max|w| on minilm-sst2, but 0.015 for the smallest tenth of the weights and
//!   0.19 for the largest. A field that is given is used as it is.
//! - `output_noise`, `output_noise_proportional`: what the ADCs add, as noise on each
//!   linear's output y (before its bias): a Gaussian of variance τ_a²·Y² + τ_p²·y², Y the
//!   largest |y| on the `[calibration]` train examples. To measure them, each analog matrix
//!   is programmed once (on the chip instance of the weight noise), calibrated on the inputs
//!   it sees on the calibration examples (as the chip calibrates), and run on the inputs it
//!   sees on as many further train examples (the calibration examples themselves when the
//!   train split has no others, then nothing the ranges clip is seen) with the hardware's
//!   converters and with ideal ones; with e = (real − ideal)/Y and u = |ideal|/Y, τ_a and
//!   τ_p are the fit E(e²) = τ_a² + τ_p²·u². Zero for `adc.ideal`. Unlike `output_bits`,
//!   this is the error of the chip's own converters (one per array, per input bit and
//!   weight slice when bit-sliced), however they are organized.
//! - `input_bits`: the DAC input precision, over the hardware's input scale (one range
//!   calibrated on the train examples of `[calibration]`, or each token's own max|x|).
//! - `output_bits`, `clip_outputs`: off. When set, each linear's output (before its bias)
//!   is quantized at `output_bits` over, and clipped to, the largest |output| seen on the
//!   `[calibration]` train examples (recalibrated without noise at the start of every
//!   epoch): one converter per linear. The chips' ADCs convert each array's partial
//!   products instead (per input bit and weight slice when bit-sliced), with far smaller
//!   error: on SST-2 dev (872 sentences), 8-bit output quantization alone takes the
//!   standard minilm-sst2 from 0.892 to 0.838, while the whole `isaac-32nm` chip costs it
//!   0.009 and one-shot ReRAM-CMO at one day 0.013. Trained against it by default, the
//!   model would learn an error the chip does not make (the weight noise alone, or with
//!   the input quantization, is what the study in `experiments/README.md` trains with).
//! - `weight_clip_sigmas`: off. The mapping scales each output (or matrix) to its own
//!   max|w|, so no weight falls outside the mapped range; clipping narrows that range and
//!   with it the weight noise relative to it (aihwkit's `LAYER_GAUSSIAN` clipping).
//! - `stuck_at_dropout`: the probability that a weight has at least one stuck cell under
//!   `device.stuck_at` (independent cells): 1 − (1 − rate_g_max − rate_g_min)^cells, with
//!   `cells` the cells one weight occupies (slices × 2 for the differential encoding).
//!
//! - `chip_in_loop`, `reprogram_every`: off. When on, each analog linear computes
//!   y = W·x + b + r with r = chip_k(x) − W_k·x: W_k is a snapshot of its weights,
//!   chip_k that snapshot programmed on training chip instance k exactly as the analog
//!   backend programs an evaluation chip (quantization, slicing, programming variation,
//!   stuck cells, drift and 1/f deviation at `device.read_time_s`, drift compensation, the
//!   converters with their ranges calibrated on the `[calibration]` train examples layer by
//!   layer through the chip, per-read noise). The snapshot is taken and programmed on a new
//!   instance every `reprogram_every` steps (instance k from step k·`reprogram_every`), so
//!   the model sees many chips, never one of the evaluation chips (their draws derive from
//!   the training seed and a tag of their own). The chip's error then carries what
//!   independent noise cannot: its dependence on each token's input bits and on the
//!   programmed conductances. In this mode the Gaussian noises, the stuck-at drop-out and
//!   the input quantization default to off (the chip makes those errors itself, stuck cells
//!   included); given explicitly they are added on top.
//! - `chip_in_loop_weights`: true. When false, r = chip_k(x) − R_k·x with R_k the
//!   programmed matrix read back through ideal converters: only what the DAC and the
//!   converters add is in the loop, and the programmed weights' error is the Gaussian
//!   weight noise (and stuck-at drop-out) drawn afresh every step, measured as without the
//!   chip in the loop.
//!
//! Gradients pass the quantizers, the clipping and the chip's error r unchanged (a
//! straight-through estimator); the weight gradient of a noisy step is applied to the
//! noise-free weights.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// The choices of hardware-aware training; `None` fields are derived (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// σ_a of the additive weight noise per step, relative to each output's max|w|.
    /// Default: measured by programming each matrix once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_noise: Option<f64>,
    /// σ_p of the weight noise proportional to each weight. Default: measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_noise_proportional: Option<f64>,
    /// τ_a of the additive converter noise per step, relative to each linear's calibrated
    /// max|y|. Default: measured on the calibration examples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_noise: Option<f64>,
    /// τ_p of the converter noise proportional to each output. Default: measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_noise_proportional: Option<f64>,
    /// Factor on every noise (weight and converter). Default 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_scale: Option<f64>,
    /// Input quantization bits, 0 = off. Default `mapping.input_bits`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_bits: Option<u8>,
    /// Output quantization bits, 0 = off. Default 0 (see the module docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bits: Option<u8>,
    /// Clip each linear's output to its calibrated range. Default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_outputs: Option<bool>,
    /// Clip each output's weights to ±k standard deviations after every step. Default off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_clip_sigmas: Option<f64>,
    /// Probability that a weight is zeroed in a step. Default from `device.stuck_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck_at_dropout: Option<f64>,
    /// Add each analog linear's error on an emulated training chip to its output (see the
    /// module docs). Default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chip_in_loop: Option<bool>,
    /// With `chip_in_loop`, training steps between two programmings of the training chip
    /// (each on a new chip instance, from the weights of that step). Default 25.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reprogram_every: Option<usize>,
    /// With `chip_in_loop`, whether the chip's error includes its programmed weights' error
    /// (else only the converters', against the read-back weights, with the Gaussian weight
    /// noise for the rest). Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chip_in_loop_weights: Option<bool>,
}

/// Default of [`TrainingConfig::reprogram_every`]: at lr 2e-5 the weights move little in 25
/// steps, and each programming also runs the `[calibration]` examples through the chip.
pub const DEFAULT_REPROGRAM_EVERY: usize = 25;

/// Largest quantizer precision accepted (the mapping's own limit).
const MAX_BITS: u8 = 24;

impl TrainingConfig {
    /// Whether every choice is left to be derived (an empty `[training]`).
    pub fn is_derived(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the training chip is in the loop (`chip_in_loop`, default false).
    pub fn chip_in_loop(&self) -> bool {
        self.chip_in_loop.unwrap_or(false)
    }

    /// Whether the programmed weights' error is in the loop too (`chip_in_loop_weights`,
    /// default true); meaningful with [`TrainingConfig::chip_in_loop`] only.
    pub fn chip_weights_in_loop(&self) -> bool {
        self.chip_in_loop() && self.chip_in_loop_weights.unwrap_or(true)
    }

    /// Steps between programmings of the training chip (`reprogram_every`, default 25).
    pub fn reprogram_every(&self) -> usize {
        self.reprogram_every.unwrap_or(DEFAULT_REPROGRAM_EVERY)
    }

    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let non_negative = |name: &str, v: Option<f64>| match v {
            Some(v) if !(v.is_finite() && v >= 0.0) => Err(ConfigError::new(
                format!("{key}.{name}"),
                "a finite number ≥ 0",
                v,
            )),
            _ => Ok(()),
        };
        non_negative("weight_noise", self.weight_noise)?;
        non_negative("weight_noise_proportional", self.weight_noise_proportional)?;
        non_negative("output_noise", self.output_noise)?;
        non_negative("output_noise_proportional", self.output_noise_proportional)?;
        non_negative("noise_scale", self.noise_scale)?;
        for (name, bits) in [
            ("input_bits", self.input_bits),
            ("output_bits", self.output_bits),
        ] {
            if let Some(b) = bits {
                if b == 1 || b > MAX_BITS {
                    return Err(ConfigError::new(
                        format!("{key}.{name}"),
                        format!("0 (off) or 2–{MAX_BITS} bits"),
                        b,
                    ));
                }
            }
        }
        if let Some(k) = self.weight_clip_sigmas {
            if !(k.is_finite() && k > 0.0) {
                return Err(ConfigError::new(
                    format!("{key}.weight_clip_sigmas"),
                    "a number of standard deviations > 0 (omit the key for no clipping)",
                    k,
                ));
            }
        }
        if self.reprogram_every == Some(0) {
            return Err(ConfigError::new(
                format!("{key}.reprogram_every"),
                "a number of training steps ≥ 1",
                0,
            ));
        }
        if let Some(p) = self.stuck_at_dropout {
            if !(0.0..1.0).contains(&p) {
                return Err(ConfigError::new(
                    format!("{key}.stuck_at_dropout"),
                    "a probability in [0, 1)",
                    p,
                ));
            }
        }
        Ok(())
    }
}
