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
//! devices of about 5 µS). The size of the effect scales with r·G·n²: a 128-row line of
//! 100 µS cells at 2.82 Ω loses more than half of its far-end voltage.
//!
//! ## Exact solve
//!
//! Kirchhoff's current law at the 2·rows·cols nodes gives a symmetric positive-definite
//! system. [`solve_exact`] solves it by *line Gauss–Seidel*: each sweep solves every word
//! line exactly (a tridiagonal system, Thomas algorithm) with the bit-line voltages fixed,
//! then every bit line with the word-line voltages fixed. It stops when no node voltage
//! moved by more than `1e-12·max|V|` in a sweep ([`EXACT_TOLERANCE`]). With r = 0 the
//! lines are equipotential and I_j = Σ_i V_i·G_ij exactly.
//!
//! ## Fast approximation for BERT-scale runs
//!
//! Because the network is linear, the column currents are y = M·V for some matrix M; the
//! drop makes M differ from G. [`effective_conductance`] replaces G by a static G_eff so the
//! tile MVM stays a plain product: G_eff_ij = G_ij·(v_wl_ij − v_bl_ij), the cell's share of a
//! 1 V drive on every row, from `approximation_sweeps` line sweeps started at the ideal
//! state (word lines at 1 V, bit lines at 0 V). It is exact for inputs with all rows equal;
//! for other inputs it overestimates the bit-line drop of rows that are not driven, so its
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
//! better. When r·G·n² approaches 1 (last row) use [`solve_exact`] for studies that need
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
/// If `g_us.len() != rows·cols` or `v_in.len() != rows` (caller bugs).
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
    let mut net = Network::ideal(g_us, rows, cols, v_in);
    if cfg.is_off() {
        return net.into_solution(0, None);
    }
    let g_seg = cfg.segment_us();
    let v_scale = v_in.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
    let mut sweeps = 0;
    loop {
        let change = net.sweep(g_seg);
        sweeps += 1;
        if change <= EXACT_TOLERANCE * v_scale {
            return net.into_solution(sweeps, Some(g_seg));
        }
    }
}

/// Static IR-drop-attenuated conductances (µS, row-major) for use in a plain MVM; see the
/// module docs. Returns `g_us` unchanged when IR drop is off.
///
/// # Panics
/// If `g_us.len() != rows·cols`.
pub fn effective_conductance(
    g_us: &[f32],
    rows: usize,
    cols: usize,
    cfg: &IrDropConfig,
) -> Vec<f32> {
    assert_eq!(g_us.len(), rows * cols, "g_us must be rows×cols");
    if cfg.is_off() {
        return g_us.to_vec();
    }
    let ones = vec![1.0f32; rows];
    let mut net = Network::ideal(g_us, rows, cols, &ones);
    for _ in 0..cfg.approximation_sweeps {
        net.sweep(cfg.segment_us());
    }
    (0..rows * cols)
        .map(|k| (g_us[k] as f64 * (net.v_wl[k] - net.v_bl[k])) as f32)
        .collect()
}

/// The node voltages being solved for, plus scratch space for the line solves.
struct Network<'a> {
    g: &'a [f32],
    rows: usize,
    cols: usize,
    v_in: &'a [f32],
    v_wl: Vec<f64>,
    v_bl: Vec<f64>,
    line: Tridiagonal,
}

impl<'a> Network<'a> {
    /// The r = 0 state: every word line at its drive voltage, every bit line at 0 V.
    fn ideal(g: &'a [f32], rows: usize, cols: usize, v_in: &'a [f32]) -> Self {
        let v_wl = (0..rows * cols).map(|k| v_in[k / cols] as f64).collect();
        Self {
            g,
            rows,
            cols,
            v_in,
            v_wl,
            v_bl: vec![0.0; rows * cols],
            line: Tridiagonal::with_capacity(rows.max(cols)),
        }
    }

    /// One line Gauss–Seidel sweep (all word lines, then all bit lines) with segment
    /// conductance `g_seg` µS; returns the largest node-voltage change, V.
    fn sweep(&mut self, g_seg: f64) -> f64 {
        let mut change = 0f64;
        for i in 0..self.rows {
            change = change.max(self.solve_word_line(i, g_seg));
        }
        for j in 0..self.cols {
            change = change.max(self.solve_bit_line(j, g_seg));
        }
        change
    }

    /// Word line i given the bit lines. Node j: segments to j−1 (the driver for j = 0) and
    /// to j+1 (none at the open right end), and the cell to bit-line node (i, j).
    fn solve_word_line(&mut self, i: usize, g_seg: f64) -> f64 {
        let (cols, base) = (self.cols, i * self.cols);
        self.line.clear();
        for j in 0..cols {
            let g = self.g[base + j] as f64;
            let segments = if j + 1 < cols { 2.0 } else { 1.0 };
            let drive = if j == 0 {
                g_seg * self.v_in[i] as f64
            } else {
                0.0
            };
            self.line.push(
                segments * g_seg + g,
                -g_seg,
                g * self.v_bl[base + j] + drive,
            );
        }
        self.line.solve_into(&mut self.v_wl[base..base + cols], 1)
    }

    /// Bit line j given the word lines. Node i: segments to i−1 (none at the open top) and
    /// to i+1 (the sense amplifier at 0 V for the last row), and the cell to word-line
    /// node (i, j).
    fn solve_bit_line(&mut self, j: usize, g_seg: f64) -> f64 {
        let (rows, cols) = (self.rows, self.cols);
        self.line.clear();
        for i in 0..rows {
            let g = self.g[i * cols + j] as f64;
            let segments = if i > 0 { 2.0 } else { 1.0 };
            self.line
                .push(segments * g_seg + g, -g_seg, g * self.v_wl[i * cols + j]);
        }
        self.line.solve_into(&mut self.v_bl[j..], cols)
    }

    /// Column currents: the current through each bit line's last segment into virtual
    /// ground, or Σ_i V_i·G_ij when there are no wires (`g_seg` None).
    fn into_solution(self, sweeps: u32, g_seg: Option<f64>) -> NodalSolution {
        let last = (self.rows - 1) * self.cols;
        let column_currents_ua = match g_seg {
            Some(g_seg) => (0..self.cols)
                .map(|j| g_seg * self.v_bl[last + j])
                .collect(),
            None => (0..self.cols)
                .map(|j| {
                    (0..self.rows)
                        .map(|i| self.v_in[i] as f64 * self.g[i * self.cols + j] as f64)
                        .sum()
                })
                .collect(),
        };
        NodalSolution {
            column_currents_ua,
            word_line_v: self.v_wl,
            bit_line_v: self.v_bl,
            sweeps,
        }
    }
}

/// A symmetric tridiagonal system (diagonal d, constant off-diagonal, right-hand side b),
/// solved by the Thomas algorithm; buffers reused across lines.
struct Tridiagonal {
    diag: Vec<f64>,
    off: Vec<f64>,
    rhs: Vec<f64>,
}

impl Tridiagonal {
    fn with_capacity(n: usize) -> Self {
        Self {
            diag: Vec::with_capacity(n),
            off: Vec::with_capacity(n),
            rhs: Vec::with_capacity(n),
        }
    }

    fn clear(&mut self) {
        self.diag.clear();
        self.off.clear();
        self.rhs.clear();
    }

    /// Appends row k: diagonal `d`, coupling `off` to row k+1 (ignored for the last row),
    /// right-hand side `b`.
    fn push(&mut self, d: f64, off: f64, b: f64) {
        self.diag.push(d);
        self.off.push(off);
        self.rhs.push(b);
    }

    /// Solves in place and writes x_k to `out[k·stride]`; returns max |x_k − old value|.
    fn solve_into(&mut self, out: &mut [f64], stride: usize) -> f64 {
        let n = self.diag.len();
        for k in 1..n {
            let m = self.off[k - 1] / self.diag[k - 1];
            self.diag[k] -= m * self.off[k - 1];
            self.rhs[k] -= m * self.rhs[k - 1];
        }
        let mut change = 0f64;
        let mut next = 0.0;
        for k in (0..n).rev() {
            let coupling = if k + 1 < n { self.off[k] * next } else { 0.0 };
            let x = (self.rhs[k] - coupling) / self.diag[k];
            change = change.max((x - out[k * stride]).abs());
            out[k * stride] = x;
            next = x;
        }
        change
    }
}

#[cfg(test)]
mod tests;
