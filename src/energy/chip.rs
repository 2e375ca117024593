//! The chip as a whole: its blocks above the arrays, and its peak figures.
//!
//! Arrays sit in IMAs, IMAs in tiles, tiles on a chip ([`ChipConfig`]). Besides its arrays
//! and converters, every IMA has input and output registers; every tile an eDRAM buffer, a
//! bus to its IMAs, an output register, digital units and a share of a router; the chip its
//! off-chip links. The technology table prices these blocks by their power when busy and
//! their area ([`BlockTech`]); [`Blocks`] holds one figure per kind of block.
//!
//! **Peak figures** ([`ChipPeak`]) are those of every array busy in every cycle, the figures
//! accelerator papers report (ISAAC's Table IV). Per array and input cycle, the array is
//! read (rows × cols cells), its rows driven, and every converted column sampled, converted
//! and shift-added; those events cost what the energy roll-up says they cost, and divided
//! by the cycle they give the power of the array and its converters. The cycle is the
//! longer of the array read and the conversions of one ADC's columns, as in the latency
//! ([`super::estimate`]). The IMA, tile and chip blocks draw their busy power. Throughput
//! counts 2 operations per multiply-accumulate, one MVM per array every `input cycles ×
//! cycle`. With the `isaac-paper` hardware preset these reproduce ISAAC's headline figures
//! (the tests in `tests/chip_peak.rs`).

use super::rollup::{energy, EventCounts};
use super::technology::{BlockTech, TechnologyTable};
use crate::error::ConfigError;
use crate::hardware::{ChipConfig, HardwareConfig};
use mapping::MappingConfig;
use serde::Serialize;
use std::collections::BTreeMap;

/// The energy roll-up's components that an array and its converters spend per cycle.
const ARRAY_COMPONENTS: [&str; 5] = ["adc", "dac", "array", "sample_hold", "shift_add"];

/// One figure (power mW, or area µm²) per kind of block above the arrays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Blocks {
    /// IMA input and output registers and tile output registers.
    pub registers: f64,
    /// The eDRAM buffers (component name `buffer`, as their accesses in the energy).
    pub edram: f64,
    pub bus: f64,
    /// Each tile's share of a router.
    pub router: f64,
    /// The tiles' own digital units.
    pub tile_digital: f64,
    pub offchip: f64,
}

impl Blocks {
    /// The blocks of `imas` IMAs in `tiles` tiles with `links` off-chip links, each block
    /// valued by `figure` (its power, or its area).
    pub fn of(
        imas: u64,
        tiles: u64,
        links: u64,
        tech: &TechnologyTable,
        figure: impl Fn(&BlockTech) -> f64,
    ) -> Blocks {
        let (ima, tile) = (&tech.ima, &tech.tile);
        let (imas, tiles) = (imas as f64, tiles as f64);
        Blocks {
            registers: imas * (figure(&ima.input_register) + figure(&ima.output_register))
                + tiles * figure(&tile.output_register),
            edram: tiles * figure(&tile.edram),
            bus: tiles * figure(&tile.bus),
            router: tiles / f64::from(tile.tiles_per_router) * figure(&tile.router),
            tile_digital: tiles * figure(&tile.digital_units),
            offchip: links as f64 * figure(&tech.chip.offchip_link),
        }
    }

    /// Names (as in reports) and figures.
    pub fn components(&self) -> [(&'static str, f64); 6] {
        [
            ("registers", self.registers),
            ("buffer", self.edram),
            ("bus", self.bus),
            ("router", self.router),
            ("tile_digital", self.tile_digital),
            ("offchip", self.offchip),
        ]
    }

    pub fn total(&self) -> f64 {
        self.components().iter().map(|(_, v)| v).sum()
    }

    /// Every figure times `k` (unit conversions).
    pub fn scaled(&self, k: f64) -> Blocks {
        Blocks {
            registers: self.registers * k,
            edram: self.edram * k,
            bus: self.bus * k,
            router: self.router * k,
            tile_digital: self.tile_digital * k,
            offchip: self.offchip * k,
        }
    }
}

/// IMAs and tiles that hold `arrays_per_matrix` (each matrix on IMAs of its own, IMAs
/// filling tiles in order).
pub fn imas_and_tiles(
    arrays_per_matrix: impl Iterator<Item = u64>,
    chip: &ChipConfig,
) -> (u64, u64) {
    let imas: u64 = arrays_per_matrix.map(|a| chip.imas_for(a)).sum();
    (imas, imas.div_ceil(u64::from(chip.imas_per_tile)))
}

/// Peak figures of a whole chip (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChipPeak {
    pub tiles: u64,
    pub imas: u64,
    pub arrays: u64,
    pub adcs: u64,
    pub array_rows: usize,
    pub array_cols: usize,
    /// Multiply-accumulates of one MVM through one array (weight rows × output features).
    pub macs_per_array_mvm: u64,
    /// One input cycle, ns.
    pub cycle_ns: f64,
    /// One MVM (all input cycles), ns.
    pub mvm_ns: f64,
    /// Operations per second at peak (2 per multiply-accumulate), TOPS.
    pub tops: f64,
    /// Power of the busy chip, W.
    pub power_w: f64,
    /// `power_w` by component: the arrays' and converters' events (adc, dac, array,
    /// sample_hold, shift_add) and the blocks.
    pub power_breakdown_w: BTreeMap<&'static str, f64>,
    /// Area by component, mm²: arrays and converters, and the blocks.
    pub area_mm2: f64,
    pub area_breakdown_mm2: super::AreaBreakdown,
    pub gops_per_w: f64,
    pub gops_per_s_mm2: f64,
}

impl ChipPeak {
    /// The peak figures of `hw`'s chip with `tiles` tiles (its `chip.tiles` if set).
    pub fn new(hw: &HardwareConfig, tiles: u64) -> Result<ChipPeak, ConfigError> {
        let tech = hw
            .energy
            .resolve("energy")
            .map_err(|e| ConfigError::new("energy", "a valid technology table", e.to_string()))?;
        let (m, chip) = (&hw.mapping, &hw.chip);
        let imas = tiles * u64::from(chip.imas_per_tile);
        let arrays = imas * u64::from(chip.arrays_per_ima);
        let one = ArrayCycle::of(m);
        let layout = super::MatrixLayout {
            name: "every array of the chip".into(),
            arrays,
            array_rows: m.array_rows as u32,
            array_cols: m.array_cols as u32,
            converted_cols: one.converted as u32,
            columns_per_adc: m.adc.columns_per_adc,
            adc_bits: u32::from(m.adc.counted_bits()),
            cycles_per_mvm: one.cycles as u32,
            mvms: 0,
        };
        let cycle_ns = layout.cycle_ns(&tech);
        let mvm_ns = one.cycles as f64 * cycle_ns;
        // pJ per ns is mW; 1e-3 makes W
        let arrays_w = energy(&one.events(m), &tech)?.per(cycle_ns / (arrays as f64 * 1e-3));
        let blocks_w = Blocks::of(imas, tiles, chip.offchip_links.into(), &tech, |b| {
            b.power_mw.value
        })
        .scaled(1e-3);
        let power_breakdown_w: BTreeMap<_, _> = arrays_w
            .components()
            .into_iter()
            .filter(|(name, _)| ARRAY_COMPONENTS.contains(name))
            .chain(blocks_w.components())
            .collect();
        let power_w = power_breakdown_w.values().sum::<f64>();
        let area =
            super::estimate::area_of(std::slice::from_ref(&layout), imas, tiles, chip, &tech)?;
        let tops = 2.0 * (arrays * one.macs) as f64 / mvm_ns * 1e-3;
        Ok(ChipPeak {
            tiles,
            imas,
            arrays,
            adcs: arrays * layout.adcs_per_array(),
            array_rows: m.array_rows,
            array_cols: m.array_cols,
            macs_per_array_mvm: one.macs,
            cycle_ns,
            mvm_ns,
            tops,
            gops_per_w: tops * 1e3 / power_w,
            gops_per_s_mm2: tops * 1e3 / area.total_mm2(),
            power_w,
            power_breakdown_w,
            area_mm2: area.total_mm2(),
            area_breakdown_mm2: area,
        })
    }
}

/// What one fully used array does in one input cycle.
struct ArrayCycle {
    /// Input cycles per MVM.
    cycles: usize,
    /// Outputs converted per cycle.
    converted: usize,
    /// Multiply-accumulates per MVM.
    macs: u64,
}

impl ArrayCycle {
    fn of(m: &MappingConfig) -> ArrayCycle {
        let outputs =
            (m.array_cols - m.spare_cols - m.reference_columns()) / m.columns_per_output();
        ArrayCycle {
            cycles: crossbar::Dac::new(&m.dac, m.input_bits).cycles().len(),
            converted: m.converted_columns(m.array_cols, outputs),
            macs: ((m.array_rows - m.spare_rows) * outputs) as u64,
        }
    }

    /// Events of one array in one cycle: every cell read, every row driven, every
    /// converted output sampled, converted and shift-added.
    fn events(&self, m: &MappingConfig) -> EventCounts {
        let (rows, converted) = (m.array_rows as u64, self.converted as u64);
        let dac_bits = crossbar::Dac::new(&m.dac, m.input_bits).resolution_bits();
        crossbar::EventCounts {
            adc_conversions: BTreeMap::from([(m.adc.counted_bits(), converted)]),
            dac_drives: BTreeMap::from([(dac_bits, rows)]),
            cell_reads: rows * m.array_cols as u64,
            sample_holds: converted,
            shift_adds: converted,
            ..Default::default()
        }
        .into()
    }
}
