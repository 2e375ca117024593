//! # crossbar
//!
//! One analog ReRAM crossbar array and its converters, with no knowledge of BERT or of
//! matrices larger than a tile. (Crate documentation grows with the models.)
//!
//! ## Converters and the tile MVM
//!
//! An MVM on one tile runs through the periphery in this order (DESIGN.md §2, steps 7–9):
//! [`dac`] turns signed integer input codes into row voltages, one input cycle at a time
//! (bit-serial, `dac_bits` per cycle, or one bipolar shot; the signed scheme is two's
//! complement with a negatively weighted MSB cycle); [`tile`] sums the column currents
//! I = Σ V·G (V in volts, G in µS, I in µA) with read noise; [`sample_hold`] holds each
//! column current for [`adc`], which quantizes and clips it; the tile then shift-and-adds
//! the cycles. Every MVM returns exact [`events`] counts (ADC conversions by resolution,
//! DAC drives, cell reads, S&H samples, shift-and-adds).

pub mod adc;
pub mod cell;
pub mod dac;
pub mod device;
pub mod error;
pub mod events;
pub mod rng;
pub mod sample_hold;
pub mod tile;

pub use cell::CellConfig;
pub use device::{program_array, DeviceConfig, ProgrammedArray};
pub use error::ConfigError;
pub use rng::{Purpose, StreamKey};

pub use adc::{Adc, AdcConfig, AdcRange};
pub use dac::{Dac, DacConfig, Drive};
pub use events::EventCounts;
pub use tile::Tile;
