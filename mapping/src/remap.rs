//! Fault-aware remapping (issue 3, item 8): steer the weights that stuck cells would hurt
//! most onto spare rows and columns.
//!
//! A stuck cell ignores programming and sits at G_max or at G_min. With `spare_rows` /
//! `spare_cols` left free in every array, the planner chooses which physical row holds each
//! logical row (input feature) and which physical column holds each logical column (one
//! slice of one output, or a reference column). Unused rows are driven at 0 V and unused
//! columns are not converted, so a fault there costs nothing.
//!
//! The damage of a placement is Σ over stuck cells under a logical cell (i, j) of
//! significance_j · |target level_ij − stuck level|: the conductance error in level steps,
//! weighted by the shift the column's slice gets in the shift-and-add (2^(s·c)); inputs are
//! taken as equally likely. The planner is greedy: while some move of a logical row onto a
//! free physical row lowers the damage, make the best such move; then the same for
//! columns. Each move strictly lowers the damage, so it terminates; it is not guaranteed
//! optimal (the exact problem is an assignment problem per array).

use crate::tiling::Placement;

pub use crossbar::device::{FaultMap, StuckAt, StuckCell};

/// Sets the stuck cells of a physical array's conductances (µS, row-major) to G_max / G_min.
pub fn apply_faults(
    faults: &FaultMap,
    g_us: &mut [f32],
    array_cols: usize,
    g_min_us: f32,
    g_max_us: f32,
) {
    for c in &faults.cells {
        g_us[c.row as usize * array_cols + c.col as usize] = match c.kind {
            StuckAt::GMax => g_max_us,
            StuckAt::GMin => g_min_us,
        };
    }
}

/// What the planner needs to know about one array's logical content.
pub struct Content<'a> {
    /// Target levels, logical rows × logical columns.
    pub levels: &'a [u32],
    pub rows: usize,
    pub cols: usize,
    /// Shift-and-add significance of each logical column.
    pub significance: &'a [f32],
    /// Highest cell level (2^bits − 1).
    pub max_level: u32,
}

/// A placement of `content` on an `array_rows × array_cols` array that avoids `faults`.
pub fn plan(
    content: &Content,
    faults: &FaultMap,
    array_rows: usize,
    array_cols: usize,
) -> Placement {
    let mut placement = Placement::identity(content.rows, content.cols);
    if faults.cells.is_empty() {
        return placement;
    }
    // Stuck cells listed per physical row and per physical column, with their level: the
    // damage of a placement only involves these few cells.
    let mut by_row = vec![Vec::new(); array_rows];
    let mut by_col = vec![Vec::new(); array_cols];
    for c in &faults.cells {
        let level = match c.kind {
            StuckAt::GMax => content.max_level as f32,
            StuckAt::GMin => 0.0,
        };
        by_row[c.row as usize].push((c.col as usize, level));
        by_col[c.col as usize].push((c.row as usize, level));
    }
    let damage = |i: usize, j: usize, stuck_level: f32| {
        content.significance[j] * (content.levels[i * content.cols + j] as f32 - stuck_level).abs()
    };

    // Rows: move logical row i onto a free physical row while that helps.
    let col_at = inverse(&placement.cols, array_cols);
    let row_cost = |i: usize, pr: usize| -> f32 {
        by_row[pr]
            .iter()
            .filter_map(|&(pc, s)| col_at[pc].map(|j| damage(i, j, s)))
            .sum()
    };
    let mut free_rows: Vec<usize> = (content.rows..array_rows).collect();
    let mut cost: Vec<f32> = (0..content.rows)
        .map(|i| row_cost(i, placement.rows[i]))
        .collect();
    while let Some((i, f)) = best_move(&cost, &free_rows, |i, pr| cost[i] - row_cost(i, pr)) {
        std::mem::swap(&mut placement.rows[i], &mut free_rows[f]);
        cost[i] = row_cost(i, placement.rows[i]);
    }

    // Columns: the same with the rows now placed.
    let row_at = inverse(&placement.rows, array_rows);
    let col_cost = |j: usize, pc: usize| -> f32 {
        by_col[pc]
            .iter()
            .filter_map(|&(pr, s)| row_at[pr].map(|i| damage(i, j, s)))
            .sum()
    };
    let mut free_cols: Vec<usize> = (content.cols..array_cols).collect();
    let mut cost: Vec<f32> = (0..content.cols)
        .map(|j| col_cost(j, placement.cols[j]))
        .collect();
    while let Some((j, f)) = best_move(&cost, &free_cols, |j, pc| cost[j] - col_cost(j, pc)) {
        std::mem::swap(&mut placement.cols[j], &mut free_cols[f]);
        cost[j] = col_cost(j, placement.cols[j]);
    }
    placement
}

/// Logical index held by each physical line (None for free lines).
fn inverse(physical_of: &[usize], lines: usize) -> Vec<Option<usize>> {
    let mut logical = vec![None; lines];
    for (l, &p) in physical_of.iter().enumerate() {
        logical[p] = Some(l);
    }
    logical
}

/// The (logical index, free slot) pair with the largest positive gain, if any. Only lines
/// that currently take damage can gain.
fn best_move(
    cost: &[f32],
    free: &[usize],
    gain: impl Fn(usize, usize) -> f32,
) -> Option<(usize, usize)> {
    let mut best = None;
    let mut best_gain = 0.0f32;
    for l in (0..cost.len()).filter(|&l| cost[l] > 0.0) {
        for (f, &physical) in free.iter().enumerate() {
            let g = gain(l, physical);
            if g > best_gain {
                best_gain = g;
                best = Some((l, f));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stuck-at-G_max cell under a level-0 weight of the most significant column is moved
    /// off: both a spare row and a spare column exist, and the planner uses one of them.
    #[test]
    fn a_damaging_fault_is_avoided() {
        let levels = [0u32, 3, 0, 1]; // 2×2 logical, 2-bit cells
        let content = Content {
            levels: &levels,
            rows: 2,
            cols: 2,
            significance: &[4.0, 1.0],
            max_level: 3,
        };
        let faults = FaultMap {
            rows: 3,
            cols: 3,
            cells: vec![StuckCell {
                row: 0,
                col: 0,
                kind: StuckAt::GMax,
            }],
        };
        let p = plan(&content, &faults, 3, 3);
        assert!(p.rows[0] != 0 || p.cols[0] != 0, "{p:?}");
        // Without spares nothing can move.
        assert_eq!(plan(&content, &faults, 2, 2), Placement::identity(2, 2));
    }
}
