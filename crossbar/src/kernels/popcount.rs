//! Popcount kernels of tiles stored as bit planes ([`crate::bit_planes`]) under 1-bit
//! drives: [`levels_mvm`], the noiseless MVM with conversion and shift-and-add fused in
//! registers, and [`levels_max_current`], the largest current an ADC range is calibrated
//! on. Each runs one portable body compiled for AVX-512 VPOPCNTDQ, AVX2 or POPCNT as the CPU
//! allows (see [`crate::kernels`]); level counts are exact integers, so every path gives
//! the same result.

use crate::adc::Adc;
use crate::bit_planes::{LevelPlanes, LANES as PLANE_LANES};
use crate::dac::BinaryDrive;

/// The noiseless MVM of a tile on exact levels under a 1-bit drive, fused: for every vector
/// and block of columns, the cycles' level counts by popcount, converted and added with
/// the cycle's weight in registers, then stored once.
///
/// A cycle's current is affine in the column's level count n: I = V·(G_min·|b| + step·n).
/// The converter's affine steps are folded into two constants per cycle, so a quantizing
/// ADC becomes code = ⌊clamp(α_c + β_c·n, ½, max + ½)⌋ with α_c = (V·G_min·|b| − lo)/LSB + ½,
/// β_c = V·step/LSB, the same codes as `Adc::convert` up to float rounding, and the output
/// Σ_c w_c·(lo + code_c·LSB) = lo·Σ_c w_c + LSB·Σ_c w_c·code_c.
pub(crate) fn levels_mvm(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512vpopcntdq")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU supports these features, checked just above.
            return unsafe { levels_mvm_avx512(planes, drive, cycle_weights, adc, out) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { levels_mvm_avx2(planes, drive, cycle_weights, adc, out) };
        }
    }
    levels_mvm_portable(planes, drive, cycle_weights, adc, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn levels_mvm_avx512(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    levels_mvm_portable(planes, drive, cycle_weights, adc, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn levels_mvm_avx2(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    levels_mvm_portable(planes, drive, cycle_weights, adc, out)
}

/// Per cycle: the converted value of a column with level count n is `a + b·n` (ideal ADC)
/// or the code ⌊clamp(a + b·n, ½, top)⌋ (quantizing ADC).
#[derive(Clone, Copy)]
struct CycleAffine {
    weight: f32,
    a: f32,
    b: f32,
}

#[inline(always)]
fn levels_mvm_portable(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    match planes.bits() {
        1 => levels_mvm_bits::<1>(planes, drive, cycle_weights, adc, out),
        2 => levels_mvm_bits::<2>(planes, drive, cycle_weights, adc, out),
        3 => levels_mvm_bits::<3>(planes, drive, cycle_weights, adc, out),
        _ => levels_mvm_bits::<4>(planes, drive, cycle_weights, adc, out),
    }
}

/// `levels_mvm` for cells of `BITS` level bits (a constant, so the popcount loop unrolls).
#[inline(always)]
fn levels_mvm_bits<const BITS: usize>(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    let (cols, words) = (planes.cols(), planes.words());
    let vectors = out.len() / cols;
    let v = drive.volts;
    let mut cycles: Vec<CycleAffine> = Vec::with_capacity(cycle_weights.len());
    for (t, out_t) in out.chunks_exact_mut(cols).enumerate() {
        let driven = |c: usize| &drive.words[(c * vectors + t) * words..][..words];
        cycles.clear();
        cycles.extend(cycle_weights.iter().enumerate().map(|(c, &w)| {
            let current_0 = v * planes.offset_us(driven(c));
            let current_step = v * planes.step_us();
            match *adc {
                Adc::Ideal => CycleAffine {
                    weight: w as f32,
                    a: current_0,
                    b: current_step,
                },
                Adc::Quantizing { lo, inv_lsb, .. } => CycleAffine {
                    weight: w as f32,
                    a: (current_0 - lo) * inv_lsb + 0.5,
                    b: current_step * inv_lsb,
                },
            }
        }));
        match *adc {
            Adc::Ideal => fused_levels::<BITS>(planes, &driven, &cycles, |x| x, 0.0, 1.0, out_t),
            Adc::Quantizing {
                lo, lsb, max_code, ..
            } => {
                let top = max_code + 0.5;
                // SAFETY: x is clamped to [0.5, 2^24 + 0.5], inside i32's range; the
                // unchecked conversion vectorizes where `as` (saturating) does not.
                let code = |x: f32| unsafe { x.max(0.5).min(top).to_int_unchecked::<i32>() } as f32;
                let sum_w: f32 = cycles.iter().map(|c| c.weight).sum();
                fused_levels::<BITS>(planes, &driven, &cycles, code, lo * sum_w, lsb, out_t)
            }
        }
    }
}

/// One vector through every column block: out = base + scale·Σ_c w_c·convert(a_c + b_c·n_c)
/// with the cycles' level counts n_c, accumulated in registers and stored once.
#[inline(always)]
fn fused_levels<'d, const BITS: usize>(
    planes: &LevelPlanes,
    driven: &impl Fn(usize) -> &'d [u64],
    cycles: &[CycleAffine],
    convert: impl Fn(f32) -> f32,
    base: f32,
    scale: f32,
    out: &mut [f32],
) {
    for (k, o) in out.chunks_mut(PLANE_LANES).enumerate() {
        let mut acc = [0.0f32; PLANE_LANES];
        for (c, cycle) in cycles.iter().enumerate() {
            let counts = planes.block_counts::<BITS>(k, driven(c));
            for (a, &n) in acc.iter_mut().zip(&counts) {
                *a += cycle.weight * convert(cycle.a + cycle.b * n as i32 as f32);
            }
        }
        for (o, &a) in o.iter_mut().zip(&acc) {
            *o = base + scale * a;
        }
    }
}

/// Largest current magnitude of a tile on exact levels under a 1-bit drive, µA, over
/// every stacked vector, by popcount with the CPU's popcount instructions where present
/// (without them `count_ones` is a slow bit-twiddling sequence: calibration was 3× slower
/// than the MVMs it calibrates).
pub(crate) fn levels_max_current(planes: &LevelPlanes, drive: &BinaryDrive) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512vpopcntdq")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU supports these features, checked just above.
            return unsafe { levels_max_current_avx512(planes, drive) };
        }
        if std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU supports POPCNT, checked just above.
            return unsafe { levels_max_current_popcnt(planes, drive) };
        }
    }
    levels_max_current_portable(planes, drive)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn levels_max_current_avx512(planes: &LevelPlanes, drive: &BinaryDrive) -> f32 {
    levels_max_current_portable(planes, drive)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn levels_max_current_popcnt(planes: &LevelPlanes, drive: &BinaryDrive) -> f32 {
    levels_max_current_portable(planes, drive)
}

/// A plain loop: an iterator `fold` here would be compiled as a separate function without
/// the caller's target features.
#[inline(always)]
fn levels_max_current_portable(planes: &LevelPlanes, drive: &BinaryDrive) -> f32 {
    let mut most = 0.0f32;
    for driven in drive.words.chunks_exact(planes.words()) {
        most = most.max(planes.max_current_ua(driven, drive.volts).abs());
    }
    most
}
