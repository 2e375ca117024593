//! Energy roll-up: event counts × technology table → energy per component.
//!
//! Pure functions over plain counts. The counts are facts of the mapping and the model
//! (how many conversions, drives, reads, operations happened); the table holds the
//! assumptions. Each component of [`EnergyBreakdown`] is the sum of its events' energies,
//! and the total is the sum of the components, nothing else.

use super::technology::TechnologyTable;
use crate::error::ConfigError;
use crate::periphery::OpCounts;
use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign};

/// Hardware events of one inference (or any span of work), by kind. Plain data.
///
/// The analog tiles' events are the crossbar crate's own [`crossbar::EventCounts`]
/// (conversions and drives by resolution, cell reads, samples, shift-and-adds, adder-tree
/// additions, the tiles' buffer traffic, gain and offset operations); the energy side adds
/// what happens outside the tiles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventCounts {
    /// Events of the crossbar tiles and of the digital periphery that belongs to them.
    /// Their buffer bits also cross the tile's bus between its eDRAM and its IMAs.
    pub tiles: crossbar::EventCounts,
    /// Bits the digital steps read from or write to the eDRAM buffers (the operands of
    /// the periphery and the attention products; the tiles' own are in `tiles`).
    pub buffer_bits: u64,
    /// Bits moved through routers (counted once per router traversed).
    pub router_bits: u64,
    /// Digital operations of the periphery (softmax, LayerNorm, GELU, rescaling).
    pub periphery: OpCounts,
    /// Digital operations of the attention products Q·Kᵀ and softmax·V.
    pub attention: OpCounts,
    /// Crossbar cells written at inference time (attention on write-enabled crossbars).
    pub cell_writes: u64,
}

impl From<crossbar::EventCounts> for EventCounts {
    fn from(tiles: crossbar::EventCounts) -> EventCounts {
        EventCounts {
            tiles,
            ..Default::default()
        }
    }
}

impl EventCounts {
    /// Bits read from or written to the eDRAM buffers, by the tiles and the digital steps.
    pub fn total_buffer_bits(&self) -> u64 {
        self.tiles.buffer_bits + self.buffer_bits
    }

    /// The periphery's operations with the tiles' digital corrections, priced as fp32: a
    /// gain is one multiply, an offset operation one multiply-add.
    pub fn periphery_with_tiles(&self) -> OpCounts {
        let mut ops = self.periphery;
        ops.fp32_mult += self.tiles.array_gain_multiplies + self.tiles.offset_ops;
        ops.fp32_add += self.tiles.offset_ops;
        ops
    }
}

impl AddAssign<&EventCounts> for EventCounts {
    fn add_assign(&mut self, o: &EventCounts) {
        self.tiles += &o.tiles;
        self.buffer_bits += o.buffer_bits;
        self.router_bits += o.router_bits;
        self.periphery += o.periphery;
        self.attention += o.attention;
        self.cell_writes += o.cell_writes;
    }
}

impl AddAssign for EventCounts {
    fn add_assign(&mut self, o: EventCounts) {
        *self += &o;
    }
}

impl Add for EventCounts {
    type Output = EventCounts;
    fn add(mut self, o: EventCounts) -> EventCounts {
        self += &o;
        self
    }
}

/// Energy by component, pJ. `total_pj()` is the sum of the fields. [`energy`] fills the
/// event-priced ones; `registers_pj` and `static_pj` are power × time, which the inference
/// cost adds from its latency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyBreakdown {
    pub adc_pj: f64,
    pub dac_pj: f64,
    pub array_pj: f64,
    pub sample_hold_pj: f64,
    pub shift_add_pj: f64,
    pub adder_tree_pj: f64,
    /// eDRAM buffer accesses.
    pub buffer_pj: f64,
    /// Bus traffic between a tile's eDRAM and its IMAs.
    pub bus_pj: f64,
    /// Router traffic between tiles.
    pub router_pj: f64,
    /// IMA input and output registers while their IMA computes.
    pub registers_pj: f64,
    pub periphery_pj: f64,
    pub attention_pj: f64,
    pub write_pj: f64,
    /// Leakage of the whole chip over the inference.
    pub static_pj: f64,
}

impl EnergyBreakdown {
    /// Component names (as in result columns) with their energies, pJ.
    pub fn components(&self) -> [(&'static str, f64); 14] {
        [
            ("adc", self.adc_pj),
            ("dac", self.dac_pj),
            ("array", self.array_pj),
            ("sample_hold", self.sample_hold_pj),
            ("shift_add", self.shift_add_pj),
            ("adder_tree", self.adder_tree_pj),
            ("buffer", self.buffer_pj),
            ("bus", self.bus_pj),
            ("router", self.router_pj),
            ("registers", self.registers_pj),
            ("periphery", self.periphery_pj),
            ("attention", self.attention_pj),
            ("write", self.write_pj),
            ("static", self.static_pj),
        ]
    }

    /// Sum of all components, pJ.
    pub fn total_pj(&self) -> f64 {
        self.components().iter().map(|(_, e)| e).sum()
    }

    /// Every component divided by `n` (e.g. tokens, for energy per token).
    pub fn per(&self, n: f64) -> EnergyBreakdown {
        let d = |e: f64| e / n;
        EnergyBreakdown {
            adc_pj: d(self.adc_pj),
            dac_pj: d(self.dac_pj),
            array_pj: d(self.array_pj),
            sample_hold_pj: d(self.sample_hold_pj),
            shift_add_pj: d(self.shift_add_pj),
            adder_tree_pj: d(self.adder_tree_pj),
            buffer_pj: d(self.buffer_pj),
            bus_pj: d(self.bus_pj),
            router_pj: d(self.router_pj),
            registers_pj: d(self.registers_pj),
            periphery_pj: d(self.periphery_pj),
            attention_pj: d(self.attention_pj),
            write_pj: d(self.write_pj),
            static_pj: d(self.static_pj),
        }
    }
}

/// Energy of `events` under `tech`. Errors only when an ADC resolution lies outside what
/// the table's ADC scaling covers. An ideal ADC (resolution 0) is a modelling device, not
/// hardware: its conversions cost nothing.
pub fn energy(
    events: &EventCounts,
    tech: &TechnologyTable,
) -> Result<EnergyBreakdown, ConfigError> {
    let tiles = &events.tiles;
    let mut adc_pj = 0.0;
    for (&bits, &n) in tiles.adc_conversions.iter().filter(|(&bits, _)| bits > 0) {
        adc_pj += n as f64 * tech.adc.energy_per_conversion_pj(u32::from(bits))?;
    }
    // a b-bit drive costs b or 2^b − 1 one-bit drives (see the technology module)
    let dac_pj = tiles
        .dac_drives
        .iter()
        .map(|(&bits, &n)| {
            n as f64
                * tech.dac.scaling.unit_drives(u32::from(bits))
                * tech.dac.energy_per_1bit_drive_pj.value
        })
        .sum();
    let per_256 = |bits: u64, pj: f64| bits as f64 / 256.0 * pj;
    Ok(EnergyBreakdown {
        adc_pj,
        dac_pj,
        array_pj: tiles.cell_reads as f64 * tech.array.read_energy_per_cell_pj.value,
        sample_hold_pj: tiles.sample_holds as f64 * tech.sample_hold.energy_per_sample_pj.value,
        shift_add_pj: tiles.shift_adds as f64 * tech.shift_add.energy_per_op_pj.value,
        adder_tree_pj: tiles.adder_tree_ops as f64 * tech.adder_tree.energy_per_op_pj.value,
        buffer_pj: per_256(
            events.total_buffer_bits(),
            tech.buffer.edram_energy_per_256bit_pj.value,
        ),
        bus_pj: tiles.buffer_bits as f64 * tech.buffer.bus_energy_per_bit_pj.value,
        router_pj: per_256(
            events.router_bits,
            tech.buffer.router_energy_per_256bit_pj.value,
        ),
        registers_pj: 0.0,
        periphery_pj: digital_energy_pj(&events.periphery_with_tiles(), tech),
        attention_pj: digital_energy_pj(&events.attention, tech),
        write_pj: events.cell_writes as f64 * tech.write.cell_write_energy_pj.value,
        static_pj: 0.0,
    })
}

/// Energy of digital operations, pJ: each kind's count times its per-operation energy.
pub fn digital_energy_pj(ops: &OpCounts, tech: &TechnologyTable) -> f64 {
    ops.fields()
        .iter()
        .zip(tech.digital.prices())
        .map(|(&(kind, n), (priced, pj))| {
            debug_assert_eq!(
                kind, priced,
                "DigitalTech::prices must follow OpCounts::fields"
            );
            n as f64 * pj
        })
        .sum()
}
