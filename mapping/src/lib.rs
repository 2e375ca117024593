//! # mapping
//!
//! How a real-valued weight matrix becomes crossbar tiles, and how y = x·Wᵀ runs on them.
//! No BERT here: any `out × in` matrix (PyTorch `Linear` layout) can be mapped and studied.
//!
//! The chain follows DESIGN.md §2:
//!
//! 1. [`quantize`]: weights to `weight_bits` signed integers with a scale per tensor or
//!    per output feature; inputs to `input_bits` with a dynamic (per token) or calibrated
//!    scale. Symmetric ranges ±(2^(b−1) − 1).
//! 2. [`encoding`]: signed weights on non-negative conductances, *differential*
//!    (W⁺/W⁻ columns), *offset* (w + 2^(b−1) with a reference column) or *digital offset*
//!    (w + 2^(b−1), one device per weight, the nominal offset subtracted digitally), and bit
//!    slicing of the stored magnitude over `bits_per_cell`-bit cells.
//! 3. [`tiling`]: cutting the matrix into `array_rows × array_cols` arrays (any sizes,
//!    dividing or not), with optional spare rows/columns.
//! 4. [`matrix::MappedMatrix`]: programming through the device model of `crossbar` (one
//!    array at a time in the private module `program`), then
//!    per forward pass the DAC cycles, analog MVMs and ADCs of every array (crate
//!    `crossbar`) and the digital periphery: subtraction of the W⁻ / reference column
//!    (which also cancels the G_min offset current; or, with `readout =
//!    "analog_difference"`, the pair subtracted before one conversion), shift-and-add over
//!    slices, an optional drift-compensation gain per array, partial-sum reduction over
//!    arrays sharing outputs, rescaling.
//!
//! 5. [`remap`]: with spare rows/columns, fault-aware placement that steers the weights
//!    stuck cells would hurt most away from them.
//!
//! Two fidelity levels ([`Fidelity`]): `bit_sliced` (the full chain, an ADC conversion per
//! slice × cycle × array column) and `one_shot` (aihwkit's level: one device pair per
//! weight programmed to an analog conductance, so weights of up to 24 bits, inputs in one
//! bipolar DAC shot, one conversion per array column).
//!
//! Memory and speed: bit-sliced arrays whose cells land exactly on their levels (ideal
//! devices, stuck cells included) are stored as bit planes (`crossbar::bit_planes`):
//! c bits per cell, about 2 bytes per weight at the isaac-32nm point (8-bit weights on four
//! 2-bit cell pairs) instead of 32, and 1-bit DAC cycles are summed by popcount with the ADC
//! and shift-and-add fused in. Arrays of varied devices (programming variation, drift) keep
//! a 16-bit code of each cell's conductance on the tile's grid (2 bytes; the read-noise σ
//! is computed from it when a noisy MVM needs it); exact targets that are no levels (IR
//! drop alone, finer one-shot scales) keep one f32 per cell.

pub mod config;
pub mod encoding;
pub mod error;
pub mod matrix;
mod program;
pub mod quantize;
pub mod remap;
pub mod tiling;

pub use config::{
    DriftCompensation, Encoding, Fidelity, InputScale, MappingConfig, Readout, WeightScale,
};
pub use error::MappingError;
pub use matrix::{MappedMatrix, MappingReport};
pub use remap::{FaultMap, StuckAt, StuckCell};

/// Read ids `first`, `first + 1`, … for `tokens` tokens: for studies that read each token
/// once (see [`MappedMatrix::forward`]); pass `pass · tokens` as `first` for the pass-th
/// forward pass so that every pass draws new per-read noise.
pub fn read_ids(first: u64, tokens: usize) -> Vec<u64> {
    (first..first + tokens as u64).collect()
}
