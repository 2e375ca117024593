//! Tiles whose cells sit exactly on their levels, stored as bit planes and read by popcount.
//!
//! With ideal devices (and with stuck cells, which sit exactly at G_max or G_min) every
//! conductance is a level of its cell: G_ij = G_min + ℓ_ij·step, step = (G_max − G_min) /
//! (2^c − 1). A 1-bit DAC cycle drives a subset b of the rows at one voltage V, so a column
//! current is an integer count in disguise:
//!
//! I_j = Σ_{i∈b} V·G_ij = V·(G_min·|b| + step·Σ_p 2^p·popcount(b ∧ P_jp)),
//!
//! where P_jp is the set of rows whose level in column j has bit p set. With rows packed 64
//! to a machine word, one AND and one POPCNT read 64 cells. The counts are exact integers,
//! so the current differs from Σ V·G only by the rounding of the final float expression,
//! and it is the same on every CPU and SIMD width (integer sums have no order).
//!
//! Storage is c bits per cell instead of a 32-bit conductance (2 bits for ISAAC's 2-bit
//! cells), and the conductances can always be recovered exactly ([`LevelPlanes::conductances_us`]).

use crate::cell::CellConfig;

/// Bits per packed word of rows.
const WORD: usize = 64;

/// Columns per block: the kernel keeps one block's counts and outputs in registers (32
/// lanes = two AVX-512 registers of f32, two independent addition chains).
pub const LANES: usize = 32;

/// The levels of a rows × cols tile, one bit plane per level bit.
#[derive(Clone, Debug)]
pub struct LevelPlanes {
    rows: usize,
    cols: usize,
    /// Level bits per cell (planes).
    bits: usize,
    /// Words of packed rows, ⌈rows / 64⌉.
    words: usize,
    /// Conductance of level 0, µS.
    g_min_us: f32,
    /// Conductance between adjacent levels, µS.
    step_us: f32,
    /// Blocks of LANES columns, ⌈cols / LANES⌉ (the last one padded with empty columns).
    blocks: usize,
    /// planes[((k·words + w)·bits + p)·LANES + l] has bit r set when bit p of the level of
    /// row 64w + r in column k·LANES + l is 1. A block's planes are contiguous, so the
    /// kernel reads them as a few registers.
    planes: Vec<u64>,
    /// The cell the levels belong to (to rebuild conductances exactly as programmed).
    cell: CellConfig,
}

impl LevelPlanes {
    /// The bit planes of `g_us` (µS, rows × cols, row-major) if every conductance is exactly
    /// (bitwise) one of `cell`'s level conductances; `None` otherwise (varied devices, IR
    /// drop), in which case the tile keeps its float conductances.
    pub fn detect(g_us: &[f32], rows: usize, cols: usize, cell: &CellConfig) -> Option<Self> {
        assert_eq!(g_us.len(), rows * cols, "conductances must be rows×cols");
        let (bits, top) = (cell.bits_per_cell as usize, cell.max_level());
        let step_us = (cell.g_max_us - cell.g_min_us) / top as f32;
        let (words, blocks) = (rows.div_ceil(WORD), cols.div_ceil(LANES));
        let level_g: Vec<f32> = (0..=top).map(|l| cell.conductance_us(l)).collect();
        let mut planes = vec![0u64; blocks * words * bits * LANES];
        let inv_step = 1.0 / step_us;
        for (i, row) in g_us.chunks_exact(cols).enumerate() {
            let (w, r) = (i / WORD, i % WORD);
            for (j, &g) in row.iter().enumerate() {
                // The nearest level (any rounding will do: the exact comparison decides).
                let level = ((g - cell.g_min_us) * inv_step + 0.5) as usize;
                if level_g.get(level) != Some(&g) {
                    return None;
                }
                let at = ((j / LANES * words + w) * bits) * LANES + j % LANES;
                for p in 0..bits {
                    planes[at + p * LANES] |= ((level as u64 >> p) & 1) << r;
                }
            }
        }
        Some(LevelPlanes {
            rows,
            cols,
            bits,
            words,
            blocks,
            g_min_us: cell.g_min_us,
            step_us,
            planes,
            cell: cell.clone(),
        })
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Blocks of LANES columns.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Words of packed rows per driven vector, ⌈rows / 64⌉.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Bytes of state stored.
    pub fn stored_bytes(&self) -> usize {
        8 * self.planes.len()
    }

    /// The conductances (µS, rows × cols, row-major), exactly as they were detected.
    pub fn conductances_us(&self) -> Vec<f32> {
        let mut g = Vec::with_capacity(self.rows * self.cols);
        for i in 0..self.rows {
            let (w, r) = (i / WORD, i % WORD);
            g.extend((0..self.cols).map(|j| {
                let (k, l) = (j / LANES, j % LANES);
                let level = (0..self.bits)
                    .map(|p| {
                        let plane = self.planes[((k * self.words + w) * self.bits + p) * LANES + l];
                        (plane >> r & 1) << p
                    })
                    .sum::<u64>();
                self.cell.conductance_us(level as u8)
            }));
        }
        g
    }

    /// G_min·(rows driven), µS: the level-0 part of every column's conductance sum in an
    /// input cycle that drives the rows set in `driven`.
    #[inline(always)]
    pub fn offset_us(&self, driven: &[u64]) -> f32 {
        let mut rows = 0u32;
        for b in driven {
            rows += b.count_ones();
        }
        self.g_min_us * rows as f32
    }

    /// Level bits per cell (planes), 1–4.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Σ_p 2^p·popcount(driven ∧ P_jp) for the LANES columns j of block `k`: the level sum
    /// Σ_{i driven} ℓ_ij of each column (lanes past the last column count 0). `BITS` must
    /// equal [`LevelPlanes::bits`]; as a constant it lets the compiler unroll the planes and
    /// keep the counts in registers.
    #[inline(always)]
    pub fn block_counts<const BITS: usize>(&self, k: usize, driven: &[u64]) -> [u32; LANES] {
        debug_assert_eq!(
            BITS, self.bits,
            "block_counts called with the wrong plane count"
        );
        let block = &self.planes[k * self.words * BITS * LANES..];
        let mut counts = [0u32; LANES];
        for (w, &b) in driven.iter().enumerate() {
            if b == 0 {
                continue; // nothing driven in these 64 rows (common in high input bits)
            }
            for p in 0..BITS {
                let plane = &block[(w * BITS + p) * LANES..][..LANES];
                for (c, &cells) in counts.iter_mut().zip(plane) {
                    *c += (b & cells).count_ones() << p;
                }
            }
        }
        counts
    }

    /// `block_counts` for this tile's plane count.
    fn block_counts_any(&self, k: usize, driven: &[u64]) -> [u32; LANES] {
        match self.bits {
            1 => self.block_counts::<1>(k, driven),
            2 => self.block_counts::<2>(k, driven),
            3 => self.block_counts::<3>(k, driven),
            _ => self.block_counts::<4>(k, driven),
        }
    }

    /// Conductance between adjacent levels, µS.
    pub fn step_us(&self) -> f32 {
        self.step_us
    }

    /// Largest column current (µA) of one input cycle that drives the rows set in `driven`
    /// at `volts`: the current of the largest level count, since currents grow with it
    /// (the same value `currents` would give that column).
    #[inline(always)]
    pub fn max_current_ua(&self, driven: &[u64], volts: f32) -> f32 {
        let most = match self.bits {
            1 => self.max_count::<1>(driven),
            2 => self.max_count::<2>(driven),
            3 => self.max_count::<3>(driven),
            _ => self.max_count::<4>(driven),
        };
        volts * (self.offset_us(driven) + self.step_us * most as i32 as f32)
    }

    #[inline(always)]
    fn max_count<const BITS: usize>(&self, driven: &[u64]) -> u32 {
        let mut most = [0u32; LANES];
        for k in 0..self.blocks {
            let counts = self.block_counts::<BITS>(k, driven);
            for (m, &c) in most.iter_mut().zip(&counts) {
                *m = (*m).max(c);
            }
        }
        most.into_iter().max().unwrap_or(0)
    }

    /// Column currents (µA) into `out` (cols) of one input cycle that drives the rows set
    /// in `driven` at `volts`.
    pub fn currents(&self, driven: &[u64], volts: f32, out: &mut [f32]) {
        let offset = self.offset_us(driven);
        for (k, o) in out.chunks_mut(LANES).enumerate() {
            let counts = self.block_counts_any(k, driven);
            for (i, &c) in o.iter_mut().zip(&counts) {
                *i = volts * (offset + self.step_us * c as i32 as f32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell() -> CellConfig {
        CellConfig::reram_cmo(2)
    }

    /// 70 rows (two words, the second partial) × 5 columns of mixed levels: conductances
    /// come back bitwise, and every subset current equals Σ V·G in f64 within 1e-6 relative.
    #[test]
    fn planes_round_trip_and_count_currents() {
        let (rows, cols) = (70, 5);
        let c = cell();
        let g: Vec<f32> = (0..rows * cols)
            .map(|k| c.conductance_us((k * 7 % 4) as u8))
            .collect();
        let planes = LevelPlanes::detect(&g, rows, cols, &c).unwrap();
        assert_eq!(planes.conductances_us(), g);
        assert_eq!(planes.stored_bytes(), 2 * 2 * LANES * 8); // 1 block, 2 words, 2 planes
        for pattern in [0u64, 1, 0xdead_beef_1234_5678, u64::MAX] {
            let driven = [pattern, pattern.rotate_left(7) & ((1 << 6) - 1)];
            let mut out = vec![0.0; cols];
            planes.currents(&driven, 0.5, &mut out);
            for j in 0..cols {
                let want: f64 = (0..rows)
                    .filter(|i| driven[i / 64] >> (i % 64) & 1 == 1)
                    .map(|i| 0.5 * g[i * cols + j] as f64)
                    .sum();
                assert!(
                    (out[j] as f64 - want).abs() <= 1e-6 * want.max(1.0),
                    "{out:?}"
                );
            }
        }
    }

    /// A conductance off its level by one ulp is not a level: the tile stays analog.
    #[test]
    fn off_level_conductances_are_not_detected() {
        let c = cell();
        let mut g = vec![c.conductance_us(1); 4];
        assert!(LevelPlanes::detect(&g, 2, 2, &c).is_some());
        g[3] = f32::from_bits(g[3].to_bits() + 1);
        assert!(LevelPlanes::detect(&g, 2, 2, &c).is_none());
        assert!(LevelPlanes::detect(&[c.g_max_us * 1.5], 1, 1, &c).is_none());
    }
}
