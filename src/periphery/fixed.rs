//! Fixed-point building blocks shared by the integer implementations.

use super::ops::{IntWidth, OpCounts};

/// Largest magnitude of a signed `bits`-bit integer with a symmetric range: 2^(bits−1) − 1.
pub(crate) fn qmax(bits: u32) -> i64 {
    (1i64 << (bits - 1)) - 1
}

/// Per-row max-abs scale into signed `bits`-bit integers: returns 1/scale such that
/// `round(x · inv)` spans ±qmax(bits). An all-zero row gets 0 (every value quantizes to 0).
pub(crate) fn inverse_scale(row: &[f32], bits: u32) -> f32 {
    let max_abs = row.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
    if max_abs > 0.0 {
        qmax(bits) as f32 / max_abs
    } else {
        0.0
    }
}

/// `round(x · inv)` clamped to ±qmax(bits) (the clamp only guards rounding at the edge).
pub(crate) fn quantize(x: f32, inv: f32, bits: u32) -> i64 {
    round_i64(x * inv).clamp(-qmax(bits), qmax(bits))
}

/// `x` rounded to the nearest integer, ties away from zero, saturating (NaN gives 0).
/// Same result as `f32::round`, which compiles to a library call on baseline x86-64; in f64
/// the half-offset add is exact for every f32, and the cast truncates.
#[inline]
pub(crate) fn round_i64(x: f32) -> i64 {
    let x = x as f64;
    (x + 0.5f64.copysign(x)) as i64
}

/// Ops to enter the integer domain with a per-row max-abs scale over `n` values: a max
/// search (one compare per value), one fp32 divide for the reciprocal scale, and one fp32
/// multiply per value.
pub(crate) fn entry_counts(n: u64) -> OpCounts {
    OpCounts {
        compare: n,
        fp32_div: 1,
        fp32_mult: n,
        ..Default::default()
    }
}

/// Bits needed to count up to `n` (⌈log2 n⌉): the growth of a sum of `n` terms.
pub(crate) fn growth_bits(n: usize) -> u32 {
    usize::BITS - n.saturating_sub(1).leading_zeros()
}

/// Iterations of the digit-by-digit square root of a 64-bit radicand: one per result bit.
pub(crate) const ISQRT_ITERATIONS: u64 = 32;

/// ⌊√v⌋ by the bitwise (digit-by-digit) method: one result bit per iteration, each a trial
/// subtraction, a compare and two shifts. Chosen over Newton because its op count is fixed.
pub(crate) fn isqrt(v: u64) -> u64 {
    let mut rem = v;
    let mut root = 0u64;
    let mut bit = 1u64 << 62;
    for _ in 0..ISQRT_ITERATIONS {
        let trial = root + bit;
        if rem >= trial {
            rem -= trial;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

/// Ops of one [`isqrt`]: per iteration two 64-bit adds (trial, subtract), a compare and two
/// shifts.
pub(crate) fn isqrt_counts() -> OpCounts {
    let per_iteration = OpCounts {
        compare: 1,
        shift: 2,
        ..OpCounts::int_add(IntWidth::W64, 2)
    };
    per_iteration * ISQRT_ITERATIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isqrt_is_floor_sqrt() {
        for v in (0u64..5000).chain([u64::MAX, (1 << 62) - 1, 1 << 62, 999_999_999_999]) {
            let r = isqrt(v);
            assert!(r * r <= v, "isqrt({v}) = {r} too large");
            assert!(
                !matches!((r + 1).checked_mul(r + 1), Some(s) if s <= v),
                "isqrt({v}) = {r} too small"
            );
        }
    }

    #[test]
    fn round_i64_matches_f32_round() {
        let cases = [
            0.5f32,
            -0.5,
            1.5,
            -2.5,
            0.499_999_97,
            -0.499_999_97,
            8_388_607.5,
            1e20,
        ];
        for x in cases
            .into_iter()
            .chain((-3000..3000).map(|i| i as f32 * 0.137))
        {
            assert_eq!(round_i64(x), x.round() as i64, "x = {x}");
        }
        assert_eq!(round_i64(f32::NEG_INFINITY), i64::MIN);
        assert_eq!(round_i64(f32::NAN), 0);
    }

    #[test]
    fn growth_bits_is_ceil_log2() {
        assert_eq!(
            [1, 2, 3, 4, 5, 384, 512, 513].map(growth_bits),
            [0, 1, 2, 2, 3, 9, 9, 10]
        );
    }
}
