//! LayerNorm over the features of each row: `y = γ·(x − mean)/√(var + eps) + β`.
//!
//! * [`LayerNorm::Float`]: [`super::exact::layer_norm_row`], the digital engine's LayerNorm
//!   (fp32 values, mean and biased variance accumulated in f64).
//! * [`LayerNorm::FixedPoint`]: the normalisation in integers, as in I-BERT: the row is
//!   quantized to `input_bits` with a per-row max-abs scale (LayerNorm is invariant to that
//!   scale, so it costs no accuracy beyond rounding), the mean and the variance are integer
//!   sums and divisions, the standard deviation is an integer square root (bitwise method),
//!   and the division by it is one integer reciprocal `2^31 / std` per row and one multiply
//!   per element, giving the normalised value with `output_frac_bits` fraction bits. γ and β
//!   are float parameters of the checkpoint, so the final affine step is fp32 (one multiply
//!   and one add per element; the 2^−output_frac_bits scale is folded into γ once).

use super::exact::layer_norm_row;
use super::fixed::{entry_counts, growth_bits, inverse_scale, isqrt, isqrt_counts, quantize};
use super::ops::{IntWidth, OpCounts};
use super::{check_len, check_range, rows_of, ShapeError};
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// LayerNorm implementation. Default: float.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LayerNorm {
    /// fp32, two-pass.
    #[default]
    Float,
    /// Integer mean, variance and square root (I-BERT style).
    FixedPoint(FixedLayerNorm),
}

/// Parameters of the integer LayerNorm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixedLayerNorm {
    /// Bits of the signed integer input (per-row max-abs scale). Default 16.
    pub input_bits: u32,
    /// Fraction bits of the normalised value before γ and β. Default 16.
    pub output_frac_bits: u32,
}

impl Default for FixedLayerNorm {
    fn default() -> Self {
        Self {
            input_bits: 16,
            output_frac_bits: 16,
        }
    }
}

/// Numerator exponent of the per-row reciprocal of the standard deviation, 2^31 / std.
const RECIPROCAL_BITS: u32 = 31;

impl LayerNorm {
    /// Checks every parameter; `key` is the dotted path of this setting.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            LayerNorm::Float => Ok(()),
            LayerNorm::FixedPoint(p) => {
                check_range(&format!("{key}.input_bits"), p.input_bits, 4, 20)?;
                check_range(
                    &format!("{key}.output_frac_bits"),
                    p.output_frac_bits,
                    4,
                    24,
                )
            }
        }
    }

    /// LayerNorm of each row of `data` (`rows × cols`, row-major) in place, with per-feature
    /// `gamma` and `beta` (`cols` values each) and the checkpoint's `eps`.
    pub fn apply(
        &self,
        data: &mut [f32],
        cols: usize,
        gamma: &[f32],
        beta: &[f32],
        eps: f64,
    ) -> Result<OpCounts, ShapeError> {
        let rows = rows_of("layernorm", data.len(), cols)?;
        check_len("layernorm", "gamma", gamma.len(), cols)?;
        check_len("layernorm", "beta", beta.len(), cols)?;
        for row in data.chunks_exact_mut(cols) {
            match self {
                LayerNorm::Float => layer_norm_row(row, gamma, beta, eps),
                LayerNorm::FixedPoint(p) => p.row(row, gamma, beta, eps as f32),
            }
        }
        Ok(self.counts(cols) * rows as u64)
    }

    /// Operations for one row of `cols` features.
    pub fn counts(&self, cols: usize) -> OpCounts {
        let n = cols as u64;
        match self {
            // sum, ·(1/n), deviations, squares, sum, ·(1/n), +eps, sqrt, reciprocal,
            // normalise, ·γ, +β
            LayerNorm::Float => OpCounts {
                fp32_add: (n - 1) + n + (n - 1) + 1 + n,
                fp32_mult: 1 + n + 1 + n + n,
                fp32_sqrt: 1,
                fp32_div: 1,
                ..Default::default()
            },
            LayerNorm::FixedPoint(p) => p.counts(cols),
        }
    }
}

impl FixedLayerNorm {
    fn row(&self, row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let bits = self.input_bits;
        let n = row.len() as i64;
        let inv = inverse_scale(row, bits);
        // The integer values are recomputed from the row (deterministically) instead of
        // being stored, which keeps this allocation-free; the hardware holds them.
        let q = |x: f32| quantize(x, inv, bits);
        let sum: i64 = row.iter().map(|&x| q(x)).sum();
        let mean = div_round(sum, n);
        let sum_sq: i64 = row.iter().map(|&x| (q(x) - mean).pow(2)).sum();
        // eps in the integer domain: eps / scale² = eps · inv²
        let eps_q = (eps as f64 * (inv as f64).powi(2)).round() as i64;
        let var = div_round(sum_sq, n).saturating_add(eps_q);
        let std = isqrt(var as u64).max(1) as i64;
        let factor = (1i64 << RECIPROCAL_BITS) / std;
        let shift = RECIPROCAL_BITS - self.output_frac_bits;
        let half = 1i64 << (shift - 1);
        let out_scale = 1.0 / (1u64 << self.output_frac_bits) as f32;
        for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            let y = ((q(*x) - mean) * factor + half) >> shift;
            *x = y as f32 * out_scale * g + b;
        }
    }

    fn counts(&self, cols: usize) -> OpCounts {
        let n = cols as u64;
        let b = self.input_bits;
        let growth = growth_bits(cols);
        let deviation_bits = b + 1;
        OpCounts {
            fp32_mult: 2 + n, // eps·inv² (two multiplies) and γ·y
            fp32_add: n,      // + β
            int_div: 3,       // mean, variance, reciprocal of std
            compare: 1,       // std ≥ 1 guard
            int32_mult: n,    // deviation · reciprocal
            shift: n,         // back to output_frac_bits
            ..Default::default()
        } + entry_counts(n)
            + OpCounts::int_add(IntWidth::for_bits(b + growth), n - 1) // Σ q
            + OpCounts::int_add(IntWidth::for_bits(deviation_bits), n) // q − mean
            + OpCounts::int_mult(IntWidth::for_bits(deviation_bits), n) // squares
            + OpCounts::int_add(IntWidth::for_bits(2 * deviation_bits + growth), n) // Σ d², + eps
            + OpCounts::int_add(IntWidth::W64, n) // rounding add on the ≈48-bit product
            + isqrt_counts()
    }
}

/// Integer division rounded to nearest (ties away from zero), divisor > 0.
fn div_round(a: i64, d: i64) -> i64 {
    if a >= 0 {
        (a + d / 2) / d
    } else {
        -((-a + d / 2) / d)
    }
}
