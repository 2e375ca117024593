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
//! [layers]                          # which linear layers are analog, per-layer overrides
//! analog = ["*.query", "*.key", "*.value", "*.attention_output", "*.ffn_in", "*.ffn_out"]
//! [[layers.overrides]]
//! target = "3.ffn_out"
//! device = { stuck_at = { rate_g_max = 0.01 } }
//! [[layers.overrides]]                # mixed precision: 6-bit ADCs on every FFN output
//! target = "*.ffn_out"
//! mapping = { adc = { adc_bits = 6 } }
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
//! `[device]` and its `mapping` table over the resolved `[mapping]`, by the same rules, so
//! an override states only what differs; each override sets at least one of the two. A
//! linear takes its device model from the last override that matches it and sets `device`
//! ([`HardwareConfig::device_for`]), its mapping likewise ([`HardwareConfig::mapping_for`]);
//! `[mapping]` and `[device]` serve every other linear, and the attention arrays of
//! `[attention] mode = "crossbar"`. The merged table is then read into [`HardwareConfig`],
//! whose every section rejects unknown keys, and validated (each override's resolved
//! sections as the top-level ones); every error names the dotted key, and the override's
//! target when it is in an override.
//!
//! In a sweep the base hardware is resolved before a grid point is applied, so each
//! override's tables hold every field: a swept `mapping.…` or `device.…` key changes the
//! top-level section only, and a linear whose override sets that section keeps the base's
//! values of all of it (an override wins for its linears). To sweep a setting of some
//! linears only, scope the key (see [`crate::experiment::scope`]).

pub mod attention;
pub mod chip;
mod layers;
pub mod training;

pub use attention::{AttentionConfig, AttentionMode};
pub use chip::{ChipConfig, Schedule};
pub use layers::{LayerOverride, LayerSelection, LinearKind, LinearName, LinearPattern};
pub use training::TrainingConfig;

use crate::energy::{TechnologyConfig, TechnologyTable};
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
    /// Which linears are analog, and per-layer device and mapping overrides.
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
        let targets = override_targets(&table);
        let config: HardwareConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| {
                let key = e.path().to_string();
                let message = e.into_inner().to_string();
                let message =
                    override_note(&targets, &key) + &message + moved_model_hint(&key, &message);
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
        adc_is_priced(&tech, &self.mapping, "mapping")?;
        for (i, o) in self.layers.overrides.iter().enumerate() {
            let key = format!("layers.overrides[{i}]");
            o.validate(&key, &tech)
                .map_err(|e| in_override(e, &o.target))?;
        }
        Ok(())
    }

    /// The device model of one linear: that of the last matching override that sets
    /// `device`, else `[device]`.
    pub fn device_for(&self, name: &LinearName) -> &DeviceConfig {
        self.layers
            .overrides
            .iter()
            .rev()
            .filter(|o| o.target.matches(name))
            .find_map(|o| o.device.as_ref())
            .unwrap_or(&self.device)
    }

    /// The mapping of one linear: that of the last matching override that sets `mapping`,
    /// else `[mapping]`. Resolved when the description is read, so a look-up is a few
    /// pattern matches (and a later change to `self.mapping` does not reach an override's).
    pub fn mapping_for(&self, name: &LinearName) -> &MappingConfig {
        self.layers
            .overrides
            .iter()
            .rev()
            .filter(|o| o.target.matches(name))
            .find_map(|o| o.mapping.as_ref())
            .unwrap_or(&self.mapping)
    }

    /// `[mapping]` and every override's mapping: all the mappings some linear may use.
    pub fn mappings(&self) -> impl Iterator<Item = &MappingConfig> {
        let overrides = self.layers.overrides.iter();
        std::iter::once(&self.mapping).chain(overrides.filter_map(|o| o.mapping.as_ref()))
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

impl LayerOverride {
    /// Sets something, and what it sets is valid (`key` names the override).
    fn validate(&self, key: &str, tech: &TechnologyTable) -> Result<(), ConfigError> {
        if self.device.is_none() && self.mapping.is_none() {
            return Err(ConfigError::new(
                key,
                "at least one of `device` and `mapping` (an override setting neither changes \
                 nothing)",
                "only `target`",
            ));
        }
        if let Some(device) = &self.device {
            device.validate(&format!("{key}.device"))?;
        }
        if let Some(mapping) = &self.mapping {
            let key = format!("{key}.mapping");
            mapping.validate(&key)?;
            adc_is_priced(tech, mapping, &key)?;
        }
        Ok(())
    }
}

/// The technology table prices the ADC of `mapping` (at `key`) at its resolution, or every
/// evaluation would fail after its (long) run instead of when the description is read.
fn adc_is_priced(
    tech: &TechnologyTable,
    mapping: &MappingConfig,
    key: &str,
) -> Result<(), ConfigError> {
    let adc_bits = mapping.adc.counted_bits();
    if adc_bits > 0 {
        tech.adc
            .energy_per_conversion_pj(u32::from(adc_bits))
            .map_err(|e| ConfigError::new(format!("{key}.adc.adc_bits"), e.expected, e.found))?;
    }
    Ok(())
}

/// `e` with the target of the override it is in, which the index alone does not show.
fn in_override(mut e: ConfigError, target: &LinearPattern) -> ConfigError {
    e.found = format!("{} (in the override of \"{target}\")", e.found);
    e
}

/// The `target` of each `[[layers.overrides]]` entry, as written (`None` if missing).
fn override_targets(table: &toml::Table) -> Vec<Option<String>> {
    let overrides = table
        .get("layers")
        .and_then(|l| l.get("overrides"))
        .and_then(toml::Value::as_array);
    overrides.map_or_else(Vec::new, |entries| {
        entries
            .iter()
            .map(|e| e.get("target").map(|t| t.to_string()))
            .collect()
    })
}

/// For a key inside `layers.overrides[i]`, a note naming that override's target (to go
/// before the message, which may span lines).
fn override_note(targets: &[Option<String>], key: &str) -> String {
    let index = key
        .strip_prefix("layers.overrides[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok());
    match index.and_then(|i| targets.get(i)).cloned().flatten() {
        Some(target) => format!("in the override of {target}: "),
        None => String::new(),
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

/// The sections a layer override may set, each merged over the top-level table of its name.
pub const OVERRIDABLE_SECTIONS: [&str; 2] = ["device", "mapping"];

/// Each `[[layers.overrides]]` `device` or `mapping` table becomes the full top-level table
/// of that name with the override merged over it, so an override states only what differs.
/// A section the override does not set stays unset (the linear takes it from elsewhere).
fn expand_layer_overrides(table: &mut toml::Table) {
    let bases = OVERRIDABLE_SECTIONS.map(|section| match table.get(section) {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    });
    let Some(toml::Value::Table(layers)) = table.get_mut("layers") else {
        return;
    };
    let Some(toml::Value::Array(overrides)) = layers.get_mut("overrides") else {
        return;
    };
    for entry in overrides.iter_mut() {
        let toml::Value::Table(entry) = entry else {
            continue; // let serde report the type
        };
        for (section, base) in OVERRIDABLE_SECTIONS.iter().zip(&bases) {
            // A value that is not a table stays as it is, for serde to report its type.
            if let Some(toml::Value::Table(own)) = entry.get_mut(*section) {
                let mut full = base.clone();
                merge(&mut full, std::mem::take(own));
                *own = full;
            }
        }
    }
}

#[cfg(test)]
mod tests;
