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
use std::ops::{Add, Mul};

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
    Ok(product(a, b, (m, n, k), out, precision, Layout::Transposed))
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
    Ok(product(a, b, (m, n, k), out, precision, Layout::Plain))
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

/// How B is stored: n × k for the score product (Bᵀ is used), k × n for the context.
#[derive(Clone, Copy)]
enum Layout {
    Transposed,
    Plain,
}

fn product(
    a: &[f32],
    b: &[f32],
    (m, n, k): (usize, usize, usize),
    out: &mut [f32],
    precision: AttentionPrecision,
    layout: Layout,
) -> OpCounts {
    if k == 0 || n == 0 {
        out.fill(0.0); // empty sums (and nothing at all when n = 0)
        return matmul_counts(m, n, k, precision);
    }
    match precision {
        AttentionPrecision::Float32 => multiply(a, b, (n, k), out, layout),
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
            let mut acc = vec![0i32; out.len()];
            multiply(&qa, &qb, (n, k), &mut acc, layout);
            for (o, v) in out.iter_mut().zip(acc) {
                *o = v as f32 * rescale;
            }
        }
    }
    matmul_counts(m, n, k, precision)
}

/// out = A·Bᵀ or A·B in the arithmetic of `T` (n, k ≥ 1): dot products of contiguous rows
/// for Bᵀ, row updates `out[i,:] += A[i,p]·B[p,:]` for B; both loops vectorize.
fn multiply<T>(a: &[T], b: &[T], (n, k): (usize, usize), out: &mut [T], layout: Layout)
where
    T: Copy + Default + Add<Output = T> + Mul<Output = T>,
{
    for (a_row, out_row) in a.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
        match layout {
            Layout::Transposed => {
                for (o, b_row) in out_row.iter_mut().zip(b.chunks_exact(k)) {
                    *o = dot(a_row, b_row);
                }
            }
            Layout::Plain => {
                out_row.fill(T::default());
                for (&x, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
                    for (o, &y) in out_row.iter_mut().zip(b_row) {
                        *o = *o + x * y;
                    }
                }
            }
        }
    }
}

/// Dot product with eight independent partial sums so that the loop vectorizes; for floats
/// the summation order differs from left-to-right only within rounding.
fn dot<T>(a: &[T], b: &[T]) -> T
where
    T: Copy + Default + Add<Output = T> + Mul<Output = T>,
{
    const LANES: usize = 8;
    let (a8, b8) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .fold(T::default(), |s, (&x, &y)| s + x * y);
    let mut lanes = [T::default(); LANES];
    for (x, y) in a8.zip(b8) {
        for l in 0..LANES {
            lanes[l] = lanes[l] + x[l] * y[l];
        }
    }
    lanes.iter().fold(tail, |s, &v| s + v)
}
