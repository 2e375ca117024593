//! A multi-level ReRAM cell: level ℓ ∈ 0..2^bits maps linearly onto a conductance range.
//!
//! A cell stores `bits_per_cell` bits as one of 2^c conductance levels spaced evenly between
//! G_min (the high-resistance state, HRS) and G_max (the low-resistance state, LRS):
//! G(ℓ) = G_min + ℓ·(G_max − G_min)/(2^c − 1). G_min > 0 models the finite on/off ratio of
//! real devices; the signed encoding in `mapping` cancels the offset current it causes.
//!
//! Published ranges, available as constructors (all in µS = 1/MΩ):
//!
//! | preset | R_on | R_off | G_max | G_min | on/off |
//! |---|---|---|---|---|---|
//! | [`CellConfig::neurosim`] (NeuroSim `Param.cpp`) | 100 kΩ | 1.7 MΩ | 10 µS | 0.588 µS | 17 |
//! | [`CellConfig::mnsim`] (MNSIM 2.0 `SimConfig.ini`) | 10 kΩ | 1 MΩ | 100 µS | 1 µS | 100 |
//! | [`CellConfig::isaac`] (CrossSim `ISAAC.json`) | 2 kΩ | 2 MΩ | 500 µS | 0.5 µS | 1000 |
//! | [`CellConfig::reram_cmo`] (aihwkit ReRAM-CMO) | 11.3 kΩ | 111 kΩ | 88.2 µS | 9.0 µS | 9.8 |
//!
//! CONTRACT (signatures used by tile/mapping code): `CellConfig { bits_per_cell, g_min_us,
//! g_max_us }`, `levels()`, `conductance_us(level)`, `validate(key)`.

use crate::device::programming::LARGEST_PARAMETER;
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Cell precision and conductance range. Conductances in µS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellConfig {
    /// Bits stored per cell (1–4). ISAAC and PUMA use 2; NeuroSim's default is 1.
    pub bits_per_cell: u8,
    /// Lowest programmable conductance (HRS), µS.
    pub g_min_us: f32,
    /// Highest programmable conductance (LRS), µS.
    pub g_max_us: f32,
}

impl CellConfig {
    /// A range given by its top conductance (µS) and on/off ratio G_max/G_min (> 1).
    /// The result still needs [`CellConfig::validate`].
    pub fn from_on_off_ratio(bits_per_cell: u8, g_max_us: f32, on_off_ratio: f32) -> Self {
        Self {
            bits_per_cell,
            g_min_us: g_max_us / on_off_ratio,
            g_max_us,
        }
    }

    /// NeuroSim (`Param.cpp`): R_on 100 kΩ, R_off 1.7 MΩ → 10 µS / 0.588 µS.
    pub fn neurosim(bits_per_cell: u8) -> Self {
        Self::from_resistances(bits_per_cell, 100e3, 1.7e6)
    }

    /// MNSIM 2.0 (`SimConfig.ini`): R_on 10 kΩ, R_off 1 MΩ → 100 µS / 1 µS.
    pub fn mnsim(bits_per_cell: u8) -> Self {
        Self::from_resistances(bits_per_cell, 10e3, 1e6)
    }

    /// CrossSim `ISAAC.json`: R_on 2 kΩ, R_off 2 MΩ → 500 µS / 0.5 µS.
    pub fn isaac(bits_per_cell: u8) -> Self {
        Self::from_resistances(bits_per_cell, 2e3, 2e6)
    }

    /// aihwkit ReRAM-CMO noise model defaults: G_min 9.0 µS, G_max 88.2 µS.
    pub fn reram_cmo(bits_per_cell: u8) -> Self {
        Self {
            bits_per_cell,
            g_min_us: 9.0,
            g_max_us: 88.2,
        }
    }

    /// A range from the on and off resistances in Ω (G = 10⁶/R µS).
    fn from_resistances(bits_per_cell: u8, r_on_ohm: f32, r_off_ohm: f32) -> Self {
        Self {
            bits_per_cell,
            g_min_us: 1e6 / r_off_ohm,
            g_max_us: 1e6 / r_on_ohm,
        }
    }

    /// Number of levels, 2^bits_per_cell.
    pub fn levels(&self) -> u32 {
        1u32 << self.bits_per_cell
    }

    /// Highest level, 2^bits_per_cell − 1 (programmed to G_max).
    pub fn max_level(&self) -> u8 {
        (self.levels() - 1) as u8
    }

    /// On/off ratio G_max/G_min (infinite when G_min = 0).
    pub fn on_off_ratio(&self) -> f32 {
        self.g_max_us / self.g_min_us
    }

    /// Target conductance of `level`: G_min + ℓ·(G_max − G_min)/(2^c − 1).
    pub fn conductance_us(&self, level: u8) -> f32 {
        let step = (self.g_max_us - self.g_min_us) / (self.levels() - 1) as f32;
        self.g_min_us + level as f32 * step
    }

    /// Checks bits in 1..=4 and 0 ≤ G_min < G_max ≤ 1e6 µS; `key` is the dotted path of this
    /// config, used in the error.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if !(1..=4).contains(&self.bits_per_cell) {
            return Err(ConfigError::new(
                format!("{key}.bits_per_cell"),
                "1 to 4",
                self.bits_per_cell,
            ));
        }
        if self.g_max_us.is_nan() || self.g_max_us > LARGEST_PARAMETER {
            return Err(ConfigError::new(
                format!("{key}.g_max_us"),
                format!("a conductance of at most {LARGEST_PARAMETER:e} µS"),
                self.g_max_us,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_span_the_range_linearly() {
        let cell = CellConfig::mnsim(2);
        assert_eq!(cell.levels(), 4);
        assert_eq!(cell.max_level(), 3);
        assert!((cell.conductance_us(0) - 1.0).abs() < 1e-6);
        assert!((cell.conductance_us(3) - 100.0).abs() < 1e-4);
        assert!((cell.conductance_us(1) - 34.0).abs() < 1e-4);
    }

    #[test]
    fn on_off_ratio_round_trips() {
        let cell = CellConfig::from_on_off_ratio(1, 100.0, 17.0);
        assert!((cell.on_off_ratio() - 17.0).abs() < 1e-4);
        assert!((CellConfig::neurosim(1).on_off_ratio() - 17.0).abs() < 1e-3);
    }

    #[test]
    fn bad_ranges_name_the_key() {
        let mut cell = CellConfig::mnsim(0);
        assert_eq!(
            cell.validate("hw.cell").unwrap_err().key,
            "hw.cell.bits_per_cell"
        );
        cell.bits_per_cell = 5;
        assert!(cell.validate("hw.cell").is_err());
        cell.bits_per_cell = 2;
        cell.g_min_us = cell.g_max_us;
        assert_eq!(
            cell.validate("hw.cell").unwrap_err().key,
            "hw.cell.g_min_us"
        );
        cell.g_min_us = -1.0;
        assert!(cell.validate("hw.cell").is_err());
        assert!(CellConfig::from_on_off_ratio(2, 100.0, 0.5)
            .validate("c")
            .is_err());
        assert!(CellConfig::reram_cmo(4).validate("c").is_ok());
    }
}
