//! The analog matrix-vector multiply of one tile (the active part of one crossbar array).
//!
//! A tile holds the conductances its cells actually have (µS, after programming variation,
//! faults and drift, as `device::program_array` returned them). One MVM takes a batch of
//! input vectors already turned into row voltages by the DAC ([`Drive`]) and, for every
//! input cycle c, vector t and column j:
//!
//! 1. sums the cell currents on the column: I = Σ_i V_i·G_ij (V in volts, G in µS, so I in
//!    µA), all cycles and vectors at once (cycles stacked along the vector dimension): a
//!    matrix product, or for 1-bit DACs, whose rows are either driven or not, a sum of
//!    table entries (see `subset_sums`), which is the same sum in another order;
//! 2. adds read noise: the devices fluctuate independently per read with σ_ij from the
//!    device model, so the column current gets a Gaussian of variance Σ_i V_i²·σ_ij². We draw
//!    that one column-level Gaussian instead of one per device: it has exactly the same
//!    distribution and costs a draw per conversion instead of per cell;
//! 3. samples and holds the current and converts it with the tile's ADC;
//! 4. shift-and-adds the cycles: out_tj = Σ_c weight_c·ADC(I_ctj), which in the ideal case
//!    equals Σ_i code_ti·G_ij ("code × µS" units).
//!
//! A tile whose cells are all exactly on their levels ([`Tile::compact_levels`]) keeps
//! them as [`LevelPlanes`] (c bits per cell instead of 32) and sums 1-bit drives by
//! popcount; without read noise it then converts and shift-adds each cycle's currents as
//! soon as they are computed (steps 1, 3 and 4 fused), so no cycles × vectors × cols
//! buffer of currents is ever written.
//!
//! Read-noise draws come from the tile's stream `(seed, matrix, tile, ReadNoise)` at the
//! index the caller gives per MVM batch, in a fixed order, so results do not depend on how
//! tiles are spread over threads.

use crate::adc::Adc;
use crate::bit_planes::{LevelPlanes, LANES as PLANE_LANES};
use crate::cell::CellConfig;
use crate::dac::{BinaryDrive, Drive};
use crate::events::EventCounts;
use crate::level_bytes::LevelBytes;
use crate::rng::StreamKey;
use crate::sample_hold;
use rand_distr::{Distribution, StandardNormal};
use std::sync::Arc;

/// The actual conductances of a tile.
#[derive(Clone, Debug)]
enum Conductances {
    /// Any conductances, µS, row-major rows × cols.
    Analog(Vec<f32>),
    /// Any conductances on a fine grid, 2 bytes per cell (see [`ConductanceGrid`]).
    Grid(ConductanceGrid),
    /// Every cell exactly on a level of its cell.
    Levels(LevelPlanes),
    /// Every cell exactly on one of at most 256 levels of a uniform scale (one-shot).
    Bytes(LevelBytes),
}

/// Conductances of varied devices stored as 16-bit codes on a uniform grid spanning the
/// tile's own range: G = lo + code·quantum, quantum = (max G − min G)/65535. Every stored
/// conductance is within quantum/2 (plus f32 rounding) of the programmed one: for a
/// ReRAM-CMO range of 9–88 µS about 0.0006 µS, a thousandth of the programming σ (≈ 1 µS),
/// at half the bytes of an f16 and a sixteenth of its relative error near G_max.
#[derive(Clone, Debug)]
struct ConductanceGrid {
    lo_us: f32,
    quantum_us: f32,
    codes: Vec<u16>,
}

impl ConductanceGrid {
    fn new(g_us: &[f32]) -> ConductanceGrid {
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

/// A device's per-read noise σ(G), µS, kept instead of a stored σ per cell (the tile
/// evaluates it on its conductances when a noisy MVM needs the variances).
#[derive(Clone)]
struct ReadSigma(Arc<dyn Fn(f32) -> f32 + Send + Sync>);

impl std::fmt::Debug for ReadSigma {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadSigma(σ(G) µS)")
    }
}

/// One tile: `rows × cols` actual conductances and what the periphery needs to know.
#[derive(Clone, Debug)]
pub struct Tile {
    rows: usize,
    cols: usize,
    /// What the cells conduct.
    conductances: Conductances,
    /// Per-read noise σ of a cell from its conductance; `None` when read noise is off
    /// (σ = 0 for every cell of the tile).
    read_sigma: Option<ReadSigma>,
    /// Nominal largest conductance of a cell, µS (for the full-scale ADC range).
    g_max_us: f32,
    /// Stream of this tile's read noise (purpose `ReadNoise`; the index is set per MVM).
    noise_key: StreamKey,
}

impl Tile {
    /// A tile over conductances `g_us` (µS, rows × cols) whose devices have per-read noise
    /// σ = `read_sigma_us(G)` µS (pass `move |g| device.read_noise_sigma_us(g)` with an
    /// owned `DeviceConfig` to use its model).
    pub fn new(
        g_us: Vec<f32>,
        rows: usize,
        cols: usize,
        read_sigma_us: impl Fn(f32) -> f32 + Send + Sync + 'static,
        g_max_us: f32,
        noise_key: StreamKey,
    ) -> Tile {
        assert_eq!(
            g_us.len(),
            rows * cols,
            "tile conductances must be rows×cols"
        );
        let noisy = g_us.iter().any(|&g| read_sigma_us(g) > 0.0);
        Tile {
            rows,
            cols,
            conductances: Conductances::Analog(g_us),
            read_sigma: noisy.then(|| ReadSigma(Arc::new(read_sigma_us))),
            g_max_us,
            noise_key,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The same tile stored as bit planes of `cell`'s levels if every conductance is
    /// exactly one of them (ideal devices, stuck cells included); unchanged otherwise.
    /// Results are the same up to float rounding; MVMs of 1-bit drives get faster and the
    /// tile smaller (see [`crate::bit_planes`]).
    pub fn compact_levels(mut self, cell: &CellConfig) -> Tile {
        if let Conductances::Analog(g) = &self.conductances {
            if let Some(planes) = LevelPlanes::detect(g, self.rows, self.cols, cell) {
                self.conductances = Conductances::Levels(planes);
            }
        }
        self
    }

    /// The same tile stored as one byte per cell if every conductance is exactly
    /// `g_min_us + ℓ·step_us` for an integer level ℓ ≤ `max_level` ≤ 255 (one-shot tiles
    /// on ideal devices); unchanged otherwise. One-shot MVMs of codes of up to 8 bits then
    /// run as exact integer products (see [`crate::level_bytes`]).
    pub fn compact_byte_levels(mut self, g_min_us: f32, step_us: f32, max_level: u32) -> Tile {
        if let Conductances::Analog(g) = &self.conductances {
            if let Some(bytes) =
                LevelBytes::detect(g, self.rows, self.cols, g_min_us, step_us, max_level)
            {
                self.conductances = Conductances::Bytes(bytes);
            }
        }
        self
    }

    /// The same tile with float conductances stored as 16-bit codes on the tile's own grid
    /// (2 bytes per cell instead of 4; each conductance moves by at most half a grid step,
    /// (max G − min G)/131070, see [`ConductanceGrid`]); tiles on exact levels unchanged.
    /// For varied devices, after `compact_levels` / `compact_byte_levels` found no levels.
    pub fn compact_analog(mut self) -> Tile {
        if let Conductances::Analog(g) = &self.conductances {
            self.conductances = Conductances::Grid(ConductanceGrid::new(g));
        }
        self
    }

    /// True when the conductances are stored as exact levels.
    pub fn is_on_levels(&self) -> bool {
        matches!(
            self.conductances,
            Conductances::Levels(_) | Conductances::Bytes(_)
        )
    }

    /// Actual conductances, µS, row-major rows × cols.
    pub fn conductances_us(&self) -> Vec<f32> {
        match &self.conductances {
            Conductances::Analog(g) => g.clone(),
            Conductances::Grid(grid) => grid.decode(),
            Conductances::Levels(planes) => planes.conductances_us(),
            Conductances::Bytes(bytes) => bytes.conductances_us(),
        }
    }

    /// Bytes of state this tile stores (read-noise σ is computed from G, not stored).
    pub fn stored_bytes(&self) -> usize {
        match &self.conductances {
            Conductances::Analog(g) => 4 * g.len(),
            Conductances::Grid(grid) => 2 * grid.codes.len() + 8,
            Conductances::Levels(planes) => planes.stored_bytes(),
            Conductances::Bytes(bytes) => bytes.stored_bytes(),
        }
    }

    /// The full-scale column current, µA: every row at `max_volts` on cells at G_max.
    pub fn full_scale_current_ua(&self, max_volts: f32) -> f32 {
        self.rows as f32 * max_volts * self.g_max_us
    }

    /// Column currents (µA) of every cycle and vector, `(cycles·vectors) × cols`, into
    /// `currents`, with read noise of MVM number `mvm_index` when `noisy`.
    pub fn currents(&self, drive: &Drive, noisy: bool, mvm_index: u64, currents: &mut Vec<f32>) {
        assert_eq!(drive.rows, self.rows, "drive rows must match tile rows");
        let m = drive.cycles() * drive.vectors;
        // Every element is overwritten below, so a reused buffer of the right size is not
        // cleared first.
        if currents.len() != m * self.cols {
            currents.clear();
            currents.resize(m * self.cols, 0.0);
        }
        self.conductance_product(drive, currents);
        if let (true, Some(sigma)) = (noisy, &self.read_sigma) {
            let var = self.noise_variances(sigma);
            let mut column_var = vec![0.0f32; m * self.cols];
            self.product(drive, &var, true, &mut column_var);
            let mut rng = self.noise_key.with_index(mvm_index).rng();
            for (i, v) in currents.iter_mut().zip(&column_var) {
                let z: f32 = StandardNormal.sample(&mut rng);
                *i += v.sqrt() * z;
            }
        }
    }

    /// Per-read noise variance of every cell, µS², rows × cols.
    fn noise_variances(&self, sigma: &ReadSigma) -> Vec<f32> {
        let mut var = self.conductances_us();
        for v in &mut var {
            *v = (sigma.0)(*v).powi(2);
        }
        var
    }

    /// out = Vᵀ·G: by popcount for 1-bit drives on exact levels, else through `product`.
    fn conductance_product(&self, drive: &Drive, out: &mut [f32]) {
        match (&self.conductances, &drive.binary) {
            (Conductances::Levels(planes), Some(b)) => {
                let words = planes.words();
                for (m, o) in out.chunks_exact_mut(self.cols).enumerate() {
                    planes.currents(&b.words[m * words..][..words], b.volts, o);
                }
            }
            (Conductances::Levels(planes), None) => {
                self.product(drive, &planes.conductances_us(), false, out)
            }
            (Conductances::Bytes(bytes), _) => match &drive.bytes {
                Some(codes) => bytes.map_currents(codes, |i| i, out),
                None => self.product(drive, &bytes.conductances_us(), false, out),
            },
            (Conductances::Analog(g), _) => self.product(drive, g, false, out),
            (Conductances::Grid(grid), _) => self.product(drive, &grid.decode(), false, out),
        }
    }

    /// out = Vᵀ·per_cell (or (V²)ᵀ·per_cell when `squared`) for a rows × cols per-cell
    /// matrix: a table lookup for binary drives, a matrix product otherwise.
    fn product(&self, drive: &Drive, per_cell: &[f32], squared: bool, out: &mut [f32]) {
        let m = drive.cycles() * drive.vectors;
        match &drive.binary {
            Some(b) => {
                let scale = if squared { b.volts * b.volts } else { b.volts };
                let table = subset_sums(per_cell, self.rows, self.cols, scale);
                accumulate(&b.nibbles, self.rows.div_ceil(4), self.cols, &table, out);
            }
            None if squared => {
                let v2: Vec<f32> = drive.volts.iter().map(|v| v * v).collect();
                gemm(m, self.rows, self.cols, &v2, per_cell, out);
            }
            None => gemm(m, self.rows, self.cols, &drive.volts, per_cell, out),
        }
    }

    /// Largest current magnitude over all cycles, vectors and columns of `drive`, µA,
    /// without read noise (for calibrating the ADC range).
    pub fn max_abs_current_ua(&self, drive: &Drive) -> f32 {
        if let (Conductances::Levels(planes), Some(b)) = (&self.conductances, &drive.binary) {
            return levels_max_current(planes, b);
        }
        let mut currents = Vec::new();
        self.currents(drive, false, 0, &mut currents);
        currents.iter().fold(0.0f32, |m, i| m.max(i.abs()))
    }

    /// One MVM of a batch: `out` (vectors × cols) receives Σ_c weight_c·ADC(I_c) in
    /// code·µS units; `scratch` is reused between calls. Returns the exact event counts.
    pub fn mvm(
        &self,
        drive: &Drive,
        adc: &Adc,
        adc_bits: u8,
        mvm_index: u64,
        out: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> EventCounts {
        let (vectors, cycles, cols) = (drive.vectors, drive.cycles(), self.cols);
        assert_eq!(out.len(), vectors * cols, "output must be vectors×cols");
        if let (Conductances::Levels(planes), Some(b), None) =
            (&self.conductances, &drive.binary, &self.read_sigma)
        {
            levels_mvm(planes, b, &drive.cycle_weights, adc, out);
            return self.events(vectors, cycles, adc_bits);
        }
        if let (Conductances::Bytes(bytes), Some(codes), None) =
            (&self.conductances, &drive.bytes, &self.read_sigma)
        {
            // One cycle (one-shot codes): convert each current as soon as it is computed.
            let weight = drive.cycle_weights[0] as f32;
            match *adc {
                Adc::Ideal => bytes.map_currents(codes, |i| weight * i, out),
                Adc::Quantizing { .. } => {
                    bytes.map_currents(codes, |i| weight * adc.convert(i), out)
                }
            }
            return self.events(vectors, cycles, adc_bits);
        }
        self.currents(drive, true, mvm_index, scratch);
        out.fill(0.0);
        for (c, &weight) in drive.cycle_weights.iter().enumerate() {
            let cycle = &scratch[c * vectors * cols..(c + 1) * vectors * cols];
            convert_and_accumulate(adc, weight as f32, cycle, out);
        }
        self.events(vectors, cycles, adc_bits)
    }

    /// Closed-form events of one MVM of `vectors` vectors over `cycles` cycles.
    pub fn events(&self, vectors: usize, cycles: usize, adc_bits: u8) -> EventCounts {
        let conversions = (vectors * cycles * self.cols) as u64;
        let mut events = EventCounts {
            dac_drives: (vectors * cycles * self.rows) as u64,
            cell_reads: (vectors * cycles * self.rows * self.cols) as u64,
            sample_holds: sample_hold::samples(vectors, cycles, self.cols),
            shift_adds: (vectors * cycles.saturating_sub(1) * self.cols) as u64,
            ..Default::default()
        };
        events.adc_conversions.insert(adc_bits, conversions);
        events
    }
}

/// The noiseless MVM of a tile on exact levels under a 1-bit drive, fused: for every vector
/// and block of columns, the cycles' level counts by popcount, converted and added with
/// the cycle's weight in registers, then stored once.
///
/// A cycle's current is affine in the column's level count n: I = V·(G_min·|b| + step·n).
/// The converter's affine steps are folded into two constants per cycle, so a quantizing
/// ADC becomes code = ⌊clamp(α_c + β_c·n, ½, max + ½)⌋ with α_c = (V·G_min·|b| − lo)/LSB + ½,
/// β_c = V·step/LSB, the same codes as `Adc::convert` up to float rounding, and the output
/// Σ_c w_c·(lo + code_c·LSB) = lo·Σ_c w_c + LSB·Σ_c w_c·code_c.
fn levels_mvm(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512vpopcntdq")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU supports these features, checked just above.
            return unsafe { levels_mvm_avx512(planes, drive, cycle_weights, adc, out) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { levels_mvm_avx2(planes, drive, cycle_weights, adc, out) };
        }
    }
    levels_mvm_portable(planes, drive, cycle_weights, adc, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn levels_mvm_avx512(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    levels_mvm_portable(planes, drive, cycle_weights, adc, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn levels_mvm_avx2(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    levels_mvm_portable(planes, drive, cycle_weights, adc, out)
}

/// Largest current magnitude of a tile on exact levels under a 1-bit drive, µA, over
/// every stacked vector, by popcount with the CPU's popcount instructions where present
/// (without them `count_ones` is a slow bit-twiddling sequence: calibration was 3× slower
/// than the MVMs it calibrates).
fn levels_max_current(planes: &LevelPlanes, drive: &BinaryDrive) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512vpopcntdq")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the CPU supports these features, checked just above.
            return unsafe { levels_max_current_avx512(planes, drive) };
        }
        if std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU supports POPCNT, checked just above.
            return unsafe { levels_max_current_popcnt(planes, drive) };
        }
    }
    levels_max_current_portable(planes, drive)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn levels_max_current_avx512(planes: &LevelPlanes, drive: &BinaryDrive) -> f32 {
    levels_max_current_portable(planes, drive)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn levels_max_current_popcnt(planes: &LevelPlanes, drive: &BinaryDrive) -> f32 {
    levels_max_current_portable(planes, drive)
}

/// A plain loop: an iterator `fold` here would be compiled as a separate function without
/// the caller's target features.
#[inline(always)]
fn levels_max_current_portable(planes: &LevelPlanes, drive: &BinaryDrive) -> f32 {
    let mut most = 0.0f32;
    for driven in drive.words.chunks_exact(planes.words()) {
        most = most.max(planes.max_current_ua(driven, drive.volts).abs());
    }
    most
}

/// Per cycle: the converted value of a column with level count n is `a + b·n` (ideal ADC)
/// or the code ⌊clamp(a + b·n, ½, top)⌋ (quantizing ADC).
#[derive(Clone, Copy)]
struct CycleAffine {
    weight: f32,
    a: f32,
    b: f32,
}

#[inline(always)]
fn levels_mvm_portable(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    match planes.bits() {
        1 => levels_mvm_bits::<1>(planes, drive, cycle_weights, adc, out),
        2 => levels_mvm_bits::<2>(planes, drive, cycle_weights, adc, out),
        3 => levels_mvm_bits::<3>(planes, drive, cycle_weights, adc, out),
        _ => levels_mvm_bits::<4>(planes, drive, cycle_weights, adc, out),
    }
}

/// `levels_mvm` for cells of `BITS` level bits (a constant, so the popcount loop unrolls).
#[inline(always)]
fn levels_mvm_bits<const BITS: usize>(
    planes: &LevelPlanes,
    drive: &BinaryDrive,
    cycle_weights: &[f64],
    adc: &Adc,
    out: &mut [f32],
) {
    let (cols, words) = (planes.cols(), planes.words());
    let vectors = out.len() / cols;
    let v = drive.volts;
    let mut cycles: Vec<CycleAffine> = Vec::with_capacity(cycle_weights.len());
    for (t, out_t) in out.chunks_exact_mut(cols).enumerate() {
        let driven = |c: usize| &drive.words[(c * vectors + t) * words..][..words];
        cycles.clear();
        cycles.extend(cycle_weights.iter().enumerate().map(|(c, &w)| {
            let current_0 = v * planes.offset_us(driven(c));
            let current_step = v * planes.step_us();
            match *adc {
                Adc::Ideal => CycleAffine {
                    weight: w as f32,
                    a: current_0,
                    b: current_step,
                },
                Adc::Quantizing { lo, inv_lsb, .. } => CycleAffine {
                    weight: w as f32,
                    a: (current_0 - lo) * inv_lsb + 0.5,
                    b: current_step * inv_lsb,
                },
            }
        }));
        match *adc {
            Adc::Ideal => fused_levels::<BITS>(planes, &driven, &cycles, |x| x, 0.0, 1.0, out_t),
            Adc::Quantizing {
                lo, lsb, max_code, ..
            } => {
                let top = max_code + 0.5;
                // SAFETY: x is clamped to [0.5, 2^24 + 0.5], inside i32's range; the
                // unchecked conversion vectorizes where `as` (saturating) does not.
                let code = |x: f32| unsafe { x.max(0.5).min(top).to_int_unchecked::<i32>() } as f32;
                let sum_w: f32 = cycles.iter().map(|c| c.weight).sum();
                fused_levels::<BITS>(planes, &driven, &cycles, code, lo * sum_w, lsb, out_t)
            }
        }
    }
}

/// One vector through every column block: out = base + scale·Σ_c w_c·convert(a_c + b_c·n_c)
/// with the cycles' level counts n_c, accumulated in registers and stored once.
#[inline(always)]
fn fused_levels<'d, const BITS: usize>(
    planes: &LevelPlanes,
    driven: &impl Fn(usize) -> &'d [u64],
    cycles: &[CycleAffine],
    convert: impl Fn(f32) -> f32,
    base: f32,
    scale: f32,
    out: &mut [f32],
) {
    for (k, o) in out.chunks_mut(PLANE_LANES).enumerate() {
        let mut acc = [0.0f32; PLANE_LANES];
        for (c, cycle) in cycles.iter().enumerate() {
            let counts = planes.block_counts::<BITS>(k, driven(c));
            for (a, &n) in acc.iter_mut().zip(&counts) {
                *a += cycle.weight * convert(cycle.a + cycle.b * n as i32 as f32);
            }
        }
        for (o, &a) in o.iter_mut().zip(&acc) {
            *o = base + scale * a;
        }
    }
}

/// out += weight · ADC(currents), element-wise; split by converter so the inner loop has
/// no branch and vectorizes.
#[inline(always)]
fn convert_and_accumulate(adc: &Adc, weight: f32, currents: &[f32], out: &mut [f32]) {
    match *adc {
        Adc::Ideal => {
            for (o, &i) in out.iter_mut().zip(currents) {
                *o += weight * i;
            }
        }
        Adc::Quantizing { .. } => {
            for (o, &i) in out.iter_mut().zip(currents) {
                *o += weight * adc.convert(i);
            }
        }
    }
}

// Binary drives (1-bit DACs) select rows rather than weight them, so a column current is a
// sum of the selected rows' conductances. Grouping the rows by four, a table holds the 16
// possible sums of each group's rows (built once per MVM); every stacked vector then needs
// ⌈rows/4⌉ additions per column instead of rows multiply-adds. The table is laid out by
// blocks of LANES columns ([block][group][subset][lane], 32 KiB per block for 128 rows) so
// one block stays in the L1 cache while all vectors stream through it, four vectors at a
// time in registers. Every output element is the same sequence of additions (0 + group 0 +
// group 1 + …) whatever the SIMD width, so results do not depend on the CPU features.

/// Columns per table block (one AVX-512 register of f32).
const LANES: usize = 16;

/// table[((b·groups + g)·16 + s)·LANES + l] = scale · Σ over bits k of s of
/// per_cell[(4g + k)·cols + b·LANES + l] (0 for columns past `cols`).
fn subset_sums(per_cell: &[f32], rows: usize, cols: usize, scale: f32) -> Vec<f32> {
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
fn accumulate(nibbles: &[u8], groups: usize, cols: usize, table: &[f32], out: &mut [f32]) {
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

/// c = aᵀ·b for a stored k×m row-major (the drive layout), b (k×n) and c (m×n) row-major,
/// single-threaded: callers parallelize over tiles so results never depend on the thread
/// count.
fn gemm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the asserts above keep every strided access inside the three slices.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            1,
            m as isize,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adc::AdcConfig;
    use crate::dac::{Dac, DacConfig};
    use crate::rng::Purpose;

    fn key() -> StreamKey {
        StreamKey::new(1, 0, 0, Purpose::ReadNoise)
    }

    /// 3×2 tile, 4-bit codes through 1-bit DACs, ideal ADC: out = codes·G exactly (to f32
    /// rounding, tolerance 1e-4 code·µS on values of order 10^3).
    #[test]
    fn ideal_mvm_is_codes_times_conductances() {
        let g = vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0];
        let tile = Tile::new(g.clone(), 3, 2, |_| 0.0, 60.0, key());
        let codes = [3, -7, 5, 0, 7, -1];
        let dac = Dac::new(&DacConfig::default(), 4);
        let drive = dac.drive(&codes, 2, 3);
        let adc = AdcConfig {
            ideal: true,
            ..Default::default()
        }
        .converter(0.0, false);
        let mut out = vec![0.0; 4];
        let ev = tile.mvm(&drive, &adc, 0, 0, &mut out, &mut Vec::new());
        for t in 0..2 {
            for j in 0..2 {
                let want: f32 = (0..3).map(|i| codes[t * 3 + i] as f32 * g[i * 2 + j]).sum();
                assert!((out[t * 2 + j] - want).abs() < 1e-4, "t{t} j{j}");
            }
        }
        // 2 vectors × 4 cycles: drives = 2·4·3, reads = 2·4·3·2, conversions = 2·4·2.
        assert_eq!(ev.dac_drives, 24);
        assert_eq!(ev.cell_reads, 48);
        assert_eq!(ev.adc_conversions[&0], 16);
        assert_eq!(ev.sample_holds, 16);
        assert_eq!(ev.shift_adds, 2 * 3 * 2);
    }

    /// A coarse ADC clips: with a full-scale range one tenth of the real currents every
    /// conversion saturates, so the output is far from the ideal one.
    #[test]
    fn adc_clipping_changes_the_result() {
        let tile = Tile::new(vec![100.0; 4], 2, 2, |_| 0.0, 100.0, key());
        let dac = Dac::new(&DacConfig::default(), 4);
        let drive = dac.drive(&[7, 7], 1, 2);
        let fs = tile.full_scale_current_ua(dac.max_volts());
        assert_eq!(fs, 2.0 * 0.5 * 100.0);
        let adc = AdcConfig::default().converter(fs / 10.0, false);
        let mut out = vec![0.0; 2];
        tile.mvm(&drive, &adc, 8, 0, &mut out, &mut Vec::new());
        // Ideal: 7·100 + 7·100 = 1400; clipped at 10 µA per cycle: (1+2+4)·10/0.5 = 140.
        assert!((out[0] - 140.0).abs() < 1e-3, "{}", out[0]);
    }

    /// Column read noise: 1 row-vector of 4-bit codes on a 16×3 tile with σ = 5 % of G.
    /// Over 4000 MVMs (seed 1, indices 0..4000) the mean output matches the noiseless one
    /// and the variance matches Σ_c w_c²·Σ_i V_ci²·σ_i² within 8 % (the standard error of
    /// a variance estimate from 4000 samples is about 2.2 %).
    #[test]
    fn read_noise_has_the_column_variance_of_independent_devices() {
        let rows = 16;
        let g: Vec<f32> = (0..rows * 3)
            .map(|k| 10.0 + (k % 7) as f32 * 10.0)
            .collect();
        let tile = Tile::new(g.clone(), rows, 3, |g| 0.05 * g, 100.0, key());
        let codes: Vec<i32> = (0..rows as i32).map(|i| (i * 5) % 15 - 7).collect();
        let dac = Dac::new(&DacConfig::default(), 4);
        let drive = dac.drive(&codes, 1, rows);
        let adc = Adc::Ideal;
        let n = 4000;
        let mut samples = vec![Vec::new(); 3];
        let mut out = vec![0.0; 3];
        let mut scratch = Vec::new();
        for k in 0..n {
            tile.mvm(&drive, &adc, 0, k, &mut out, &mut scratch);
            for j in 0..3 {
                samples[j].push(out[j] as f64);
            }
        }
        for j in 0..3 {
            let ideal: f64 = (0..rows)
                .map(|i| codes[i] as f64 * g[i * 3 + j] as f64)
                .sum();
            let var_want: f64 = (0..drive.cycles())
                .map(|c| {
                    let w = drive.cycle_weights[c];
                    let v: f64 = (0..rows)
                        .map(|i| {
                            let volts = drive.volts_at(c, 0, i) as f64;
                            let sigma = 0.05 * g[i * 3 + j] as f64;
                            volts * volts * sigma * sigma
                        })
                        .sum();
                    w * w * v
                })
                .sum();
            let mean = samples[j].iter().sum::<f64>() / n as f64;
            let var = samples[j].iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let se_mean = (var_want / n as f64).sqrt();
            assert!(
                (mean - ideal).abs() < 4.0 * se_mean,
                "col {j}: mean {mean} vs {ideal}"
            );
            assert!(
                (var / var_want - 1.0).abs() < 0.08,
                "col {j}: var {var} vs {var_want}"
            );
        }
    }

    /// The table path of 1-bit drives equals the matrix-product path to f32 rounding
    /// (relative 1e-5 of the largest current) on a 37×19 tile (rows not a multiple of 4),
    /// with and without the noise-variance product. Seeds: fixed integer patterns.
    #[test]
    fn binary_table_matches_the_matrix_product() {
        let (rows, cols, vectors) = (37, 19, 9);
        let g: Vec<f32> = (0..rows * cols)
            .map(|k| 5.0 + (k * 7 % 23) as f32 * 3.7)
            .collect();
        let tile = Tile::new(
            g,
            rows,
            cols,
            |g| 0.01 * g,
            100.0,
            StreamKey::new(1, 0, 0, Purpose::ReadNoise),
        );
        let codes: Vec<i32> = (0..vectors * rows)
            .map(|k| (k as i32 * 37) % 255 - 127)
            .collect();
        let drive = Dac::new(&DacConfig::default(), 8).drive(&codes, vectors, rows);
        assert!(drive.binary.is_some());
        let general = Drive {
            binary: None,
            ..drive.clone()
        };
        let m = drive.cycles() * vectors;
        for squared in [false, true] {
            let per_cell = if squared {
                tile.noise_variances(tile.read_sigma.as_ref().unwrap())
            } else {
                tile.conductances_us()
            };
            let (mut fast, mut slow) = (vec![0.0; m * cols], vec![0.0; m * cols]);
            tile.product(&drive, &per_cell, squared, &mut fast);
            tile.product(&general, &per_cell, squared, &mut slow);
            let max = slow.iter().fold(0.0f32, |a, b| a.max(b.abs()));
            assert!(max > 0.0);
            for (f, s) in fast.iter().zip(&slow) {
                assert!((f - s).abs() <= 1e-5 * max, "{f} vs {s}");
            }
        }
        // Multi-bit DACs are not binary.
        let two_bit = Dac::new(
            &DacConfig {
                dac_bits: 2,
                v_read_v: 0.5,
            },
            8,
        );
        assert!(two_bit.drive(&codes, vectors, rows).binary.is_none());
    }

    /// A 300×90 one-shot tile on 7-bit levels (ReRAM-CMO range) under 8-bit bipolar codes:
    /// stored as bytes, its integer MVM gives the float path's outputs within 1e-5 of the
    /// largest with an ideal ADC; with an 8-bit ADC over the largest current every output
    /// is within one LSB·|w| of the float path's and ≥ 99 % within 1e-4 of the largest
    /// (codes differ only at rounding ties). The byte tile stores 1 byte per cell (padded).
    #[test]
    fn byte_levels_match_the_float_path() {
        let (rows, cols, vectors) = (300, 90, 13);
        let cell = CellConfig::reram_cmo(2);
        let step = (cell.g_max_us - cell.g_min_us) / 127.0;
        let g: Vec<f32> = (0..rows * cols)
            .map(|k| cell.g_min_us + (k * 29 % 128) as f32 * step)
            .collect();
        let codes: Vec<i32> = (0..vectors * rows)
            .map(|k| (k as i32 * 41) % 255 - 127)
            .collect();
        let dac = Dac::new(
            &DacConfig {
                dac_bits: 8,
                v_read_v: 0.5,
            },
            8,
        );
        let drive = dac.drive(&codes, vectors, rows);
        assert!(drive.bytes.is_some());
        let make = || Tile::new(g.clone(), rows, cols, |_| 0.0, cell.g_max_us, key());
        let (analog, bytes) = (make(), make().compact_byte_levels(cell.g_min_us, step, 127));
        assert!(bytes.is_on_levels() && !analog.is_on_levels());
        assert_eq!(bytes.stored_bytes(), 75 * 4 * 6 * 16); // 75 quads × 6 blocks of 16
        let range = analog.max_abs_current_ua(&drive);
        assert!((bytes.max_abs_current_ua(&drive) - range).abs() <= 1e-5 * range);
        for adc in [
            Adc::Ideal,
            crate::adc::AdcConfig::default().converter(range, true),
        ] {
            let (mut a, mut b) = (vec![0.0; vectors * cols], vec![0.0; vectors * cols]);
            analog.mvm(&drive, &adc, 8, 0, &mut a, &mut Vec::new());
            bytes.mvm(&drive, &adc, 8, 0, &mut b, &mut Vec::new());
            let max = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let close = a
                .iter()
                .zip(&b)
                .filter(|(x, y)| (*x - *y).abs() <= 1e-5 * max)
                .count();
            if adc == Adc::Ideal {
                assert_eq!(close, a.len());
            } else {
                let one_code = drive.cycle_weights[0] as f32 * 2.0 * range / 254.0;
                assert!(a
                    .iter()
                    .zip(&b)
                    .all(|(x, y)| (x - y).abs() <= 1.001 * one_code));
                assert!(close as f64 >= 0.99 * a.len() as f64, "{close}");
            }
        }
    }

    /// Varied conductances (a fixed irregular pattern over 0–95 µS) stored on the 16-bit
    /// grid: every conductance within half a grid step (95/131070 µS, plus 1e-5 µS of f32
    /// rounding) of the original, 2 bytes per cell, and the MVM with read noise (σ 2 % of
    /// G, seed 1, same stream) within 1e-4 of the largest output of the f32 tile.
    #[test]
    fn grid_storage_stays_within_half_a_step() {
        let (rows, cols, vectors) = (64, 24, 5);
        let g: Vec<f32> = (0..rows * cols)
            .map(|k| 95.0 * ((k as f32 * 0.618_034).fract()))
            .collect();
        let make = || Tile::new(g.clone(), rows, cols, |g| 0.02 * g, 88.2, key());
        let (analog, grid) = (make(), make().compact_analog());
        assert_eq!(grid.stored_bytes(), 2 * rows * cols + 8);
        assert_eq!(analog.stored_bytes(), 4 * rows * cols);
        let (lo, hi) = g
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let half_step = (hi - lo) / 131_070.0 + 1e-5;
        for (x, y) in g.iter().zip(grid.conductances_us()) {
            assert!((x - y).abs() <= half_step, "{x} vs {y}");
        }
        let codes: Vec<i32> = (0..vectors * rows)
            .map(|k| (k as i32 * 29) % 255 - 127)
            .collect();
        let drive = Dac::new(&DacConfig::default(), 8).drive(&codes, vectors, rows);
        let (mut a, mut b) = (vec![0.0; vectors * cols], vec![0.0; vectors * cols]);
        analog.mvm(&drive, &Adc::Ideal, 0, 7, &mut a, &mut Vec::new());
        grid.mvm(&drive, &Adc::Ideal, 0, 7, &mut b, &mut Vec::new());
        let max = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-4 * max, "{x} vs {y}");
        }
    }

    /// A 130×40 tile on exact 2-bit levels (three words of rows, the last partial) gives
    /// the same MVM by popcount as the float table path: within 1e-5 of the largest output
    /// with an ideal ADC, and with read noise (σ 2 % of G, same streams, seed 1) within
    /// 1e-4; with a quantizing ADC see below. The compact tile stores 2 bits per cell.
    #[test]
    fn level_planes_match_the_float_path() {
        let (rows, cols, vectors) = (130, 40, 6);
        let cell = CellConfig::reram_cmo(2);
        let g: Vec<f32> = (0..rows * cols)
            .map(|k| cell.conductance_us((k * 5 % 7 % 4) as u8))
            .collect();
        let codes: Vec<i32> = (0..vectors * rows)
            .map(|k| (k as i32 * 41) % 255 - 127)
            .collect();
        let drive = Dac::new(&DacConfig::default(), 8).drive(&codes, vectors, rows);
        for sigma in [0.0, 0.02] {
            let make = || {
                Tile::new(
                    g.clone(),
                    rows,
                    cols,
                    move |g| sigma * g,
                    cell.g_max_us,
                    key(),
                )
            };
            let (analog, levels) = (make(), make().compact_levels(&cell));
            assert!(levels.is_on_levels() && !analog.is_on_levels());
            assert_eq!(levels.conductances_us(), g);
            let adc = Adc::Ideal;
            let (mut a, mut l) = (vec![0.0; vectors * cols], vec![0.0; vectors * cols]);
            analog.mvm(&drive, &adc, 0, 3, &mut a, &mut Vec::new());
            levels.mvm(&drive, &adc, 0, 3, &mut l, &mut Vec::new());
            let max = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let tol = if sigma == 0.0 { 1e-5 } else { 1e-4 };
            for (x, y) in a.iter().zip(&l) {
                assert!((x - y).abs() <= tol * max, "σ {sigma}: {x} vs {y}");
            }
        }
        // An 8-bit ADC over the largest current: the fused path's folded affine conversion
        // gives the float path's codes except at exact rounding ties, so every output is
        // within one LSB·Σ_c|w_c| and nearly all (≥ 99 %) within 1e-4 of the largest.
        let (analog, levels) = (
            Tile::new(g.clone(), rows, cols, |_| 0.0, cell.g_max_us, key()),
            Tile::new(g.clone(), rows, cols, |_| 0.0, cell.g_max_us, key()).compact_levels(&cell),
        );
        let range = analog.max_abs_current_ua(&drive);
        assert!((levels.max_abs_current_ua(&drive) - range).abs() <= 1e-5 * range);
        let adc = crate::adc::AdcConfig::default().converter(range, false);
        let (mut a, mut l) = (vec![0.0; vectors * cols], vec![0.0; vectors * cols]);
        analog.mvm(&drive, &adc, 8, 0, &mut a, &mut Vec::new());
        levels.mvm(&drive, &adc, 8, 0, &mut l, &mut Vec::new());
        let one_code: f64 =
            drive.cycle_weights.iter().map(|w| w.abs()).sum::<f64>() * range as f64 / 255.0;
        let max = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let close = a
            .iter()
            .zip(&l)
            .filter(|(x, y)| (*x - *y).abs() <= 1e-4 * max)
            .count();
        assert!(a
            .iter()
            .zip(&l)
            .all(|(x, y)| ((x - y).abs() as f64) <= 1.001 * one_code));
        assert!(
            close as f64 >= 0.99 * a.len() as f64,
            "{close} of {}",
            a.len()
        );
        let compact = Tile::new(g.clone(), rows, cols, |_| 0.0, 88.2, key()).compact_levels(&cell);
        assert_eq!(compact.stored_bytes(), 3 * 2 * 64 * 8); // 3 words, 2 planes, 64 padded columns
        let varied: Vec<f32> = g.iter().map(|v| v * 1.001).collect();
        let analog = Tile::new(varied, rows, cols, |_| 0.0, 88.2, key()).compact_levels(&cell);
        assert!(!analog.is_on_levels());
    }
}
