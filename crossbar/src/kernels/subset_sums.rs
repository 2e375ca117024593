//! Subset-sum table kernels: the column currents of any conductances under 1-bit drives,
//! stored ([`accumulate`]) or converted and shift-added in registers
//! ([`accumulate_converted`]), from the table of [`subset_sums`].
//!
//! Binary drives (1-bit DACs) select rows rather than weight them, so a column current is a
//! sum of the selected rows' conductances. Grouping the rows by four, a table holds the 16
//! possible sums of each group's rows (built once per MVM); every stacked vector then needs
//! ⌈rows/4⌉ additions per column instead of rows multiply-adds. The table is laid out by
//! blocks of LANES columns (`[block][group][subset][lane]`, 32 KiB per block for 128 rows) so
//! one block stays in the L1 cache while all vectors stream through it, four vectors at a
//! time in registers. Every output element is the same sequence of additions (0 + group 0 +
//! group 1 + …) whatever the SIMD width, so results do not depend on the CPU features.

use crate::dac::Drive;

/// Columns per table block (one AVX-512 register of f32).
const LANES: usize = 16;

/// table[((b·groups + g)·16 + s)·LANES + l] = scale · Σ over bits k of s of
/// per_cell[(4g + k)·cols + b·LANES + l] (0 for columns past `cols`).
pub(crate) fn subset_sums(per_cell: &[f32], rows: usize, cols: usize, scale: f32) -> Vec<f32> {
    let groups = rows.div_ceil(4);
    let blocks = cols.div_ceil(LANES);
    let mut table = vec![0.0f32; blocks * groups * 16 * LANES];
    let (entries, _) = table.as_chunks_mut::<LANES>();
    // Rows outermost so the conductances are read once, in memory order.
    for g in 0..groups {
        for s in 1..16usize {
            let row = 4 * g + s.trailing_zeros() as usize;
            let prev = s & (s - 1); // s without its lowest bit: already filled
            for b in 0..blocks {
                let (first, width) = (b * LANES, LANES.min(cols - b * LANES));
                let at = (b * groups + g) * 16;
                let mut entry = entries[at + prev];
                if row < rows {
                    let cells = &per_cell[row * cols + first..][..width];
                    for (e, &c) in entry.iter_mut().zip(cells) {
                        *e += scale * c;
                    }
                }
                entries[at + s] = entry;
            }
        }
    }
    table
}

/// out[m] = Σ_g table[g][nibble(m, g)] for every stacked vector m, with the widest SIMD the
/// CPU has (same additions in the same order on every path).
pub(crate) fn accumulate(
    nibbles: &[u8],
    groups: usize,
    cols: usize,
    table: &[f32],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { accumulate_avx512(nibbles, groups, cols, table, out) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { accumulate_avx2(nibbles, groups, cols, table, out) };
        }
    }
    accumulate_portable(nibbles, groups, cols, table, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn accumulate_avx512(
    nibbles: &[u8],
    groups: usize,
    cols: usize,
    table: &[f32],
    out: &mut [f32],
) {
    accumulate_portable(nibbles, groups, cols, table, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn accumulate_avx2(
    nibbles: &[u8],
    groups: usize,
    cols: usize,
    table: &[f32],
    out: &mut [f32],
) {
    accumulate_portable(nibbles, groups, cols, table, out)
}

#[inline(always)]
fn accumulate_portable(nibbles: &[u8], groups: usize, cols: usize, table: &[f32], out: &mut [f32]) {
    let vectors = out.len() / cols;
    let (entries, _) = table.as_chunks::<LANES>();
    for (b, block) in entries.chunks_exact(groups * 16).enumerate() {
        let (first, width) = (b * LANES, LANES.min(cols - b * LANES));
        let mut store = |m: usize, acc: &[f32; LANES]| {
            let dst = &mut out[m * cols + first..][..width];
            match <&mut [f32; LANES]>::try_from(&mut *dst) {
                Ok(full) => *full = *acc, // a fixed-size copy the compiler inlines
                Err(_) => dst.copy_from_slice(&acc[..width]),
            }
        };
        let nib = |m: usize| &nibbles[m * groups..(m + 1) * groups];
        let mut m = 0;
        // Four vectors at a time: four independent addition chains hide the add latency.
        while m + 4 <= vectors {
            let (n0, n1, n2, n3) = (nib(m), nib(m + 1), nib(m + 2), nib(m + 3));
            let mut a = [[0.0f32; LANES]; 4];
            for g in 0..groups {
                let subsets = &block[g * 16..g * 16 + 16];
                let t = [
                    &subsets[n0[g] as usize & 15],
                    &subsets[n1[g] as usize & 15],
                    &subsets[n2[g] as usize & 15],
                    &subsets[n3[g] as usize & 15],
                ];
                for l in 0..LANES {
                    a[0][l] += t[0][l];
                    a[1][l] += t[1][l];
                    a[2][l] += t[2][l];
                    a[3][l] += t[3][l];
                }
            }
            for (v, acc) in a.iter().enumerate() {
                store(m + v, acc);
            }
            m += 4;
        }
        for m in m..vectors {
            let n = nib(m);
            let mut acc = [0.0f32; LANES];
            for g in 0..groups {
                let t = &block[g * 16 + (n[g] as usize & 15)];
                for l in 0..LANES {
                    acc[l] += t[l];
                }
            }
            store(m, &acc);
        }
    }
}

/// out[t] = Σ_c w_c·convert(I_ct) for every vector t, where I_ct is the table sum of
/// stacked vector m = c·vectors + t as in `accumulate`, converted and weighted in registers
/// (the cycles × vectors × cols currents are never stored). The same additions in the same
/// order as `accumulate` followed by `convert_and_accumulate`, so the same results.
pub(crate) fn accumulate_converted(
    nibbles: &[u8],
    groups: usize,
    cols: usize,
    table: &[f32],
    drive: &Drive,
    convert: impl Fn(f32) -> f32 + Copy,
    out: &mut [f32],
) {
    let weights: Vec<f32> = drive.cycle_weights.iter().map(|&w| w as f32).collect();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe {
                accumulate_converted_avx512(nibbles, groups, cols, table, &weights, convert, out)
            };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe {
                accumulate_converted_avx2(nibbles, groups, cols, table, &weights, convert, out)
            };
        }
    }
    accumulate_converted_portable(nibbles, groups, cols, table, &weights, convert, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn accumulate_converted_avx512(
    nibbles: &[u8],
    groups: usize,
    cols: usize,
    table: &[f32],
    weights: &[f32],
    convert: impl Fn(f32) -> f32 + Copy,
    out: &mut [f32],
) {
    accumulate_converted_portable(nibbles, groups, cols, table, weights, convert, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn accumulate_converted_avx2(
    nibbles: &[u8],
    groups: usize,
    cols: usize,
    table: &[f32],
    weights: &[f32],
    convert: impl Fn(f32) -> f32 + Copy,
    out: &mut [f32],
) {
    accumulate_converted_portable(nibbles, groups, cols, table, weights, convert, out)
}

#[inline(always)]
fn accumulate_converted_portable(
    nibbles: &[u8],
    groups: usize,
    cols: usize,
    table: &[f32],
    weights: &[f32],
    convert: impl Fn(f32) -> f32 + Copy,
    out: &mut [f32],
) {
    let (vectors, cycles) = (out.len() / cols, weights.len());
    let (entries, _) = table.as_chunks::<LANES>();
    let nib = |c: usize, t: usize| &nibbles[(c * vectors + t) * groups..][..groups];
    for (b, block) in entries.chunks_exact(groups * 16).enumerate() {
        let (first, width) = (b * LANES, LANES.min(cols - b * LANES));
        for t in 0..vectors {
            let mut result = [0.0f32; LANES];
            let mut c = 0;
            // Four cycles at a time: four independent addition chains hide the add latency.
            while c + 4 <= cycles {
                let n = [nib(c, t), nib(c + 1, t), nib(c + 2, t), nib(c + 3, t)];
                let mut a = [[0.0f32; LANES]; 4];
                for g in 0..groups {
                    let subsets = &block[g * 16..g * 16 + 16];
                    for (acc, n) in a.iter_mut().zip(&n) {
                        let entry = &subsets[n[g] as usize & 15];
                        for l in 0..LANES {
                            acc[l] += entry[l];
                        }
                    }
                }
                for (k, acc) in a.iter().enumerate() {
                    for l in 0..LANES {
                        result[l] += weights[c + k] * convert(acc[l]);
                    }
                }
                c += 4;
            }
            for (c, &weight) in weights.iter().enumerate().skip(c) {
                let n = nib(c, t);
                let mut acc = [0.0f32; LANES];
                for g in 0..groups {
                    let entry = &block[g * 16 + (n[g] as usize & 15)];
                    for l in 0..LANES {
                        acc[l] += entry[l];
                    }
                }
                for l in 0..LANES {
                    result[l] += weight * convert(acc[l]);
                }
            }
            out[t * cols + first..][..width].copy_from_slice(&result[..width]);
        }
    }
}
