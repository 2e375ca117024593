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
//!    table entries (see `kernels::subset_sums`), which is the same sum in another order;
//! 2. adds per-read noise: the devices fluctuate independently with σ_ij from the device
//!    model, so the column currents get Gaussian noise. We draw it at the column level,
//!    which has exactly the distribution of per-device draws and costs a draw per
//!    conversion instead of per cell:
//!    * `per_cycle` (a fresh draw on every cycle): independent Gaussians of variance
//!      Σ_i V_ci²·σ_ij² for each cycle c;
//!    * `per_mvm` (one draw per device shared by the cycles of an MVM): the C cycles' noises
//!      of a column are jointly Gaussian with covariance Σ_i V_ci·V_c'i·σ_ij², computed by
//!      one table product over the drive of every pair of cycles
//!      ([`Drive::cycle_pairs`]) and sampled through its Cholesky factor;
//! 3. samples and holds the current, adds the ADC's input-referred noise (a Gaussian per
//!    conversion, [`Adc::noise_ua`]) and converts it;
//! 4. shift-and-adds the cycles: out_tj = Σ_c weight_c·ADC(I_ctj), which in the ideal case
//!    equals Σ_i code_ti·G_ij ("code × µS" units).
//!
//! A tile whose cells are all exactly on their levels ([`Tile::compact_levels`]) keeps
//! them as [`LevelPlanes`] (c bits per cell instead of 32) and sums 1-bit drives by
//! popcount; without read noise it then converts and shift-adds each cycle's currents as
//! soon as they are computed (steps 1, 3 and 4 fused), so no cycles × vectors × cols
//! buffer of currents is ever written. Varied devices under 1-bit drives without per-read
//! or ADC noise fuse the same steps over the table sums (`accumulate_converted`), which is
//! what keeps a noisy chip's state at read time as cheap to read as an ideal one.
//!
//! This module holds the physics and the order of these steps. How the conductances are
//! stored (f32, a 16-bit grid, bit planes or bytes) is in `tile::storage`; the inner loops
//! that sum and convert (popcount, subset-sum tables, the float product) are in
//! `crate::kernels`.
//!
//! Randomness per read is keyed by a **read id** per input vector that the caller gives
//! (crossbert uses example index and token position): the per-read noise of vector t comes
//! from the stream `(seed, matrix, tile, ReadNoise, read id of t)` and its ADC noise from
//! `(…, AdcNoise, read id of t)`, each in a fixed order (cycle, then column). A vector's
//! noise therefore does not depend on which other vectors share its batch, nor on how
//! tiles are spread over threads.

mod storage;

use crate::adc::Adc;
use crate::bit_planes::LevelPlanes;
use crate::cell::CellConfig;
use crate::dac::{Dac, Drive};
use crate::device::Correlation;
use crate::events::EventCounts;
use crate::kernels::{
    accumulate, accumulate_converted, gemm, levels_max_current, levels_mvm, subset_sums,
};
use crate::level_bytes::LevelBytes;
use crate::rng::{Purpose, StreamKey};
use crate::sample_hold;
use rand_distr::{Distribution, StandardNormal};
use std::collections::BTreeMap;
use std::sync::Arc;
use storage::{ConductanceGrid, Conductances};

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
    /// Whether the cycles of one MVM share the per-read draw.
    correlation: Correlation,
    /// Nominal largest conductance of a cell, µS (for the full-scale ADC range).
    g_max_us: f32,
    /// This tile's streams (seed, matrix, tile); purpose and read id are set per draw.
    noise_key: StreamKey,
}

impl Tile {
    /// A tile over conductances `g_us` (µS, rows × cols) whose devices have per-read noise
    /// σ = `read_sigma_us(G)` µS (pass `move |g| device.read_noise_sigma_us(g)` with an
    /// owned `DeviceConfig` to use its model), shared by the cycles of an MVM (`per_mvm`;
    /// see [`Tile::with_correlation`]). `noise_key` names the tile's streams.
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
            correlation: Correlation::PerMvm,
            g_max_us,
            noise_key,
        }
    }

    /// The same tile with per-read draws correlated across the cycles of an MVM as stated.
    pub fn with_correlation(mut self, correlation: Correlation) -> Tile {
        self.correlation = correlation;
        self
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
    /// (max G − min G)/131070, see `ConductanceGrid`); tiles on exact levels unchanged.
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
        self.conductances.conductances_us()
    }

    /// Bytes of state this tile stores (read-noise σ is computed from G, not stored).
    pub fn stored_bytes(&self) -> usize {
        self.conductances.stored_bytes()
    }

    /// The full-scale column current, µA: every row at `max_volts` on cells at G_max.
    pub fn full_scale_current_ua(&self, max_volts: f32) -> f32 {
        self.rows as f32 * max_volts * self.g_max_us
    }

    /// Column currents (µA) of every cycle and vector, `(cycles·vectors) × cols`, into
    /// `currents`, with per-read noise when `reads` gives each vector's read id.
    pub fn currents(&self, drive: &Drive, reads: Option<&[u64]>, currents: &mut Vec<f32>) {
        assert_eq!(drive.rows, self.rows, "drive rows must match tile rows");
        let m = drive.cycles() * drive.vectors;
        // Every element is overwritten below, so a reused buffer of the right size is not
        // cleared first.
        if currents.len() != m * self.cols {
            currents.clear();
            currents.resize(m * self.cols, 0.0);
        }
        self.conductance_product(drive, currents);
        if let (Some(reads), Some(sigma)) = (reads, &self.read_sigma) {
            assert_eq!(reads.len(), drive.vectors, "one read id per input vector");
            let var = self.noise_variances(sigma);
            if self.correlation == Correlation::PerCycle || drive.cycles() == 1 {
                self.add_independent_noise(drive, &var, reads, currents);
            } else {
                self.add_shared_noise(drive, &var, reads, currents);
            }
        }
    }

    /// Per-cycle read noise: an independent Gaussian of variance Σ_i V_ci²·σ_ij² on every
    /// cycle's column current.
    fn add_independent_noise(
        &self,
        drive: &Drive,
        var: &[f32],
        reads: &[u64],
        currents: &mut [f32],
    ) {
        let (cycles, vectors, cols) = (drive.cycles(), drive.vectors, self.cols);
        let mut column_var = vec![0.0f32; cycles * vectors * cols];
        self.product(drive, var, true, &mut column_var);
        for (t, &read) in reads.iter().enumerate() {
            let mut rng = self.read_stream(Purpose::ReadNoise, read);
            for c in 0..cycles {
                let at = (c * vectors + t) * cols;
                for (i, v) in currents[at..at + cols]
                    .iter_mut()
                    .zip(&column_var[at..at + cols])
                {
                    let z: f32 = StandardNormal.sample(&mut rng);
                    *i += v.sqrt() * z;
                }
            }
        }
    }

    /// Per-MVM read noise: one draw per device shared by the cycles, so the cycles' column
    /// noises are jointly Gaussian with covariance Σ_i V_ci·V_c'i·σ_ij² (from the product
    /// over the drive of cycle pairs), sampled as L·z with L its Cholesky factor.
    fn add_shared_noise(&self, drive: &Drive, var: &[f32], reads: &[u64], currents: &mut [f32]) {
        let (cycles, vectors, cols) = (drive.cycles(), drive.vectors, self.cols);
        let pairs = drive.cycle_pairs();
        let mut pair_cov = vec![0.0f32; pairs.cycles() * vectors * cols];
        self.product(&pairs, var, false, &mut pair_cov);
        let mut cov = vec![0.0f64; cycles * cycles];
        let mut z = vec![0.0f64; cycles];
        for (t, &read) in reads.iter().enumerate() {
            let mut rng = self.read_stream(Purpose::ReadNoise, read);
            for j in 0..cols {
                let mut p = 0;
                for c in 0..cycles {
                    for d in c..cycles {
                        cov[c * cycles + d] = pair_cov[(p * vectors + t) * cols + j] as f64;
                        p += 1;
                    }
                }
                cholesky_in_place(&mut cov, cycles);
                for zc in z.iter_mut() {
                    *zc = StandardNormal.sample(&mut rng);
                }
                for c in 0..cycles {
                    let n: f64 = (0..=c).map(|d| cov[c * cycles + d] * z[d]).sum();
                    currents[(c * vectors + t) * cols + j] += n as f32;
                }
            }
        }
    }

    /// The ADC's input-referred noise: a Gaussian of σ `noise_ua` on every conversion's
    /// current, drawn per vector from its read id.
    fn add_adc_noise(&self, drive: &Drive, noise_ua: f32, reads: &[u64], currents: &mut [f32]) {
        self.add_adc_noise_to(drive, noise_ua, reads, self.cols, currents)
    }

    /// The same for `cols` converted outputs per cycle and vector.
    fn add_adc_noise_to(
        &self,
        drive: &Drive,
        noise_ua: f32,
        reads: &[u64],
        cols: usize,
        currents: &mut [f32],
    ) {
        let (cycles, vectors) = (drive.cycles(), drive.vectors);
        for (t, &read) in reads.iter().enumerate() {
            let mut rng = self.read_stream(Purpose::AdcNoise, read);
            for c in 0..cycles {
                let at = (c * vectors + t) * cols;
                for i in &mut currents[at..at + cols] {
                    let z: f32 = StandardNormal.sample(&mut rng);
                    *i += noise_ua * z;
                }
            }
        }
    }

    /// The stream of one read's draws of `purpose`.
    fn read_stream(&self, purpose: Purpose, read: u64) -> rand_chacha::ChaCha8Rng {
        self.noise_key.with_purpose(purpose).with_index(read).rng()
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
        match (&self.conductances, &drive.binary, &drive.bytes) {
            (Conductances::Levels(planes), Some(b), _) => {
                let words = planes.words();
                for (m, o) in out.chunks_exact_mut(self.cols).enumerate() {
                    planes.currents(&b.words[m * words..][..words], b.volts, o);
                }
            }
            (Conductances::Bytes(bytes), _, Some(codes)) => bytes.map_currents(codes, |i| i, out),
            _ => self.product(drive, &self.conductances.floats(), false, out),
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
        self.currents(drive, None, &mut currents);
        currents.iter().fold(0.0f32, |m, i| m.max(i.abs()))
    }

    /// One MVM of a batch: `out` (vectors × cols) receives Σ_c weight_c·ADC(I_c) in
    /// code·µS units; `reads` gives each vector's read id (see the module docs); `scratch`
    /// is reused between calls. Returns the exact event counts.
    pub fn mvm(
        &self,
        drive: &Drive,
        adc: &Adc,
        adc_bits: u8,
        reads: &[u64],
        out: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> EventCounts {
        let (vectors, cols) = (drive.vectors, self.cols);
        assert_eq!(out.len(), vectors * cols, "output must be vectors×cols");
        assert_eq!(reads.len(), vectors, "one read id per input vector");
        let noiseless = self.read_sigma.is_none() && adc.noise_ua() == 0.0;
        if let (Conductances::Levels(planes), Some(b), true) =
            (&self.conductances, &drive.binary, noiseless)
        {
            levels_mvm(planes, b, &drive.cycle_weights, adc, out);
            return self.drive_events(drive, adc_bits, cols);
        }
        if let (Conductances::Bytes(bytes), Some(codes), true) =
            (&self.conductances, &drive.bytes, noiseless)
        {
            // One cycle (one-shot codes): convert each current as soon as it is computed.
            let weight = drive.cycle_weights[0] as f32;
            match *adc {
                Adc::Ideal => bytes.map_currents(codes, |i| weight * i, out),
                Adc::Quantizing { .. } => {
                    bytes.map_currents(codes, |i| weight * adc.convert(i), out)
                }
            }
            return self.drive_events(drive, adc_bits, cols);
        }
        if let (Some(b), true) = (&drive.binary, noiseless) {
            // Varied devices under a 1-bit drive: table sums converted in registers.
            let table = subset_sums(&self.conductances.floats(), self.rows, cols, b.volts);
            let groups = self.rows.div_ceil(4);
            match *adc {
                Adc::Ideal => {
                    accumulate_converted(&b.nibbles, groups, cols, &table, drive, |i| i, out)
                }
                Adc::Quantizing { .. } => accumulate_converted(
                    &b.nibbles,
                    groups,
                    cols,
                    &table,
                    drive,
                    |i| adc.convert(i),
                    out,
                ),
            }
            return self.drive_events(drive, adc_bits, cols);
        }
        self.currents(drive, Some(reads), scratch);
        if adc.noise_ua() > 0.0 {
            self.add_adc_noise(drive, adc.noise_ua(), reads, scratch);
        }
        out.fill(0.0);
        for (c, &weight) in drive.cycle_weights.iter().enumerate() {
            let cycle = &scratch[c * vectors * cols..(c + 1) * vectors * cols];
            convert_and_accumulate(adc, weight as f32, cycle, out);
        }
        self.drive_events(drive, adc_bits, cols)
    }

    /// Closed-form events of one MVM of `vectors` vectors driven by `dac`, every column
    /// converted at `adc_bits` (0: an ideal ADC).
    pub fn events(&self, vectors: usize, dac: &Dac, adc_bits: u8) -> EventCounts {
        self.events_converting(vectors, dac, adc_bits, self.cols)
    }

    /// Closed-form events of one MVM whose `converted` outputs per cycle (every column, or
    /// one difference per column pair) are sampled, converted and shift-added.
    pub fn events_converting(
        &self,
        vectors: usize,
        dac: &Dac,
        adc_bits: u8,
        converted: usize,
    ) -> EventCounts {
        let cycles = dac.cycles().len();
        self.counted(vectors, cycles, dac.resolution_bits(), adc_bits, converted)
    }

    /// The events of one MVM under `drive` (see [`Tile::events_converting`]).
    fn drive_events(&self, drive: &Drive, adc_bits: u8, converted: usize) -> EventCounts {
        let (vectors, cycles) = (drive.vectors, drive.cycles());
        self.counted(vectors, cycles, drive.dac_bits, adc_bits, converted)
    }

    fn counted(
        &self,
        vectors: usize,
        cycles: usize,
        dac_bits: u8,
        adc_bits: u8,
        converted: usize,
    ) -> EventCounts {
        let drives = (vectors * cycles * self.rows) as u64;
        EventCounts {
            adc_conversions: BTreeMap::from([(adc_bits, (vectors * cycles * converted) as u64)]),
            dac_drives: BTreeMap::from([(dac_bits, drives)]),
            cell_reads: drives * self.cols as u64,
            sample_holds: sample_hold::samples(vectors, cycles, converted),
            shift_adds: (vectors * cycles.saturating_sub(1) * converted) as u64,
            ..Default::default()
        }
    }

    /// One MVM read out as analog differences: for every column pair (p, m) of `pairs`,
    /// `out` (vectors × pairs) receives Σ_c weight_c·ADC(I_p,c − I_m,c) in code·µS units,
    /// one (bipolar) conversion per pair and cycle, with the per-read and ADC noise of
    /// [`Tile::mvm`]. Returns the exact event counts.
    #[allow(clippy::too_many_arguments)]
    pub fn mvm_differences(
        &self,
        drive: &Drive,
        adc: &Adc,
        adc_bits: u8,
        reads: &[u64],
        pairs: &[(usize, usize)],
        out: &mut [f32],
        scratch: &mut Vec<f32>,
    ) -> EventCounts {
        let (vectors, cycles, cols) = (drive.vectors, drive.cycles(), self.cols);
        assert_eq!(
            out.len(),
            vectors * pairs.len(),
            "output must be vectors×pairs"
        );
        assert_eq!(reads.len(), vectors, "one read id per input vector");
        self.currents(drive, Some(reads), scratch);
        let mut diffs = vec![0.0f32; cycles * vectors * pairs.len()];
        for (d, currents) in diffs
            .chunks_exact_mut(pairs.len())
            .zip(scratch.chunks_exact(cols))
        {
            for (x, &(p, m)) in d.iter_mut().zip(pairs) {
                *x = currents[p] - currents[m];
            }
        }
        if adc.noise_ua() > 0.0 {
            self.add_adc_noise_to(drive, adc.noise_ua(), reads, pairs.len(), &mut diffs);
        }
        out.fill(0.0);
        for (c, &weight) in drive.cycle_weights.iter().enumerate() {
            let cycle = &diffs[c * vectors * pairs.len()..(c + 1) * vectors * pairs.len()];
            convert_and_accumulate(adc, weight as f32, cycle, out);
        }
        self.drive_events(drive, adc_bits, pairs.len())
    }

    /// Smallest and largest column current over all cycles, vectors and columns of
    /// `drive`, µA, without read noise (for calibrating an offset-aware ADC span).
    pub fn current_span_ua(&self, drive: &Drive) -> (f32, f32) {
        let mut currents = Vec::new();
        self.currents(drive, None, &mut currents);
        span(currents.iter().copied())
    }

    /// Smallest and largest I_p − I_m over all cycles, vectors and column pairs of
    /// `drive`, µA, without read noise (the span of an analog-difference readout).
    pub fn difference_span_ua(&self, drive: &Drive, pairs: &[(usize, usize)]) -> (f32, f32) {
        let mut currents = Vec::new();
        self.currents(drive, None, &mut currents);
        span(
            currents
                .chunks_exact(self.cols)
                .flat_map(|row| pairs.iter().map(move |&(p, m)| row[p] - row[m])),
        )
    }

    /// Largest |I_p − I_m| over all cycles, vectors and column pairs of `drive`, µA,
    /// without read noise (for calibrating the range of an analog-difference readout).
    pub fn max_abs_difference_ua(&self, drive: &Drive, pairs: &[(usize, usize)]) -> f32 {
        let (lo, hi) = self.difference_span_ua(drive, pairs);
        lo.abs().max(hi.abs())
    }
}

/// (smallest, largest) of `values`; (0, 0) for none.
fn span(values: impl Iterator<Item = f32>) -> (f32, f32) {
    values
        .fold(None, |acc: Option<(f32, f32)>, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
        .unwrap_or((0.0, 0.0))
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

/// Overwrites the upper triangle (row-major n×n, `a[c·n + d]` for d ≥ c) of a covariance
/// matrix with its lower Cholesky factor L (`a[c·n + d]` for d ≤ c; L·Lᵀ = the matrix). A
/// covariance of read noise is positive semi-definite but can be singular (a cycle that
/// drives no row has zero variance, two cycles that drive the same rows are perfectly
/// correlated): a pivot at or below 1e-12 of the largest diagonal entry gives a zero column,
/// which samples the same distribution.
fn cholesky_in_place(a: &mut [f64], n: usize) {
    for c in 0..n {
        for d in 0..c {
            a[c * n + d] = a[d * n + c]; // mirror the upper triangle into the lower
        }
    }
    let scale = (0..n).map(|c| a[c * n + c]).fold(0.0f64, f64::max);
    for c in 0..n {
        let pivot = a[c * n + c] - (0..c).map(|k| a[c * n + k] * a[c * n + k]).sum::<f64>();
        let l = if pivot > 1e-12 * scale {
            pivot.sqrt()
        } else {
            0.0
        };
        a[c * n + c] = l;
        for r in c + 1..n {
            let dot: f64 = (0..c).map(|k| a[r * n + k] * a[c * n + k]).sum();
            a[r * n + c] = if l > 0.0 {
                (a[r * n + c] - dot) / l
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adc::AdcConfig;
    use crate::dac::{Dac, DacConfig};
    use crate::device::Correlation;
    use crate::rng::Purpose;

    fn key() -> StreamKey {
        StreamKey::new(1, 0, 0, Purpose::ReadNoise)
    }

    /// Read ids first, first + 1, … of `vectors` vectors.
    fn reads(first: u64, vectors: usize) -> Vec<u64> {
        (first..first + vectors as u64).collect()
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
        let ev = tile.mvm(
            &drive,
            &adc,
            0,
            &reads(0, drive.vectors),
            &mut out,
            &mut Vec::new(),
        );
        for t in 0..2 {
            for j in 0..2 {
                let want: f32 = (0..3).map(|i| codes[t * 3 + i] as f32 * g[i * 2 + j]).sum();
                assert!((out[t * 2 + j] - want).abs() < 1e-4, "t{t} j{j}");
            }
        }
        // 2 vectors × 4 cycles: drives = 2·4·3, reads = 2·4·3·2, conversions = 2·4·2.
        assert_eq!(ev.dac_drives, BTreeMap::from([(1, 24)]));
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
        tile.mvm(
            &drive,
            &adc,
            8,
            &reads(0, drive.vectors),
            &mut out,
            &mut Vec::new(),
        );
        // Ideal: 7·100 + 7·100 = 1400; clipped at 10 µA per cycle: (1+2+4)·10/0.5 = 140.
        assert!((out[0] - 140.0).abs() < 1e-3, "{}", out[0]);
    }

    /// Mean and unbiased variance.
    fn moments(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        (
            mean,
            xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0),
        )
    }

    /// Pearson correlation of two samples.
    fn pearson(a: &[f64], b: &[f64]) -> f64 {
        let ((ma, va), (mb, vb)) = (moments(a), moments(b));
        let cov = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>()
            / (a.len() as f64 - 1.0);
        cov / (va * vb).sqrt()
    }

    /// Column read noise through the shift-and-add: 1 row-vector of 4-bit codes on a 16×3
    /// tile with σ = 5 % of G, ideal ADC, 4000 MVMs (seed 1, read ids 0..4000). The mean
    /// output matches the noiseless one (4 standard errors) and the variance matches its
    /// closed form within 8 % (the standard error of a variance from 4000 samples is
    /// 2.2 %): per_cycle Σ_c w_c²·Σ_i V_ci²·σ_i² (cycles independent), per_mvm
    /// Σ_i (Σ_c w_c·V_ci)²·σ_i² (one draw per device, weighted by its input code). For these
    /// codes the two differ by a factor of about 2, so each closed form rejects the other.
    #[test]
    fn read_noise_has_the_variance_of_its_time_scale() {
        let rows = 16;
        let g: Vec<f32> = (0..rows * 3)
            .map(|k| 10.0 + (k % 7) as f32 * 10.0)
            .collect();
        let codes: Vec<i32> = (0..rows as i32).map(|i| (i * 5) % 15 - 7).collect();
        let dac = Dac::new(&DacConfig::default(), 4);
        let drive = dac.drive(&codes, 1, rows);
        let sigma = |i: usize, j: usize| 0.05 * g[i * 3 + j] as f64;
        for correlation in [Correlation::PerCycle, Correlation::PerMvm] {
            let tile = Tile::new(g.clone(), rows, 3, |g| 0.05 * g, 100.0, key())
                .with_correlation(correlation);
            let n = 4000;
            let mut samples = vec![Vec::new(); 3];
            let (mut out, mut scratch) = (vec![0.0; 3], Vec::new());
            for k in 0..n {
                tile.mvm(&drive, &Adc::Ideal, 0, &[k], &mut out, &mut scratch);
                for j in 0..3 {
                    samples[j].push(out[j] as f64);
                }
            }
            for j in 0..3 {
                let ideal: f64 = (0..rows)
                    .map(|i| codes[i] as f64 * g[i * 3 + j] as f64)
                    .sum();
                let weighted = |i: usize, square_each: bool| -> f64 {
                    let terms = (0..drive.cycles())
                        .map(|c| drive.cycle_weights[c] * drive.volts_at(c, 0, i) as f64);
                    if square_each {
                        terms.map(|x| x * x).sum()
                    } else {
                        terms.sum::<f64>().powi(2)
                    }
                };
                let per_cycle = correlation == Correlation::PerCycle;
                let var_want: f64 = (0..rows)
                    .map(|i| weighted(i, per_cycle) * sigma(i, j).powi(2))
                    .sum();
                let (mean, var) = moments(&samples[j]);
                let se_mean = (var_want / n as f64).sqrt();
                assert!(
                    (mean - ideal).abs() < 4.0 * se_mean,
                    "{correlation:?} col {j}: mean {mean} vs {ideal}"
                );
                assert!(
                    (var / var_want - 1.0).abs() < 0.08,
                    "{correlation:?} col {j}: var {var} vs {var_want}"
                );
            }
        }
    }

    /// The time scales told apart on the column currents of one 32×4 tile (σ = 3 % of G,
    /// ADC noise σ 0.5 µA, seed 1). Every code is 3, so cycles 0 and 1 drive exactly the same
    /// rows. Over 3000 reads:
    /// * within one MVM, per_mvm read noise is the same on both cycles (correlation > 0.999)
    ///   and per_cycle noise independent (|r| < 4/√3000 = 0.073);
    /// * across MVMs, consecutive read ids are independent (|r| < 0.073) and one read id
    ///   gives the same currents bit for bit;
    /// * the ADC's noise is independent between the two cycles of one MVM (|r| < 0.073) with
    ///   σ 0.5 µA within 8 %.
    #[test]
    fn noise_time_scales_are_told_apart() {
        let rows = 32;
        let g: Vec<f32> = (0..rows * 4)
            .map(|k| 20.0 + (k % 5) as f32 * 15.0)
            .collect();
        let drive = Dac::new(&DacConfig::default(), 4).drive(&vec![3; rows], 1, rows);
        let n = 3000u64;
        let noise = |tile: &Tile, read: u64| -> (f64, f64) {
            let mut clean = Vec::new();
            tile.currents(&drive, None, &mut clean);
            let mut noisy = Vec::new();
            tile.currents(&drive, Some(&[read]), &mut noisy);
            ((noisy[0] - clean[0]) as f64, (noisy[4] - clean[4]) as f64) // column 0, cycles 0 and 1
        };
        let threshold = 4.0 / (n as f64).sqrt();
        for correlation in [Correlation::PerMvm, Correlation::PerCycle] {
            let tile = Tile::new(g.clone(), rows, 4, |g| 0.03 * g, 100.0, key())
                .with_correlation(correlation);
            let (c0, c1): (Vec<f64>, Vec<f64>) = (0..n).map(|k| noise(&tile, k)).unzip();
            let within = pearson(&c0, &c1);
            match correlation {
                Correlation::PerMvm => assert!(within > 0.999, "per_mvm within one MVM: {within}"),
                Correlation::PerCycle => {
                    assert!(
                        within.abs() < threshold,
                        "per_cycle within one MVM: {within}"
                    )
                }
            }
            let across = pearson(&c0[..n as usize - 1], &c0[1..]);
            assert!(
                across.abs() < threshold,
                "{correlation:?} across MVMs: {across}"
            );
            assert_eq!(noise(&tile, 17), noise(&tile, 17));
        }
        // ADC noise: a fresh draw per conversion.
        let tile = Tile::new(g.clone(), rows, 4, |_| 0.0, 100.0, key());
        let adc = AdcConfig {
            ideal: false,
            adc_bits: 24,
            noise: 0.5 / 1000.0,
            ..Default::default()
        }
        .converter(1000.0, false);
        assert!((adc.noise_ua() - 0.5).abs() < 1e-6);
        let mut clean = Vec::new();
        tile.currents(&drive, None, &mut clean);
        let (mut c0, mut c1) = (Vec::new(), Vec::new());
        for k in 0..n {
            let mut noisy = clean.clone();
            tile.add_adc_noise(&drive, adc.noise_ua(), &[k], &mut noisy);
            c0.push((noisy[0] - clean[0]) as f64);
            c1.push((noisy[4] - clean[4]) as f64);
        }
        assert!(pearson(&c0, &c1).abs() < threshold);
        assert!((moments(&c0).1.sqrt() / 0.5 - 1.0).abs() < 0.08);
    }

    /// Per-MVM noise of a vector does not depend on the batch it runs in: the same three
    /// input vectors (seed-free integer patterns) run as one batch of 3 and as three batches
    /// of 1, with their read ids 5, 9, 2, give the same outputs bit for bit, with an 8-bit
    /// ADC (a calibrated range) and ADC noise on.
    #[test]
    fn noise_of_a_vector_does_not_depend_on_its_batch() {
        let (rows, cols) = (40, 6);
        let g: Vec<f32> = (0..rows * cols)
            .map(|k| 10.0 + (k * 13 % 17) as f32 * 4.0)
            .collect();
        let tile = Tile::new(g, rows, cols, |g| 0.02 * g, 88.2, key());
        let codes: Vec<i32> = (0..3 * rows).map(|k| (k as i32 * 37) % 255 - 127).collect();
        let dac = Dac::new(&DacConfig::default(), 8);
        let batch = dac.drive(&codes, 3, rows);
        let adc = AdcConfig {
            noise: 0.01,
            ..Default::default()
        }
        .converter(tile.max_abs_current_ua(&batch), false);
        let mut together = vec![0.0; 3 * cols];
        tile.mvm(&batch, &adc, 8, &[5, 9, 2], &mut together, &mut Vec::new());
        for (t, read) in [5u64, 9, 2].into_iter().enumerate() {
            let alone = dac.drive(&codes[t * rows..(t + 1) * rows], 1, rows);
            let mut out = vec![0.0; cols];
            tile.mvm(&alone, &adc, 8, &[read], &mut out, &mut Vec::new());
            assert_eq!(out, together[t * cols..(t + 1) * cols], "vector {t}");
        }
    }

    /// The Cholesky factor of a singular covariance (two identical cycles and an empty one)
    /// reproduces the matrix: L·Lᵀ = C to 1e-12.
    #[test]
    fn cholesky_handles_singular_covariances() {
        // Cycles 0 and 1 identical (variance 4), cycle 2 empty, cycle 3 partly shared.
        let c = [
            4.0, 4.0, 0.0, 2.0, 4.0, 4.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 2.0, 2.0, 0.0, 3.0,
        ];
        let mut l = c;
        cholesky_in_place(&mut l, 4);
        for r in 0..4 {
            for s in 0..4 {
                let v: f64 = (0..=r.min(s)).map(|k| l[r * 4 + k] * l[s * 4 + k]).sum();
                assert!(
                    (v - c[r * 4 + s]).abs() < 1e-12,
                    "({r},{s}): {v} vs {}",
                    c[r * 4 + s]
                );
            }
        }
    }

    /// The table path of 1-bit drives equals the matrix-product path to f32 rounding
    /// (relative 1e-5 of the largest current) on a 37×19 tile (rows not a multiple of 4),
    /// with and without the noise-variance product. Seeds: fixed integer patterns.
    /// Varied devices under 1-bit drives, no noise: the fused MVM (table sums converted in
    /// registers) gives exactly, bit for bit, Σ_c w_c·ADC(I_c) over the stored currents of
    /// every cycle, with an ideal and with an 8-bit ADC, for 9 and 11 vectors (a batch that
    /// is not a multiple of the kernel's four chains) and 37 rows, 19 columns (partial
    /// groups and column blocks).
    #[test]
    fn fused_table_mvm_equals_stored_currents() {
        let (rows, cols) = (37, 19);
        let g: Vec<f32> = (0..rows * cols)
            .map(|k| 9.0 + (k * 7 % 23) as f32 * 3.3 + (k % 5) as f32 * 0.013)
            .collect();
        let tile = Tile::new(g, rows, cols, |_| 0.0, 88.2, key()).compact_analog();
        for vectors in [9, 11] {
            let codes: Vec<i32> = (0..vectors * rows)
                .map(|k| (k as i32 * 37) % 255 - 127)
                .collect();
            let drive = Dac::new(&DacConfig::default(), 8).drive(&codes, vectors, rows);
            let range = tile.max_abs_current_ua(&drive);
            for adc in [
                Adc::Ideal,
                AdcConfig::default().converter(0.7 * range, false),
            ] {
                let mut fused = vec![0.0; vectors * cols];
                let read_ids = reads(0, vectors);
                tile.mvm(&drive, &adc, 8, &read_ids, &mut fused, &mut Vec::new());
                let mut currents = Vec::new();
                tile.currents(&drive, None, &mut currents);
                let mut stored = vec![0.0f32; vectors * cols];
                for (c, &w) in drive.cycle_weights.iter().enumerate() {
                    let cycle = &currents[c * vectors * cols..][..vectors * cols];
                    convert_and_accumulate(&adc, w as f32, cycle, &mut stored);
                }
                assert_eq!(fused, stored, "{vectors} vectors, {adc:?}");
            }
        }
    }

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
            analog.mvm(
                &drive,
                &adc,
                8,
                &reads(0, drive.vectors),
                &mut a,
                &mut Vec::new(),
            );
            bytes.mvm(
                &drive,
                &adc,
                8,
                &reads(0, drive.vectors),
                &mut b,
                &mut Vec::new(),
            );
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
        analog.mvm(
            &drive,
            &Adc::Ideal,
            0,
            &reads(7, drive.vectors),
            &mut a,
            &mut Vec::new(),
        );
        grid.mvm(
            &drive,
            &Adc::Ideal,
            0,
            &reads(7, drive.vectors),
            &mut b,
            &mut Vec::new(),
        );
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
            analog.mvm(
                &drive,
                &adc,
                0,
                &reads(3, drive.vectors),
                &mut a,
                &mut Vec::new(),
            );
            levels.mvm(
                &drive,
                &adc,
                0,
                &reads(3, drive.vectors),
                &mut l,
                &mut Vec::new(),
            );
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
        analog.mvm(
            &drive,
            &adc,
            8,
            &reads(0, drive.vectors),
            &mut a,
            &mut Vec::new(),
        );
        levels.mvm(
            &drive,
            &adc,
            8,
            &reads(0, drive.vectors),
            &mut l,
            &mut Vec::new(),
        );
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
