//! Symmetric integer quantization of weights and inputs (DESIGN.md §2, steps 1 and 7).
//!
//! A b-bit signed value is an integer q in ±(2^(b−1) − 1) standing for q·s, with the
//! scale s = max|v| / (2^(b−1) − 1) taken over the group that shares it; q = round(v / s).
//! The range is symmetric so negation is exact, which the differential encoding relies on.

use crate::config::WeightScale;

/// Largest code of a b-bit signed symmetric quantizer: 2^(b−1) − 1.
pub fn max_code(bits: u8) -> i32 {
    (1i32 << (bits - 1)) - 1
}

/// Scale for values whose largest magnitude is `max_abs`. A group of zeros gets scale 1
/// (its codes are all 0 whatever the scale).
pub fn scale_for(max_abs: f32, bits: u8) -> f32 {
    if max_abs > 0.0 {
        max_abs / max_code(bits) as f32
    } else {
        1.0
    }
}

/// Code of `v` at `scale`, clipped to ±max_code (inputs beyond a calibrated range clip).
#[inline]
pub fn quantize(v: f32, scale: f32, max_code: i32) -> i32 {
    let m = max_code as f32;
    (v / scale).round().clamp(-m, m) as i32
}

/// Integer weights (out × in, row-major, as given) and one scale per output feature.
pub struct QuantizedWeights {
    pub codes: Vec<i32>,
    pub scales: Vec<f32>,
}

/// Quantizes a PyTorch-layout weight (out × in, row-major) to `bits`.
///
/// `row_block` is the number of inputs per row tile: with `PerArrayColumn` each block of
/// that many inputs of an output gets its own scale, and `scales` holds them block-major
/// (⌈in / row_block⌉ × out); otherwise `scales` has one per output.
pub fn quantize_weights(
    weight: &[f32],
    out_features: usize,
    in_features: usize,
    bits: u8,
    granularity: WeightScale,
    row_block: usize,
) -> QuantizedWeights {
    let max_abs = |n: usize, inputs: std::ops::Range<usize>| {
        weight[n * in_features..][inputs]
            .iter()
            .fold(0.0f32, |m, w| m.max(w.abs()))
    };
    let blocks = in_features.div_ceil(row_block);
    let block_inputs = |b: usize| b * row_block..((b + 1) * row_block).min(in_features);
    let scales: Vec<f32> = match granularity {
        WeightScale::PerColumn => (0..out_features)
            .map(|n| scale_for(max_abs(n, 0..in_features), bits))
            .collect(),
        WeightScale::PerTensor => {
            let max = (0..out_features)
                .map(|n| max_abs(n, 0..in_features))
                .fold(0.0f32, f32::max);
            vec![scale_for(max, bits); out_features]
        }
        WeightScale::PerArrayColumn => (0..blocks)
            .flat_map(|b| (0..out_features).map(move |n| (b, n)))
            .map(|(b, n)| scale_for(max_abs(n, block_inputs(b)), bits))
            .collect(),
    };
    let scale_of = |n: usize, i: usize| match granularity {
        WeightScale::PerArrayColumn => scales[i / row_block * out_features + n],
        _ => scales[n],
    };
    let q = max_code(bits);
    let codes = weight
        .iter()
        .enumerate()
        .map(|(k, &w)| quantize(w, scale_of(k / in_features, k % in_features), q))
        .collect();
    QuantizedWeights { codes, scales }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_column_scales_hit_the_extremes_exactly() {
        let w = [0.55, -1.0, 0.25, 0.0, 3.0, -1.6];
        let q = quantize_weights(&w, 2, 3, 4, WeightScale::PerColumn, 3);
        // 4 bits: codes ±7. Row 0 max 1.0 → scale 1/7; row 1 max 3.0 → 3/7.
        assert_eq!(q.codes, vec![4, -7, 2, 0, 7, -4]);
        assert!((q.scales[1] - 3.0 / 7.0).abs() < 1e-7);
        let t = quantize_weights(&w, 2, 3, 4, WeightScale::PerTensor, 3);
        assert_eq!(t.codes, vec![1, -2, 1, 0, 7, -4]);
    }

    #[test]
    fn rounding_error_is_at_most_half_a_step() {
        let w: Vec<f32> = (0..200)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let q = quantize_weights(&w, 4, 50, 6, WeightScale::PerColumn, 50);
        for (i, &v) in w.iter().enumerate() {
            let s = q.scales[i / 50];
            assert!((q.codes[i] as f32 * s - v).abs() <= 0.5 * s * (1.0 + 1e-6));
        }
    }

    #[test]
    fn zero_rows_and_clipping() {
        assert_eq!(scale_for(0.0, 8), 1.0);
        assert_eq!(quantize(100.0, 0.1, 127), 127);
        assert_eq!(quantize(-100.0, 0.1, 127), -127);
    }
}
