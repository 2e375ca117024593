//! The hardware description: one TOML file that starts from a named preset and overrides
//! the fields it cares about.
//!
//! ```toml
//! preset = "isaac-32nm"            # start from a shipped preset (`crossbert presets`)
//!
//! [mapping]                         # mapping::MappingConfig: arrays, bits, encoding, converters
//! adc = { adc_bits = 6 }
//!
//! [device]                          # crossbar::DeviceConfig: variation, noise, drift, faults
//! programming = { model = "relative", sigma = 0.05 }
//!
//! [periphery]                       # softmax / LayerNorm / GELU / attention implementations
//! gelu = { kind = "int-poly" }
//!
//! [attention]                       # where Q·Kᵀ and P·V run (see [`attention`])
//! mode = "crossbar"                 # digital (default, at periphery.attention precision) | crossbar
//! write_noise = { model = "relative", sigma = 0.02 }  # per-write conductance spread; default none
//! endurance_cycles = 1e12           # cycles; default energy table write.endurance_cycles
//! reuse_across_layers = true        # one attention array set rewritten by every layer
//!
//! [chip]                            # arrays per IMA, IMAs per tile, tiles (see [`chip`])
//! tiles = 168                       # default: as many as the model needs
//!
//! [energy]                          # technology table preset and overrides
//! preset = "isaac-32nm"
//!
//! [layers]                          # which linear layers are analog, per-layer device overrides
//! analog = ["*.query", "*.key", "*.value", "*.attention_output", "*.ffn_in", "*.ffn_out"]
//! [[layers.overrides]]
//! target = "3.ffn_out"
//! device = { stuck_at = { rate_g_max = 0.01 } }
//!
//! [calibration]
//! examples = 64                     # train-split examples that set input and ADC ranges
//!
//! [training]                        # hardware-aware fine-tuning (see [`training`])
//! weight_noise = 0.04               # default: measured by programming each matrix once
//! ```
//!
//! Resolution: the preset's table (itself possibly built on another preset) is the base;
//! the file's tables are merged into it key by key, except that a table naming a model
//! (`model = …` or `kind = …`) replaces the base's table whole, since a different model has
//! different parameters. A layer override's `device` table is merged over the resolved
//! `[device]`. The merged table is then read into [`HardwareConfig`], whose every section
//! rejects unknown keys, and validated; every error names the dotted key.

pub mod attention;
pub mod chip;
mod layers;
pub mod training;

pub use attention::{AttentionConfig, AttentionMode};
pub use chip::{ChipConfig, Schedule};
pub use layers::{LayerOverride, LayerSelection, LinearKind, LinearName, LinearPattern};
pub use training::TrainingConfig;

use crate::energy::TechnologyConfig;
use crate::error::ConfigError;
use crate::periphery::PeripheryConfig;
use crossbar::DeviceConfig;
use mapping::MappingConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shipped presets: name, one-line summary, TOML text.
pub const PRESETS: &[(&str, &str, &str)] = &[
    (
        "ideal",
        "no quantization, ideal converters and devices: reproduces the digital result",
        include_str!("../../data/hardware/ideal.toml"),
    ),
    (
        "isaac-32nm",
        "ISAAC (ISCA 2016): 8-bit inputs on 1-bit DACs, 8-bit weights on 2-bit cells, 128×128, 8-bit ADC",
        include_str!("../../data/hardware/isaac-32nm.toml"),
    ),
    (
        "one-shot",
        "aihwkit's level: 8-bit DAC, unsliced weights, 8-bit ADC per 512-row tile",
        include_str!("../../data/hardware/one-shot.toml"),
    ),
    (
        "reram-cmo",
        "isaac-32nm on ReRAM: aihwkit's CMO/HfOx variation, relaxation and 1/f deviation (1 h)",
        include_str!("../../data/hardware/reram-cmo.toml"),
    ),
    (
        "pcm",
        "isaac-32nm on PCM: aihwkit's PCM programming noise, drift and 1/f deviation (1 h), 0–25 µS",
        include_str!("../../data/hardware/pcm.toml"),
    ),
    (
        "isaac-paper",
        "ISAAC's chip as published: 16-bit weights and inputs, 168 tiles (validates chip figures)",
        include_str!("../../data/hardware/isaac-paper.toml"),
    ),
];

/// Calibration of input and ADC ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Calibration {
    /// Examples of the task's TRAIN split (first rows in file order) run through the chip
    /// to set calibrated input and ADC ranges. Never the evaluated split. Default 64.
    pub examples: usize,
}

impl Default for Calibration {
    fn default() -> Self {
        Self { examples: 64 }
    }
}

/// A complete, resolved hardware description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareConfig {
    /// The preset this description started from (`none` when it started from the
    /// defaults of each section).
    #[serde(default = "no_preset")]
    pub preset: String,
    /// How each weight matrix is put on arrays (defaults: ISAAC, see `mapping`).
    #[serde(default)]
    pub mapping: MappingConfig,
    /// Device effects (default: ideal devices).
    #[serde(default)]
    pub device: DeviceConfig,
    /// Digital periphery (default: float).
    #[serde(default)]
    pub periphery: PeripheryConfig,
    /// Where the attention products run (default: digital, see [`attention`]).
    #[serde(default)]
    pub attention: AttentionConfig,
    /// Arrays per IMA, IMAs per tile, tiles per chip (default: ISAAC's grouping, as many
    /// tiles as the model needs; see [`chip`]).
    #[serde(default)]
    pub chip: ChipConfig,
    /// Technology table for energy, latency and area (default: isaac-32nm).
    #[serde(default)]
    pub energy: TechnologyConfig,
    /// Which linears are analog and per-layer device overrides.
    #[serde(default)]
    pub layers: LayerSelection,
    /// Range calibration.
    #[serde(default)]
    pub calibration: Calibration,
    /// Hardware-aware fine-tuning (default: every choice derived, see [`training`]). Not
    /// written out when empty, so descriptions without it keep their `config_hash`.
    #[serde(default, skip_serializing_if = "TrainingConfig::is_derived")]
    pub training: TrainingConfig,
}

fn no_preset() -> String {
    "none".to_string()
}

/// What can go wrong resolving a hardware description.
#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    #[error("unknown hardware preset {found:?} in {origin}: expected one of {}", known().join(", "))]
    UnknownPreset { found: String, origin: String },
    #[error("preset chain too deep or circular at {0:?}")]
    PresetCycle(String),
    #[error("{origin}: {source}")]
    Io {
        origin: String,
        source: std::io::Error,
    },
    #[error("{origin}: not valid TOML: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: {key}: {message}")]
    Field {
        origin: String,
        key: String,
        message: String,
    },
    #[error("{origin}: {error}")]
    Invalid { origin: String, error: ConfigError },
}

fn known() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.0).collect()
}

impl HardwareConfig {
    /// A shipped preset, resolved.
    pub fn preset(name: &str) -> Result<Self, HardwareError> {
        let table = preset_table(name, "the command line", 0)?;
        Self::from_table(table, &format!("preset {name}"))
    }

    /// A hardware file if `preset_or_path` ends in `.toml`, else a shipped preset.
    pub fn preset_or_file(preset_or_path: &str) -> Result<Self, HardwareError> {
        if preset_or_path.ends_with(".toml") {
            Self::from_file(Path::new(preset_or_path))
        } else {
            Self::preset(preset_or_path)
        }
    }

    /// A hardware file: its `preset` (if any) overridden by its own tables.
    pub fn from_file(path: &Path) -> Result<Self, HardwareError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| HardwareError::Io {
            origin: origin.clone(),
            source,
        })?;
        Self::from_toml_str(&text, &origin)
    }

    /// Hardware TOML text (`origin` names it in errors).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, HardwareError> {
        let table = resolve_table(parse(text, origin)?, origin, 0)?;
        Self::from_table(table, origin)
    }

    /// Reads an already merged table (e.g. a sweep point) into a validated config.
    pub fn from_table(mut table: toml::Table, origin: &str) -> Result<Self, HardwareError> {
        expand_layer_overrides(&mut table);
        let config: HardwareConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| {
                let key = e.path().to_string();
                let message = e.into_inner().to_string();
                let message = message.clone() + moved_model_hint(&key, &message);
                HardwareError::Field {
                    origin: origin.to_string(),
                    key,
                    message,
                }
            })?;
        config.validate().map_err(|error| HardwareError::Invalid {
            origin: origin.to_string(),
            error,
        })?;
        Ok(config)
    }

    /// The fully resolved table of a preset name or a hardware file path, every field
    /// present with its value (a sweep's base: each grid key must name one of its fields).
    pub fn base_table(preset_or_path: &str) -> Result<toml::Table, HardwareError> {
        let config = Self::preset_or_file(preset_or_path)?;
        Ok(toml::Table::try_from(&config).expect("a resolved hardware config always serializes"))
    }

    /// Every section valid and consistent; errors name the dotted key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.mapping.validate("mapping")?;
        self.device.validate("device")?;
        self.periphery.validate("periphery")?;
        self.attention.validate("attention")?;
        self.chip.validate("chip")?;
        self.training.validate("training")?;
        if self.attention.mode == AttentionMode::Crossbar
            && self.periphery.attention != crate::periphery::AttentionPrecision::Float32
        {
            return Err(ConfigError::new(
                "periphery.attention",
                "\"float32\" (the default) with attention.mode = \"crossbar\": the products \
                 then run on crossbars, not at a digital precision",
                format!("{:?}", self.periphery.attention),
            ));
        }
        let tech = self
            .energy
            .resolve("energy")
            .map_err(|e| ConfigError::new("energy", "a valid technology table", e.to_string()))?;
        // The ADC's energy must be priced at this resolution, or every evaluation would fail
        // after its (long) run instead of here.
        let adc_bits = self.mapping.adc.counted_bits();
        if adc_bits > 0 {
            tech.adc
                .energy_per_conversion_pj(u32::from(adc_bits))
                .map_err(|e| ConfigError::new("mapping.adc.adc_bits", e.expected, e.found))?;
        }
        for (i, o) in self.layers.overrides.iter().enumerate() {
            o.device
                .validate(&format!("layers.overrides[{i}].device"))?;
        }
        Ok(())
    }

    /// The device model of one linear: the last matching override, else `[device]`.
    pub fn device_for(&self, name: &LinearName) -> &DeviceConfig {
        self.layers
            .overrides
            .iter()
            .rev()
            .find(|o| o.target.matches(name))
            .map_or(&self.device, |o| &o.device)
    }

    /// Whether this linear runs on crossbars (else digitally).
    pub fn is_analog(&self, name: &LinearName) -> bool {
        self.layers.analog.iter().any(|p| p.matches(name))
    }

    /// The fully resolved configuration as TOML (what `crossbert hardware --show` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a resolved hardware config always serializes")
    }
}

fn parse(text: &str, origin: &str) -> Result<toml::Table, HardwareError> {
    text.parse::<toml::Table>()
        .map_err(|e| HardwareError::Syntax {
            origin: origin.to_string(),
            message: e.to_string(),
        })
}

/// A preset's resolved table (following its own `preset = …` chain).
fn preset_table(name: &str, origin: &str, depth: usize) -> Result<toml::Table, HardwareError> {
    let (_, _, text) =
        PRESETS
            .iter()
            .find(|p| p.0 == name)
            .ok_or_else(|| HardwareError::UnknownPreset {
                found: name.to_string(),
                origin: origin.to_string(),
            })?;
    let mut table = resolve_table(parse(text, &format!("preset {name}"))?, name, depth + 1)?;
    table.insert("preset".into(), toml::Value::String(name.to_string()));
    Ok(table)
}

/// Merges a file's table over the preset it names, if any.
fn resolve_table(
    mut table: toml::Table,
    origin: &str,
    depth: usize,
) -> Result<toml::Table, HardwareError> {
    if depth > PRESETS.len() {
        return Err(HardwareError::PresetCycle(origin.to_string()));
    }
    let Some(base) = table.remove("preset") else {
        return Ok(table);
    };
    let name = base.as_str().ok_or_else(|| HardwareError::Field {
        origin: origin.to_string(),
        key: "preset".into(),
        message: format!("expected a preset name (string), found {base}"),
    })?;
    let mut merged = preset_table(name, origin, depth)?;
    merge(&mut merged, table);
    Ok(merged)
}

/// A pointer for descriptions written before the device model split its time scales: the
/// ReRAM-CMO and PCM 1/f fits moved from per-read noise to the state at read time.
fn moved_model_hint(key: &str, message: &str) -> &'static str {
    let moved = ["`reram_cmo`", "`pcm`"].iter().any(|m| message.contains(m));
    if key == "device.read_noise.model" && moved {
        " (the aihwkit 1/f fits `reram_cmo` and `pcm` are drawn once per chip instance and \
         read time: write them as `device.accumulated_noise = { model = \"reram_cmo\" }`)"
    } else {
        ""
    }
}

/// Keys that name a model: a table carrying one replaces the base table whole.
const MODEL_TAGS: &[&str] = &["model", "kind"];

/// Merges `over` into `base`, key by key, recursively.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o))
                if !MODEL_TAGS.iter().any(|t| o.contains_key(*t)) =>
            {
                merge(b, o)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Each `[[layers.overrides]]` device table becomes the full `[device]` table with the
/// override merged over it, so an override states only what differs.
fn expand_layer_overrides(table: &mut toml::Table) {
    let device = match table.get("device") {
        Some(toml::Value::Table(d)) => d.clone(),
        _ => toml::Table::new(),
    };
    let Some(toml::Value::Table(layers)) = table.get_mut("layers") else {
        return;
    };
    let Some(toml::Value::Array(overrides)) = layers.get_mut("overrides") else {
        return;
    };
    for entry in overrides.iter_mut() {
        if let toml::Value::Table(entry) = entry {
            let own = match entry.remove("device") {
                Some(toml::Value::Table(t)) => t,
                Some(other) => {
                    entry.insert("device".into(), other); // let serde report the type
                    continue;
                }
                None => toml::Table::new(),
            };
            let mut full = device.clone();
            merge(&mut full, own);
            entry.insert("device".into(), toml::Value::Table(full));
        }
    }
}

#[cfg(test)]
mod tests;
