//! # crossbar
//!
//! One analog ReRAM crossbar array and its converters, with no knowledge of BERT or of
//! matrices larger than a tile. (Crate documentation grows with the models.)

pub mod rng;
