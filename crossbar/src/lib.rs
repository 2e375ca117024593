//! # crossbar
//!
//! One analog ReRAM crossbar array and its converters, with no knowledge of BERT or of
//! matrices larger than a tile. (Crate documentation grows with the models.)

pub mod cell;
pub mod device;
pub mod error;
pub mod ir_drop;
pub mod rng;

pub use cell::CellConfig;
pub use device::{program_array, DeviceConfig, FaultMap, ProgrammedArray, StuckAt};
pub use error::ConfigError;
pub use rng::{Purpose, StreamKey};
