//! Digital-to-analog converters that drive the rows of a tile.
//!
//! An input vector arrives as signed integer codes (the mapping quantized the activations
//! to `input_bits`, codes in −(2^(n−1)−1)..=2^(n−1)−1). The DAC turns each code into one
//! or more row voltages, one per **input cycle**:
//!
//! * **Bit-serial / multi-bit** (`dac_bits` < `input_bits`, unipolar row voltages
//!   0..`v_read_v`). Signed codes use *two's complement with a negatively weighted MSB
//!   cycle*: the n−1 low bits of the two's-complement pattern are streamed `dac_bits` at a
//!   time, lowest first (a chunk value u drives u·v_read/(2^dac_bits − 1) volts and has
//!   significance 2^first_bit), then the sign bit is driven alone, at full `v_read`, with
//!   significance −2^(n−1). So a code costs ⌈(n−1)/dac_bits⌉ + 1 cycles; with 1-bit DACs
//!   (ISAAC, PUMA, NeuroSim) that is n cycles. All row voltages are ≥ 0, so column currents
//!   are ≥ 0 and the ADC range is unipolar.
//! * **One shot** (`dac_bits` ≥ `input_bits`): a bipolar DAC drives code·v_read/(2^(n−1)−1)
//!   volts in a single cycle (the level IBM's aihwkit simulates); currents and the ADC
//!   range are bipolar.
//!
//! Every cycle's digitized column output is later multiplied by its `weight` =
//! significance / (volts per code unit), which turns amperes back into "code × siemens"
//! units and performs the shift-and-add over cycles.

use crate::error::ConfigError;
use crate::level_bytes::ByteCodes;
use serde::{Deserialize, Serialize};

/// DAC settings. Defaults: 1-bit DACs at 0.5 V.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DacConfig {
    /// Bits resolved per input cycle. Default 1 (bit-serial, as in ISAAC, PUMA and
    /// NeuroSim); a value ≥ the input bits applies each input in one bipolar shot.
    pub dac_bits: u8,
    /// Full-scale read voltage on a row, volts. Default 0.5 V (NeuroSim Param.cpp,
    /// `readVoltage`).
    pub v_read_v: f32,
}

impl Default for DacConfig {
    fn default() -> Self {
        Self {
            dac_bits: 1,
            v_read_v: 0.5,
        }
    }
}

impl DacConfig {
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if !(1..=24).contains(&self.dac_bits) {
            return Err(ConfigError::new(
                format!("{key}.dac_bits"),
                "1 to 24",
                self.dac_bits,
            ));
        }
        if !(self.v_read_v.is_finite() && self.v_read_v > 0.0) {
            return Err(ConfigError::new(
                format!("{key}.v_read_v"),
                "a finite read voltage > 0 V",
                self.v_read_v,
            ));
        }
        Ok(())
    }
}

/// One input cycle of the drive schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DacCycle {
    /// Lowest bit of the two's-complement code this cycle carries.
    pub first_bit: u8,
    /// How many bits it carries.
    pub bits: u8,
    /// Row voltage per unit of the carried value, volts.
    pub volts_per_unit: f32,
    /// Signed significance of the carried value in the code (2^first_bit, negative for the
    /// sign cycle).
    pub significance: f64,
}

impl DacCycle {
    /// Factor that turns this cycle's column current (µA) into code·µS units.
    pub fn weight(&self) -> f64 {
        self.significance / self.volts_per_unit as f64
    }
}

/// A DAC bank resolved for a given input precision: its cycle schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Dac {
    input_bits: u8,
    v_read_v: f32,
    cycles: Vec<DacCycle>,
    bipolar: bool,
}

impl Dac {
    /// The schedule for `input_bits`-bit signed codes (2..=24 bits; the mapping validates).
    pub fn new(cfg: &DacConfig, input_bits: u8) -> Dac {
        let n = input_bits;
        let v = cfg.v_read_v;
        if cfg.dac_bits >= n {
            let max_code = ((1u32 << (n - 1)) - 1) as f32;
            return Dac {
                input_bits: n,
                v_read_v: v,
                cycles: vec![DacCycle {
                    first_bit: 0,
                    bits: n,
                    volts_per_unit: v / max_code,
                    significance: 1.0,
                }],
                bipolar: true,
            };
        }
        let d = cfg.dac_bits;
        let volts_per_unit = v / ((1u32 << d) - 1) as f32;
        let mut cycles: Vec<DacCycle> = (0..n - 1)
            .step_by(d as usize)
            .map(|first_bit| DacCycle {
                first_bit,
                bits: d.min(n - 1 - first_bit),
                volts_per_unit,
                significance: (1u64 << first_bit) as f64,
            })
            .collect();
        cycles.push(DacCycle {
            first_bit: n - 1,
            bits: 1,
            volts_per_unit: v,
            significance: -((1u64 << (n - 1)) as f64),
        });
        Dac {
            input_bits: n,
            v_read_v: v,
            cycles,
            bipolar: false,
        }
    }

    pub fn cycles(&self) -> &[DacCycle] {
        &self.cycles
    }

    /// True for the one-shot bipolar drive (row voltages of both signs).
    pub fn is_bipolar(&self) -> bool {
        self.bipolar
    }

    /// Bits one drive resolves: the DAC's resolution, or the input's bits when the DAC
    /// has more (the widest cycle). Drives are counted and priced at this resolution.
    pub fn resolution_bits(&self) -> u8 {
        self.cycles.iter().map(|c| c.bits).max().unwrap_or(0)
    }

    /// Largest row voltage magnitude, volts.
    pub fn max_volts(&self) -> f32 {
        self.v_read_v
    }

    /// Row voltages for `vectors` input vectors of `rows` codes each (row-major
    /// vectors × rows). Codes must lie in ±(2^(input_bits−1) − 1).
    pub fn drive(&self, codes: &[i32], vectors: usize, rows: usize) -> Drive {
        debug_assert_eq!(codes.len(), vectors * rows);
        let mask = if self.input_bits >= 32 {
            u32::MAX
        } else {
            (1u32 << self.input_bits) - 1
        };
        let m = self.cycles.len() * vectors;
        // The codes row by row (rows × vectors), so that every cycle writes the voltages of a
        // row contiguously, in the order they are stored.
        let mut by_row = vec![0i32; rows * vectors];
        for (t, vector) in codes.chunks_exact(rows).enumerate() {
            for (i, &code) in vector.iter().enumerate() {
                by_row[i * vectors + t] = code;
            }
        }
        let mut volts = vec![0.0f32; rows * m];
        for (c, cycle) in self.cycles.iter().enumerate() {
            let chunk_mask = (1u32 << cycle.bits) - 1;
            let level = |code: i32| -> f32 {
                if self.bipolar {
                    code as f32
                } else {
                    let pattern = (code as u32) & mask;
                    ((pattern >> cycle.first_bit) & chunk_mask) as f32
                }
            };
            for (i, row) in by_row.chunks_exact(vectors).enumerate() {
                let out = &mut volts[i * m + c * vectors..][..vectors];
                for (v, &code) in out.iter_mut().zip(row) {
                    *v = level(code) * cycle.volts_per_unit;
                }
            }
        }
        let binary = self
            .binary_level_v()
            .map(|v| BinaryDrive::pack(&volts, rows, m, v));
        // One-shot codes of up to 8 bits also go to the integer kernel of byte-level tiles.
        let bytes = (self.bipolar && self.input_bits <= 8)
            .then(|| ByteCodes::pack(codes, vectors, rows, self.cycles[0].volts_per_unit))
            .flatten();
        Drive {
            volts,
            vectors,
            rows,
            cycle_weights: self.cycles.iter().map(DacCycle::weight).collect(),
            dac_bits: self.resolution_bits(),
            bipolar: self.bipolar,
            binary,
            bytes,
        }
    }

    /// The one non-zero row voltage, when every cycle drives single bits at the same
    /// voltage (1-bit DACs): then every row voltage is 0 or this.
    fn binary_level_v(&self) -> Option<f32> {
        let first = self.cycles[0].volts_per_unit;
        let binary = !self.bipolar
            && self
                .cycles
                .iter()
                .all(|c| c.bits == 1 && c.volts_per_unit == first);
        binary.then_some(first)
    }
}

/// A drive whose row voltages are all 0 or `volts` (1-bit DACs), with each vector's driven
/// rows packed as bits, twice: four to a nibble (`nibbles[m·⌈rows/4⌉ + g]` has bit b set
/// when row 4g + b of stacked vector m is driven) for the table kernel of float tiles, and
/// 64 to a word (`words[m·⌈rows/64⌉ + w]`, bit r for row 64w + r) for the popcount kernel
/// of tiles on exact levels. A tile can then sum conductance rows instead of multiplying
/// (see `tile` and `bit_planes`).
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryDrive {
    pub volts: f32,
    pub nibbles: Vec<u8>,
    pub words: Vec<u64>,
}

impl BinaryDrive {
    /// Packs `volts` (rows × m, row-major) whose entries are 0 or `level`.
    fn pack(volts: &[f32], rows: usize, m: usize, level: f32) -> BinaryDrive {
        let groups = rows.div_ceil(4);
        let words_per_vector = rows.div_ceil(64);
        let mut nibbles = vec![0u8; m * groups];
        let mut words = vec![0u64; m * words_per_vector];
        for row in 0..rows {
            let (g, bit) = (row / 4, row % 4);
            let (w, r) = (row / 64, row % 64);
            for (k, &v) in volts[row * m..(row + 1) * m].iter().enumerate() {
                let on = v != 0.0;
                nibbles[k * groups + g] |= (on as u8) << bit;
                words[k * words_per_vector + w] |= (on as u64) << r;
            }
        }
        BinaryDrive {
            volts: level,
            nibbles,
            words,
        }
    }
}

/// Row voltages of a batch of input vectors over all cycles. The cycles are stacked along
/// the vector dimension, so a tile reads all of them with one matrix product: `volts` is
/// rows × (cycles·vectors), row-major, and `volts[i·cycles·vectors + c·vectors + t]` is the
/// voltage on row i in cycle c for vector t (see [`Drive::volts_at`]). Keeping a row's
/// voltages contiguous makes the matrix product's packing of them a plain copy.
#[derive(Clone, Debug, PartialEq)]
pub struct Drive {
    pub volts: Vec<f32>,
    pub vectors: usize,
    pub rows: usize,
    /// Per cycle: significance / volts-per-unit (see [`DacCycle::weight`]).
    pub cycle_weights: Vec<f64>,
    /// Bits one row drive resolves ([`Dac::resolution_bits`]), under which its drives
    /// are counted.
    pub dac_bits: u8,
    pub bipolar: bool,
    /// The same voltages packed as bits, when they are all 0 or one level (1-bit DACs).
    pub binary: Option<BinaryDrive>,
    /// The codes themselves, when they are one-shot codes of at most 8 bits (the row
    /// voltages are code·`volts_per_code`), for tiles on byte levels.
    pub bytes: Option<ByteCodes>,
}

impl Drive {
    pub fn cycles(&self) -> usize {
        self.cycle_weights.len()
    }

    /// The drive of every pair of cycles c ≤ c' (pairs in the order (0,0), (0,1), …,
    /// (0,C−1), (1,1), …), with row voltage V_c·V_c' (V²) and unit weights: its product with
    /// a per-cell variance σ² gives the covariance Σ_i V_ci·V_c'i·σ_i² of two cycles'
    /// column currents under one shared draw per device (per-MVM read noise).
    pub fn cycle_pairs(&self) -> Drive {
        let (cycles, vectors) = (self.cycles(), self.vectors);
        let pairs: Vec<(usize, usize)> = (0..cycles)
            .flat_map(|c| (c..cycles).map(move |d| (c, d)))
            .collect();
        let m = pairs.len() * vectors;
        let mut volts = vec![0.0f32; self.rows * m];
        for (i, row) in volts.chunks_exact_mut(m).enumerate() {
            for (p, &(c, d)) in pairs.iter().enumerate() {
                for t in 0..vectors {
                    row[p * vectors + t] = self.volts_at(c, t, i) * self.volts_at(d, t, i);
                }
            }
        }
        let binary = self
            .binary
            .as_ref()
            .map(|b| BinaryDrive::pack(&volts, self.rows, m, b.volts * b.volts));
        Drive {
            volts,
            vectors,
            rows: self.rows,
            cycle_weights: vec![1.0; pairs.len()],
            dac_bits: self.dac_bits,
            bipolar: false,
            binary,
            bytes: None,
        }
    }

    /// The sum of each vector's input codes over the rows, recovered from the drive:
    /// Σ_c weight_c·Σ_i V_ci (what a digital offset correction multiplies).
    pub fn code_sums(&self) -> Vec<f32> {
        (0..self.vectors)
            .map(|t| {
                let sum: f64 = (0..self.cycles())
                    .map(|c| {
                        let volts: f64 =
                            (0..self.rows).map(|i| self.volts_at(c, t, i) as f64).sum();
                        self.cycle_weights[c] * volts
                    })
                    .sum();
                sum as f32
            })
            .collect()
    }

    /// Voltage on row `row` in cycle `cycle` for vector `vector`, volts.
    pub fn volts_at(&self, cycle: usize, vector: usize, row: usize) -> f32 {
        self.volts[row * self.cycles() * self.vectors + cycle * self.vectors + vector]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recombining the drive of every code with the cycle weights gives the code back
    /// exactly (all values are small integers times powers of two).
    fn roundtrip(input_bits: u8, dac_bits: u8) {
        let dac = Dac::new(
            &DacConfig {
                dac_bits,
                v_read_v: 0.5,
            },
            input_bits,
        );
        let q = (1i32 << (input_bits - 1)) - 1;
        let codes: Vec<i32> = (-q..=q).collect();
        let drive = dac.drive(&codes, codes.len(), 1);
        for (t, &code) in codes.iter().enumerate() {
            let back: f64 = (0..drive.cycles())
                .map(|c| drive.volts_at(c, t, 0) as f64 * drive.cycle_weights[c])
                .sum();
            assert!(
                (back - code as f64).abs() < 1e-3,
                "{input_bits}-bit code {code} via {dac_bits}-bit DAC came back as {back}"
            );
            if !dac.is_bipolar() {
                assert!((0..drive.cycles()).all(|c| drive.volts_at(c, t, 0) >= 0.0));
            }
        }
    }

    #[test]
    fn every_code_is_recovered_from_its_cycles() {
        for (n, d) in [
            (8, 1),
            (8, 2),
            (8, 3),
            (8, 7),
            (8, 8),
            (4, 1),
            (6, 4),
            (9, 12),
        ] {
            roundtrip(n, d);
        }
    }

    /// The packed bits of a 1-bit drive of 70 rows (a partial second word, a partial
    /// nibble group) and 3 vectors of fixed codes say exactly which row voltages are on.
    #[test]
    fn binary_bits_match_the_voltages() {
        let (rows, vectors) = (70, 3);
        let codes: Vec<i32> = (0..rows * vectors)
            .map(|k| (k as i32 * 37) % 255 - 127)
            .collect();
        let drive = Dac::new(&DacConfig::default(), 8).drive(&codes, vectors, rows);
        let b = drive.binary.as_ref().unwrap();
        let (groups, words) = (rows.div_ceil(4), rows.div_ceil(64));
        for c in 0..drive.cycles() {
            for t in 0..vectors {
                let k = c * vectors + t;
                for row in 0..rows {
                    let on = drive.volts_at(c, t, row) != 0.0;
                    assert_eq!(b.words[k * words + row / 64] >> (row % 64) & 1 == 1, on);
                    assert_eq!(b.nibbles[k * groups + row / 4] >> (row % 4) & 1 == 1, on);
                }
            }
        }
    }

    #[test]
    fn cycle_counts_follow_the_scheme() {
        let cycles = |n, d| {
            Dac::new(
                &DacConfig {
                    dac_bits: d,
                    v_read_v: 0.2,
                },
                n,
            )
            .cycles()
            .len()
        };
        // ⌈(n−1)/d⌉ + 1 cycles bit-serially, 1 in one shot.
        assert_eq!(cycles(8, 1), 8);
        assert_eq!(cycles(8, 2), 5);
        assert_eq!(cycles(8, 7), 2);
        assert_eq!(cycles(8, 8), 1);
    }

    #[test]
    fn validation_names_the_key() {
        let e = DacConfig {
            dac_bits: 0,
            v_read_v: 0.5,
        }
        .validate("hw.dac")
        .unwrap_err();
        assert_eq!(e.key, "hw.dac.dac_bits");
        let e = DacConfig {
            dac_bits: 1,
            v_read_v: -1.0,
        }
        .validate("hw.dac")
        .unwrap_err();
        assert_eq!(e.key, "hw.dac.v_read_v");
    }
}
