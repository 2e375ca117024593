//! Tiling (DESIGN.md §2, step 6): which inputs and outputs of the matrix land on which
//! array, and where inside it.
//!
//! The crossbar holds Wᵀ: input feature k drives a row, output feature n owns columns.
//! Inputs are cut into row tiles of `array_rows − spare_rows` rows, outputs into column
//! tiles of as many whole output features as fit in `array_cols − spare_cols` columns
//! (after the offset encoding's reference columns). The last tile of each kind may be
//! partly empty, so any matrix size maps onto any array size. Array (r, j) holds inputs
//! of row tile r and outputs of column tile j; arrays sharing j add their partial sums
//! digitally.
//!
//! Inside an array the *logical* columns are ordered output by output, slice by slice
//! (differential: W⁺ then W⁻ of each slice), followed by the reference columns; logical
//! rows follow the inputs. A [`Placement`] says which physical row/column each logical one
//! occupies (the identity unless fault-aware remapping moved some onto spares).

use crate::config::{Encoding, MappingConfig};
use crate::encoding::Slicing;
use std::ops::Range;

/// The geometry of a matrix on arrays.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub out_features: usize,
    pub in_features: usize,
    pub array_rows: usize,
    pub array_cols: usize,
    /// Inputs per row tile (array rows minus spares).
    pub rows_per_tile: usize,
    pub row_tiles: usize,
    /// Output features per column tile.
    pub outputs_per_tile: usize,
    pub col_tiles: usize,
    pub slicing: Slicing,
}

impl Layout {
    /// Layout of an out × in matrix under a validated `cfg`.
    pub fn new(cfg: &MappingConfig, out_features: usize, in_features: usize) -> Layout {
        let rows_per_tile = cfg.array_rows - cfg.spare_rows;
        let usable_cols = cfg.array_cols - cfg.spare_cols - cfg.reference_columns();
        let outputs_per_tile = usable_cols / cfg.columns_per_output();
        Layout {
            out_features,
            in_features,
            array_rows: cfg.array_rows,
            array_cols: cfg.array_cols,
            rows_per_tile,
            row_tiles: in_features.div_ceil(rows_per_tile),
            outputs_per_tile,
            col_tiles: out_features.div_ceil(outputs_per_tile),
            slicing: Slicing::new(cfg),
        }
    }

    pub fn arrays(&self) -> usize {
        self.row_tiles * self.col_tiles
    }

    /// Index of array (r, j), row-tile-major.
    pub fn array_index(&self, r: usize, j: usize) -> usize {
        r * self.col_tiles + j
    }

    /// Input features on row tile `r`.
    pub fn inputs(&self, r: usize) -> Range<usize> {
        r * self.rows_per_tile..((r + 1) * self.rows_per_tile).min(self.in_features)
    }

    /// Output features on column tile `j`.
    pub fn outputs(&self, j: usize) -> Range<usize> {
        j * self.outputs_per_tile..((j + 1) * self.outputs_per_tile).min(self.out_features)
    }

    fn polarities(&self) -> usize {
        match self.slicing.encoding {
            Encoding::Differential => 2,
            Encoding::Offset | Encoding::DigitalOffset => 1,
        }
    }

    /// Active (used) columns of an array in column tile `j`.
    pub fn active_cols(&self, j: usize) -> usize {
        let refs = match self.slicing.encoding {
            Encoding::Differential | Encoding::DigitalOffset => 0,
            Encoding::Offset => self.slicing.slices,
        };
        self.outputs(j).len() * self.polarities() * self.slicing.slices + refs
    }

    /// Logical column of slice `s` of local output `o` (its W⁺ column when differential).
    pub fn plus_col(&self, o: usize, s: usize) -> usize {
        (o * self.slicing.slices + s) * self.polarities()
    }

    /// Logical column subtracted from `plus_col(o, s)`: the W⁻ column (differential) or
    /// the array's reference column of slice `s` (offset), in column tile `j`; `None` when
    /// the periphery subtracts a nominal offset instead (digital offset).
    pub fn minus_col(&self, j: usize, o: usize, s: usize) -> Option<usize> {
        match self.slicing.encoding {
            Encoding::Differential => Some(self.plus_col(o, s) + 1),
            Encoding::Offset => Some(self.outputs(j).len() * self.slicing.slices + s),
            Encoding::DigitalOffset => None,
        }
    }

    /// Shift-and-add significance 2^(s·c) of every logical column of column tile `j`.
    pub fn column_significance(&self, j: usize) -> Vec<f32> {
        let mut sig = vec![0.0; self.active_cols(j)];
        for o in 0..self.outputs(j).len() {
            for s in 0..self.slicing.slices {
                sig[self.plus_col(o, s)] = self.slicing.significance(s);
                if let Some(minus) = self.minus_col(j, o, s) {
                    sig[minus] = self.slicing.significance(s);
                }
            }
        }
        sig
    }

    /// Target cell levels of array (r, j), logical rows × logical columns, from the
    /// integer weights (out × in, row-major).
    pub fn logical_levels(&self, codes: &[i32], r: usize, j: usize) -> Vec<u32> {
        let (inputs, outputs) = (self.inputs(r), self.outputs(j));
        let cols = self.active_cols(j);
        let sl = &self.slicing;
        let mut levels = vec![0u32; inputs.len() * cols];
        for (i, k) in inputs.clone().enumerate() {
            let row = &mut levels[i * cols..(i + 1) * cols];
            for (o, n) in outputs.clone().enumerate() {
                let (plus, minus) = sl.column_values(codes[n * self.in_features + k]);
                for s in 0..sl.slices {
                    row[self.plus_col(o, s)] = sl.slice_level(plus, s);
                    if sl.encoding == Encoding::Differential {
                        row[self.plus_col(o, s) + 1] = sl.slice_level(minus, s);
                    }
                }
            }
            if sl.encoding == Encoding::Offset {
                for s in 0..sl.slices {
                    row[self.outputs(j).len() * sl.slices + s] = sl.slice_level(sl.offset(), s);
                }
            }
        }
        levels
    }
}

/// Where the logical rows and columns of one array physically sit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Physical row of each logical row.
    pub rows: Vec<usize>,
    /// Physical column of each logical column.
    pub cols: Vec<usize>,
}

impl Placement {
    /// Logical row i on physical row i, logical column j on physical column j.
    pub fn identity(rows: usize, cols: usize) -> Placement {
        Placement {
            rows: (0..rows).collect(),
            cols: (0..cols).collect(),
        }
    }

    /// Scatters logical levels onto a full physical array (unused cells at level 0).
    pub fn scatter<T: Copy + Default>(
        &self,
        logical: &[T],
        array_rows: usize,
        array_cols: usize,
    ) -> Vec<T> {
        let cols = self.cols.len();
        let mut physical = vec![T::default(); array_rows * array_cols];
        for (i, &pr) in self.rows.iter().enumerate() {
            for (j, &pc) in self.cols.iter().enumerate() {
                physical[pr * array_cols + pc] = logical[i * cols + j];
            }
        }
        physical
    }

    /// Gathers the logical rows × columns back out of a full physical array.
    pub fn gather<T: Copy>(&self, physical: &[T], array_cols: usize) -> Vec<T> {
        let mut logical = Vec::with_capacity(self.rows.len() * self.cols.len());
        for &pr in &self.rows {
            logical.extend(self.cols.iter().map(|&pc| physical[pr * array_cols + pc]));
        }
        logical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_dividing_sizes_cover_every_feature_once() {
        let cfg = MappingConfig {
            array_rows: 5,
            array_cols: 7,
            spare_rows: 1,
            ..Default::default()
        };
        // Default: 4 slices × 2 polarities = 8 columns per output > 7: invalid.
        assert!(cfg.validate("m").is_err());
        let cfg = MappingConfig {
            array_cols: 19,
            weight_bits: 4, // 3 magnitude bits on 2-bit cells: 2 slices, 4 columns/output
            ..cfg
        };
        cfg.validate("m").unwrap();
        let l = Layout::new(&cfg, 10, 9);
        assert_eq!((l.rows_per_tile, l.row_tiles), (4, 3));
        assert_eq!((l.outputs_per_tile, l.col_tiles), (4, 3));
        assert_eq!(l.inputs(2), 8..9);
        assert_eq!(l.outputs(2), 8..10);
        assert_eq!(l.active_cols(2), 8);
    }

    #[test]
    fn placement_round_trips() {
        let p = Placement {
            rows: vec![2, 0],
            cols: vec![1, 3, 0],
        };
        let logical = [1, 2, 3, 4, 5, 6];
        let phys = p.scatter(&logical, 3, 4);
        assert_eq!(phys[2 * 4 + 1], 1);
        assert_eq!(p.gather(&phys, 4), logical.to_vec());
    }
}
