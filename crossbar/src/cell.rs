//! A multi-level ReRAM cell: level ℓ ∈ 0..2^bits maps linearly onto a conductance range.
//!
//! CONTRACT (owned by the device work; signatures used by tile/mapping code):
//! `CellConfig { bits_per_cell, g_min_us, g_max_us }`, `levels()`, `conductance_us(level)`,
//! `validate()`.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Cell precision and conductance range. Conductances in µS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellConfig {
    /// Bits stored per cell (1–4).
    pub bits_per_cell: u8,
    /// Lowest programmable conductance, µS.
    pub g_min_us: f32,
    /// Highest programmable conductance, µS.
    pub g_max_us: f32,
}

impl CellConfig {
    /// Number of levels, 2^bits_per_cell.
    pub fn levels(&self) -> u32 {
        1u32 << self.bits_per_cell
    }

    /// Target conductance of `level`: G_min + ℓ·(G_max − G_min)/(2^c − 1).
    pub fn conductance_us(&self, level: u8) -> f32 {
        let step = (self.g_max_us - self.g_min_us) / (self.levels() - 1) as f32;
        self.g_min_us + level as f32 * step
    }

    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if !(1..=4).contains(&self.bits_per_cell) {
            return Err(ConfigError::new(
                format!("{key}.bits_per_cell"),
                "1 to 4",
                self.bits_per_cell,
            ));
        }
        if !(self.g_min_us >= 0.0 && self.g_min_us < self.g_max_us) {
            return Err(ConfigError::new(
                format!("{key}.g_min_us"),
                format!("0 <= g_min_us < g_max_us ({} µS)", self.g_max_us),
                self.g_min_us,
            ));
        }
        Ok(())
    }
}
