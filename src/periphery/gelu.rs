//! GELU of the FFN intermediate activations, `GELU(x) = x·Φ(x) = ½·x·(1 + erf(x/√2))`.
//!
//! * [`Gelu::Erf`]: the exact form, fp32 (BERT's `gelu`), [`super::exact::gelu_erf`].
//! * [`Gelu::Tanh`]: `½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (`gelu_new`, GPT-2),
//!   [`super::exact::gelu_tanh`].
//! * [`Gelu::Lut`]: a table of GELU at `entries + 1` evenly spaced points of
//!   `[−range, range]` (fp32 entries), linearly interpolated; outside, GELU is taken as 0
//!   below and as `x` above (the error there is at most `range·Φ(−range)`).
//! * [`Gelu::IntPoly`]: I-BERT's integer GELU (Kim et al., ICML 2021): erf is replaced by
//!   `L(u) = sign(u)·(a·(min(|u|, −b) + b)² + 1)`, a = −0.2888, b = −1.769, evaluated on the
//!   quantized input with integer adds and multiplies only; the scales are folded into
//!   per-row integer constants. The per-row scale never resolves less than the clip point
//!   `−b·√2` so that `|min(|q|, −q_b) + q_b|` fits the input width.

use super::exact::{gelu_erf, gelu_tanh};
use super::fixed::{entry_counts, qmax, quantize};
use super::ops::{IntWidth, OpCounts};
use super::{check_positive, check_range, rows_of, ShapeError};
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// GELU implementation. Default: exact erf form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Gelu {
    /// Exact erf form, fp32.
    #[default]
    Erf,
    /// tanh approximation (`gelu_new`), fp32.
    Tanh,
    /// Linearly interpolated lookup table.
    Lut(GeluLut),
    /// I-BERT integer second-order polynomial.
    IntPoly(IntGelu),
}

/// Parameters of the table GELU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeluLut {
    /// Half-width of the tabulated interval [−range, range]. Default 4 (edge error
    /// 4·Φ(−4) ≈ 1.3e−4).
    pub range: f32,
    /// Number of intervals; the table holds `entries + 1` fp32 values. Default 256 (about
    /// 1 KB; interpolation error ≤ h²/8·max|GELU''| ≈ 9.7e−5 with h = 1/32).
    pub entries: u32,
}

impl Default for GeluLut {
    fn default() -> Self {
        Self {
            range: 4.0,
            entries: 256,
        }
    }
}

/// Parameters of the I-BERT integer GELU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntGelu {
    /// Bits of the signed integer input (per-row max-abs scale). Default 16.
    pub input_bits: u32,
}

impl Default for IntGelu {
    fn default() -> Self {
        Self { input_bits: 16 }
    }
}

/// I-BERT's polynomial coefficient `a` of `L(u)`.
pub const IBERT_A: f64 = -0.2888;
/// I-BERT's clip point `b` of `L(u)` (`|u|` is clipped at `−b`).
pub const IBERT_B: f64 = -1.769;

impl Gelu {
    /// Checks every parameter; `key` is the dotted path of this setting.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            Gelu::Erf | Gelu::Tanh => Ok(()),
            Gelu::Lut(p) => {
                check_positive(&format!("{key}.range"), p.range)?;
                check_range(&format!("{key}.entries"), p.entries, 2, 1 << 16)
            }
            Gelu::IntPoly(p) => check_range(&format!("{key}.input_bits"), p.input_bits, 4, 20),
        }
    }

    /// GELU of every value of `data` (`rows × cols`, row-major) in place. Rows matter only
    /// to the integer form, whose scale is per row.
    pub fn apply(&self, data: &mut [f32], cols: usize) -> Result<OpCounts, ShapeError> {
        let rows = rows_of("gelu", data.len(), cols)?;
        match self {
            Gelu::Erf => data.iter_mut().for_each(|x| *x = gelu_erf(*x)),
            Gelu::Tanh => data.iter_mut().for_each(|x| *x = gelu_tanh(*x)),
            Gelu::Lut(p) => {
                let table = p.table();
                data.iter_mut().for_each(|x| *x = p.eval(*x, &table));
            }
            Gelu::IntPoly(p) => data.chunks_exact_mut(cols).for_each(|row| p.row(row)),
        }
        Ok(self.counts(cols) * rows as u64)
    }

    /// Operations for one row of `cols` values.
    pub fn counts(&self, cols: usize) -> OpCounts {
        let n = cols as u64;
        match self {
            // x·(1/√2), erf, +1, ½·x, product
            Gelu::Erf => {
                OpCounts {
                    fp32_mult: 3,
                    fp32_add: 1,
                    fp32_erf: 1,
                    ..Default::default()
                } * n
            }
            // x², x³, 0.044715·x³, +x, ·√(2/π), tanh, +1, ½·x, product
            Gelu::Tanh => {
                OpCounts {
                    fp32_mult: 6,
                    fp32_add: 2,
                    fp32_tanh: 1,
                    ..Default::default()
                } * n
            }
            // two range tests; position (x + range)·(1/h); floor (the add-magic-constant
            // trick, an fp32 add); fraction; two reads; difference, ·fraction, +base
            Gelu::Lut(_) => {
                OpCounts {
                    compare: 2,
                    fp32_add: 5,
                    fp32_mult: 2,
                    table_lookup: 2,
                    ..Default::default()
                } * n
            }
            Gelu::IntPoly(p) => p.counts(cols),
        }
    }
}

impl GeluLut {
    fn step(&self) -> f32 {
        2.0 * self.range / self.entries as f32
    }

    fn table(&self) -> Vec<f32> {
        let h = self.step() as f64;
        (0..=self.entries)
            .map(|k| {
                let x = -self.range as f64 + k as f64 * h;
                (0.5 * x * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2))) as f32
            })
            .collect()
    }

    fn eval(&self, x: f32, table: &[f32]) -> f32 {
        if x < -self.range {
            return 0.0;
        }
        if x >= self.range {
            return x;
        }
        let u = (x + self.range) / self.step();
        // u ≥ 0 here, so truncation is floor
        let k = (u as usize).min(self.entries as usize - 1);
        let frac = u - k as f32;
        table[k] + frac * (table[k + 1] - table[k])
    }
}

impl IntGelu {
    fn row(&self, row: &mut [f32]) {
        let bits = self.input_bits;
        let clip = (-IBERT_B * std::f64::consts::SQRT_2) as f32;
        let range = row.iter().fold(clip, |m, &x| m.max(x.abs()));
        let inv = qmax(bits) as f32 / range;
        let s = range as f64 / qmax(bits) as f64;
        let s_erf = s * std::f64::consts::FRAC_1_SQRT_2;
        let scale_l = IBERT_A * s_erf * s_erf;
        let q_b = (IBERT_B / s_erf).floor() as i64;
        // ⌊1/scale_l⌋ is both L's constant term (I-BERT's q_c) and GELU's `1 +`
        let q_one = (1.0 / scale_l).floor() as i64;
        let out_scale = (s * scale_l / 2.0) as f32;
        for x in row.iter_mut() {
            let q = quantize(*x, inv, bits);
            let clipped = q.abs().min(-q_b);
            let poly = (clipped + q_b).pow(2) + q_one;
            let l = if q < 0 { -poly } else { poly };
            *x = (q * (l + q_one)) as f32 * out_scale;
        }
    }

    fn counts(&self, cols: usize) -> OpCounts {
        let n = cols as u64;
        let b = self.input_bits;
        let poly_bits = 2 * b + 1; // (|q| + q_b)² + q_1 spans ±2.2·qmax²
        let per_row = OpCounts {
            compare: 1,   // range at least the clip point
            fp32_mult: 4, // s, s/√2, its square, a·s²
            fp32_div: 2,  // q_b, q_1
            ..Default::default()
        };
        let per_element = OpCounts {
            compare: 2, // sign/abs, clip
            ..Default::default()
        } + OpCounts::int_add(IntWidth::for_bits(b + 1), 1) // + q_b
            + OpCounts::int_mult(IntWidth::for_bits(b + 1), 1) // square
            + OpCounts::int_add(IntWidth::for_bits(poly_bits), 2) // + q_c (= q_1), sign
            + OpCounts::int_add(IntWidth::for_bits(poly_bits + 1), 1) // + q_1 (GELU's 1 +)
            + OpCounts::int_mult(IntWidth::for_bits(poly_bits + 1), 1); // q · (L + q_1)
        entry_counts(n) + per_row + per_element * n
    }
}
