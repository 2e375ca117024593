//! `MappedMatrix`: y = x·Wᵀ on the chip.
//!
//! Programming quantizes W, encodes and slices it, cuts it into arrays and programs every
//! array through the device model (once per chip instance = seed; one array's faults,
//! placement, programming, IR drop and storage are in `crate::program`). A forward pass
//! quantizes the activations, lets the DACs drive each row tile, runs every array's analog
//! MVM and ADCs (crate `crossbar`), then does the digital rest: subtract the W⁻ /
//! reference column, shift-and-add the slices, add the partial sums of the arrays that
//! share output features, and rescale by the weight and input scales.
//!
//! Arrays are processed in parallel by column tile; each output feature is computed by one
//! task that visits its row tiles in a fixed order, and per-read noise comes from per-array
//! streams keyed by each token's read id, so the result is bitwise the same for any number
//! of threads and any batching of the tokens.

use crate::config::{DriftCompensation, Encoding, InputScale, MappingConfig, Readout, WeightScale};
use crate::error::MappingError;
use crate::program::Chip;
use crate::quantize::{max_code, quantize, quantize_weights, scale_for};
use crate::remap::FaultMap;
use crate::tiling::Layout;
use crossbar::{Adc, AdcRange, ConfigError, Dac, DeviceConfig, Drive, EventCounts, Tile};
use rayon::prelude::*;
use serde::Serialize;

/// Tokens per chunk when calibrating (bounds the memory of the stacked drives).
pub const CALIBRATION_CHUNK: usize = 256;

/// Width of the digital words an output is written back with (buffer-bit accounting).
const OUTPUT_WORD_BITS: u64 = 32;

/// A weight matrix programmed onto crossbar arrays.
#[derive(Clone, Debug)]
pub struct MappedMatrix {
    cfg: MappingConfig,
    layout: Layout,
    matrix_id: u32,
    /// Weight scale of each output feature.
    weight_scales: Vec<f32>,
    /// Nominal conductance between adjacent cell levels, µS.
    step_us: f32,
    dac: Dac,
    /// Row-tile-major, see [`Layout::array_index`].
    tiles: Vec<Tile>,
    /// ADC range (µA, ± for bipolar) of each array; `None` until calibrated. The top of
    /// the span for `calibrated_span`.
    adc_ranges_ua: Option<Vec<f32>>,
    /// Bottom of each array's ADC span (µA), for `calibrated_span` only.
    adc_floors_ua: Option<Vec<f32>>,
    /// Calibrated input scale; `None` for dynamic scaling or before calibration.
    input_scale: Option<f32>,
    /// Digital gain of every output feature of every array (row-tile-major, then the
    /// array's outputs): its drift-compensation gain times its per-array weight scale;
    /// `None` when there is neither.
    array_gains: Option<Vec<Vec<f32>>>,
    /// Nominal conductance of each slice of the offset 2^(b−1), µS: what the digital
    /// offset subtracts per unit of input code.
    nominal_offset_us: Vec<f32>,
}

/// What a mapping occupies and spends, without running data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MappingReport {
    /// `bit_sliced` or `one_shot`.
    pub fidelity: &'static str,
    /// `differential` or `offset`.
    pub encoding: &'static str,
    pub out_features: usize,
    pub in_features: usize,
    pub arrays: usize,
    pub array_rows: usize,
    pub array_cols: usize,
    pub row_tiles: usize,
    pub col_tiles: usize,
    /// Cells per stored weight magnitude.
    pub weight_slices: usize,
    /// DAC cycles per input vector.
    pub input_cycles: usize,
    /// Cells holding weights or reference levels.
    pub cells_used: u64,
    /// Cells of all arrays (including unused and spare ones).
    pub cells_total: u64,
    /// cells_used / cells_total.
    pub utilization: f64,
    /// ADCs: per array ⌈converted columns / columns_per_adc⌉.
    pub adcs: u64,
    /// `two_conversions` or `analog_difference`.
    pub readout: &'static str,
    /// Outputs one array converts per cycle: its columns, or its column pairs.
    pub converted_columns_per_array: usize,
    /// Conversions one ADC performs one after another per token (arrays run in parallel):
    /// input cycles × the most active columns one ADC of any array serves. The latency
    /// roll-up multiplies it by the conversion time.
    pub adc_serial_conversions_per_token: u64,
    /// Events of one forward pass of one token.
    pub events_per_token: EventCounts,
    /// Bytes of state the mapped matrix stores (conductances or level bit planes, noise
    /// variances, scales).
    pub stored_bytes: usize,
    /// `none`, `global` or `per_column`.
    pub drift_compensation: &'static str,
    /// One-hot reference reads (one input vector each) of the drift compensation, once per
    /// chip instance and read time: 2 × active rows per array; 0 when off.
    pub drift_compensation_reads: u64,
}

impl MappedMatrix {
    /// Programs `weight` (PyTorch Linear layout: out × in, row-major; y = x·Wᵀ) onto arrays
    /// under `cfg`, with device effects of `device` drawn for chip instance `seed`.
    pub fn program(
        weight: &[f32],
        out_features: usize,
        in_features: usize,
        cfg: &MappingConfig,
        device: &DeviceConfig,
        seed: u64,
        matrix_id: u32,
    ) -> Result<MappedMatrix, ConfigError> {
        let no_faults = |_: usize| FaultMap {
            rows: cfg.array_rows,
            cols: cfg.array_cols,
            cells: Vec::new(),
        };
        Self::program_with_faults(
            weight,
            out_features,
            in_features,
            cfg,
            device,
            seed,
            matrix_id,
            no_faults,
        )
    }

    /// As [`MappedMatrix::program`], with known stuck cells: `faults(a)` gives the fault
    /// map of physical array `a` (row-tile-major index, physical coordinates; e.g. measured
    /// on a real chip, or chosen by a fault-sensitivity study). Stuck cells are forced to
    /// G_max / G_min after programming, and with `cfg.remap_faults` the placement steers
    /// weights away from them (see [`crate::remap`]).
    #[allow(clippy::too_many_arguments)]
    pub fn program_with_faults(
        weight: &[f32],
        out_features: usize,
        in_features: usize,
        cfg: &MappingConfig,
        device: &DeviceConfig,
        seed: u64,
        matrix_id: u32,
        faults: impl Fn(usize) -> FaultMap + Sync,
    ) -> Result<MappedMatrix, ConfigError> {
        cfg.validate("mapping")?;
        device.validate("device")?;
        check_weight(weight, out_features, in_features, matrix_id)?;
        let layout = Layout::new(cfg, out_features, in_features);
        let q = quantize_weights(
            weight,
            out_features,
            in_features,
            cfg.weight_bits,
            cfg.weight_scale,
            layout.rows_per_tile,
        );
        let chip = Chip {
            layout: &layout,
            cell: &cfg.cell,
            step_us: (cfg.cell.g_max_us - cfg.cell.g_min_us) / layout.slicing.max_level() as f32,
            device,
            seed,
            matrix_id,
            remap: cfg.remap_faults,
            ir_drop: &cfg.ir_drop,
        };
        let fault_maps: Vec<FaultMap> = (0..layout.arrays()).map(faults).collect();
        for (a, map) in fault_maps.iter().enumerate() {
            check_fault_map(map, &layout, a, matrix_id)?;
        }
        let tiles: Vec<Tile> = (0..layout.arrays())
            .into_par_iter()
            .map(|a| chip.program_tile(&q.codes, a, &fault_maps[a]))
            .collect();
        let nominal_offset_us: Vec<f32> = (0..layout.slicing.slices)
            .map(|s| {
                let level = layout.slicing.slice_level(layout.slicing.offset(), s);
                cfg.cell.g_min_us + level as f32 * chip.step_us
            })
            .collect();
        let fresh_device = device.at_programming();
        let drift_gains = (cfg.drift_compensation != DriftCompensation::None).then(|| {
            let fresh = Chip {
                device: &fresh_device,
                ..chip
            };
            (0..layout.arrays())
                .into_par_iter()
                .map(|a| {
                    let reference = fresh.program_tile(&q.codes, a, &fault_maps[a]);
                    let pair = (&reference, &tiles[a]);
                    drift_gains(&layout, a, pair, &nominal_offset_us, cfg.drift_compensation)
                })
                .collect()
        });
        let (weight_scales, array_gains) =
            output_and_array_scales(&layout, cfg.weight_scale, q.scales, drift_gains);
        let dac = Dac::new(&cfg.dac, cfg.input_bits);
        // A difference of two columns spans ±rows·V·(G_max − G_min) at most.
        let full_scale = match cfg.readout {
            Readout::TwoConversions => 1.0,
            Readout::AnalogDifference => 1.0 - cfg.cell.g_min_us / cfg.cell.g_max_us,
        };
        // An ideal ADC neither quantizes nor clips: its range is never used, so it needs no
        // calibration (a calibrated range would otherwise stay unset).
        let adc_ranges_ua = match cfg.adc.range {
            _ if cfg.adc.ideal => Some(vec![0.0; tiles.len()]),
            AdcRange::FullScale => Some(
                tiles
                    .iter()
                    .map(|t| full_scale * t.full_scale_current_ua(dac.max_volts()))
                    .collect(),
            ),
            AdcRange::Calibrated | AdcRange::CalibratedSpan => None,
        };
        Ok(MappedMatrix {
            cfg: cfg.clone(),
            step_us: chip.step_us,
            layout,
            matrix_id,
            weight_scales,
            dac,
            tiles,
            adc_ranges_ua,
            adc_floors_ua: None,
            input_scale: None,
            array_gains,
            nominal_offset_us,
        })
    }

    pub fn out_features(&self) -> usize {
        self.layout.out_features
    }

    pub fn in_features(&self) -> usize {
        self.layout.in_features
    }

    /// ADC range of each array (µA; ± when bipolar), `None` before a needed calibration.
    pub fn adc_ranges_ua(&self) -> Option<&[f32]> {
        self.adc_ranges_ua.as_deref()
    }

    pub fn config(&self) -> &MappingConfig {
        &self.cfg
    }

    /// Mean conductance of every cell of every array at read time, µS: the programmed
    /// cells as they conduct now, the array's unused cells at G_min (what an unprogrammed
    /// cell conducts).
    pub fn mean_conductance_us(&self) -> f64 {
        let l = &self.layout;
        let (mut sum, mut cells) = (0.0f64, 0usize);
        for t in &self.tiles {
            sum += t
                .conductances_us()
                .iter()
                .map(|&g| f64::from(g))
                .sum::<f64>();
            cells += t.rows() * t.cols();
        }
        let total = l.arrays() * l.array_rows * l.array_cols;
        (sum + (total - cells) as f64 * f64::from(self.cfg.cell.g_min_us)) / total as f64
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The programmed arrays, row-tile-major.
    pub fn tiles(&self) -> &[Tile] {
        &self.tiles
    }

    /// Sets calibrated scales from sample activations `x` (tokens × in): the input scale
    /// (if `input_scale = calibrated`) to max|x| / (2^(n−1) − 1), then each array's ADC
    /// range (if `adc.range = calibrated`) to the largest current magnitude those inputs
    /// produce on it (for `calibrated_span`, to the smallest and largest current), without
    /// read noise. Replaces any earlier calibration, so pass all
    /// calibration tokens in one call; they are processed in chunks of
    /// `CALIBRATION_CHUNK` tokens to bound memory.
    pub fn calibrate(&mut self, x: &[f32], tokens: usize) -> Result<(), MappingError> {
        self.check_input(x, tokens)?;
        if self.cfg.input_scale == InputScale::Calibrated {
            let max = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            self.input_scale = Some(scale_for(max, self.cfg.input_bits));
        }
        if self.cfg.adc.range.is_calibrated() && !self.cfg.adc.ideal {
            let span = self.cfg.adc.range == AdcRange::CalibratedSpan;
            let mut floors = vec![f32::INFINITY; self.layout.arrays()];
            let mut ranges = vec![if span { f32::NEG_INFINITY } else { 0.0 }; floors.len()];
            let chunk = CALIBRATION_CHUNK * self.layout.in_features;
            for xs in x.chunks(chunk) {
                let drives = self.drives(xs, xs.len() / self.layout.in_features)?.1;
                let seen: Vec<(f32, f32)> = (0..self.layout.arrays())
                    .into_par_iter()
                    .map(|a| self.calibration_range(a, &drives[a / self.layout.col_tiles], span))
                    .collect();
                for ((floor, range), (lo, hi)) in floors.iter_mut().zip(&mut ranges).zip(seen) {
                    *floor = floor.min(lo);
                    *range = range.max(hi);
                }
            }
            // No calibration tokens: an empty span at 0 µA, as the zero-based range gets.
            let seen_or_zero = |v: Vec<f32>| -> Vec<f32> {
                v.into_iter()
                    .map(|b| if b.is_finite() { b } else { 0.0 })
                    .collect()
            };
            self.adc_floors_ua = span.then(|| seen_or_zero(floors));
            self.adc_ranges_ua = Some(seen_or_zero(ranges));
        }
        Ok(())
    }

    /// What array `a` converts under `drive`: its (smallest, largest) current or pair
    /// difference for an ADC span, else (0, largest magnitude).
    fn calibration_range(&self, a: usize, drive: &Drive, span: bool) -> (f32, f32) {
        let tile = &self.tiles[a];
        let pairs = || analog_pairs(&self.column_pairs(a % self.layout.col_tiles));
        match (self.cfg.readout, span) {
            (Readout::TwoConversions, false) => (0.0, tile.max_abs_current_ua(drive)),
            (Readout::AnalogDifference, false) => {
                (0.0, tile.max_abs_difference_ua(drive, &pairs()))
            }
            (Readout::TwoConversions, true) => tile.current_span_ua(drive),
            (Readout::AnalogDifference, true) => tile.difference_span_ua(drive, &pairs()),
        }
    }

    /// The converter of array `a`: over its calibrated span, or over ±range / [0, range].
    fn converter(&self, a: usize, ranges: &[f32], bipolar: bool) -> Adc {
        match &self.adc_floors_ua {
            Some(floors) => self.cfg.adc.converter_span(floors[a], ranges[a]),
            None => self.cfg.adc.converter(ranges[a], bipolar),
        }
    }

    /// y = x·Wᵀ on the chip for `tokens` rows of x (tokens × in, row-major), giving
    /// tokens × out (bias not added) and the exact events. `reads` holds one read id per
    /// token and selects its per-read noise (device read noise, ADC noise): give every
    /// token read by a chip instance its own id, e.g. from its example and position, so
    /// that a token's noise does not depend on the batch it runs in.
    pub fn forward(
        &self,
        x: &[f32],
        tokens: usize,
        reads: &[u64],
    ) -> Result<(Vec<f32>, EventCounts), MappingError> {
        self.check_input(x, tokens)?;
        if reads.len() != tokens {
            return Err(MappingError::Shape {
                matrix_id: self.matrix_id,
                what: "read ids (one per token)".into(),
                expected: format!("{tokens} ids"),
                found: format!("{} ids", reads.len()),
            });
        }
        let ranges = self
            .adc_ranges_ua
            .as_ref()
            .ok_or(MappingError::NotCalibrated {
                matrix_id: self.matrix_id,
                what: "adc.range",
            })?;
        let (scales, drives) = self.drives(x, tokens)?;
        let per_tile: Vec<(Vec<f32>, EventCounts)> = (0..self.layout.col_tiles)
            .into_par_iter()
            .map(|j| self.column_tile(j, &drives, ranges, tokens, reads))
            .collect();
        let n_out = self.layout.out_features;
        let mut y = vec![0.0f32; tokens * n_out];
        let mut events = self.buffer_events(tokens) + self.code_sum_events(tokens);
        for (j, (acc, ev)) in per_tile.into_iter().enumerate() {
            let outputs = self.layout.outputs(j);
            let width = outputs.len();
            for t in 0..tokens {
                for (o, n) in outputs.clone().enumerate() {
                    y[t * n_out + n] =
                        acc[t * width + o] * (self.weight_scales[n] * scales[t] / self.step_us);
                }
            }
            events += ev;
        }
        Ok((y, events))
    }

    /// Input scale per token, and the DAC drive of every row tile.
    fn drives(&self, x: &[f32], tokens: usize) -> Result<(Vec<f32>, Vec<Drive>), MappingError> {
        let k = self.layout.in_features;
        let q = max_code(self.cfg.input_bits);
        let scales: Vec<f32> = match (self.cfg.input_scale, self.input_scale) {
            (InputScale::Calibrated, Some(s)) => vec![s; tokens],
            (InputScale::Calibrated, None) => {
                return Err(MappingError::NotCalibrated {
                    matrix_id: self.matrix_id,
                    what: "input_scale",
                })
            }
            (InputScale::Dynamic, _) => x
                .chunks(k)
                .map(|row| {
                    scale_for(
                        row.iter().fold(0.0f32, |m, v| m.max(v.abs())),
                        self.cfg.input_bits,
                    )
                })
                .collect(),
        };
        let drives = (0..self.layout.row_tiles)
            .into_par_iter()
            .map(|r| {
                let inputs = self.layout.inputs(r);
                let mut codes = Vec::with_capacity(tokens * inputs.len());
                for (t, row) in x.chunks(k).enumerate() {
                    codes.extend(
                        row[inputs.clone()]
                            .iter()
                            .map(|&v| quantize(v, scales[t], q)),
                    );
                }
                self.dac.drive(&codes, tokens, inputs.len())
            })
            .collect();
        Ok((scales, drives))
    }

    /// Runs the arrays of column tile `j` over all row tiles and reduces them digitally:
    /// returns acc (tokens × outputs of j) = Σ_r Σ_s 2^(s·c)·(out⁺ − out⁻), in code·µS.
    fn column_tile(
        &self,
        j: usize,
        drives: &[Drive],
        ranges: &[f32],
        tokens: usize,
        reads: &[u64],
    ) -> (Vec<f32>, EventCounts) {
        let l = &self.layout;
        let width = l.outputs(j).len();
        let cols = l.active_cols(j);
        let adc_bits = self.cfg.adc.counted_bits();
        let slices = l.slicing.slices;
        let mut acc = vec![0.0f32; tokens * width];
        let mut scratch = Vec::new();
        let mut events = self.digital_events(j, tokens);
        let unit = vec![1.0f32; width];
        let pairs = self.column_pairs(j);
        let converted = match self.cfg.readout {
            Readout::TwoConversions => cols,
            Readout::AnalogDifference => pairs.len(),
        };
        let mut tile_out = vec![0.0f32; tokens * converted];
        let mut pair_diffs = vec![0.0f32; tokens * pairs.len()];
        let significance: Vec<f32> = (0..slices).map(|s| l.slicing.significance(s)).collect();
        for (r, drive) in drives.iter().enumerate() {
            let a = l.array_index(r, j);
            let gains = self.array_gains.as_ref().map_or(&unit, |g| &g[a]);
            let tile = &self.tiles[a];
            // Per slice of each output (k = o·S + s), the digitized difference of its column
            // pair: one code of the difference taken in analog, or two codes subtracted here
            // (the digital offset subtracts its nominal current Σx·G_off,s instead).
            let diffs: &[f32] = match self.cfg.readout {
                Readout::AnalogDifference => {
                    let adc = self.converter(a, ranges, true);
                    events += tile.mvm_differences(
                        drive,
                        &adc,
                        adc_bits,
                        reads,
                        &analog_pairs(&pairs),
                        &mut tile_out,
                        &mut scratch,
                    );
                    &tile_out
                }
                Readout::TwoConversions => {
                    let adc = self.converter(a, ranges, drive.bipolar);
                    events += tile.mvm(drive, &adc, adc_bits, reads, &mut tile_out, &mut scratch);
                    self.subtract_pairs(&tile_out, cols, &pairs, drive, &mut pair_diffs);
                    &pair_diffs
                }
            };
            for (acc_t, diff_t) in acc.chunks_mut(width).zip(diffs.chunks(pairs.len())) {
                for ((acc_to, d), &gain) in
                    acc_t.iter_mut().zip(diff_t.chunks_exact(slices)).zip(gains)
                {
                    let sum: f32 = d.iter().zip(&significance).map(|(x, sig)| sig * x).sum();
                    *acc_to += gain * sum;
                }
            }
        }
        (acc, events)
    }

    /// `diffs` (tokens × pairs) = each pair's first column minus its second in `out`
    /// (tokens × `cols`), or minus the digital offset's nominal current Σx·G_off,s.
    fn subtract_pairs(
        &self,
        out: &[f32],
        cols: usize,
        pairs: &[(usize, Option<usize>)],
        drive: &Drive,
        diffs: &mut [f32],
    ) {
        let slices = self.layout.slicing.slices;
        let code_sums = match self.cfg.encoding {
            Encoding::DigitalOffset => drive.code_sums(),
            _ => vec![0.0; drive.vectors],
        };
        for ((d_t, out_t), &sum) in diffs
            .chunks_mut(pairs.len())
            .zip(out.chunks(cols))
            .zip(&code_sums)
        {
            for (k, (d, &(p, m))) in d_t.iter_mut().zip(pairs).enumerate() {
                *d = out_t[p]
                    - match m {
                        Some(m) => out_t[m],
                        None => sum * self.nominal_offset_us[k % slices],
                    };
            }
        }
    }

    /// The (W⁺ or value column, W⁻ or reference column) pair of every slice of every output
    /// of column tile `j`, output-major; no second column for the digital offset.
    fn column_pairs(&self, j: usize) -> Vec<(usize, Option<usize>)> {
        let l = &self.layout;
        (0..l.outputs(j).len())
            .flat_map(|o| {
                (0..l.slicing.slices).map(move |s| (l.plus_col(o, s), l.minus_col(j, o, s)))
            })
            .collect()
    }

    /// Digital events of column tile `j` outside the arrays: per token, output and row
    /// tile 2S − 1 shift-and-adds (S subtractions of the W⁻ / reference column, none when
    /// the pair is subtracted in analog, and S − 1 shifted additions of slices) and, with
    /// drift compensation, one multiply by the array's gain; per token and output R − 1
    /// adder-tree additions.
    fn digital_events(&self, j: usize, tokens: usize) -> EventCounts {
        let l = &self.layout;
        let outputs = (tokens * l.outputs(j).len()) as u64;
        let gained = self.array_gains.is_some() as u64;
        let slices = l.slicing.slices as u64;
        let per_output = match self.cfg.readout {
            Readout::TwoConversions => 2 * slices - 1,
            Readout::AnalogDifference => slices - 1,
        };
        // The digital offset: one multiply of the token's code sum per output slice and
        // row tile (the code sums themselves are counted once, in `code_sum_events`).
        let offset_ops = match self.cfg.encoding {
            Encoding::DigitalOffset => outputs * slices * l.row_tiles as u64,
            _ => 0,
        };
        EventCounts {
            offset_ops,
            shift_adds: outputs * l.row_tiles as u64 * per_output,
            adder_tree_ops: outputs * (l.row_tiles as u64 - 1),
            array_gain_multiplies: gained * outputs * l.row_tiles as u64,
            ..Default::default()
        }
    }

    /// The digital offset's sums of each token's input codes over the rows of each row tile
    /// (one addition per input), shared by the column tiles; none for other encodings.
    fn code_sum_events(&self, tokens: usize) -> EventCounts {
        let adds = match self.cfg.encoding {
            Encoding::DigitalOffset => (tokens * self.layout.in_features) as u64,
            _ => 0,
        };
        EventCounts {
            offset_ops: adds,
            ..Default::default()
        }
    }

    /// Buffer traffic of a forward pass: every input code read once, every output written
    /// once as a 32-bit word.
    fn buffer_events(&self, tokens: usize) -> EventCounts {
        let l = &self.layout;
        EventCounts {
            buffer_bits: tokens as u64
                * (l.in_features as u64 * self.cfg.input_bits as u64
                    + l.out_features as u64 * OUTPUT_WORD_BITS),
            ..Default::default()
        }
    }

    /// Closed-form events of a forward pass of `tokens` tokens.
    pub fn events(&self, tokens: usize) -> EventCounts {
        let bits = self.cfg.adc.counted_bits();
        let mut events = self.buffer_events(tokens) + self.code_sum_events(tokens);
        for j in 0..self.layout.col_tiles {
            events += self.digital_events(j, tokens);
        }
        for (a, tile) in self.tiles.iter().enumerate() {
            let j = a % self.layout.col_tiles;
            let converted = self
                .cfg
                .converted_columns(tile.cols(), self.layout.outputs(j).len());
            events += tile.events_converting(tokens, &self.dac, bits, converted);
        }
        events
    }

    /// Arrays, cells, utilization and events per token.
    pub fn report(&self) -> MappingReport {
        let l = &self.layout;
        let cells_used: u64 = self
            .tiles
            .iter()
            .map(|t| (t.rows() * t.cols()) as u64)
            .sum();
        let cells_total = (l.arrays() * l.array_rows * l.array_cols) as u64;
        let converted = self.cfg.converted_columns(l.array_cols, l.outputs_per_tile);
        MappingReport {
            fidelity: self.cfg.fidelity.name(),
            encoding: self.cfg.encoding.name(),
            out_features: l.out_features,
            in_features: l.in_features,
            arrays: l.arrays(),
            array_rows: l.array_rows,
            array_cols: l.array_cols,
            row_tiles: l.row_tiles,
            col_tiles: l.col_tiles,
            weight_slices: l.slicing.slices,
            input_cycles: self.dac.cycles().len(),
            cells_used,
            cells_total,
            utilization: cells_used as f64 / cells_total as f64,
            adcs: (l.arrays() * converted.div_ceil(self.cfg.adc.columns_per_adc as usize)) as u64,
            adc_serial_conversions_per_token: (self.dac.cycles().len()
                * (0..l.col_tiles)
                    .map(|j| {
                        let active = self
                            .cfg
                            .converted_columns(l.active_cols(j), l.outputs(j).len());
                        active.min(self.cfg.adc.columns_per_adc as usize)
                    })
                    .max()
                    .unwrap_or(0)) as u64,
            converted_columns_per_array: converted,
            readout: self.cfg.readout.name(),
            events_per_token: self.events(1),
            stored_bytes: self.stored_bytes(),
            drift_compensation: self.cfg.drift_compensation.name(),
            drift_compensation_reads: if self.cfg.drift_compensation != DriftCompensation::None {
                2 * self.tiles.iter().map(|t| t.rows() as u64).sum::<u64>()
            } else {
                0
            },
        }
    }

    /// Bytes of state this mapped matrix stores.
    pub fn stored_bytes(&self) -> usize {
        self.tiles.iter().map(Tile::stored_bytes).sum::<usize>()
            + 4 * (self.weight_scales.len() + self.tiles.len())
    }

    fn check_input(&self, x: &[f32], tokens: usize) -> Result<(), MappingError> {
        let k = self.layout.in_features;
        if x.len() != tokens * k {
            return Err(MappingError::Shape {
                matrix_id: self.matrix_id,
                what: "input x (tokens × in_features)".into(),
                expected: format!("{tokens}×{k} = {} values", tokens * k),
                found: format!("{} values", x.len()),
            });
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(MappingError::Shape {
                matrix_id: self.matrix_id,
                what: format!("input x[{}][{}]", i / k, i % k),
                expected: "a finite value".into(),
                found: x[i].to_string(),
            });
        }
        Ok(())
    }
}

/// Column pairs of an analog-difference readout (every pair has its second column:
/// `MappingConfig::validate` rejects the digital offset with this readout).
fn analog_pairs(pairs: &[(usize, Option<usize>)]) -> Vec<(usize, usize)> {
    pairs
        .iter()
        .map(|&(p, m)| {
            (
                p,
                m.expect("analog difference needs a second column (validated)"),
            )
        })
        .collect()
}

/// The scale applied to each output after the row tiles are added, and the gains applied
/// to each array's outputs before: per-array weight scales (block-major `scales`, see
/// `quantize_weights`) become array gains, folded with the drift-compensation gains.
fn output_and_array_scales(
    layout: &Layout,
    granularity: WeightScale,
    scales: Vec<f32>,
    drift_gains: Option<Vec<Vec<f32>>>,
) -> (Vec<f32>, Option<Vec<Vec<f32>>>) {
    if granularity != WeightScale::PerArrayColumn {
        return (scales, drift_gains);
    }
    let n_out = layout.out_features;
    let gains = (0..layout.arrays())
        .map(|a| {
            let (r, j) = (a / layout.col_tiles, a % layout.col_tiles);
            layout
                .outputs(j)
                .enumerate()
                .map(|(o, n)| {
                    let drift = drift_gains.as_ref().map_or(1.0, |g| g[a][o]);
                    drift * scales[r * n_out + n]
                })
                .collect()
        })
        .collect();
    (vec![1.0; n_out], Some(gains))
}

/// The drift-compensation gains of array `a` (one per output feature of its column tile):
/// ref/meas of the mean magnitude of the one-hot reads' outputs, over the whole array
/// (`global`) or per output feature (`per_column`). The one-hot read of row i gives output
/// o the digitized difference Σ_s 2^(s·c)·(G⁺_i,(o,s) − G⁻_i,(o,s)), its stored weight; an
/// output that reads 0 at read time keeps gain 1.
fn drift_gains(
    layout: &Layout,
    a: usize,
    (reference, drifted): (&Tile, &Tile),
    nominal_offset_us: &[f32],
    mode: DriftCompensation,
) -> Vec<f32> {
    let j = a % layout.col_tiles;
    let width = layout.outputs(j).len();
    let magnitudes = |tile: &Tile| -> Vec<f64> {
        let (g, cols) = (tile.conductances_us(), tile.cols());
        (0..width)
            .map(|o| {
                g.chunks_exact(cols)
                    .map(|row| {
                        (0..layout.slicing.slices)
                            .map(|s| {
                                let subtracted = layout
                                    .minus_col(j, o, s)
                                    .map_or(nominal_offset_us[s], |m| row[m]);
                                let diff = row[layout.plus_col(o, s)] - subtracted;
                                layout.slicing.significance(s) as f64 * diff as f64
                            })
                            .sum::<f64>()
                            .abs()
                    })
                    .sum()
            })
            .collect()
    };
    let (before, after) = (magnitudes(reference), magnitudes(drifted));
    let gain = |r: f64, m: f64| if m > 0.0 { (r / m) as f32 } else { 1.0 };
    match mode {
        DriftCompensation::None => vec![1.0; width],
        DriftCompensation::Global => {
            vec![gain(before.iter().sum(), after.iter().sum()); width]
        }
        DriftCompensation::PerColumn => before
            .iter()
            .zip(&after)
            .map(|(&r, &m)| gain(r, m))
            .collect(),
    }
}

fn check_weight(weight: &[f32], out: usize, inp: usize, matrix_id: u32) -> Result<(), ConfigError> {
    if out == 0 || inp == 0 || weight.len() != out * inp {
        return Err(ConfigError::new(
            format!("matrix {matrix_id} weight"),
            format!("{out}×{inp} values (out × in, row-major), both > 0"),
            format!("{} values", weight.len()),
        ));
    }
    if let Some(i) = weight.iter().position(|w| !w.is_finite()) {
        return Err(ConfigError::new(
            format!("matrix {matrix_id} weight[{}][{}]", i / inp, i % inp),
            "a finite value",
            weight[i],
        ));
    }
    Ok(())
}

fn check_fault_map(
    map: &FaultMap,
    layout: &Layout,
    a: usize,
    matrix_id: u32,
) -> Result<(), ConfigError> {
    let (rows, cols) = (layout.array_rows, layout.array_cols);
    let key = || format!("matrix {matrix_id} fault map of array {a}");
    if (map.rows, map.cols) != (rows, cols) {
        return Err(ConfigError::new(
            key(),
            format!("a {rows}×{cols} array"),
            format!("{}×{}", map.rows, map.cols),
        ));
    }
    if let Some(c) = map
        .cells
        .iter()
        .find(|c| c.row as usize >= rows || c.col as usize >= cols)
    {
        return Err(ConfigError::new(
            key(),
            format!("cells inside {rows}×{cols}"),
            format!("cell ({}, {})", c.row, c.col),
        ));
    }
    Ok(())
}
