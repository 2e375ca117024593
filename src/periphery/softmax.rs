//! Softmax over each row of attention scores.
//!
//! All three implementations subtract the row maximum first, so every exponent is ≤ 0 and
//! the largest term is exactly 1:
//! * [`Softmax::Float`]: [`super::exact::softmax_row`], the digital engine's softmax (fp32
//!   `exp`, one fp32 reciprocal per row);
//! * [`Softmax::FixedLut`]: scores in fixed point with `input_frac_bits` fraction bits,
//!   `exp(z)` read from a table over `z ∈ [−input_range, 0]` (below it the term is 0);
//! * [`Softmax::Base2Shift`]: `exp(z) = 2^(z·log2 e)`; the integer part of the exponent is a
//!   right shift and the fraction `s ∈ [0, 1)` goes through the quadratic
//!   `2^s ≈ 1 + a·s + (1 − a)·s²` (exact at both ends), as in Softermax / I-BERT's i-exp.
//!
//! The fixed-point variants hold `exp` terms as unsigned integers with `table_bits` fraction
//! bits (the largest term is 2^table_bits), sum them exactly, take one integer reciprocal per
//! row (2^47 / sum) and return probabilities with `output_bits` fraction bits.

use super::exact::softmax_row;
use super::fixed::{growth_bits, round_i64};
use super::ops::{IntWidth, OpCounts};
use super::{check_positive, check_range, rows_of, ShapeError};
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Softmax implementation. Default: float.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Softmax {
    /// fp32, max-subtracted.
    #[default]
    Float,
    /// Fixed point, exp by lookup table.
    FixedLut(LutExp),
    /// Fixed point, exp as a power of two: shift plus a quadratic for the fraction.
    Base2Shift(Base2Exp),
}

/// Parameters of the table-based fixed-point softmax.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LutExp {
    /// Fraction bits of the fixed-point scores (the table step is 2^−bits). Default 5.
    pub input_frac_bits: u32,
    /// The table covers exponents in [−input_range, 0]; smaller ones give 0. Default 16
    /// (e^−16 ≈ 1.1e−7). With the defaults the table has 16·2^5 + 1 = 513 entries of
    /// 16 fraction bits (17 bits for exp(0) = 1), about 1 KB.
    pub input_range: f32,
    /// Fraction bits of each table entry (exp(0) = 2^table_bits). Default 16.
    pub table_bits: u32,
    /// Fraction bits of the output probabilities. Default 16.
    pub output_bits: u32,
}

impl Default for LutExp {
    fn default() -> Self {
        Self {
            input_frac_bits: 5,
            input_range: 16.0,
            table_bits: 16,
            output_bits: 16,
        }
    }
}

/// Parameters of the base-2 shift softmax.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Base2Exp {
    /// Fraction bits of the fixed-point scores. Default 8.
    pub input_frac_bits: u32,
    /// Fraction bits of each exp term (2^0 = 2^exp_bits). Default 16.
    pub exp_bits: u32,
    /// Fraction bits of the output probabilities. Default 16.
    pub output_bits: u32,
}

impl Default for Base2Exp {
    fn default() -> Self {
        Self {
            input_frac_bits: 8,
            exp_bits: 16,
            output_bits: 16,
        }
    }
}

/// Linear coefficient `a` of `2^s ≈ 1 + a·s + (1 − a)·s²` on [0, 1): chosen (by a dense grid
/// search over `a`, done once for this code) to minimise the maximum relative error, which
/// is then 0.27 %.
pub const BASE2_POLY_A: f64 = 0.66025;

/// Fraction bits of log2(e) as an integer multiplier.
const LOG2E_FRAC_BITS: u32 = 15;

/// Numerator exponent of the per-row integer reciprocal 2^47 / sum (sum < 2^47 always).
const RECIPROCAL_BITS: u32 = 47;

impl Softmax {
    /// Checks every parameter; `key` is the dotted path of this setting.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            Softmax::Float => Ok(()),
            Softmax::FixedLut(p) => {
                check_range(&format!("{key}.input_frac_bits"), p.input_frac_bits, 1, 10)?;
                check_positive(&format!("{key}.input_range"), p.input_range)?;
                if p.input_range > 64.0 {
                    return Err(ConfigError::new(
                        format!("{key}.input_range"),
                        "at most 64 (e^−64 is far below any output resolution)",
                        p.input_range,
                    ));
                }
                check_range(&format!("{key}.table_bits"), p.table_bits, 4, 22)?;
                check_range(&format!("{key}.output_bits"), p.output_bits, 4, 22)
            }
            Softmax::Base2Shift(p) => {
                check_range(&format!("{key}.input_frac_bits"), p.input_frac_bits, 1, 16)?;
                check_range(&format!("{key}.exp_bits"), p.exp_bits, 4, 22)?;
                check_range(&format!("{key}.output_bits"), p.output_bits, 4, 22)
            }
        }
    }

    /// Softmax of each row of `data` (`rows × cols`, row-major) in place.
    pub fn apply(&self, data: &mut [f32], cols: usize) -> Result<OpCounts, ShapeError> {
        let rows = rows_of("softmax", data.len(), cols)?;
        match self {
            Softmax::Float => data.chunks_exact_mut(cols).for_each(softmax_row),
            Softmax::FixedLut(p) => {
                let table = p.table();
                for row in data.chunks_exact_mut(cols) {
                    p.exp_row(row, &table);
                    normalize_row(row, p.output_bits);
                }
            }
            Softmax::Base2Shift(p) => {
                for row in data.chunks_exact_mut(cols) {
                    p.exp_row(row);
                    normalize_row(row, p.output_bits);
                }
            }
        }
        Ok(self.counts(cols) * rows as u64)
    }

    /// Operations for one row of `cols` scores.
    pub fn counts(&self, cols: usize) -> OpCounts {
        let n = cols as u64;
        match self {
            Softmax::Float => OpCounts {
                compare: n - 1,
                fp32_add: n + (n - 1),
                fp32_exp: n,
                fp32_div: 1,
                fp32_mult: n,
                ..Default::default()
            },
            Softmax::FixedLut(p) => {
                // quantize, then per element: subtract max, range test, table read
                let per_element = OpCounts {
                    fp32_mult: 1,
                    compare: 1,
                    table_lookup: 1,
                    int32_add: 1,
                    ..Default::default()
                };
                per_element * n
                    + OpCounts {
                        compare: n - 1,
                        ..Default::default()
                    }
                    + normalize_counts(cols, p.table_bits)
            }
            Softmax::Base2Shift(p) => {
                // quantize, then per element: subtract max, clamp, ·log2e with a rounding
                // add and shift, integer part by a shift (the fraction is the low bits),
                // Horner quadratic (2 mult, 2 add, 2 shift), shift by the integer part and
                // an underflow test
                let per_element = OpCounts {
                    fp32_mult: 1,
                    int32_add: 4,
                    compare: 2,
                    int32_mult: 3,
                    shift: 5,
                    ..Default::default()
                };
                per_element * n
                    + OpCounts {
                        compare: n - 1,
                        ..Default::default()
                    }
                    + normalize_counts(cols, p.exp_bits)
            }
        }
    }
}

/// Scores of one row in fixed point (`frac_bits`), minus the row maximum: every value ≤ 0.
/// Written back into the row as exact integers (|z| is clamped to `floor` ≤ 2^24).
fn centered_fixed(row: &mut [f32], frac_bits: u32, floor: i64) {
    let scale = (1u32 << frac_bits) as f32;
    let max = row.iter().map(|&x| round_i64(x * scale)).max().unwrap_or(0);
    for x in row.iter_mut() {
        let z = round_i64(*x * scale).saturating_sub(max);
        *x = z.max(-floor) as f32;
    }
}

impl LutExp {
    fn last_index(&self) -> usize {
        (self.input_range * (1u32 << self.input_frac_bits) as f32).floor() as usize
    }

    /// exp(−k·2^−input_frac_bits) with `table_bits` fraction bits, k = 0..=last_index.
    fn table(&self) -> Vec<u32> {
        let step = 1.0 / (1u32 << self.input_frac_bits) as f64;
        let one = (1u64 << self.table_bits) as f64;
        (0..=self.last_index())
            .map(|k| ((-(k as f64) * step).exp() * one).round() as u32)
            .collect()
    }

    fn exp_row(&self, row: &mut [f32], table: &[u32]) {
        let last = self.last_index() as i64;
        centered_fixed(row, self.input_frac_bits, last + 1);
        for x in row.iter_mut() {
            let k = -(*x as i64);
            *x = if k <= last {
                table[k as usize] as f32
            } else {
                0.0
            };
        }
    }
}

impl Base2Exp {
    fn exp_row(&self, row: &mut [f32]) {
        let f = self.input_frac_bits;
        let e = self.exp_bits;
        // Below t = −(e + 1) every term shifts to 0; clamp z there (in z units, with margin)
        // so the products stay small.
        let floor =
            (((e + 2) as f64 / std::f64::consts::LOG2_E) * (1u64 << f) as f64).ceil() as i64;
        centered_fixed(row, f, floor);
        let log2e = (std::f64::consts::LOG2_E * (1u64 << LOG2E_FRAC_BITS) as f64).round() as i64;
        let one = 1i64 << e;
        let c1 = (BASE2_POLY_A * one as f64).round() as i64;
        let c2 = ((1.0 - BASE2_POLY_A) * one as f64).round() as i64;
        let half = 1i64 << (LOG2E_FRAC_BITS - 1);
        for x in row.iter_mut() {
            let z = *x as i64;
            // t = z·log2 e in Q(f), rounded; t ≤ 0
            let t = (z * log2e + half) >> LOG2E_FRAC_BITS;
            // integer part (floor, ≤ 0) and fraction in [0, 2^f)
            let int_part = t >> f;
            let frac = t - (int_part << f);
            // Horner: one + frac·(c1 + frac·c2) in Q(e)
            let inner = c1 + ((frac * c2) >> f);
            let pow = one + ((frac * inner) >> f);
            let shift = -int_part;
            *x = if shift > e as i64 + 1 {
                0.0
            } else {
                (pow >> shift) as f32
            };
        }
    }
}

/// Turns a row of exp terms (unsigned integers, the largest 2^exp_bits) into probabilities
/// with `output_bits` fraction bits: exact integer sum, one integer reciprocal, one multiply
/// and one rounding shift per element.
fn normalize_row(row: &mut [f32], output_bits: u32) {
    let sum: u64 = row.iter().map(|&e| e as u64).sum();
    let recip = (1u64 << RECIPROCAL_BITS) / sum.max(1);
    let shift = RECIPROCAL_BITS - output_bits;
    let half = 1u64 << (shift - 1);
    let out_scale = 1.0 / (1u64 << output_bits) as f32;
    for x in row.iter_mut() {
        let p = ((*x as u64) * recip + half) >> shift;
        *x = p as f32 * out_scale;
    }
}

fn normalize_counts(cols: usize, exp_bits: u32) -> OpCounts {
    let n = cols as u64;
    let sum_width = IntWidth::for_bits(exp_bits + 1 + growth_bits(cols));
    OpCounts::int_add(sum_width, n - 1)
        + OpCounts {
            int_div: 1,
            int32_mult: n,
            int32_add: n,
            shift: n,
            ..Default::default()
        }
}
