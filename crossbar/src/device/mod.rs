//! Device non-idealities of ReRAM cells.
//!
//! CONTRACT between the device models and the tile/mapping code. The device work fills in
//! the models behind these signatures (and may add fields, variants and functions); the
//! tile/mapping work calls only these:
//!
//! * `DeviceConfig` (serde, `deny_unknown_fields`, `Default` = ideal) with `validate(key)`
//!   and `is_ideal()`;
//! * `program_array(cfg, cell, levels, rows, cols, key) -> ProgrammedArray`: the actual
//!   conductances (µS, row-major rows×cols) of an array whose cells were programmed to
//!   `levels`, after programming variation, stuck-at faults and drift to `cfg`'s read time,
//!   all sampled once per chip instance from `key` (purposes derived inside);
//! * `DeviceConfig::read_noise_sigma_us(g_us)`: σ in µS of the per-read Gaussian
//!   fluctuation of a device at conductance `g_us` (0 when read noise is off).

use crate::cell::CellConfig;
use crate::error::ConfigError;
use crate::rng::StreamKey;
use serde::{Deserialize, Serialize};

/// Every device effect, each a separate swappable part. Default: ideal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceConfig {}

impl DeviceConfig {
    pub fn validate(&self, _key: &str) -> Result<(), ConfigError> {
        Ok(())
    }

    pub fn is_ideal(&self) -> bool {
        true
    }

    pub fn read_noise_sigma_us(&self, _g_us: f32) -> f32 {
        0.0
    }
}

/// One programmed array: the conductances it really has, and where its faults are.
#[derive(Clone, Debug)]
pub struct ProgrammedArray {
    /// Actual conductance of each cell, µS, row-major rows×cols.
    pub g_us: Vec<f32>,
}

pub fn program_array(
    _cfg: &DeviceConfig,
    cell: &CellConfig,
    levels: &[u8],
    rows: usize,
    cols: usize,
    _key: StreamKey,
) -> ProgrammedArray {
    assert_eq!(levels.len(), rows * cols, "levels must be rows×cols");
    ProgrammedArray {
        g_us: levels.iter().map(|&l| cell.conductance_us(l)).collect(),
    }
}
