//! # crossbar
//!
//! One analog ReRAM crossbar array and its converters, with no knowledge of BERT or of
//! matrices larger than a tile. (Crate documentation grows with the models.)
//!
//! ## Devices and IR drop
//!
//! Units: conductance µS, voltage V, current µA (= V·µS), time s, resistance Ω.
//!
//! * [`cell`]: a cell stores 1–4 bits as levels spaced linearly over [G_min, G_max], with
//!   the published ranges of NeuroSim, MNSIM, ISAAC/CrossSim and aihwkit ReRAM-CMO.
//! * [`device`]: what a programmed cell really conducts, effect by effect and by the time
//!   scale on which it is drawn. The state at read time (programming variation,
//!   drift/relaxation, the accumulated 1/f deviation, stuck-at faults) is sampled once per
//!   chip instance by [`program_array`] from a [`StreamKey`]; per-read noise is a σ the
//!   tile draws on every MVM or every input cycle ([`DeviceConfig::read_noise_sigma_us`],
//!   [`device::Correlation`]). Each effect is a separate serde part of [`DeviceConfig`]
//!   with its source in its module docs.
//! * [`ir_drop`]: wire resistance on word and bit lines; an exact nodal solve
//!   ([`ir_drop::solve_exact`]) and a static per-cell attenuation
//!   ([`ir_drop::effective_conductance`]) that keeps the MVM a plain product, with its error
//!   against the exact solve measured and bounded.
//!
//! ## Converters and the tile MVM
//!
//! An MVM on one tile runs through the periphery in this order (DESIGN.md §2, steps 7–9):
//! [`dac`] turns signed integer input codes into row voltages, one input cycle at a time
//! (bit-serial, `dac_bits` per cycle, or one bipolar shot; the signed scheme is two's
//! complement with a negatively weighted MSB cycle); [`tile`] sums the column currents
//! I = Σ V·G (V in volts, G in µS, I in µA) with per-read noise; [`sample_hold`] holds
//! each column current (or the difference of a column pair) for [`adc`], which adds its
//! input-referred noise, quantizes and clips it; the tile then shift-and-adds the cycles.
//! Randomness per read is keyed by a read id per input vector, never by batch. Tiles whose cells sit exactly on their levels (ideal devices) are stored as
//! [`bit_planes`] and read by popcount, an exact integer shortcut of the same sum; unsliced
//! one-shot tiles on at most 256 levels are stored as [`level_bytes`] and read by an exact
//! byte product (AVX-512 VNNI where present). Tiles of varied devices keep a 16-bit code of
//! each conductance on the tile's own grid (half a step = range/131070), and the read-noise
//! σ is evaluated from G when a noisy MVM needs it, never stored (the formats:
//! `tile::storage`; the SIMD inner loops of these reads: the private module `kernels`). Every
//! MVM returns exact [`events`] counts (ADC conversions by resolution,
//! DAC drives, cell reads, S&H samples, shift-and-adds).

pub mod adc;
pub mod bit_planes;
pub mod cell;
pub mod dac;
pub mod device;
pub mod error;
pub mod events;
pub mod ir_drop;
mod kernels;
pub mod level_bytes;
pub mod rng;
pub mod sample_hold;
pub mod tile;

pub use cell::CellConfig;
pub use device::{
    program_array, program_conductances, DeviceConfig, FaultMap, ProgrammedArray, StuckAt,
};
pub use error::ConfigError;
pub use rng::{Purpose, StreamKey};

pub use adc::{Adc, AdcConfig, AdcRange};
pub use dac::{Dac, DacConfig, Drive};
pub use events::EventCounts;
pub use tile::Tile;
