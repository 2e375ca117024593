//! The hardware description the analog backend runs: which linear layers are analog, how
//! they are mapped, what devices they sit on, the periphery and the technology table.
//!
//! This is the backend's view of the lead's `HardwareConfig` (src/hardware); until that
//! lands it is built here from the parts' own defaults. Presets:
//!
//! * `ideal`: 24-bit weights and inputs (inputs in one 24-bit DAC shot, weights sliced over
//!   4-bit cells), ideal ADC, ideal devices, bit-sliced; reproduces the digital result to
//!   float rounding (the first test of the chain, DESIGN.md §2).
//! * `isaac-32nm`: ISAAC (ISCA 2016): 8-bit inputs on 1-bit DACs, 8-bit weights on 2-bit
//!   cells, 128×128 arrays, 8-bit ADC with a calibrated range, input scale calibrated.
//! * `one-shot`: aihwkit's level: 8-bit inputs in one 8-bit DAC shot, 8-bit weights on one
//!   device pair, 512-row arrays, one 8-bit ADC conversion of each column's full sum.

use crate::energy::TechnologyConfig;
use crate::periphery::PeripheryConfig;
use crossbar::{AdcRange, ConfigError, DeviceConfig};
use mapping::{Fidelity, InputScale, MappingConfig};

/// Calibration of input and ADC ranges.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Examples of the task's TRAIN split (the first N in file order) run through the
    /// analog model to set the ranges. Default 32.
    pub examples: usize,
}

impl Default for Calibration {
    fn default() -> Self {
        Self { examples: 32 }
    }
}

/// The analog layers and their hardware.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalogHardware {
    pub mapping: MappingConfig,
    pub device: DeviceConfig,
    pub periphery: PeripheryConfig,
    pub energy: TechnologyConfig,
    /// Patterns over linear names `<layer>.<kind>` (see [`super::linear_name`]); `*`
    /// stands for any layer index. Default: every encoder linear.
    pub analog: Vec<String>,
    pub calibration: Calibration,
}

/// Names of the presets [`AnalogHardware::preset`] knows.
pub const PRESET_NAMES: &[&str] = &["ideal", "isaac-32nm", "one-shot"];

impl AnalogHardware {
    /// A named preset (see the module docs).
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        let base = Self {
            mapping: MappingConfig::default(),
            device: DeviceConfig::default(),
            periphery: PeripheryConfig::default(),
            energy: TechnologyConfig::default(),
            analog: [
                "query",
                "key",
                "value",
                "attention_output",
                "ffn_in",
                "ffn_out",
            ]
            .iter()
            .map(|k| format!("*.{k}"))
            .collect(),
            calibration: Calibration::default(),
        };
        let mut hw = base;
        match name {
            "ideal" => {
                // Quantization far below f32 rounding; each input in one DAC shot and
                // 4-bit cells keep the emulation short (6 slices, 1 cycle).
                hw.mapping.weight_bits = 24;
                hw.mapping.input_bits = 24;
                hw.mapping.dac.dac_bits = 24;
                hw.mapping.cell.bits_per_cell = 4;
                hw.mapping.adc.ideal = true;
            }
            "isaac-32nm" => {
                hw.mapping.input_scale = InputScale::Calibrated;
                hw.mapping.adc.range = AdcRange::Calibrated;
            }
            "one-shot" => {
                hw.mapping.fidelity = Fidelity::OneShot;
                hw.mapping.array_rows = 512;
                hw.mapping.array_cols = 512;
                hw.mapping.dac.dac_bits = 8;
                hw.mapping.input_scale = InputScale::Calibrated;
                hw.mapping.adc.range = AdcRange::Calibrated;
                hw.mapping.adc.columns_per_adc = 512;
            }
            other => {
                return Err(ConfigError::new(
                    "preset",
                    format!("one of {}", PRESET_NAMES.join(", ")),
                    other,
                ))
            }
        }
        Ok(hw)
    }

    /// Whether the linear layer `name` (`<layer>.<kind>`) runs on crossbars.
    pub fn is_analog(&self, name: &str) -> bool {
        self.analog.iter().any(|p| pattern_matches(p, name))
    }

    /// The device model of the linear layer `name`.
    pub fn device_for(&self, _name: &str) -> &DeviceConfig {
        &self.device
    }

    /// True when some range must be measured on data before inference.
    pub fn needs_calibration(&self) -> bool {
        self.mapping.input_scale == InputScale::Calibrated
            || (self.mapping.adc.range == AdcRange::Calibrated && !self.mapping.adc.ideal)
    }
}

/// `pattern` and `name` are dot-separated; `*` in the pattern matches any one part.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), name.split('.').collect());
    p.len() == n.len() && p.iter().zip(&n).all(|(a, b)| *a == "*" || a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_layers_and_kinds() {
        assert!(pattern_matches("*.query", "3.query"));
        assert!(!pattern_matches("*.query", "3.key"));
        assert!(pattern_matches("2.ffn_in", "2.ffn_in"));
        assert!(!pattern_matches("2.ffn_in", "12.ffn_in"));
        assert!(!pattern_matches("*.query", "pooler"));
        assert!(pattern_matches("pooler", "pooler"));
    }

    #[test]
    fn unknown_preset_names_the_known_ones() {
        let e = AnalogHardware::preset("isaac").unwrap_err().to_string();
        assert!(e.contains("isaac-32nm") && e.contains("isaac"), "{e}");
    }
}
