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
//! * [`sourced`]: a number with its node and source;
//! * [`technology`]: the table, its presets and validation;
//! * [`rollup`]: event counts → energy by component;
//! * [`estimate`]: array layout → latency and area.

pub mod estimate;
pub mod rollup;
pub mod sourced;
pub mod technology;

pub use estimate::{area, latency, AreaBreakdown, LatencyEstimate, MatrixLayout};
pub use rollup::{digital_energy_pj, energy, EnergyBreakdown, EventCounts};
pub use sourced::Sourced;
pub use technology::{AdcScaling, TechnologyConfig, TechnologyError, TechnologyTable, PRESETS};
