//! Tiles whose cells sit exactly on one of at most 256 levels, stored as one byte per cell
//! and read by an integer matrix product (the one-shot level with ideal devices).
//!
//! A one-shot tile holds unsliced weight magnitudes ℓ_ij (0..=2^(b−1)−1 for b-bit weights)
//! on a uniform scale G_ij = G_min + ℓ_ij·step, and its bipolar DAC drives row i with
//! V_i = u·c_i for an integer input code c_i (u volts per code unit). A column current is
//! then two integer sums in disguise:
//!
//! I_j = Σ_i V_i·G_ij = u·(G_min·Σ_i c_i + step·Σ_i c_i·ℓ_ij).
//!
//! With 8-bit codes and byte levels, Σ_i c_i·ℓ_ij is a product of an i8 matrix and a u8
//! matrix summed in 32-bit integers: exact, so the result is the same on every CPU, for any
//! summation order and thread count, and it runs on the CPU's byte dot-product instruction
//! (AVX-512 VNNI: 64 multiply-adds per instruction, four times an f32 FMA) where present.
//!
//! Without VNNI the same integer sums come from an f32 matrix product, exact because every
//! partial sum of a tile of up to 518 rows stays below 2^24.
//!
//! Storage is one byte per cell instead of a 32-bit conductance, and the conductances can
//! always be recovered exactly ([`LevelBytes::conductances_us`]).

use crate::kernels::gemm;

/// Columns per block: one AVX-512 register of 32-bit sums.
pub const BLOCK: usize = 16;

/// Input vectors per kernel step (their sums stay in registers; see `products_block`).
pub const VECTORS_PER_STEP: usize = 6;

/// Column blocks per kernel step.
const BLOCKS_PER_STEP: usize = 4;

/// Largest |code| of a byte-coded input (8-bit signed codes).
pub const MAX_CODE: i32 = 127;

/// Input codes of a batch of vectors, as the integer kernel reads them.
#[derive(Clone, Debug, PartialEq)]
pub struct ByteCodes {
    /// Codes, `padded_vectors() × stride`, row-major; rows past the tile's and vectors past
    /// the batch are 0.
    pub codes: Vec<i8>,
    /// Σ_i c_i of every (real) vector.
    pub sums: Vec<i32>,
    /// Rows rounded up to a multiple of 4.
    pub stride: usize,
    /// Row voltage per code unit, volts.
    pub volts_per_code: f32,
}

impl ByteCodes {
    /// Packs `codes` (vectors × rows, each within ±[`MAX_CODE`]); `None` if one is not.
    pub fn pack(codes: &[i32], vectors: usize, rows: usize, volts_per_code: f32) -> Option<Self> {
        debug_assert_eq!(codes.len(), vectors * rows);
        if codes.iter().any(|c| c.abs() > MAX_CODE) {
            return None;
        }
        let stride = rows.next_multiple_of(4);
        let padded = vectors.next_multiple_of(VECTORS_PER_STEP);
        let mut packed = vec![0i8; padded * stride];
        let mut sums = Vec::with_capacity(vectors);
        for (dst, src) in packed
            .chunks_exact_mut(stride)
            .zip(codes.chunks_exact(rows))
        {
            for (d, &c) in dst.iter_mut().zip(src) {
                *d = c as i8;
            }
            sums.push(src.iter().sum());
        }
        Some(ByteCodes {
            codes: packed,
            sums,
            stride,
            volts_per_code,
        })
    }

    /// Real vectors of the batch.
    pub fn vectors(&self) -> usize {
        self.sums.len()
    }
}

/// The levels of a rows × cols tile, one byte per cell, packed for the integer kernel.
#[derive(Clone, Debug)]
pub struct LevelBytes {
    rows: usize,
    cols: usize,
    /// Groups of four rows, ⌈rows / 4⌉.
    quads: usize,
    /// Blocks of BLOCK columns, ⌈cols / BLOCK⌉.
    blocks: usize,
    /// Conductance of level 0, µS.
    g_min_us: f32,
    /// Conductance between adjacent levels, µS.
    step_us: f32,
    /// packed[((b·quads + q)·BLOCK + l)·4 + k] is the level of row 4q + k in column
    /// b·BLOCK + l (0 past the tile): the four bytes a dot-product lane multiplies with four
    /// consecutive input codes, one block's quad in one 64-byte register.
    packed: Vec<u8>,
}

impl LevelBytes {
    /// The byte levels of `g_us` (µS, rows × cols, row-major) if every conductance is exactly
    /// (bitwise) `g_min_us + ℓ·step_us` for an integer ℓ in 0..=`max_level` ≤ 255, computed
    /// in f32 as written; `None` otherwise (varied devices, IR drop, more levels), in which
    /// case the tile keeps its float conductances. The integer sums of a tile must also fit
    /// 32 bits: rows·127·255 < 2^31 holds for rows < 66 000.
    pub fn detect(
        g_us: &[f32],
        rows: usize,
        cols: usize,
        g_min_us: f32,
        step_us: f32,
        max_level: u32,
    ) -> Option<Self> {
        assert_eq!(g_us.len(), rows * cols, "conductances must be rows×cols");
        if max_level > 255 || rows >= 66_000 || step_us.is_nan() || step_us <= 0.0 {
            return None;
        }
        let (quads, blocks) = (rows.div_ceil(4), cols.div_ceil(BLOCK));
        let mut packed = vec![0u8; blocks * quads * BLOCK * 4];
        let inv_step = 1.0 / step_us;
        for (i, row) in g_us.chunks_exact(cols).enumerate() {
            for (j, &g) in row.iter().enumerate() {
                // The nearest level (any rounding will do: the exact comparison decides).
                let level = ((g - g_min_us) * inv_step).round();
                if !(0.0..=max_level as f32).contains(&level) || g_min_us + level * step_us != g {
                    return None;
                }
                packed[((j / BLOCK * quads + i / 4) * BLOCK + j % BLOCK) * 4 + i % 4] = level as u8;
            }
        }
        Some(LevelBytes {
            rows,
            cols,
            quads,
            blocks,
            g_min_us,
            step_us,
            packed,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes of state stored.
    pub fn stored_bytes(&self) -> usize {
        self.packed.len()
    }

    /// The conductances (µS, rows × cols, row-major), exactly as they were detected.
    pub fn conductances_us(&self) -> Vec<f32> {
        let mut g = Vec::with_capacity(self.rows * self.cols);
        for i in 0..self.rows {
            g.extend((0..self.cols).map(|j| {
                self.g_min_us + self.packed[self.packed_index(i, j)] as f32 * self.step_us
            }));
        }
        g
    }

    /// The column current (µA) of a vector with code sum `sum` and level product `product`
    /// (every path turns integer sums into currents through this one expression).
    #[inline(always)]
    fn current(&self, volts_per_code: f32, sum: i32, product: i32) -> f32 {
        volts_per_code * (self.g_min_us * sum as f32 + self.step_us * product as f32)
    }

    /// out[t·cols + j] = finish(I_tj) for every vector t of `codes` and column j, where
    /// I_tj is the column current, µA. The integer sums come from the byte kernel where the
    /// CPU has AVX-512 VNNI, else from an f32 matrix product, which is exact for tiles of
    /// up to [`F32_EXACT_ROWS`] rows and several times faster than the portable byte loop;
    /// both give the same integers, so the same outputs.
    pub fn map_currents(&self, codes: &ByteCodes, finish: impl Fn(f32) -> f32, out: &mut [f32]) {
        assert_eq!(
            codes.stride,
            self.quads * 4,
            "codes must be packed for these rows"
        );
        assert_eq!(
            out.len(),
            codes.vectors() * self.cols,
            "output must be vectors×cols"
        );
        if has_vnni() || self.rows > F32_EXACT_ROWS {
            self.map_currents_bytes(codes, finish, out)
        } else {
            self.map_currents_f32(codes, finish, out)
        }
    }

    /// `map_currents` through the byte kernel. Columns are visited in blocks that stay in
    /// the cache while all vectors stream through them.
    fn map_currents_bytes(&self, codes: &ByteCodes, finish: impl Fn(f32) -> f32, out: &mut [f32]) {
        let vectors = codes.vectors();
        let step_cols = BLOCK * BLOCKS_PER_STEP;
        let mut sums = [[0i32; BLOCK * BLOCKS_PER_STEP]; VECTORS_PER_STEP];
        for first_block in (0..self.blocks).step_by(BLOCKS_PER_STEP) {
            let first_col = first_block * BLOCK;
            let width = step_cols.min(self.cols - first_col);
            for first in (0..vectors).step_by(VECTORS_PER_STEP) {
                self.products_step(codes, first, first_block, &mut sums);
                for (v, row) in sums.iter().enumerate().take(vectors - first) {
                    let t = first + v;
                    let dst = &mut out[t * self.cols + first_col..][..width];
                    for (o, &p) in dst.iter_mut().zip(row) {
                        *o = finish(self.current(codes.volts_per_code, codes.sums[t], p));
                    }
                }
            }
        }
    }

    /// `map_currents` through an f32 matrix product of the codes and the levels: every
    /// product and partial sum is an integer below 2^24 in magnitude, so exact.
    fn map_currents_f32(&self, codes: &ByteCodes, finish: impl Fn(f32) -> f32, out: &mut [f32]) {
        let (rows, cols, vectors) = (self.rows, self.cols, codes.vectors());
        // Codes rows × vectors (the layout `gemm` reads its left operand in).
        let mut x = vec![0.0f32; rows * vectors];
        for (t, c) in codes
            .codes
            .chunks_exact(codes.stride)
            .take(vectors)
            .enumerate()
        {
            for (i, &code) in c[..rows].iter().enumerate() {
                x[i * vectors + t] = code as f32;
            }
        }
        let levels: Vec<f32> = (0..rows * cols)
            .map(|k| self.packed[self.packed_index(k / cols, k % cols)] as f32)
            .collect();
        gemm(vectors, rows, cols, &x, &levels, out);
        for (t, out_t) in out.chunks_exact_mut(cols).enumerate() {
            for o in out_t {
                *o = finish(self.current(codes.volts_per_code, codes.sums[t], *o as i32));
            }
        }
    }

    /// Where the level of row `i`, column `j` sits in `packed`.
    fn packed_index(&self, i: usize, j: usize) -> usize {
        ((j / BLOCK * self.quads + i / 4) * BLOCK + j % BLOCK) * 4 + i % 4
    }

    /// Σ_i c_ti·ℓ_ij for the VECTORS_PER_STEP vectors from `first` and the columns of up to
    /// BLOCKS_PER_STEP blocks from `first_block` (columns past the tile give 0).
    fn products_step(
        &self,
        codes: &ByteCodes,
        first: usize,
        first_block: usize,
        sums: &mut [[i32; BLOCK * BLOCKS_PER_STEP]; VECTORS_PER_STEP],
    ) {
        let blocks = BLOCKS_PER_STEP.min(self.blocks - first_block);
        let weights = &self.packed[first_block * self.quads * BLOCK * 4..];
        let codes = &codes.codes[first * codes.stride..][..VECTORS_PER_STEP * codes.stride];
        #[cfg(target_arch = "x86_64")]
        {
            if has_vnni() {
                // SAFETY: the CPU supports both features (checked just above); the slices
                // hold `blocks` blocks of `quads` quads and VECTORS_PER_STEP vectors of
                // 4·quads codes, which is all the kernel reads.
                unsafe {
                    match blocks {
                        4 => products_vnni::<4>(weights, self.quads, codes, sums),
                        3 => products_vnni::<3>(weights, self.quads, codes, sums),
                        2 => products_vnni::<2>(weights, self.quads, codes, sums),
                        _ => products_vnni::<1>(weights, self.quads, codes, sums),
                    }
                }
                return;
            }
        }
        products_portable(weights, self.quads, blocks, codes, sums);
    }
}

/// Tallest tile whose f32 level products are exact: |Σ_i c_i·ℓ_i| ≤ rows·127·255 < 2^24.
pub const F32_EXACT_ROWS: usize = (1 << 24) / (MAX_CODE as usize * 255);

/// Whether the CPU has the byte dot-product instruction the integer kernel is written for.
fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The integer kernel without SIMD intrinsics (the same exact sums).
fn products_portable(
    weights: &[u8],
    quads: usize,
    blocks: usize,
    codes: &[i8],
    sums: &mut [[i32; BLOCK * BLOCKS_PER_STEP]; VECTORS_PER_STEP],
) {
    let stride = quads * 4;
    for (v, row) in sums.iter_mut().enumerate() {
        let c = &codes[v * stride..][..stride];
        row.fill(0);
        for b in 0..blocks {
            let block = &weights[b * quads * BLOCK * 4..][..quads * BLOCK * 4];
            let out = &mut row[b * BLOCK..][..BLOCK];
            for (q, quad) in block.chunks_exact(BLOCK * 4).enumerate() {
                let cq = &c[4 * q..4 * q + 4];
                for (o, lane) in out.iter_mut().zip(quad.chunks_exact(4)) {
                    *o += (0..4).map(|k| lane[k] as i32 * cq[k] as i32).sum::<i32>();
                }
            }
        }
    }
}

/// The integer kernel on AVX-512 VNNI: per quad of rows, `NB` registers of levels (16
/// columns × 4 rows each) and, per vector, its four codes broadcast to every lane; one
/// `vpdpbusd` multiplies the unsigned levels with the signed codes and adds the four
/// products of each lane to its 32-bit sum. VECTORS_PER_STEP·NB ≤ 24 sums stay in registers.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512 VNNI; `weights` must hold `NB` blocks of
/// `quads·64` bytes and `codes` VECTORS_PER_STEP vectors of `4·quads` codes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn products_vnni<const NB: usize>(
    weights: &[u8],
    quads: usize,
    codes: &[i8],
    sums: &mut [[i32; BLOCK * BLOCKS_PER_STEP]; VECTORS_PER_STEP],
) {
    use std::arch::x86_64::*;
    let block_bytes = quads * BLOCK * 4;
    assert!(weights.len() >= NB * block_bytes && codes.len() >= VECTORS_PER_STEP * quads * 4);
    let (w, c) = (weights.as_ptr(), codes.as_ptr());
    let mut acc = [[_mm512_setzero_si512(); NB]; VECTORS_PER_STEP];
    for q in 0..quads {
        let mut levels = [_mm512_setzero_si512(); NB];
        for (b, l) in levels.iter_mut().enumerate() {
            *l = _mm512_loadu_si512(w.add(b * block_bytes + q * BLOCK * 4) as *const _);
        }
        for (v, acc_v) in acc.iter_mut().enumerate() {
            let four = std::ptr::read_unaligned(c.add(v * quads * 4 + q * 4) as *const i32);
            let broadcast = _mm512_set1_epi32(four);
            for (a, &l) in acc_v.iter_mut().zip(&levels) {
                *a = _mm512_dpbusd_epi32(*a, l, broadcast);
            }
        }
    }
    for (row, acc_v) in sums.iter_mut().zip(&acc) {
        for (b, a) in acc_v.iter().enumerate() {
            _mm512_storeu_si512(row.as_mut_ptr().add(b * BLOCK) as *mut _, *a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 37×70 tile (rows not a multiple of 4, columns not of 64) of levels 0..=127 and 11
    /// vectors of codes ±127 (fixed integer patterns): conductances come back bitwise, the
    /// integer product equals Σ c·ℓ exactly on the available kernel and the portable one,
    /// and the currents equal Σ V·G in f64 within 1e-6 of the largest.
    #[test]
    fn byte_levels_round_trip_and_multiply_exactly() {
        let (rows, cols, vectors) = (37, 70, 11);
        let (g_min, step) = (9.0f32, (88.2f32 - 9.0) / 127.0);
        let levels: Vec<u32> = (0..rows * cols).map(|k| (k * 37 % 128) as u32).collect();
        let g: Vec<f32> = levels.iter().map(|&l| g_min + l as f32 * step).collect();
        let bytes = LevelBytes::detect(&g, rows, cols, g_min, step, 127).unwrap();
        assert_eq!(bytes.conductances_us(), g);
        assert_eq!(bytes.stored_bytes(), 5 * 10 * BLOCK * 4); // 5 blocks, 10 quads
        let codes: Vec<i32> = (0..vectors * rows)
            .map(|k| (k as i32 * 53) % 255 - 127)
            .collect();
        let volts = 0.5 / 127.0;
        let packed = ByteCodes::pack(&codes, vectors, rows, volts).unwrap();
        let mut out = vec![0.0; vectors * cols];
        bytes.map_currents(&packed, |i| i, &mut out);
        // The byte kernel and the f32 product give the same currents, bit for bit.
        let mut by_f32 = vec![0.0; vectors * cols];
        bytes.map_currents_f32(&packed, |i| i, &mut by_f32);
        let mut by_bytes = vec![0.0; vectors * cols];
        bytes.map_currents_bytes(&packed, |i| i, &mut by_bytes);
        assert_eq!(by_f32, by_bytes);
        let max = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for t in 0..vectors {
            for j in 0..cols {
                let want: f64 = (0..rows)
                    .map(|i| codes[t * rows + i] as f64 * volts as f64 * g[i * cols + j] as f64)
                    .sum();
                assert!((out[t * cols + j] as f64 - want).abs() <= 1e-6 * max as f64);
            }
        }
        // Integer sums: the dispatched kernel and the portable one agree exactly.
        for first_block in (0..bytes.blocks).step_by(BLOCKS_PER_STEP) {
            let blocks = BLOCKS_PER_STEP.min(bytes.blocks - first_block);
            let mut fast = [[0i32; BLOCK * BLOCKS_PER_STEP]; VECTORS_PER_STEP];
            let mut slow = fast;
            bytes.products_step(&packed, 6, first_block, &mut fast);
            let weights = &bytes.packed[first_block * bytes.quads * BLOCK * 4..];
            let c = &packed.codes[6 * packed.stride..][..VECTORS_PER_STEP * packed.stride];
            products_portable(weights, bytes.quads, blocks, c, &mut slow);
            for (v, (fast_v, slow_v)) in fast.iter().zip(&slow).enumerate() {
                assert_eq!(fast_v[..blocks * BLOCK], slow_v[..blocks * BLOCK]);
                let width = (blocks * BLOCK).min(cols - first_block * BLOCK);
                for (j, &got) in fast_v[..width].iter().enumerate() {
                    let col = first_block * BLOCK + j;
                    let want: i32 = if 6 + v < vectors {
                        (0..rows)
                            .map(|i| codes[(6 + v) * rows + i] * levels[i * cols + col] as i32)
                            .sum()
                    } else {
                        0 // padding vectors
                    };
                    assert_eq!(got, want, "vector {} column {col}", 6 + v);
                }
            }
        }
    }

    /// Off-level conductances, levels above the maximum and codes beyond 8 bits are refused.
    #[test]
    fn off_levels_and_wide_codes_are_refused() {
        let (g_min, step) = (9.0f32, 0.5f32);
        let mut g = vec![g_min + 3.0 * step; 4];
        assert!(LevelBytes::detect(&g, 2, 2, g_min, step, 3).is_some());
        assert!(LevelBytes::detect(&g, 2, 2, g_min, step, 2).is_none());
        g[3] = f32::from_bits(g[3].to_bits() + 1);
        assert!(LevelBytes::detect(&g, 2, 2, g_min, step, 3).is_none());
        assert!(ByteCodes::pack(&[127, -127], 1, 2, 1.0).is_some());
        assert!(ByteCodes::pack(&[128, 0], 1, 2, 1.0).is_none());
    }
}
