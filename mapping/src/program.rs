//! Programming one array of a mapped matrix: the chip-instance physics between the slice
//! levels of the weights and the [`Tile`] whose MVMs read them. For array `a`, in order:
//! its stuck cells (given ones and those the device model samples), the placement of the
//! levels on the physical array (around the stuck cells when remapping, see
//! [`crate::remap`]), programming through the device model with the stuck cells forced, IR
//! drop as a static effective conductance, the active tile gathered back, and the storage
//! format the tile keeps its conductances in.
//!
//! Separate from [`crate::matrix`], which holds the matrix and its MVM: this runs when a
//! chip instance is made (twice with drift compensation, for the fresh reference), and its
//! random draws are keyed by (seed, matrix, array) alone, so arrays program independently.

use crate::remap::{self, apply_faults, FaultMap};
use crate::tiling::{Layout, Placement};
use crossbar::{program_conductances, CellConfig, DeviceConfig, Purpose, StreamKey, Tile};

/// What programming one array needs to know besides its weights.
#[derive(Clone, Copy)]
pub(crate) struct Chip<'a> {
    pub(crate) layout: &'a Layout,
    /// The cell's conductance range (its `bits_per_cell` is that of bit-sliced mappings;
    /// the levels programmed are the layout's slice levels).
    pub(crate) cell: &'a CellConfig,
    /// Conductance between adjacent slice levels, µS: (G_max − G_min) / (2^c − 1).
    pub(crate) step_us: f32,
    pub(crate) device: &'a DeviceConfig,
    pub(crate) seed: u64,
    pub(crate) matrix_id: u32,
    pub(crate) remap: bool,
    pub(crate) ir_drop: &'a crossbar::ir_drop::IrDropConfig,
}

impl Chip<'_> {
    /// Programs array `a`: target levels, placed on the physical array (around `faults`
    /// when remapping), through the device model, stuck cells forced, gathered back into
    /// the active tile.
    pub(crate) fn program_tile(&self, codes: &[i32], a: usize, faults: &FaultMap) -> Tile {
        let layout = self.layout;
        let (r, j) = (a / layout.col_tiles, a % layout.col_tiles);
        let (rows, cols) = (layout.inputs(r).len(), layout.active_cols(j));
        let logical = layout.logical_levels(codes, r, j);
        let key = StreamKey::new(self.seed, self.matrix_id, a as u32, Purpose::Programming);
        let faults = &self.all_faults(faults, key);
        let placement = self.placement(&logical, rows, cols, j, faults);
        let physical = placement.scatter(&logical, layout.array_rows, layout.array_cols);
        let g_us = self.program_array(&physical, faults, key);
        let g = placement.gather(&g_us, layout.array_cols);
        let device = self.device.clone();
        let tile = Tile::new(
            g,
            rows,
            cols,
            move |g| device.read_noise_sigma_us(g),
            self.cell.g_max_us,
            key.with_purpose(Purpose::ReadNoise),
        )
        .with_correlation(self.device.read_noise.correlation());
        self.compact(tile)
    }

    /// The stuck cells of the physical array: `given` and the device's own. The device's
    /// own stuck cells do not depend on the levels, so they are known before placement
    /// (program_conductances forces them itself).
    fn all_faults(&self, given: &FaultMap, key: StreamKey) -> FaultMap {
        let layout = self.layout;
        let sampled = crossbar::device::sample_fault_map(
            &self.device.stuck_at,
            layout.array_rows,
            layout.array_cols,
            key,
        );
        let mut all_faults = given.clone();
        all_faults.cells.extend(sampled.cells);
        all_faults
    }

    /// Where the `rows × cols` logical levels of column tile `j` go on the physical array:
    /// steered away from `faults` when remapping, else in place.
    fn placement(
        &self,
        logical: &[u32],
        rows: usize,
        cols: usize,
        j: usize,
        faults: &FaultMap,
    ) -> Placement {
        let layout = self.layout;
        if self.remap {
            let significance = layout.column_significance(j);
            let content = remap::Content {
                levels: logical,
                rows,
                cols,
                significance: &significance,
                max_level: layout.slicing.max_level(),
            };
            remap::plan(&content, faults, layout.array_rows, layout.array_cols)
        } else {
            Placement::identity(rows, cols)
        }
    }

    /// The conductances of the whole physical array (µS) that reads its `physical`
    /// levels: programmed through the device model, `faults` forced, IR drop applied.
    fn program_array(&self, physical: &[u32], faults: &FaultMap, key: StreamKey) -> Vec<f32> {
        let layout = self.layout;
        // Level ℓ targets G_min + ℓ·step: for bit-sliced cells exactly the cell's level
        // conductance, at one-shot a point of a continuous scale of up to 2^24 levels.
        let targets: Vec<f32> = physical
            .iter()
            .map(|&level| self.cell.g_min_us + level as f32 * self.step_us)
            .collect();
        let mut g_us = program_conductances(
            self.device,
            self.cell,
            &targets,
            layout.array_rows,
            layout.array_cols,
            key,
        )
        .g_us;
        apply_faults(
            faults,
            &mut g_us,
            layout.array_cols,
            self.cell.g_min_us,
            self.cell.g_max_us,
        );
        // IR drop as a static effective conductance of the whole physical array.
        crossbar::ir_drop::effective_conductance(
            &g_us,
            layout.array_rows,
            layout.array_cols,
            self.ir_drop,
        )
    }

    /// The storage format `tile` keeps its conductances in.
    fn compact(&self, tile: Tile) -> Tile {
        // Bit-sliced cells that landed exactly on their levels (ideal devices) are kept as
        // bit planes: 1/16 of the memory at 2 bits per cell, and popcount MVMs; unsliced
        // cells on at most 256 levels as bytes, read by an exact integer product; devices
        // that vary (programming, drift) as 16-bit codes of their conductance (half the
        // memory of f32, an error a thousandth of the variation's). Exact targets that are
        // no levels (finer one-shot scales, IR drop alone) stay f32, so ideal parity holds.
        let varied = self.device.varies_conductance();
        let tile = match self.layout.slicing.bits {
            bits @ 1..=4 => tile.compact_levels(&CellConfig {
                bits_per_cell: bits,
                ..self.cell.clone()
            }),
            _ => tile.compact_byte_levels(
                self.cell.g_min_us,
                self.step_us,
                self.layout.slicing.max_level(),
            ),
        };
        if varied {
            tile.compact_analog()
        } else {
            tile
        }
    }
}
