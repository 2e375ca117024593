//! # crossbert
//!
//! BERT inference emulated on resistive-memory (ReRAM) processing-in-memory hardware.
//! (Crate documentation grows with the model, backends, periphery and experiments.)

pub mod cli;
pub mod energy;
pub mod experiment;
pub mod periphery;
