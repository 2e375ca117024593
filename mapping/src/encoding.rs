//! Signed encoding and bit slicing (DESIGN.md §2, steps 2–3): from an integer weight to
//! the cell levels of its columns.
//!
//! A stored magnitude of m bits is cut into S = ⌈m / c⌉ slices of c bits (c = bits per
//! cell); slice s holds bits s·c..(s+1)·c and has significance 2^(s·c), restored digitally
//! by shift-and-add. Each slice sits on its own cell (and column), so an output feature
//! occupies S columns (offset encoding) or 2S (differential: S for W⁺, S for W⁻).

use crate::config::{Encoding, MappingConfig};

/// Slice and polarity geometry of one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slicing {
    pub encoding: Encoding,
    pub weight_bits: u8,
    /// Bits per slice (cell).
    pub bits: u8,
    /// Slices per stored magnitude.
    pub slices: usize,
}

impl Slicing {
    pub fn new(cfg: &MappingConfig) -> Slicing {
        Slicing {
            encoding: cfg.encoding,
            weight_bits: cfg.weight_bits,
            bits: cfg.bits_per_slice(),
            slices: cfg.slices(),
        }
    }

    /// Level of slice `s` of the unsigned value `v`: 0..2^c − 1 (up to 2^24 − 1 for the
    /// single slice of a one-shot mapping, whose "level" is a point on a continuous
    /// conductance scale).
    pub fn slice_level(&self, v: u32, s: usize) -> u32 {
        (v >> (s as u32 * self.bits as u32)) & self.max_level()
    }

    /// Highest level of a slice, 2^c − 1: the level programmed to G_max.
    pub fn max_level(&self) -> u32 {
        (1u32 << self.bits) - 1
    }

    /// Significance 2^(s·c) of slice `s`.
    pub fn significance(&self, s: usize) -> f32 {
        (1u64 << (s as u32 * self.bits as u32)) as f32
    }

    /// The unsigned values on the "positive" column and, for differential, the "negative"
    /// column of weight code `w`: (max(w,0), max(−w,0)) or (w + 2^(b−1), unused 0).
    pub fn column_values(&self, w: i32) -> (u32, u32) {
        match self.encoding {
            Encoding::Differential => (w.max(0) as u32, (-w).max(0) as u32),
            Encoding::Offset | Encoding::DigitalOffset => ((w + self.offset() as i32) as u32, 0),
        }
    }

    /// The offset 2^(b−1) the offset encoding adds (and its reference columns hold).
    pub fn offset(&self) -> u32 {
        1u32 << (self.weight_bits - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Re-assembling the slices of every code gives the code back.
    #[test]
    fn slices_reassemble_every_code() {
        for encoding in [Encoding::Differential, Encoding::Offset] {
            for bits_per_cell in 1..=4u8 {
                let cfg = MappingConfig {
                    encoding,
                    weight_bits: 8,
                    cell: crossbar::CellConfig {
                        bits_per_cell,
                        g_min_us: 1.0,
                        g_max_us: 10.0,
                    },
                    ..Default::default()
                };
                let sl = Slicing::new(&cfg);
                let value = |v: u32| -> f32 {
                    (0..sl.slices)
                        .map(|s| sl.slice_level(v, s) as f32 * sl.significance(s))
                        .sum()
                };
                for w in -127..=127 {
                    let (p, m) = sl.column_values(w);
                    let back = match encoding {
                        Encoding::Differential => value(p) - value(m),
                        Encoding::Offset | Encoding::DigitalOffset => value(p) - value(sl.offset()),
                    };
                    assert_eq!(back, w as f32, "{encoding:?} {bits_per_cell} bits/cell");
                }
            }
        }
    }
}
