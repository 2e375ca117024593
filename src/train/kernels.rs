//! The numeric pieces of training: linear layers forward and backward, LayerNorm and its
//! gradient, the activations' derivatives, softmax's gradient.
//!
//! Every product runs through the engine's single-threaded [`gemm_strided`] on blocks of a
//! fixed size, and rayon spreads the blocks over threads. A block's result does not depend on
//! which thread computes it or how many there are, and no sum is ever split between blocks
//! (the weight gradient dW = dYᵀ·X is split along its output rows, never along the tokens it
//! sums over), so training is bit-identical for any number of threads.

use rayon::prelude::*;

use crate::model::activations::HiddenAct;
use crate::model::matrix::{gemm_strided, StridedRef};
use crate::model::Matrix;
use crate::periphery::exact::{erf, exp, tanh};

/// Rows (or output features) per parallel block.
const BLOCK: usize = 64;

/// `y = x·Wᵀ + b` with `W` stored `out × in` (row-major).
pub fn linear_forward(x: &Matrix, weight: &[f32], bias: &[f32]) -> Matrix {
    let (m, k, n) = (x.rows(), x.cols(), bias.len());
    debug_assert_eq!(weight.len(), n * k);
    let mut y = Matrix::zeros(m, n);
    let xs = x.as_slice();
    y.as_mut_slice()
        .par_chunks_mut(BLOCK * n)
        .enumerate()
        .for_each(|(block, out)| {
            let rows = out.len() / n;
            out.chunks_exact_mut(n)
                .for_each(|r| r.copy_from_slice(bias));
            let first = block * BLOCK * k;
            gemm_strided(
                rows,
                k,
                n,
                StridedRef::row_major(&xs[first..first + rows * k], k),
                transposed(weight, k),
                1.0,
                out,
                n,
            );
        });
    y
}

/// `Wᵀ` of a row-major `out × in` weight as a strided `in × out` view.
fn transposed(weight: &[f32], in_features: usize) -> StridedRef<'_> {
    StridedRef {
        data: weight,
        row_stride: 1,
        col_stride: in_features,
    }
}

/// The gradients of `y = x·Wᵀ + b`: adds dyᵀ·x to `d_weight` and the column sums of `dy` to
/// `d_bias`; returns dx = dy·W.
pub fn linear_backward(
    x: &Matrix,
    weight: &[f32],
    dy: &Matrix,
    d_weight: &mut [f32],
    d_bias: &mut [f32],
) -> Matrix {
    let (m, k, n) = (x.rows(), x.cols(), dy.cols());
    debug_assert_eq!(dy.rows(), m);
    let dys = dy.as_slice();
    let xs = x.as_slice();
    // dW (n × k) += dyᵀ (n × m) · x (m × k), one block of output rows per task.
    d_weight
        .par_chunks_mut(BLOCK * k)
        .enumerate()
        .for_each(|(block, out)| {
            let rows = out.len() / k;
            let first = block * BLOCK;
            let dy_t = StridedRef {
                data: &dys[first..],
                row_stride: 1,
                col_stride: n,
            };
            gemm_strided(rows, m, k, dy_t, StridedRef::row_major(xs, k), 1.0, out, k);
        });
    for row in dys.chunks_exact(n) {
        d_bias.iter_mut().zip(row).for_each(|(b, g)| *b += g);
    }
    let mut dx = Matrix::zeros(m, k);
    dx.as_mut_slice()
        .par_chunks_mut(BLOCK * k)
        .enumerate()
        .for_each(|(block, out)| {
            let rows = out.len() / k;
            let first = block * BLOCK * n;
            gemm_strided(
                rows,
                n,
                k,
                StridedRef::row_major(&dys[first..first + rows * n], n),
                StridedRef::row_major(weight, k),
                0.0,
                out,
                k,
            );
        });
    dx
}

/// What LayerNorm's backward pass needs: the normalized rows and 1/σ of each row.
pub struct LayerNormCache {
    pub normalized: Matrix,
    pub inv_std: Vec<f32>,
}

/// LayerNorm of every row of `x` in place (the statistics in `f64`, as the inference
/// engine computes them), keeping what the gradient needs.
pub fn layer_norm_forward(x: &mut Matrix, gamma: &[f32], beta: &[f32], eps: f64) -> LayerNormCache {
    let cols = x.cols();
    let mut normalized = Matrix::zeros(x.rows(), cols);
    let mut inv_std = vec![0.0f32; x.rows()];
    x.as_mut_slice()
        .par_chunks_mut(cols)
        .zip(normalized.as_mut_slice().par_chunks_mut(cols))
        .zip(inv_std.par_iter_mut())
        .for_each(|((row, hat), s)| {
            let n = cols as f64;
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            *s = (1.0 / (var + eps).sqrt()) as f32;
            let mean = mean as f32;
            for (((v, h), g), b) in row.iter_mut().zip(hat.iter_mut()).zip(gamma).zip(beta) {
                *h = (*v - mean) * *s;
                *v = *h * g + b;
            }
        });
    LayerNormCache {
        normalized,
        inv_std,
    }
}

/// The gradients of LayerNorm: adds Σ dy·x̂ to `d_gamma` and Σ dy to `d_beta`, and turns
/// `dy` into dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ.
pub fn layer_norm_backward(
    cache: &LayerNormCache,
    gamma: &[f32],
    dy: &mut Matrix,
    d_gamma: &mut [f32],
    d_beta: &mut [f32],
) {
    let cols = dy.cols();
    for (row, hat) in dy
        .as_slice()
        .chunks_exact(cols)
        .zip(cache.normalized.as_slice().chunks_exact(cols))
    {
        for j in 0..cols {
            d_gamma[j] += row[j] * hat[j];
            d_beta[j] += row[j];
        }
    }
    dy.as_mut_slice()
        .par_chunks_mut(cols)
        .zip(cache.normalized.as_slice().par_chunks(cols))
        .zip(cache.inv_std.par_iter())
        .for_each(|((row, hat), &s)| {
            let n = cols as f32;
            let (mut sum_g, mut sum_gx) = (0.0f32, 0.0f32);
            for j in 0..cols {
                let g = row[j] * gamma[j];
                sum_g += g;
                sum_gx += g * hat[j];
            }
            let (mean_g, mean_gx) = (sum_g / n, sum_gx / n);
            for j in 0..cols {
                row[j] = s * (row[j] * gamma[j] - mean_g - hat[j] * mean_gx);
            }
        });
}

/// The activation applied to a copy of `pre` (the pre-activation is kept for the gradient).
pub fn activation_forward(act: HiddenAct, pre: &Matrix) -> Matrix {
    let mut out = pre.clone();
    out.as_mut_slice()
        .par_chunks_mut(4096)
        .for_each(|c| act.apply(c));
    out
}

/// Multiplies `d` (the gradient of the activation's output) by the activation's derivative
/// at `pre`.
pub fn activation_backward(act: HiddenAct, pre: &Matrix, d: &mut Matrix) {
    d.as_mut_slice()
        .par_chunks_mut(4096)
        .zip(pre.as_slice().par_chunks(4096))
        .for_each(|(d, x)| {
            for (d, &x) in d.iter_mut().zip(x) {
                *d *= derivative(act, x);
            }
        });
}

/// d/dx of the activation.
fn derivative(act: HiddenAct, x: f32) -> f32 {
    match act {
        // x·Φ(x): Φ(x) + x·φ(x), with Φ from the forward pass's own erf.
        HiddenAct::Gelu => {
            let density = exp(-0.5 * x * x) * 0.398_942_3; // 1/√(2π)
            let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
            cdf + x * density
        }
        // ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³).
        HiddenAct::GeluTanh => {
            const SQRT_2_OVER_PI: f32 = 0.797_884_6;
            let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
            let t = tanh(u);
            let du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044_715 * x * x);
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
        }
        HiddenAct::Relu => {
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Softmax's gradient for one row: ds = p ⊙ (dp − Σ dp·p), in place of `dp`.
pub fn softmax_backward(p: &[f32], dp: &mut [f32]) {
    let dot: f32 = p.iter().zip(dp.iter()).map(|(a, b)| a * b).sum();
    for (d, &pv) in dp.iter_mut().zip(p) {
        *d = pv * (*d - dot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act_value(act: HiddenAct, x: f32) -> f32 {
        let mut v = [x];
        act.apply(&mut v);
        v[0]
    }

    #[test]
    fn activation_derivatives_match_central_differences() {
        // Step 1e-2 in f64 of the f32 functions: tolerance 2e-3 covers the f32 rounding of
        // the function values divided by the step.
        for act in [HiddenAct::Gelu, HiddenAct::GeluTanh, HiddenAct::Relu] {
            for i in -40..=40 {
                let x = i as f32 * 0.1 + 0.05;
                let h = 1e-2f32;
                let numeric = (act_value(act, x + h) as f64 - act_value(act, x - h) as f64)
                    / (2.0 * h as f64);
                let analytic = derivative(act, x) as f64;
                assert!(
                    (numeric - analytic).abs() < 2e-3,
                    "{act:?} at {x}: numeric {numeric}, analytic {analytic}"
                );
            }
        }
    }

    #[test]
    fn linear_backward_matches_hand_computed_products() {
        // x = [[1,2],[3,4],[5,6]], W = [[1,0],[2,1]] (2 outputs), dy = [[1,0],[0,1],[1,1]].
        let x = Matrix::from_vec(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let w = [1.0, 0.0, 2.0, 1.0];
        let dy = Matrix::from_vec(3, 2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let (mut dw, mut db) = (vec![0.0; 4], vec![0.0; 2]);
        let dx = linear_backward(&x, &w, &dy, &mut dw, &mut db);
        // dW = dyᵀ·x = [[1+5, 2+6], [3+5, 4+6]]; db = [2, 2]; dx = dy·W.
        assert_eq!(dw, vec![6.0, 8.0, 8.0, 10.0]);
        assert_eq!(db, vec![2.0, 2.0]);
        assert_eq!(dx.as_slice(), &[1.0, 0.0, 2.0, 1.0, 3.0, 1.0]);
        let y = linear_forward(&x, &w, &[0.5, -1.0]);
        assert_eq!(y.as_slice(), &[1.5, 3.0, 3.5, 9.0, 5.5, 15.0]);
    }
}
