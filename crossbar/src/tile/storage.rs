//! How a tile stores the conductances of its cells: one of four formats
//! ([`Conductances`]), here the float and 16-bit grid ([`ConductanceGrid`]) formats of
//! varied devices, and for every format the conductances it holds and the bytes it takes.
//! The two formats of cells exactly on their levels have modules of their own
//! ([`crate::bit_planes`], [`crate::level_bytes`]), beside the kernels that read them.
//!
//! Separate from the tile's physics: a format changes memory and speed, not what a cell
//! conducts (beyond the grid's half step). The tile picks one
//! ([`Tile::compact_levels`](super::Tile::compact_levels) and its siblings) and its MVM
//! dispatches on it.

use crate::bit_planes::LevelPlanes;
use crate::level_bytes::LevelBytes;
use std::borrow::Cow;

/// The actual conductances of a tile.
#[derive(Clone, Debug)]
pub(super) enum Conductances {
    /// Any conductances, µS, row-major rows × cols.
    Analog(Vec<f32>),
    /// Any conductances on a fine grid, 2 bytes per cell (see [`ConductanceGrid`]).
    Grid(ConductanceGrid),
    /// Every cell exactly on a level of its cell.
    Levels(LevelPlanes),
    /// Every cell exactly on one of at most 256 levels of a uniform scale (one-shot).
    Bytes(LevelBytes),
}

impl Conductances {
    /// Actual conductances, µS, row-major rows × cols.
    pub(super) fn conductances_us(&self) -> Vec<f32> {
        match self {
            Conductances::Analog(g) => g.clone(),
            Conductances::Grid(grid) => grid.decode(),
            Conductances::Levels(planes) => planes.conductances_us(),
            Conductances::Bytes(bytes) => bytes.conductances_us(),
        }
    }

    /// Bytes of state this storage holds.
    pub(super) fn stored_bytes(&self) -> usize {
        match self {
            Conductances::Analog(g) => 4 * g.len(),
            Conductances::Grid(grid) => 2 * grid.codes.len() + 8,
            Conductances::Levels(planes) => planes.stored_bytes(),
            Conductances::Bytes(bytes) => bytes.stored_bytes(),
        }
    }

    /// The conductances as floats, µS, rows × cols (borrowed when stored so).
    pub(super) fn floats(&self) -> Cow<'_, [f32]> {
        match self {
            Conductances::Analog(g) => Cow::Borrowed(g),
            _ => Cow::Owned(self.conductances_us()),
        }
    }
}

/// Conductances of varied devices stored as 16-bit codes on a uniform grid spanning the
/// tile's own range: G = lo + code·quantum, quantum = (max G − min G)/65535. Every stored
/// conductance is within quantum/2 (plus f32 rounding) of the programmed one: for a
/// ReRAM-CMO range of 9–88 µS about 0.0006 µS, a thousandth of the programming σ (≈ 1 µS),
/// at half the bytes of an f16 and a sixteenth of its relative error near G_max.
#[derive(Clone, Debug)]
pub(super) struct ConductanceGrid {
    lo_us: f32,
    quantum_us: f32,
    codes: Vec<u16>,
}

impl ConductanceGrid {
    pub(super) fn new(g_us: &[f32]) -> ConductanceGrid {
        let lo = g_us.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = g_us.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let quantum = if hi > lo {
            (hi - lo) / u16::MAX as f32
        } else {
            0.0
        };
        let inv = if quantum > 0.0 { 1.0 / quantum } else { 0.0 };
        let codes = g_us
            .iter()
            .map(|&g| ((g - lo) * inv).round().clamp(0.0, u16::MAX as f32) as u16)
            .collect();
        ConductanceGrid {
            lo_us: lo,
            quantum_us: quantum,
            codes,
        }
    }

    fn decode(&self) -> Vec<f32> {
        self.codes
            .iter()
            .map(|&c| self.lo_us + c as f32 * self.quantum_us)
            .collect()
    }
}
