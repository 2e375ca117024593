//! IR drop: the voltage lost along the word and bit lines of a crossbar.
//!
//! ## Circuit model
//!
//! ```text
//!   V_0 ─r─●─r─●─r─●          word line 0 (right end open)
//!          │G  │G  │G
//!   V_1 ─r─●─r─●─r─●          word line 1
//!          │   │   │
//!          ●   ●   ●          bit-line nodes (top end open)
//!          r   r   r
//!          ▽   ▽   ▽          sense amplifiers at virtual ground (0 V)
//!         I_0 I_1 I_2
//! ```
//!
//! * Row i is driven at the **left** end of its word line by an ideal voltage source V_i
//!   (the DAC output, in V); the source reaches the first cell through one wire segment.
//!   A row whose input is 0 is driven at 0 V, not left floating.
//! * Column j's bit line is sensed at the **bottom** (after the last row) by an ideal
//!   transimpedance amplifier holding it at virtual ground 0 V, again through one segment.
//!   The column current I_j (µA) is the current into that amplifier.
//! * Every wire segment between adjacent cells, on word and bit lines alike, has resistance
//!   r (`wire_resistance_ohm`); each cell is a linear conductance G_ij (µS) between its
//!   word-line node and its bit-line node. The far ends of the lines are open.
//! * Assumptions: ohmic devices (no I–V nonlinearity, selector or access-transistor
//!   resistance beyond what G includes), ideal drivers and sense amplifiers, DC only.
//!
//! Published segment resistances: MNSIM 2.82 Ω per segment; aihwkit 0.35 Ω (used there with
//! devices of about 5 µS). The size of the effect scales with r·G·n²: in a 128×128 array of
//! 100 µS cells with 2.82 Ω segments and every row at 1 V, the worst cell sees 0.17 V.
//!
//! ## Exact solve
//!
//! Kirchhoff's current law at the 2·rows·cols nodes gives a symmetric positive-definite
//! system. [`solve_exact`] solves it by *line Gauss–Seidel*: each sweep solves every word
//! line exactly (a tridiagonal system, factored once and reused by every sweep) with the
//! bit-line voltages fixed, then every bit line with the word-line voltages fixed. It stops when no node voltage
//! moved by more than `1e-12·max|V|` in a sweep ([`EXACT_TOLERANCE`]). With r = 0 the
//! lines are equipotential and I_j = Σ_i V_i·G_ij exactly.
//!
//! ## Fast approximation for BERT-scale runs
//!
//! Because the network is linear, the column currents are y = M·V for some matrix M; the
//! drop makes M differ from G. [`effective_conductance`] replaces G by a static G_eff so the
//! tile MVM stays a plain product: G_eff_ij = G_ij·(v_wl_ij − v_bl_ij), the cell's share of a
//! 1 V drive on every row, from `approximation_sweeps` line sweeps started at the ideal
//! state (word lines at 1 V, bit lines at 0 V). Once the sweeps converge it is exact for
//! inputs with all rows equal; for other inputs it overestimates the bit-line drop of rows that are not driven, so its
//! error grows as inputs get sparser. Cost: two tridiagonal solves per line per sweep,
//! once per programmed tile.
//!
//! Measured worst error (max column |I_approx − I_exact| over max_j |I_exact|; random 2-bit
//! arrays; analog inputs and 0.2 V input bits at densities 0.5, 0.1, 0.02; 2 sweeps), next
//! to the error of ignoring IR drop altogether; the test `approximation_error_is_bounded_
//! against_the_exact_solve` enforces bounds above these:
//!
//! | wires, cells | n = 32 | n = 64 | n = 128 | no correction, n = 128 |
//! |---|---|---|---|---|
//! | 2.82 Ω (MNSIM), 0.59–10 µS (NeuroSim) | < 0.01 % | 0.05 % | 0.63 % | 20–24 % |
//! | 0.35 Ω (aihwkit), 9–88.2 µS (ReRAM-CMO) | < 0.01 % | 0.06 % | 0.75 % | 22–27 % |
//! | 2.82 Ω (MNSIM), 9–88.2 µS (ReRAM-CMO) | 0.21 % | 2.3 % | 13.6 % | 124–181 % |
//!
//! The worst cases are the sparsest inputs (2 % of rows driven); dense inputs are 3–10×
//! better. When r·G·n² approaches 1 (the table's last row) use [`solve_exact`] for studies that need
//! the drop to within a few percent.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Convergence tolerance of the exact solve, relative to max|V_in|: the largest change of
/// any node voltage in the final sweep.
pub const EXACT_TOLERANCE: f64 = 1e-12;

/// Line-resistance parameters. Default: off (r = 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IrDropConfig {
    /// Resistance of one wire segment between adjacent cells (and between the last cell and
    /// the driver or sense amplifier), Ω, the same on word and bit lines. 0 = no IR drop.
    /// MNSIM: 2.82 Ω; aihwkit: 0.35 Ω.
    pub wire_resistance_ohm: f64,
    /// Line sweeps used by [`effective_conductance`] (1 = each line solved once against
    /// ideal neighbours). Default 2.
    pub approximation_sweeps: u32,
}

impl Default for IrDropConfig {
    fn default() -> Self {
        Self {
            wire_resistance_ohm: 0.0,
            approximation_sweeps: 2,
        }
    }
}

impl IrDropConfig {
    /// MNSIM's 2.82 Ω per segment.
    pub fn mnsim() -> Self {
        Self {
            wire_resistance_ohm: 2.82,
            ..Self::default()
        }
    }

    /// aihwkit's 0.35 Ω per segment.
    pub fn aihwkit() -> Self {
        Self {
            wire_resistance_ohm: 0.35,
            ..Self::default()
        }
    }

    pub fn is_off(&self) -> bool {
        self.wire_resistance_ohm == 0.0
    }

    /// Rejects a negative or non-finite resistance and zero approximation sweeps.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let r = self.wire_resistance_ohm;
        if !(r >= 0.0 && r.is_finite()) {
            return Err(ConfigError::new(
                format!("{key}.wire_resistance_ohm"),
                "a finite resistance >= 0 Ω",
                r,
            ));
        }
        if self.approximation_sweeps == 0 {
            return Err(ConfigError::new(
                format!("{key}.approximation_sweeps"),
                "at least 1 sweep",
                0,
            ));
        }
        Ok(())
    }

    /// Wire segment conductance in µS (the unit of the cell conductances).
    fn segment_us(&self) -> f64 {
        1e6 / self.wire_resistance_ohm
    }
}

/// Node voltages and column currents of a solved crossbar.
#[derive(Clone, Debug)]
pub struct NodalSolution {
    /// Current into each column's sense amplifier, µA.
    pub column_currents_ua: Vec<f64>,
    /// Word-line voltage at each cell, V, row-major rows×cols.
    pub word_line_v: Vec<f64>,
    /// Bit-line voltage at each cell, V, row-major rows×cols.
    pub bit_line_v: Vec<f64>,
    /// Line sweeps performed.
    pub sweeps: u32,
}

/// Column currents (µA) of a rows×cols array of conductances `g_us` (µS, row-major) driven by
/// `v_in` (V, one per row), from the exact nodal solve with `cfg`'s wire resistance.
///
/// # Panics
/// If `g_us.len() != rows·cols`, `v_in.len() != rows`, or a conductance is negative or not
/// finite (caller bugs: [`program_array`](crate::program_array) never produces one).
pub fn solve_exact(
    g_us: &[f32],
    rows: usize,
    cols: usize,
    v_in: &[f32],
    cfg: &IrDropConfig,
) -> Vec<f64> {
    solve_nodes(g_us, rows, cols, v_in, cfg).column_currents_ua
}

/// The full exact solution: node voltages, column currents and the sweep count.
///
/// # Panics
/// As [`solve_exact`].
pub fn solve_nodes(
    g_us: &[f32],
    rows: usize,
    cols: usize,
    v_in: &[f32],
    cfg: &IrDropConfig,
) -> NodalSolution {
    assert_eq!(g_us.len(), rows * cols, "g_us must be rows×cols");
    assert_eq!(v_in.len(), rows, "v_in must have one voltage per row");
    assert_physical(g_us);
    if cfg.is_off() || rows == 0 || cols == 0 {
        return wireless_solution(g_us, rows, cols, v_in);
    }
    let mut net = Network::new(g_us, rows, cols, v_in, cfg.segment_us());
    let v_scale = v_in.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
    // Gauss–Seidel converges on a positive-definite system, which non-negative
    // conductances and r > 0 guarantee.
    let mut sweeps = 0;
    loop {
        sweeps += 1;
        if net.sweep() <= EXACT_TOLERANCE * v_scale {
            return net.into_solution(sweeps);
        }
    }
}

/// Panics unless every conductance is finite and >= 0 µS.
fn assert_physical(g_us: &[f32]) {
    if let Some(k) = g_us.iter().position(|g| !(g.is_finite() && *g >= 0.0)) {
        panic!(
            "conductance {k} is {} µS: expected a finite value >= 0",
            g_us[k]
        );
    }
}

/// Static IR-drop-attenuated conductances (µS, row-major) for use in a plain MVM; see the
/// module docs. Returns `g_us` unchanged when IR drop is off.
///
/// # Panics
/// As [`solve_exact`].
pub fn effective_conductance(
    g_us: &[f32],
    rows: usize,
    cols: usize,
    cfg: &IrDropConfig,
) -> Vec<f32> {
    assert_eq!(g_us.len(), rows * cols, "g_us must be rows×cols");
    assert_physical(g_us);
    if cfg.is_off() || rows == 0 || cols == 0 {
        return g_us.to_vec();
    }
    let ones = vec![1.0f32; rows];
    let mut net = Network::new(g_us, rows, cols, &ones, cfg.segment_us());
    for _ in 0..cfg.approximation_sweeps {
        net.sweep();
    }
    (0..rows * cols)
        .map(|k| (g_us[k] as f64 * (net.v_wl[k] - net.v_bl[k])) as f32)
        .collect()
}

/// With no wire resistance every word line sits at its drive voltage and every bit line at
/// virtual ground, so I_j = Σ_i V_i·G_ij.
fn wireless_solution(g: &[f32], rows: usize, cols: usize, v_in: &[f32]) -> NodalSolution {
    let column_currents_ua = (0..cols)
        .map(|j| {
            (0..rows)
                .map(|i| v_in[i] as f64 * g[i * cols + j] as f64)
                .sum()
        })
        .collect();
    NodalSolution {
        column_currents_ua,
        word_line_v: (0..rows * cols).map(|k| v_in[k / cols] as f64).collect(),
        bit_line_v: vec![0.0; rows * cols],
        sweeps: 0,
    }
}

/// The crossbar's node voltages, with every line's tridiagonal system factored once.
///
/// Node equations (conductances in µS, g_s = 1/r): word-line node (i, j) has segments to
/// j−1 (the driver at V_i for j = 0) and to j+1 (none at the open right end); bit-line
/// node (i, j) has segments to i−1 (none at the open top) and to i+1 (virtual ground after
/// the last row); the cell G_ij joins the two. Holding the other line family fixed, each
/// line is a tridiagonal system with off-diagonal −g_s. Its LU factors depend only on G
/// and g_s, so sweeps reuse them and cost multiplications only.
struct Network<'a> {
    g: &'a [f32],
    rows: usize,
    cols: usize,
    v_in: &'a [f32],
    g_seg: f64,
    v_wl: Vec<f64>,
    v_bl: Vec<f64>,
    word_lines: LineFactors,
    bit_lines: LineFactors,
    /// Scratch right-hand sides, rows×cols.
    rhs: Vec<f64>,
}

/// LU factors of symmetric tridiagonal systems with off-diagonal −g_s, stored node by node
/// (row-major rows×cols): `inv_pivot[k]` is 1/pivot; the multiplier that eliminates node
/// k's predecessor p is −g_s·inv_pivot[p], recomputed where needed.
struct LineFactors {
    inv_pivot: Vec<f64>,
}

impl<'a> Network<'a> {
    /// Factors every line and starts from the wireless state (word lines at V_i, bit lines
    /// at 0 V).
    fn new(g: &'a [f32], rows: usize, cols: usize, v_in: &'a [f32], g_seg: f64) -> Self {
        let n = rows * cols;
        let mut word_lines = LineFactors::with_len(n);
        let mut bit_lines = LineFactors::with_len(n);
        // Loop orders put consecutive divisions on different lines, so they pipeline.
        for j in 0..cols {
            let segments = if j + 1 < cols { 2.0 } else { 1.0 };
            for i in 0..rows {
                let k = i * cols + j;
                let prev = (j > 0).then(|| k - 1);
                word_lines.factor(k, prev, segments * g_seg + g[k] as f64, g_seg);
            }
        }
        for i in 0..rows {
            let segments = if i > 0 { 2.0 } else { 1.0 };
            for j in 0..cols {
                let k = i * cols + j;
                let prev = (i > 0).then(|| k - cols);
                bit_lines.factor(k, prev, segments * g_seg + g[k] as f64, g_seg);
            }
        }
        let v_wl = v_in
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v as f64, cols))
            .collect();
        Self {
            g,
            rows,
            cols,
            v_in,
            g_seg,
            v_wl,
            v_bl: vec![0.0; n],
            word_lines,
            bit_lines,
            rhs: vec![0.0; n],
        }
    }

    /// One line Gauss–Seidel sweep (all word lines, then all bit lines); returns the
    /// largest node-voltage change, V.
    fn sweep(&mut self) -> f64 {
        let a = self.solve_word_lines();
        let b = self.solve_bit_lines();
        a.max(b)
    }

    /// Every word line given the bit lines, one row at a time.
    fn solve_word_lines(&mut self) -> f64 {
        let (cols, g_seg) = (self.cols, self.g_seg);
        let mut change = 0f64;
        for i in 0..self.rows {
            let row = i * cols..(i + 1) * cols;
            let (g, v_bl) = (&self.g[row.clone()], &self.v_bl[row.clone()]);
            let inv = &self.word_lines.inv_pivot[row.clone()];
            let rhs = &mut self.rhs[row.clone()];
            // Forward elimination: y_j = b_j + g_s·inv_{j−1}·y_{j−1}; the driver feeds j = 0.
            let mut prev = g_seg * self.v_in[i] as f64 + g[0] as f64 * v_bl[0];
            rhs[0] = prev;
            for j in 1..cols {
                prev = g[j] as f64 * v_bl[j] + g_seg * inv[j - 1] * prev;
                rhs[j] = prev;
            }
            let v_wl = &mut self.v_wl[row];
            let mut next = 0.0;
            for j in (0..cols).rev() {
                let x = (rhs[j] + g_seg * next) * inv[j];
                change = change.max((x - v_wl[j]).abs());
                v_wl[j] = x;
                next = x;
            }
        }
        change
    }

    /// Every bit line given the word lines, all columns together row by row (contiguous
    /// memory, no dependency between neighbouring columns).
    fn solve_bit_lines(&mut self) -> f64 {
        let (rows, cols, g_seg) = (self.rows, self.cols, self.g_seg);
        let inv = &self.bit_lines.inv_pivot;
        for i in 0..rows {
            for j in 0..cols {
                let k = i * cols + j;
                let carried = if i > 0 {
                    g_seg * inv[k - cols] * self.rhs[k - cols]
                } else {
                    0.0
                };
                self.rhs[k] = self.g[k] as f64 * self.v_wl[k] + carried;
            }
        }
        let mut change = 0f64;
        for i in (0..rows).rev() {
            for j in 0..cols {
                let k = i * cols + j;
                let below = if i + 1 < rows {
                    self.v_bl[k + cols]
                } else {
                    0.0
                };
                let x = (self.rhs[k] + g_seg * below) * inv[k];
                change = change.max((x - self.v_bl[k]).abs());
                self.v_bl[k] = x;
            }
        }
        change
    }

    /// Column currents: the current through each bit line's last segment into virtual
    /// ground.
    fn into_solution(self, sweeps: u32) -> NodalSolution {
        let last = (self.rows - 1) * self.cols;
        NodalSolution {
            column_currents_ua: (0..self.cols)
                .map(|j| self.g_seg * self.v_bl[last + j])
                .collect(),
            word_line_v: self.v_wl,
            bit_line_v: self.v_bl,
            sweeps,
        }
    }
}

impl LineFactors {
    fn with_len(n: usize) -> Self {
        Self {
            inv_pivot: vec![0.0; n],
        }
    }

    /// Factors node k with diagonal `diag`, coupled by −`g_seg` to the previous node on its
    /// line (`prev`, already factored) if any.
    fn factor(&mut self, k: usize, prev: Option<usize>, diag: f64, g_seg: f64) {
        let pivot = match prev {
            Some(p) => diag - g_seg * g_seg * self.inv_pivot[p],
            None => diag,
        };
        self.inv_pivot[k] = 1.0 / pivot;
    }
}

#[cfg(test)]
mod tests;
