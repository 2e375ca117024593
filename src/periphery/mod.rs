//! The digital periphery: softmax, LayerNorm, GELU and the attention score products.
//!
//! On a crossbar accelerator only the weight-stationary matrix–vector products run in the
//! analog arrays. Everything else in a BERT layer is digital logic next to them, and that
//! logic is designed to a precision: it may compute in fp32, or in fixed point with lookup
//! tables, shifts and integer polynomials (I-BERT, ICML 2021; Softermax, DAC 2021). Those
//! choices change both the numbers the model sees and the energy spent, so each function
//! here is a selectable implementation behind a serde config enum, and each returns the
//! [`OpCounts`] of what it did, which the energy roll-up prices per operation kind.
//!
//! Conventions shared by every function:
//! * data is a row-major `f32` buffer of `rows × cols`, processed in place row by row with no
//!   per-row allocation; a buffer whose length is not a multiple of `cols` is an error;
//! * fixed-point implementations take their input into the integer domain with a per-row
//!   max-abs scale (a max search, one reciprocal and one multiply per element, all counted:
//!   in an integer pipeline this is the requantization of the incoming accumulator) and
//!   return the result as `f32` holding exactly the fixed-point value (the hand-back to the
//!   float emulation is a change of representation and is not counted);
//! * counts are those of a fixed pipeline that performs every step for every element and
//!   selects the result (clipping and range tests included), so they depend on the shape
//!   and the configuration only, never on the data.

pub mod attention;
pub mod exact;
pub mod gelu;
pub mod layernorm;
pub mod ops;
pub mod softmax;

mod fixed;

pub use attention::{matmul_a_b, matmul_a_bt, matmul_counts, AttentionPrecision};
pub use gelu::{Gelu, GeluLut, IntGelu};
pub use layernorm::{FixedLayerNorm, LayerNorm};
pub use ops::{IntWidth, OpCounts};
pub use softmax::{Base2Exp, LutExp, Softmax};

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// The periphery section of a hardware description. Default: all float, attention in fp32.
///
/// ```toml
/// [periphery]
/// softmax = { kind = "base2-shift", input_frac_bits = 8 }  # float | fixed-lut | base2-shift
/// layernorm = { kind = "fixed-point" }                     # float | fixed-point
/// gelu = { kind = "int-poly", input_bits = 16 }            # erf | tanh | lut | int-poly
/// attention = "int8"                                       # float32 | int8
/// ```
/// Parameters left out take the defaults documented on each parameter struct.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeripheryConfig {
    /// Softmax over attention scores. Default: float.
    pub softmax: Softmax,
    /// LayerNorm after attention and after the FFN. Default: float.
    pub layernorm: LayerNorm,
    /// GELU of the FFN. Default: exact erf form.
    pub gelu: Gelu,
    /// Precision of the digital attention products Q·Kᵀ and softmax·V. Default: fp32.
    pub attention: AttentionPrecision,
}

impl PeripheryConfig {
    /// Checks every parameter; `key` is the dotted path of this section (e.g. `periphery`).
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        self.softmax.validate(&format!("{key}.softmax"))?;
        self.layernorm.validate(&format!("{key}.layernorm"))?;
        self.gelu.validate(&format!("{key}.gelu"))
    }
}

/// The sizes that fix the digital work of one BERT encoder layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderLayerShape {
    /// Tokens in the sequence.
    pub seq: usize,
    /// Hidden size.
    pub hidden: usize,
    /// Attention heads (head size = hidden / heads).
    pub heads: usize,
    /// FFN intermediate size.
    pub intermediate: usize,
}

impl PeripheryConfig {
    /// Periphery operations of one encoder layer, as the model performs them: per score one
    /// fp32 multiply by 1/√head_size and one fp32 add of the attention mask, softmax over
    /// heads·seq rows of seq scores, the FFN activation over seq rows of `intermediate`
    /// (`activation`: its operations on one row, which the caller knows, since float GELU
    /// choices keep the checkpoint's own activation), two residual adds (fp32, seq·hidden
    /// each) and two LayerNorms over seq rows of `hidden`. Bias adds and rescaling belong
    /// to the linear layers and are not included.
    pub fn encoder_layer_ops(&self, s: &EncoderLayerShape, activation: OpCounts) -> OpCounts {
        let scores = (s.heads * s.seq * s.seq) as u64;
        let score_prep = OpCounts {
            fp32_mult: scores,
            fp32_add: scores,
            ..Default::default()
        };
        let residuals = OpCounts {
            fp32_add: 2 * (s.seq * s.hidden) as u64,
            ..Default::default()
        };
        let rows = s.seq as u64;
        score_prep
            + self.softmax.counts(s.seq) * (s.heads as u64 * rows)
            + activation * rows
            + residuals
            + self.layernorm.counts(s.hidden) * (2 * rows)
    }

    /// Operations of the attention products of one encoder layer: per head, Q·Kᵀ
    /// (seq × d by d × seq) and P·V (seq × seq by seq × d), d = hidden / heads.
    pub fn encoder_attention_ops(&self, s: &EncoderLayerShape) -> OpCounts {
        let d = s.hidden / s.heads.max(1);
        let per_head = matmul_counts(s.seq, s.seq, d, self.attention)
            + matmul_counts(s.seq, d, s.seq, self.attention);
        per_head * s.heads as u64
    }
}

/// A buffer whose shape does not match what the function was told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{function}: expected {expected}, found {found}")]
pub struct ShapeError {
    /// The periphery function that refused the buffer, e.g. `softmax`.
    pub function: &'static str,
    pub expected: String,
    pub found: String,
}

/// Number of rows of a row-major buffer of `len` values with `cols` columns.
pub(crate) fn rows_of(
    function: &'static str,
    len: usize,
    cols: usize,
) -> Result<usize, ShapeError> {
    if len.checked_rem(cols) != Some(0) {
        return Err(ShapeError {
            function,
            expected: format!(
                "a row-major buffer whose length is a multiple of cols = {cols} (cols > 0)"
            ),
            found: format!("length {len}"),
        });
    }
    Ok(len / cols)
}

/// Checks that a per-feature parameter vector (γ, β) has one value per column.
pub(crate) fn check_len(
    function: &'static str,
    what: &str,
    len: usize,
    cols: usize,
) -> Result<(), ShapeError> {
    if len != cols {
        return Err(ShapeError {
            function,
            expected: format!("{what} with one value per feature ({cols})"),
            found: format!("{len} values"),
        });
    }
    Ok(())
}

/// Ensures `lo <= value <= hi` for an integer parameter.
pub(crate) fn check_range(key: &str, value: u32, lo: u32, hi: u32) -> Result<(), ConfigError> {
    if value < lo || value > hi {
        return Err(ConfigError::new(
            key,
            format!("an integer in {lo}..={hi}"),
            value,
        ));
    }
    Ok(())
}

/// Ensures a float parameter is finite and positive.
pub(crate) fn check_positive(key: &str, value: f32) -> Result<(), ConfigError> {
    if !(value.is_finite() && value > 0.0) {
        return Err(ConfigError::new(key, "a finite number > 0", value));
    }
    Ok(())
}
