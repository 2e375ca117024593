//! Accuracy and operation counts of the digital periphery.
//!
//! Every approximation is checked against the exact function (computed in f64) with a
//! stated maximum error over a stated input range, on dense grids and on random inputs.
//! Random inputs come from ChaCha8 seeded with the constant named in each test.

use crossbert::periphery::{
    matmul_a_b, matmul_a_bt, matmul_counts, AttentionPrecision, Base2Exp, EncoderLayerShape,
    FixedLayerNorm, Gelu, GeluLut, IntGelu, LayerNorm, LutExp, OpCounts, PeripheryConfig, Softmax,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Unit roundoff of f32.
const U: f64 = 1.0 / (1u64 << 24) as f64;

fn normal_rows(seed: u64, rows: usize, cols: usize, mean: f32, sd: f32) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = Normal::new(mean, sd).unwrap();
    (0..rows * cols).map(|_| d.sample(&mut rng)).collect()
}

fn softmax_ref(row: &[f32]) -> Vec<f64> {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    let e: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

fn gelu_ref(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

/// Softmax rows used by the accuracy tests: two-element rows [0, t] over a dense grid of t in
/// [−20, 20] step 1/64 (where softmax is the logistic function), and 64 random rows of 128
/// scores ~ N(0, 3²) (seed 11), roughly the spread of BERT attention scores.
fn softmax_cases() -> Vec<(usize, Vec<f32>)> {
    let grid: Vec<f32> = (-1280..=1280)
        .flat_map(|i| [0.0, i as f32 / 64.0])
        .collect();
    vec![(2, grid), (128, normal_rows(11, 64, 128, 0.0, 3.0))]
}

#[test]
fn float_softmax_matches_reference_to_rounding() {
    for (cols, data) in softmax_cases() {
        let mut out = data.clone();
        Softmax::Float.apply(&mut out, cols).unwrap();
        for (row, got) in data.chunks(cols).zip(out.chunks(cols)) {
            let max_z = row.iter().fold(0.0f32, |m, &x| m.max(x.abs())) as f64 * 2.0;
            // relative: n roundings in the sum, |z|·u from rounding the exponent argument,
            // a few more for exp, the reciprocal and the product
            let rel = (cols as f64 + max_z + 8.0) * U;
            for (p, r) in got.iter().zip(softmax_ref(row)) {
                assert!((*p as f64 - r).abs() <= rel * r + 1e-38, "{p} vs {r}");
            }
        }
    }
}

/// Max |p − p_ref| bound of a fixed-point softmax whose exp terms carry a log-error of at
/// most `eps` plus an absolute error of `abs_terms` (relative to the largest term, which is
/// 1): a log-error ε on individual terms moves a probability by at most tanh(ε/2) (the
/// worst case is one term pushed up by ε and the rest down); the absolute errors of n terms
/// move it by at most their sum; output rounding adds half an output unit.
fn fixed_softmax_bound(eps: f64, abs_terms: f64, output_bits: u32) -> f64 {
    (eps / 2.0).tanh() + abs_terms + 0.5 / (1u64 << output_bits) as f64
}

/// Checks a fixed-point softmax against the exact one on [`softmax_cases`] with the bound
/// `bound_for(n)`, and that rows sum to 1; returns the largest error seen.
fn check_fixed_softmax(sm: &Softmax, output_bits: u32, bound_for: impl Fn(usize) -> f64) -> f64 {
    let mut overall = 0.0f64;
    for (cols, data) in softmax_cases() {
        let mut out = data.clone();
        sm.apply(&mut out, cols).unwrap();
        let bound = bound_for(cols);
        let mut worst = 0.0f64;
        for (row, got) in data.chunks(cols).zip(out.chunks(cols)) {
            for (p, r) in got.iter().zip(softmax_ref(row)) {
                worst = worst.max((*p as f64 - r).abs());
            }
            let sum: f64 = got.iter().map(|&p| p as f64).sum();
            // rows sum to 1 within the rounding of n outputs and of the reciprocal 2^47/sum
            let sum_bound = cols as f64 * 0.5 / (1u64 << output_bits) as f64 + 1e-6;
            assert!(
                (sum - 1.0).abs() <= sum_bound,
                "row sum {sum}, bound {sum_bound}"
            );
        }
        assert!(
            worst <= bound,
            "{sm:?}, n = {cols}: max error {worst} > bound {bound}"
        );
        overall = overall.max(worst);
    }
    overall
}

#[test]
fn lut_softmax_within_stated_bound() {
    // the default, and a coarse table (2^−3 steps, 10-bit entries, 12-bit outputs) whose
    // larger error must show up and still respect its own bound
    let coarse = LutExp {
        input_frac_bits: 3,
        table_bits: 10,
        output_bits: 12,
        ..LutExp::default()
    };
    let errors = [LutExp::default(), coarse].map(|p| {
        check_fixed_softmax(&Softmax::FixedLut(p.clone()), p.output_bits, |n| {
            // scores rounded to 2^−f: each centred score is off by ≤ 2^−f (two roundings);
            // table entries round to half a unit of 2^−table_bits; terms below −range are 0
            let eps = 1.0 / (1u64 << p.input_frac_bits) as f64;
            let abs =
                n as f64 * (0.5 / (1u64 << p.table_bits) as f64 + (-p.input_range as f64).exp());
            fixed_softmax_bound(eps, abs, p.output_bits)
        })
    });
    assert!(
        errors[1] > 2.0 * errors[0],
        "coarser table, error {errors:?}"
    );
}

#[test]
fn base2_softmax_within_stated_bound() {
    let coarse = Base2Exp {
        input_frac_bits: 4,
        exp_bits: 10,
        output_bits: 12,
    };
    let errors = [Base2Exp::default(), coarse].map(|p| {
        check_fixed_softmax(&Softmax::Base2Shift(p.clone()), p.output_bits, |n| {
            let f = (1u64 << p.input_frac_bits) as f64;
            // log-error: centred score off by ≤ 1/f, exponent t rounded to 1/(2f) (a factor
            // 2^(1/2f)), quadratic for 2^s off by ≤ 0.27 % (relative); absolute: truncating
            // shifts lose < 1 unit of 2^−exp_bits per term, plus two truncations in Horner
            let eps = 1.0 / f + std::f64::consts::LN_2 / (2.0 * f) + (1.0027f64).ln();
            let abs = n as f64 * 3.0 / (1u64 << p.exp_bits) as f64;
            fixed_softmax_bound(eps, abs, p.output_bits)
        })
    });
    assert!(
        errors[1] > 2.0 * errors[0],
        "coarser fixed point, error {errors:?}"
    );
}

#[test]
fn fixed_softmax_survives_masked_scores() {
    // attention masks add −10000 (or −inf) to padded positions: those get probability 0
    for sm in [
        Softmax::FixedLut(LutExp::default()),
        Softmax::Base2Shift(Base2Exp::default()),
    ] {
        let mut row = vec![1.0, 2.0, -10000.0, f32::NEG_INFINITY];
        sm.apply(&mut row, 4).unwrap();
        assert_eq!(&row[2..], &[0.0, 0.0]);
        assert!((row[0] + row[1] - 1.0).abs() < 1e-3, "{row:?}");
    }
}

/// Checks a GELU against the exact one with the pointwise `bound(x)`; returns the largest
/// error seen.
fn check_gelu(gelu: &Gelu, bound: impl Fn(f64) -> f64) -> f64 {
    // dense grid over [−10, 10] step 1/1024, as one row; then random N(0, 3²), seed 12
    let grid: Vec<f32> = (-10240..=10240).map(|i| i as f32 / 1024.0).collect();
    let random = normal_rows(12, 16, 1536, 0.0, 3.0);
    let mut worst = 0.0f64;
    for (cols, data) in [(grid.len(), grid), (1536, random)] {
        let mut out = data.clone();
        gelu.apply(&mut out, cols).unwrap();
        for (x, y) in data.iter().zip(&out) {
            let err = (*y as f64 - gelu_ref(*x as f64)).abs();
            let b = bound(*x as f64);
            assert!(err <= b, "{gelu:?} at x = {x}: error {err} > bound {b}");
            worst = worst.max(err);
        }
    }
    worst
}

#[test]
fn erf_gelu_matches_reference_to_rounding() {
    // x/√2 rounds (relative u), erf' ≤ 1.13 turns that into ≤ 0.8·|x|·u; erff is within
    // ≈ 1 ulp; 1 + erf and the products add a few u relative to the result. Factor 2 slack.
    check_gelu(&Gelu::Erf, |x| {
        2.0 * U * (0.4 * x * x + x.abs() + 2.0 * gelu_ref(x).abs()) + 1e-30
    });
}

#[test]
fn tanh_gelu_within_stated_bound() {
    // The tanh form deviates from the exact GELU by at most 4.73e−4 (at |x| ≈ 2.70, found
    // by a dense f64 sweep); bound 5e−4 covers that plus f32 rounding.
    check_gelu(&Gelu::Tanh, |_| 5e-4);
}

#[test]
fn lut_gelu_within_stated_bound() {
    // interpolation ≤ h²/8·max|GELU''| = (1/32)²/8·0.798 = 9.7e−5; outside ±4 the error is
    // ≤ 4·Φ(−4) = 1.27e−4; table entries are fp32. Bound 2.5e−4.
    check_gelu(&Gelu::Lut(GeluLut::default()), |_| 2.5e-4);
}

#[test]
fn int_gelu_within_stated_bound() {
    // I-BERT's polynomial itself is within 0.0182 of GELU (its L∞ error, reached near
    // |x| = 2.35; checked below on a dense grid over [−10, 10] in exact arithmetic). The
    // integer evaluation adds the input rounding (≤ s/2, GELU slope ≤ 1.13: 0.57·s) and the
    // flooring of the per-row constant q_b (moves b by ≤ s/√2; ∂L/∂b ≤ 2·0.2888·1.769, so
    // L moves by ≤ 0.73·s and GELU by ≤ 0.37·s·|x|); flooring q_1 costs ≤ 0.29·s². Here s,
    // the row scale, is at most 40/qmax (rows span |x| ≤ 10 on the grid, ≈ 12 at random),
    // qmax = 2^(input_bits−1) − 1. A coarse 8-bit input must show a larger error.
    let a = -0.2888f64;
    let b = -1.769f64;
    let poly = |x: f64| {
        let u = x / std::f64::consts::SQRT_2;
        let l = u.signum() * (a * (u.abs().min(-b) + b).powi(2) + 1.0);
        0.5 * x * (1.0 + l)
    };
    let worst = (-100_000..=100_000)
        .map(|i| i as f64 / 10_000.0)
        .map(|x| (poly(x) - gelu_ref(x)).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 0.0182, "I-BERT polynomial error {worst}");
    let errors = [16, 8].map(|input_bits| {
        let s = 40.0 / ((1u64 << (input_bits - 1)) - 1) as f64;
        check_gelu(&Gelu::IntPoly(IntGelu { input_bits }), |x| {
            0.0182 + s * (0.57 + 0.4 * x.abs())
        })
    });
    assert!(
        errors[1] > errors[0] + 0.01,
        "8-bit input, error {errors:?}"
    );
}

#[test]
fn float_layernorm_matches_reference_and_normalises() {
    let cols = 384;
    let data = normal_rows(13, 32, cols, 1.5, 2.0); // seed 13
    let mut rng = ChaCha8Rng::seed_from_u64(14); // seed 14: γ, β
    let gamma: Vec<f32> = (0..cols).map(|_| rng.random_range(0.5..1.5)).collect();
    let beta: Vec<f32> = (0..cols).map(|_| rng.random_range(-0.5..0.5)).collect();
    let eps = 1e-12f64;
    let mut out = data.clone();
    LayerNorm::Float
        .apply(&mut out, cols, &gamma, &beta, eps)
        .unwrap();
    for (row, got) in data.chunks(cols).zip(out.chunks(cols)) {
        let n = cols as f64;
        let mean = row.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = row.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        for (i, y) in got.iter().enumerate() {
            let yhat = (row[i] as f64 - mean) / (var + eps).sqrt();
            let r = gamma[i] as f64 * yhat + beta[i] as f64;
            // summation rounding: ≤ n·u relative to the magnitudes summed (Higham)
            let tol = 2.0 * n * U * (1.0 + r.abs());
            assert!((*y as f64 - r).abs() <= tol, "{y} vs {r}");
        }
    }
    check_normalised(&LayerNorm::Float, 1e-5, 1e-4);
}

/// With γ = 1, β = 0 every output row has mean 0 and variance 1 within the given bounds.
fn check_normalised(ln: &LayerNorm, mean_bound: f64, var_bound: f64) {
    let cols = 384;
    let data = normal_rows(15, 32, cols, -3.0, 5.0); // seed 15
    let mut out = data.clone();
    ln.apply(&mut out, cols, &vec![1.0; cols], &vec![0.0; cols], 1e-12)
        .unwrap();
    for row in out.chunks(cols) {
        let mean = row.iter().map(|&x| x as f64).sum::<f64>() / cols as f64;
        let var = row.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / cols as f64;
        assert!(mean.abs() <= mean_bound, "{ln:?}: mean {mean}");
        assert!((var - 1.0).abs() <= var_bound, "{ln:?}: var {var}");
    }
}

#[test]
fn fixed_layernorm_within_stated_bound() {
    let cols = 384;
    // seed 16; a shifted mean and one outlier feature per row, as in BERT's residual stream
    let mut data = normal_rows(16, 32, cols, 0.7, 1.5);
    data.chunks_mut(cols).for_each(|r| r[5] = 25.0);
    let gamma = vec![1.3f32; cols];
    let beta = vec![0.1f32; cols];
    let mut reference = data.clone();
    LayerNorm::Float
        .apply(&mut reference, cols, &gamma, &beta, 1e-12)
        .unwrap();
    // the default (16-bit input) and a coarse 10-bit input, whose error must be larger
    let errors = [16, 10].map(|input_bits| {
        let p = FixedLayerNorm {
            input_bits,
            ..FixedLayerNorm::default()
        };
        let qmax = ((1u64 << (input_bits - 1)) - 1) as f64;
        let out_unit = 1.0 / (1u64 << p.output_frac_bits) as f64;
        let mut out = data.clone();
        LayerNorm::FixedPoint(p)
            .apply(&mut out, cols, &gamma, &beta, 1e-12)
            .unwrap();
        let mut worst = 0.0f64;
        let rows = data
            .chunks(cols)
            .zip(out.chunks(cols).zip(reference.chunks(cols)));
        for (row, (got, want)) in rows {
            let n = cols as f64;
            let mean = row.iter().map(|&x| x as f64).sum::<f64>() / n;
            let sd = (row.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            let s = row.iter().fold(0.0f64, |m, &x| m.max(x.abs() as f64)) / qmax;
            let std_q = sd / s;
            for (y, r) in got.iter().zip(want) {
                let yhat = (*r as f64 - 0.1) / 1.3;
                // a deviation is off by ≤ s (input and mean rounding); the standard
                // deviation by ≤ s relative to σ plus 1/std_q from the integer root and
                // reciprocal; the output rounds to 2^−output_frac_bits. Factor 2 slack,
                // times |γ|.
                let bound =
                    1.3 * 2.0 * ((1.0 + yhat.abs()) * s / sd + yhat.abs() * 2.0 / std_q + out_unit);
                let err = (*y - *r).abs() as f64;
                assert!(err <= bound, "{input_bits} bits: {y} vs {r}, bound {bound}");
                worst = worst.max(err);
            }
        }
        worst
    });
    assert!(
        errors[1] > 4.0 * errors[0],
        "10-bit input, error {errors:?}"
    );
    // quantization steps here are ≈ 1e−4 σ, so mean and variance land within a few 1e−4
    check_normalised(
        &LayerNorm::FixedPoint(FixedLayerNorm::default()),
        1e-3,
        1e-3,
    );
}

#[test]
fn attention_products_float_and_int8() {
    let (m, n, k) = (16, 12, 32);
    let q = normal_rows(17, m, k, 0.0, 1.0); // seed 17
    let kt = normal_rows(18, n, k, 0.0, 1.0); // seed 18
    let mut out = vec![0.0; m * n];
    let reference: Vec<f64> = (0..m * n)
        .map(|o| {
            (0..k)
                .map(|p| q[o / n * k + p] as f64 * kt[o % n * k + p] as f64)
                .sum()
        })
        .collect();
    let c = matmul_a_bt(&q, &kt, (m, n, k), &mut out, AttentionPrecision::Float32).unwrap();
    assert_eq!(c, matmul_counts(m, n, k, AttentionPrecision::Float32));
    let abs_sum = |o: usize| -> f64 {
        (0..k)
            .map(|p| (q[o / n * k + p] * kt[o % n * k + p]).abs() as f64)
            .sum()
    };
    for (o, (y, r)) in out.iter().zip(&reference).enumerate() {
        assert!(
            (*y as f64 - r).abs() <= 2.0 * k as f64 * U * abs_sum(o),
            "{y} vs {r}"
        );
    }
    matmul_a_bt(&q, &kt, (m, n, k), &mut out, AttentionPrecision::Int8).unwrap();
    let max_q = q.iter().fold(0.0f32, |a, x| a.max(x.abs())) as f64;
    let max_k = kt.iter().fold(0.0f32, |a, x| a.max(x.abs())) as f64;
    let (sq, sk) = (max_q / 127.0, max_k / 127.0);
    // each operand off by ≤ half its step: |Δ| ≤ k·(max|q|·sk/2 + max|k|·sq/2 + sq·sk/4)
    let bound = k as f64 * (max_q * sk / 2.0 + max_k * sq / 2.0 + sq * sk / 4.0);
    for (y, r) in out.iter().zip(&reference) {
        assert!((*y as f64 - r).abs() <= bound, "{y} vs {r}, bound {bound}");
    }
    // P·V: the same products with B stored k × n
    let b_kn: Vec<f32> = (0..k * n).map(|i| kt[(i % n) * k + i / n]).collect();
    let mut out2 = vec![0.0; m * n];
    matmul_a_b(&q, &b_kn, (m, n, k), &mut out2, AttentionPrecision::Float32).unwrap();
    for (y, r) in out2.iter().zip(&reference) {
        assert!((*y as f64 - r).abs() <= 1e-4, "{y} vs {r}");
    }
    // the same values, so the same int8 bound holds for the other layout
    matmul_a_b(&q, &b_kn, (m, n, k), &mut out2, AttentionPrecision::Int8).unwrap();
    for (y, r) in out2.iter().zip(&reference) {
        assert!((*y as f64 - r).abs() <= bound, "{y} vs {r}, bound {bound}");
    }
    let wrong = matmul_a_b(
        &q,
        &b_kn,
        (m, n, k + 1),
        &mut out2,
        AttentionPrecision::Int8,
    );
    assert!(wrong.is_err());
    // empty inner dimension: sums of nothing
    let mut out3 = vec![1.0; 6];
    matmul_a_bt(&[], &[], (2, 3, 0), &mut out3, AttentionPrecision::Float32).unwrap();
    assert_eq!(out3, vec![0.0; 6]);
}

#[test]
fn op_counts_equal_closed_forms() {
    // Counts per call for rows × cols; each expectation is written out by hand from the
    // operation list documented with the implementation.
    let (rows, cols) = (3u64, 128usize);
    let n = cols as u64;
    let mut buf = vec![0.5f32; rows as usize * cols];
    let c = Softmax::Float.apply(&mut buf, cols).unwrap();
    assert_eq!(
        c,
        OpCounts {
            compare: 3 * 127,
            fp32_add: 3 * 255,
            fp32_exp: 3 * 128,
            fp32_div: 3,
            fp32_mult: 3 * 128,
            ..Default::default()
        }
    );
    // LUT: quantize (mult), max (127 compares), subtract, range test, read; then the
    // exact sum of 17-bit terms over 128 (24 bits: int32), one divide, multiply, rounding
    // add and shift per element
    let c = Softmax::FixedLut(LutExp::default())
        .apply(&mut buf, cols)
        .unwrap();
    let per_row = OpCounts {
        fp32_mult: n,
        compare: n + 127,
        table_lookup: n,
        int32_add: n + 127 + n,
        int_div: 1,
        int32_mult: n,
        shift: n,
        ..Default::default()
    };
    assert_eq!(c, per_row * rows);
    let c = Softmax::Base2Shift(Base2Exp::default())
        .apply(&mut buf, cols)
        .unwrap();
    let per_row = OpCounts {
        fp32_mult: n,
        compare: 2 * n + 127,
        int32_add: 4 * n + 127 + n,
        int32_mult: 3 * n + n,
        shift: 5 * n + n,
        int_div: 1,
        ..Default::default()
    };
    assert_eq!(c, per_row * rows);

    let cols = 384usize;
    let n = cols as u64;
    let mut buf = normal_rows(19, 2, cols, 0.0, 1.0);
    let (g, b) = (vec![1.0; cols], vec![0.0; cols]);
    let c = LayerNorm::Float
        .apply(&mut buf, cols, &g, &b, 1e-12)
        .unwrap();
    assert_eq!(
        c,
        OpCounts {
            fp32_add: 2 * (4 * n - 1),
            fp32_mult: 2 * (3 * n + 2),
            fp32_sqrt: 2,
            fp32_div: 2,
            ..Default::default()
        }
    );
    // 16-bit inputs, 384 features: Σq needs 25 bits (int32), deviations 17 bits (int32),
    // Σd² 43 bits (int64), the rounding add on deviation × reciprocal (int64); the root is
    // 32 iterations of (2 int64 adds, compare, 2 shifts)
    let c = LayerNorm::FixedPoint(FixedLayerNorm::default())
        .apply(&mut buf, cols, &g, &b, 1e-12)
        .unwrap();
    let per_row = OpCounts {
        compare: n + 1 + 32,
        fp32_div: 1,
        fp32_mult: n + 2 + n,
        fp32_add: n,
        int32_add: (n - 1) + n,
        int32_mult: n + n,
        int64_add: n + 64 + n,
        int_div: 3,
        shift: n + 64,
        ..Default::default()
    };
    assert_eq!(c, per_row * 2);

    let mut buf = vec![0.3f32; 2 * 1536];
    let n = 1536u64;
    let expect = [
        (
            Gelu::Erf,
            OpCounts {
                fp32_mult: 3 * n,
                fp32_add: n,
                fp32_erf: n,
                ..Default::default()
            },
        ),
        (
            Gelu::Tanh,
            OpCounts {
                fp32_mult: 6 * n,
                fp32_add: 2 * n,
                fp32_tanh: n,
                ..Default::default()
            },
        ),
        (
            Gelu::Lut(GeluLut::default()),
            OpCounts {
                compare: 2 * n,
                fp32_add: 5 * n,
                fp32_mult: 2 * n,
                table_lookup: 2 * n,
                ..Default::default()
            },
        ),
        // 16-bit input: + q_b on 17 bits (int32), square (int32), then 33/34-bit adds
        // (int64) and the final 34-bit multiply (largest class, int32)
        (
            Gelu::IntPoly(IntGelu::default()),
            OpCounts {
                compare: n + 1 + 2 * n,
                fp32_div: 1 + 2,
                fp32_mult: n + 4,
                int32_add: n,
                int32_mult: 2 * n,
                int64_add: 3 * n,
                ..Default::default()
            },
        ),
    ];
    for (gelu, per_row) in expect {
        assert_eq!(gelu.apply(&mut buf, 1536).unwrap(), per_row * 2, "{gelu:?}");
    }

    let (m, n, k) = (128u64, 128u64, 32u64);
    assert_eq!(
        matmul_counts(128, 128, 32, AttentionPrecision::Int8),
        OpCounts {
            compare: 2 * m * k,
            fp32_div: 2,
            fp32_mult: 2 * m * k + 1 + m * n,
            int8_mult: m * n * k,
            int32_add: m * n * (k - 1),
            ..Default::default()
        }
    );
}

#[test]
fn shape_errors_name_the_function() {
    let mut buf = vec![0.0f32; 10];
    let e = Softmax::Float.apply(&mut buf, 3).unwrap_err();
    assert!(
        e.to_string().contains("softmax") && e.to_string().contains("length 10"),
        "{e}"
    );
    assert!(Gelu::Erf.apply(&mut buf, 0).is_err());
    let e = LayerNorm::Float
        .apply(&mut buf, 5, &[1.0; 4], &[0.0; 5], 1e-12)
        .unwrap_err();
    assert!(e.to_string().contains("gamma"), "{e}");
}

#[test]
fn periphery_config_parses_and_validates_naming_the_key() {
    let cfg: PeripheryConfig = toml::from_str(
        r#"
        softmax = { kind = "fixed-lut", input_frac_bits = 6 }
        layernorm = { kind = "fixed-point" }
        gelu = { kind = "int-poly", input_bits = 12 }
        attention = "int8"
        "#,
    )
    .unwrap();
    assert_eq!(
        cfg.softmax,
        Softmax::FixedLut(LutExp {
            input_frac_bits: 6,
            ..LutExp::default()
        })
    );
    assert_eq!(cfg.attention, AttentionPrecision::Int8);
    cfg.validate("periphery").unwrap();
    assert_eq!(PeripheryConfig::default().softmax, Softmax::Float);

    let unknown = toml::from_str::<PeripheryConfig>("softmax = { kind = \"fixed-lut\", bits = 3 }");
    assert!(unknown.unwrap_err().to_string().contains("bits"));
    let bad: PeripheryConfig = toml::from_str("gelu = { kind = \"lut\", entries = 1 }").unwrap();
    let e = bad.validate("periphery").unwrap_err();
    assert_eq!(e.key, "periphery.gelu.entries");
    let bad: PeripheryConfig =
        toml::from_str("softmax = { kind = \"base2-shift\", exp_bits = 0 }").unwrap();
    assert_eq!(bad.validate("p").unwrap_err().key, "p.softmax.exp_bits");
}

#[test]
fn encoder_layer_counts_add_up_the_parts() {
    // MiniLM-L6-H384 layer on 20 tokens: 12 heads of 32, FFN 1536; written out by hand
    let shape = EncoderLayerShape {
        seq: 20,
        hidden: 384,
        heads: 12,
        intermediate: 1536,
    };
    let cfg = PeripheryConfig::default();
    let scores = 12 * 20 * 20u64;
    let softmax_rows = 12 * 20u64;
    let want = OpCounts {
        // score scale and mask; softmax (n + n−1 per row); GELU +1; residuals; LayerNorm
        fp32_mult: scores + softmax_rows * 20 + 20 * 1536 * 3 + 2 * 20 * (3 * 384 + 2),
        fp32_add: scores + softmax_rows * 39 + 20 * 1536 + 2 * 20 * 384 + 2 * 20 * (4 * 384 - 1),
        compare: softmax_rows * 19,
        fp32_exp: scores,
        fp32_div: softmax_rows + 2 * 20,
        fp32_erf: 20 * 1536,
        fp32_sqrt: 2 * 20,
        ..Default::default()
    };
    assert_eq!(cfg.encoder_layer_ops(&shape, cfg.gelu.counts(1536)), want);
    // Q·Kᵀ: 20·20 dots of 32; P·V: 20·32 dots of 20 — per head, fp32
    let att = cfg.encoder_attention_ops(&shape);
    assert_eq!(att.fp32_mult, 12 * (20 * 20 * 32 + 20 * 32 * 20));
    assert_eq!(att.fp32_add, 12 * (20 * 20 * 31 + 20 * 32 * 19));
}
