//! The exact non-linear functions in `f32`: `exp`, `erf`, `tanh`, both GELU forms, softmax
//! and LayerNorm. They are the digital engine's functions and the fp32 choices of the
//! periphery ([`super::Softmax::Float`], [`super::LayerNorm::Float`], [`super::Gelu::Erf`],
//! [`super::Gelu::Tanh`]), so an fp32 periphery computes exactly what the digital engine
//! computes; this file is their one home.
//!
//! `exp` and `erf` are our own branch-free polynomial forms so that the compiler vectorises
//! the loops over a whole row: the library functions are scalar calls and would cost more
//! than the matrix products on SST-2. Their error bounds are stated below and tested against
//! `f64` references.

/// `eˣ` in `f32`, relative error below 3e-7 for x in [-87, 88]; 0 below -87, `e^88` above 88.
///
/// Range reduction x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two parts so n·ln2 is exact),
/// then the degree-7 Taylor polynomial of eʳ (truncation error |r|⁸/8! < 6e-9) and 2ⁿ built
/// directly in the exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75; // ln 2 with the low 12 mantissa bits zero
    const LN2_LO: f32 = 1.428_606_8e-6; // ln 2 − LN2_HI
                                        // Adding and subtracting 1.5·2²³ rounds to the nearest integer under the default
                                        // rounding mode, without a call to `round` (which would not vectorise on plain x86-64).
    const ROUND: f32 = 12_582_912.0;
    let underflow = x < -87.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let two_n = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if underflow {
        0.0
    } else {
        p * two_n
    }
}

/// The error function, absolute error below 5e-7.
///
/// For |x| ≥ 0.5, Abramowitz & Stegun 7.1.26 (formula error 1.5e-7, plus `f32` rounding);
/// below 0.5 that form loses digits to cancellation (1 − a number near 1), so the Maclaurin
/// series `2/√π·(x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216 − x¹¹/1320)` is used (truncation error
/// below 3e-8 there). Both are computed and one selected, which keeps loops vectorisable.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_8,
        -1.453_152,
        1.061_405_4,
    ];
    const TWO_OVER_SQRT_PI: f32 = std::f32::consts::FRAC_2_SQRT_PI;
    const S: [f32; 6] = [
        TWO_OVER_SQRT_PI,
        -TWO_OVER_SQRT_PI / 3.0,
        TWO_OVER_SQRT_PI / 10.0,
        -TWO_OVER_SQRT_PI / 42.0,
        TWO_OVER_SQRT_PI / 216.0,
        -TWO_OVER_SQRT_PI / 1320.0,
    ];
    let ax = x.abs();
    let t = 1.0 / (1.0 + P * ax);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let tail_form = 1.0 - poly * exp(-ax * ax);
    let z = ax * ax;
    let series = ax * (S[0] + z * (S[1] + z * (S[2] + z * (S[3] + z * (S[4] + z * S[5])))));
    let y = if ax < 0.5 { series } else { tail_form };
    y.copysign(x)
}

/// GELU with the exact Gaussian CDF: `½x(1 + erf(x/√2))`.
#[inline(always)]
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `tanh` from `exp`: `1 − 2/(e^{2u} + 1)`, absolute error below 1e-6.
#[inline(always)]
pub fn tanh(u: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * u) + 1.0)
}

/// GELU's tanh approximation, as Hugging Face's "gelu_new".
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)))
}

/// Softmax of one row in place: `exp(x − max) / Σ exp(x − max)`, summed left to right.
pub fn softmax_row(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in row.iter_mut() {
        *v = exp(*v - max);
    }
    let sum: f32 = row.iter().sum();
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// LayerNorm of one token's features in place: `(x − mean)/√(var + eps)·gamma + beta`, with
/// the biased variance (as PyTorch). Mean and variance are accumulated in `f64`.
pub fn layer_norm_row(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let inv_std = (1.0 / (var + eps).sqrt()) as f32;
    let mean = mean as f32;
    for ((v, g), b) in x.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv_std * g + b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dense grid over [lo, hi] with `n` points.
    fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    #[test]
    fn exp_relative_error_below_3e7() {
        for x in grid(-87.0, 88.0, 200_000) {
            let exact = (x as f64).exp();
            let rel = ((exp(x) as f64 - exact) / exact).abs();
            assert!(rel < 3e-7, "exp({x}): relative error {rel:e}");
        }
        assert_eq!(exp(-100.0), 0.0);
    }

    #[test]
    fn erf_absolute_error_below_5e7() {
        for x in grid(-8.0, 8.0, 200_000) {
            let exact = statrs::function::erf::erf(x as f64);
            let err = (erf(x) as f64 - exact).abs();
            assert!(err < 5e-7, "erf({x}): error {err:e}");
        }
    }

    #[test]
    fn gelu_forms_match_their_definitions() {
        for x in grid(-10.0, 10.0, 20_000) {
            let xd = x as f64;
            let exact = 0.5 * xd * (1.0 + statrs::function::erf::erf(xd / 2f64.sqrt()));
            // erf error 5e-7 scaled by x/2, plus f32 rounding of the result.
            let bound = 3e-7 * xd.abs().max(1.0);
            assert!((gelu_erf(x) as f64 - exact).abs() < bound, "gelu({x})");
            let u = (2.0 / std::f64::consts::PI).sqrt() * (xd + 0.044715 * xd.powi(3));
            let exact_tanh = 0.5 * xd * (1.0 + u.tanh());
            let bound = 1e-6 * xd.abs().max(1.0);
            assert!(
                (gelu_tanh(x) as f64 - exact_tanh).abs() < bound,
                "gelu_new({x})"
            );
        }
    }

    #[test]
    fn softmax_sums_to_one_and_ignores_a_common_shift() {
        let mut a = vec![1.0, 2.0, 3.0, -1.0];
        let mut b: Vec<f32> = a.iter().map(|v| v + 50.0).collect();
        softmax_row(&mut a);
        softmax_row(&mut b);
        assert!((a.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // e^1/(e^1+e^2+e^3+e^-1) computed by hand: 2.71828/(2.71828+7.38906+20.08554+0.36788)
        assert!((a[0] - 0.088_946).abs() < 1e-5);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6);
        }
    }

    #[test]
    fn layer_norm_of_known_vector() {
        // x = [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        layer_norm_row(&mut x, &[1.0, 1.0, 2.0, 1.0], &[0.0, 0.0, 0.0, 1.0], 0.0);
        let s = 1.25f32.sqrt();
        let want = [-1.5 / s, -0.5 / s, 2.0 * 0.5 / s, 1.5 / s + 1.0];
        for (a, b) in x.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
