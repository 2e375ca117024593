//! The attention score products, which have no static weights and so run digitally by
//! default: scores = Q·Kᵀ (per head, `seq × seq` from `seq × head_dim` operands) and
//! context = P·V (`seq × head_dim` from `seq × seq` probabilities and `seq × head_dim`).
//!
//! Two stated precisions:
//! * [`AttentionPrecision::Float32`]: fp32 multiply–accumulate;
//! * [`AttentionPrecision::Int8`]: each operand quantized to int8 with one symmetric
//!   per-tensor scale (max |value| / 127, found by a max search), int8 × int8 products
//!   accumulated in int32, the result rescaled by the product of the two scales.
//!
//! A dot product of length k is counted as k multiplies and k − 1 adds.

use super::fixed::{entry_counts, inverse_scale, quantize};
use super::ops::OpCounts;
use super::ShapeError;
use serde::{Deserialize, Serialize};

/// Arithmetic precision of the digital attention products. Default: fp32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttentionPrecision {
    #[default]
    Float32,
    Int8,
}

/// out (m × n) = A (m × k) · Bᵀ, with B stored row-major as n × k: the score product
/// Q·Kᵀ without transposing K.
pub fn matmul_a_bt(
    a: &[f32],
    b: &[f32],
    (m, n, k): (usize, usize, usize),
    out: &mut [f32],
    precision: AttentionPrecision,
) -> Result<OpCounts, ShapeError> {
    check_shapes(a.len(), b.len(), out.len(), m, n, k)?;
    product(a, b, m, n, k, out, precision, |j, p| j * k + p)
}

/// out (m × n) = A (m × k) · B (k × n), all row-major: the context product P·V.
pub fn matmul_a_b(
    a: &[f32],
    b: &[f32],
    (m, n, k): (usize, usize, usize),
    out: &mut [f32],
    precision: AttentionPrecision,
) -> Result<OpCounts, ShapeError> {
    check_shapes(a.len(), b.len(), out.len(), m, n, k)?;
    product(a, b, m, n, k, out, precision, |j, p| p * n + j)
}

/// Operations of one (m × k)·(k × n) product at `precision`, without running it.
pub fn matmul_counts(m: usize, n: usize, k: usize, precision: AttentionPrecision) -> OpCounts {
    let (m, n, k) = (m as u64, n as u64, k as u64);
    let dots = m * n;
    let sum_adds = dots * k.saturating_sub(1);
    match precision {
        AttentionPrecision::Float32 => OpCounts {
            fp32_mult: dots * k,
            fp32_add: sum_adds,
            ..Default::default()
        },
        AttentionPrecision::Int8 => {
            entry_counts(m * k)
                + entry_counts(n * k)
                + OpCounts {
                    int8_mult: dots * k,
                    int32_add: sum_adds,
                    // the product of the two scales, then one rescale per output
                    fp32_mult: 1 + dots,
                    ..Default::default()
                }
        }
    }
}

fn check_shapes(
    a: usize,
    b: usize,
    out: usize,
    m: usize,
    n: usize,
    k: usize,
) -> Result<(), ShapeError> {
    if a != m * k || b != n * k || out != m * n {
        return Err(ShapeError {
            function: "attention product",
            expected: format!(
                "A of {m}×{k} = {}, B of {} values, out of {m}×{n} = {}",
                m * k,
                n * k,
                m * n
            ),
            found: format!("A {a}, B {b}, out {out}"),
        });
    }
    Ok(())
}

/// The shared loop: `b_at(j, p)` is the index in `b` of the element multiplying A[i, p]
/// for output column j.
#[allow(clippy::too_many_arguments)]
fn product(
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    precision: AttentionPrecision,
    b_at: impl Fn(usize, usize) -> usize,
) -> Result<OpCounts, ShapeError> {
    match precision {
        AttentionPrecision::Float32 => {
            for i in 0..m {
                let a_row = &a[i * k..(i + 1) * k];
                for j in 0..n {
                    out[i * n + j] = a_row
                        .iter()
                        .enumerate()
                        .map(|(p, &x)| x * b[b_at(j, p)])
                        .sum();
                }
            }
        }
        AttentionPrecision::Int8 => {
            // Quantized once per call (one allocation per operand, not per row).
            let (inv_a, inv_b) = (inverse_scale(a, 8), inverse_scale(b, 8));
            let qa: Vec<i32> = a.iter().map(|&x| quantize(x, inv_a, 8) as i32).collect();
            let qb: Vec<i32> = b.iter().map(|&x| quantize(x, inv_b, 8) as i32).collect();
            let rescale = if inv_a > 0.0 && inv_b > 0.0 {
                1.0 / (inv_a * inv_b)
            } else {
                0.0
            };
            for i in 0..m {
                let a_row = &qa[i * k..(i + 1) * k];
                for j in 0..n {
                    let acc: i32 = a_row
                        .iter()
                        .enumerate()
                        .map(|(p, &x)| x * qb[b_at(j, p)])
                        .sum();
                    out[i * n + j] = acc as f32 * rescale;
                }
            }
        }
    }
    Ok(matmul_counts(m, n, k, precision))
}
