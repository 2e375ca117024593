//! Energy, latency and area of an inference on the modelled chip.
//!
//! The emulator counts hardware **events** exactly: ADC conversions by resolution, DAC row
//! drives, cell reads, S&H samples, shift-and-add and adder-tree operations, buffer and
//! router bits, digital periphery and attention operations by kind, and cell writes. Those
//! counts are facts of the mapping and the model. A [`TechnologyTable`] says what each
//! event costs, with the publication (and node) of every number; it is an assumption the
//! user swaps. The roll-up multiplies the two and reports one figure per component
//! ([`EnergyBreakdown`]); latency and area come from the mapping's array layout
//! ([`MatrixLayout`]) and the same table.
//!
//! ```
//! use crossbert::energy::{energy, EventCounts, TechnologyTable};
//! use crossbert::periphery::Softmax;
//!
//! let tech = TechnologyTable::preset("isaac-32nm")?;
//! let mut events = EventCounts::default();
//! let tiles = &mut events.tiles; // the crossbar crate's counts
//! tiles.adc_conversions.insert(8, 128 * 8); // one 128-column array, 8 input cycles
//! tiles.dac_drives.insert(1, 128 * 8);
//! tiles.cell_reads = 128 * 128 * 8;
//! events.periphery += Softmax::Float.counts(128);
//! let e = energy(&events, &tech)?;
//! assert!((e.adc_pj - 1024.0 * 1.67).abs() < 1e-9);
//! assert_eq!(e.total_pj(), e.components().iter().map(|(_, pj)| pj).sum::<f64>());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! * [`sourced`]: a number with its node and source;
//! * [`technology`]: the table, its presets and validation;
//! * [`rollup`]: event counts → energy by component;
//! * [`estimate`]: array layout → latency and area;
//! * [`chip`]: the IMA, tile and chip blocks, and a whole chip's peak figures.

pub mod chip;
pub mod estimate;
pub mod rollup;
pub mod sourced;
pub mod technology;

pub use chip::{Blocks, ChipPeak};
pub use estimate::{area, latency, AreaBreakdown, LatencyEstimate, MatrixLayout};
pub use rollup::{digital_energy_pj, energy, EnergyBreakdown, EventCounts};
pub use sourced::Sourced;
pub use technology::{
    AdcScaling, BlockTech, DacScaling, TechnologyConfig, TechnologyError, TechnologyTable, PRESETS,
};
