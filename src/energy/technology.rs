//! Technology tables: what each hardware event costs, with the source of every number.
//!
//! A [`TechnologyTable`] is read from TOML (`deny_unknown_fields` everywhere; units in the
//! field names: pJ, ns, µm², mW, GS/s). Named presets ship as TOML text in
//! `data/technology/`; a hardware description names one and may override any number.
//!
//! Assumptions that are not quotes of a publication (they are stated in the `source` of the
//! number they affect, and users swap them):
//! * ADC energy at resolutions other than the table's follows the selected [`AdcScaling`].
//!   ADC area comes from the table (interpolated geometrically between entries); beyond
//!   its ends it doubles per bit from the nearest entry, the growth of a SAR ADC's binary
//!   capacitor array.
//! * A multi-bit DAC drive of b bits costs b one-bit drives (`dac.scaling = "linear"`,
//!   default): energy-neutral against feeding the same bits serially, so the DAC choice
//!   alone moves no energy; or 2^b − 1 (`"exponential"`, a DAC of unit elements).
//! * Array read energy is per cell per input cycle; the array area scales with the number
//!   of cells relative to the reference `array.rows × array.cols`.
//! * Transcendental fp32 functions, divides and square roots are priced as the fp32 adds and
//!   multiplies of a common software/hardware evaluation scheme.
//! * The registers, buffers, bus, router and off-chip links of IMAs, tiles and the chip
//!   ([`ImaTech`], [`TileTech`], [`ChipTech`]) are priced by their power when busy and
//!   their area, as ISAAC's Table I gives them; ISAAC publishes no split into leakage and
//!   dynamic power, so none is made.
//! * Every number is used at the node it was published for (its `node_nm`); no node
//!   scaling is applied, so one table may mix nodes (`isaac-32nm`: converters, arrays and
//!   buffers at 32 nm, digital arithmetic at 45 nm).

use super::sourced::Sourced;
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Energy, area and timing of every component the roll-up prices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TechnologyTable {
    /// Name of the table (the preset name for shipped tables).
    pub name: String,
    pub adc: AdcTech,
    pub dac: DacTech,
    pub array: ArrayTech,
    pub sample_hold: SampleHoldTech,
    pub shift_add: ShiftAddTech,
    pub adder_tree: AdderTreeTech,
    pub buffer: BufferTech,
    pub digital: DigitalTech,
    pub write: WriteTech,
    pub ima: ImaTech,
    pub tile: TileTech,
    pub chip: ChipTech,
}

/// How ADC energy per conversion depends on resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdcScaling {
    /// The table itself; resolutions between two entries are interpolated geometrically,
    /// resolutions outside it are an error.
    IsaacTable,
    /// Walden figure of merit: energy doubles per bit from the table entry at
    /// `reference_bits`.
    Walden,
    /// Schreier figure of merit: energy ×4 per bit from the table entry at
    /// `reference_bits`.
    Schreier,
    /// NeuroSim V1.4 SAR ADC at 22 nm: P = (0.538·b + 4.375) µW over a conversion of
    /// (b + 1) ns, E = P·(b + 1) ns. Independent of the table.
    NeurosimSar,
    /// Walden figure of merit anchored at the ADC's own power and sample rate, so that
    /// energy and the rate the latency uses agree: E(b) = `power_mw` / `sample_rate_gsps`
    /// × 2^(b − `reference_bits`) (ISAAC: 2 mW at 1.28 GS/s, 1.5625 pJ at 8 bits, a
    /// figure of merit of 6.1 fJ per nominal conversion step). Walden's figure of merit
    /// (P / (f_s·2^ENOB), the one Murmann's ADC survey tabulates) is taken constant in the
    /// resolution, with the nominal bits for the ENOB.
    WaldenPower,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdcTech {
    pub scaling: AdcScaling,
    /// Resolution whose table entry anchors the Walden and Schreier scalings.
    pub reference_bits: u32,
    pub table: AdcTable,
    /// Power of one ADC of `reference_bits` at its sample rate, mW.
    pub power_mw: Sourced,
    /// Conversions per ns of one ADC, GS/s.
    pub sample_rate_gsps: Sourced,
}

/// ADC energy per conversion at listed resolutions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdcTable {
    /// Resolutions, strictly increasing.
    pub bits: Vec<u32>,
    /// Energy per conversion at each resolution, pJ.
    pub energy_pj: Vec<f64>,
    /// Area of one ADC at each resolution, µm².
    pub area_um2: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_nm: Option<u32>,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DacTech {
    /// Energy of one 1-bit DAC driving one row for one input cycle, pJ.
    pub energy_per_1bit_drive_pj: Sourced,
    /// How a b-bit drive's energy follows from the 1-bit one. Default `linear`.
    #[serde(default)]
    pub scaling: DacScaling,
    /// Area of one 1-bit DAC, µm².
    pub area_um2: Sourced,
}

/// Where an array's read energy comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrayEnergyModel {
    /// `read_energy_per_cell_pj` per cell and input cycle (ISAAC's lumped array power).
    #[default]
    Table,
    /// Joule heating of the cells: per cell and input cycle G·V_read²·activity·read_pulse,
    /// with each matrix's mean conductance at read time (arrays of attention on crossbars
    /// keep the table). At ISAAC's 0.5–500 µS and 0.5 V this is far above the table.
    Conductance,
}

/// How a multi-bit DAC drive's energy grows with its resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DacScaling {
    /// b one-bit drives: energy-neutral against feeding the same bits serially.
    #[default]
    Linear,
    /// 2^b − 1 one-bit drives: a binary-weighted capacitive or unary current-steering DAC
    /// switches 2^b − 1 unit elements at full scale, the growth Saberi et al. (IEEE TCAS-I
    /// 2011) model for the capacitive DAC inside a SAR ADC.
    Exponential,
}

impl DacScaling {
    /// One-bit drives a `bits`-bit drive costs.
    pub fn unit_drives(self, bits: u32) -> f64 {
        match self {
            DacScaling::Linear => f64::from(bits),
            DacScaling::Exponential => 2f64.powi(bits as i32) - 1.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayTech {
    /// Rows of the reference array the area refers to.
    pub rows: u32,
    /// Columns of the reference array the area refers to.
    pub cols: u32,
    /// Energy of one cell for one input cycle, pJ (the `table` energy model).
    pub read_energy_per_cell_pj: Sourced,
    /// Where the array read energy comes from. Default `table`.
    #[serde(default)]
    pub energy_model: ArrayEnergyModel,
    /// How long the read voltage is applied in one input cycle, ns (the `conductance`
    /// model).
    pub read_pulse_ns: Sourced,
    /// Mean of (row voltage / read voltage)² over rows and input cycles (the `conductance`
    /// model): ½ when a 1-bit DAC drives half the rows in a cycle.
    pub activity: Sourced,
    /// Area of one reference array, µm².
    pub area_um2: Sourced,
    /// Duration of one input cycle (DAC drive, settle, sample), ns.
    pub read_cycle_ns: Sourced,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleHoldTech {
    /// Energy of one sample of one column, pJ.
    pub energy_per_sample_pj: Sourced,
    /// Area of one S&H circuit, µm².
    pub area_um2: Sourced,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftAddTech {
    /// Shift-and-add units per ADC (ISAAC: 4 per 8 ADCs).
    pub units_per_adc: f64,
    /// Energy of one 16-bit shift-and-add, pJ.
    pub energy_per_op_pj: Sourced,
    /// Area of one unit, µm².
    pub area_um2: Sourced,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdderTreeTech {
    /// Energy of one partial-sum addition between tiles, pJ.
    pub energy_per_op_pj: Sourced,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferTech {
    /// Energy of one 256-bit eDRAM buffer access, pJ.
    pub edram_energy_per_256bit_pj: Sourced,
    /// Energy of moving 256 bits through one router, pJ.
    pub router_energy_per_256bit_pj: Sourced,
    /// Energy of moving one bit over a tile's eDRAM-to-IMA bus, pJ.
    pub bus_energy_per_bit_pj: Sourced,
}

/// Energy per digital operation, pJ, one field per [`OpCounts`](crate::periphery::OpCounts)
/// kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitalTech {
    pub int8_add_pj: Sourced,
    pub int8_mult_pj: Sourced,
    pub int16_add_pj: Sourced,
    pub int16_mult_pj: Sourced,
    pub int32_add_pj: Sourced,
    pub int32_mult_pj: Sourced,
    pub int64_add_pj: Sourced,
    pub int_div_pj: Sourced,
    pub shift_pj: Sourced,
    pub compare_pj: Sourced,
    pub table_lookup_pj: Sourced,
    pub fp32_add_pj: Sourced,
    pub fp32_mult_pj: Sourced,
    pub fp32_div_pj: Sourced,
    pub fp32_exp_pj: Sourced,
    pub fp32_sqrt_pj: Sourced,
    pub fp32_erf_pj: Sourced,
    pub fp32_tanh_pj: Sourced,
    /// Operations the digital units complete per ns (each counted operation, of any kind,
    /// one lane-cycle), ops/ns.
    pub ops_per_ns: Sourced,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteTech {
    /// Energy to program one cell, pJ.
    pub cell_write_energy_pj: Sourced,
    /// Duration of one write (all cells of a row in parallel), ns.
    pub write_latency_ns: Sourced,
    /// Writes a cell survives, cycles.
    pub endurance_cycles: Sourced,
}

/// A block priced as a whole: its power when busy and its area (ISAAC's Table I gives
/// registers, buffers, bus and router this way).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockTech {
    /// Power when busy, mW.
    pub power_mw: Sourced,
    /// Area, µm².
    pub area_um2: Sourced,
}

/// The blocks every IMA has besides its arrays and converters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImaTech {
    /// Input register (ISAAC: 2 KB).
    pub input_register: BlockTech,
    /// Output register (ISAAC: 256 B).
    pub output_register: BlockTech,
}

/// The blocks every tile has besides its IMAs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileTech {
    /// eDRAM buffer (ISAAC: 64 KB).
    pub edram: BlockTech,
    /// eDRAM-to-IMA bus.
    pub bus: BlockTech,
    /// Router; one serves `tiles_per_router` tiles.
    pub router: BlockTech,
    /// Tiles sharing one router (ISAAC: 4).
    pub tiles_per_router: u32,
    /// Output register (ISAAC: 3 KB).
    pub output_register: BlockTech,
    /// The tile's own digital units (ISAAC: sigmoid, max-pool and shift-and-add units).
    pub digital_units: BlockTech,
}

/// Chip-level blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChipTech {
    /// One off-chip link (ISAAC: one of 4 HyperTransport links).
    pub offchip_link: BlockTech,
    /// Leakage power per mm² of chip area, mW/mm², drawn for the whole inference.
    pub leakage_mw_per_mm2: Sourced,
}

/// The energy section of a hardware description: a shipped preset and the numbers to
/// replace in it.
///
/// ```toml
/// [energy]
/// preset = "isaac-32nm"
/// [energy.overrides.adc]
/// scaling = "walden"
/// [energy.overrides.dac]
/// area_um2 = { value = 0.2, node_nm = 32, source = "my DAC layout" }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TechnologyConfig {
    /// Name of a shipped preset (see [`PRESETS`]). Default `isaac-32nm`.
    pub preset: String,
    /// Keys to replace, in the layout of [`TechnologyTable`]. Default: none.
    pub overrides: toml::Table,
}

impl Default for TechnologyConfig {
    fn default() -> Self {
        Self {
            preset: "isaac-32nm".to_string(),
            overrides: toml::Table::new(),
        }
    }
}

impl TechnologyConfig {
    /// The resolved, validated table. `key` is the dotted path of this section (e.g.
    /// `energy`): an invalid number is reported at `{key}.overrides.<path>`, where the user
    /// wrote it (shipped presets are valid, so an invalid value comes from an override).
    pub fn resolve(&self, key: &str) -> Result<TechnologyTable, TechnologyError> {
        TechnologyTable::preset_with(&self.preset, &self.overrides).map_err(|e| match e {
            TechnologyError::Invalid { origin, mut error } => {
                error.key = format!("{key}.overrides.{}", error.key);
                TechnologyError::Invalid { origin, error }
            }
            other => other,
        })
    }
}

/// Errors of loading a technology table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TechnologyError {
    #[error("technology table {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("technology table {origin}: {error}")]
    Invalid { origin: String, error: ConfigError },
    #[error("unknown technology preset {name:?}; known presets: {}", known.join(", "))]
    UnknownPreset { name: String, known: Vec<String> },
}

/// The shipped presets: name and TOML text.
pub const PRESETS: &[(&str, &str)] = &[(
    "isaac-32nm",
    include_str!("../../data/technology/isaac-32nm.toml"),
)];

impl TechnologyTable {
    /// A shipped preset by name.
    pub fn preset(name: &str) -> Result<Self, TechnologyError> {
        Self::preset_with(name, &toml::Table::new())
    }

    /// A shipped preset with `overrides` merged over it key by key (nested tables merge,
    /// other values replace), then validated.
    pub fn preset_with(name: &str, overrides: &toml::Table) -> Result<Self, TechnologyError> {
        let text = PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .ok_or_else(|| TechnologyError::UnknownPreset {
                name: name.to_string(),
                known: PRESETS.iter().map(|(n, _)| n.to_string()).collect(),
            })?;
        let origin = format!("preset {name:?}");
        let mut base: toml::Table = toml::from_str(text).map_err(|e| parse_error(&origin, e))?;
        merge(&mut base, overrides);
        let table: Self = base.try_into().map_err(|e| parse_error(&origin, e))?;
        table.checked(&origin)
    }

    /// Parses and validates a table; `origin` (a file name, say) goes into error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, TechnologyError> {
        let table: Self = toml::from_str(text).map_err(|e| parse_error(origin, e))?;
        table.checked(origin)
    }

    /// The table as TOML text (every number with its node and source).
    pub fn to_toml_string(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    fn checked(self, origin: &str) -> Result<Self, TechnologyError> {
        self.validate("")
            .map_err(|error| TechnologyError::Invalid {
                origin: origin.to_string(),
                error,
            })?;
        Ok(self)
    }

    /// Checks every number (finite, ≥ 0; rates, cycles and areas of arrays > 0) and the ADC
    /// table; `key` is the dotted path of this table in a larger config ("" at top level).
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let k = |field: &str| {
            if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            }
        };
        for (field, value) in self.numbers() {
            let positive = matches!(
                field,
                "adc.sample_rate_gsps"
                    | "array.read_cycle_ns"
                    | "write.endurance_cycles"
                    | "digital.ops_per_ns"
            );
            value.check(&k(field), positive)?;
        }
        if self.array.rows == 0 || self.array.cols == 0 {
            let found = format!("{}×{}", self.array.rows, self.array.cols);
            return Err(ConfigError::new(
                k("array.rows"),
                "a reference array of at least 1×1",
                found,
            ));
        }
        if self.tile.tiles_per_router == 0 {
            return Err(ConfigError::new(
                k("tile.tiles_per_router"),
                "a count ≥ 1",
                0,
            ));
        }
        if !(self.shift_add.units_per_adc.is_finite() && self.shift_add.units_per_adc >= 0.0) {
            return Err(ConfigError::new(
                k("shift_add.units_per_adc"),
                "a finite number ≥ 0",
                self.shift_add.units_per_adc,
            ));
        }
        self.adc.validate(&k("adc"))
    }

    /// Every sourced number with its dotted key, in table order.
    pub fn numbers(&self) -> Vec<(&'static str, &Sourced)> {
        let d = &self.digital;
        vec![
            ("adc.power_mw", &self.adc.power_mw),
            ("adc.sample_rate_gsps", &self.adc.sample_rate_gsps),
            (
                "dac.energy_per_1bit_drive_pj",
                &self.dac.energy_per_1bit_drive_pj,
            ),
            ("dac.area_um2", &self.dac.area_um2),
            (
                "array.read_energy_per_cell_pj",
                &self.array.read_energy_per_cell_pj,
            ),
            ("array.area_um2", &self.array.area_um2),
            ("array.read_cycle_ns", &self.array.read_cycle_ns),
            ("array.read_pulse_ns", &self.array.read_pulse_ns),
            ("array.activity", &self.array.activity),
            (
                "sample_hold.energy_per_sample_pj",
                &self.sample_hold.energy_per_sample_pj,
            ),
            ("sample_hold.area_um2", &self.sample_hold.area_um2),
            (
                "shift_add.energy_per_op_pj",
                &self.shift_add.energy_per_op_pj,
            ),
            ("shift_add.area_um2", &self.shift_add.area_um2),
            (
                "adder_tree.energy_per_op_pj",
                &self.adder_tree.energy_per_op_pj,
            ),
            (
                "buffer.edram_energy_per_256bit_pj",
                &self.buffer.edram_energy_per_256bit_pj,
            ),
            (
                "buffer.router_energy_per_256bit_pj",
                &self.buffer.router_energy_per_256bit_pj,
            ),
            (
                "buffer.bus_energy_per_bit_pj",
                &self.buffer.bus_energy_per_bit_pj,
            ),
            ("digital.int8_add_pj", &d.int8_add_pj),
            ("digital.int8_mult_pj", &d.int8_mult_pj),
            ("digital.int16_add_pj", &d.int16_add_pj),
            ("digital.int16_mult_pj", &d.int16_mult_pj),
            ("digital.int32_add_pj", &d.int32_add_pj),
            ("digital.int32_mult_pj", &d.int32_mult_pj),
            ("digital.int64_add_pj", &d.int64_add_pj),
            ("digital.int_div_pj", &d.int_div_pj),
            ("digital.shift_pj", &d.shift_pj),
            ("digital.compare_pj", &d.compare_pj),
            ("digital.table_lookup_pj", &d.table_lookup_pj),
            ("digital.fp32_add_pj", &d.fp32_add_pj),
            ("digital.fp32_mult_pj", &d.fp32_mult_pj),
            ("digital.fp32_div_pj", &d.fp32_div_pj),
            ("digital.fp32_exp_pj", &d.fp32_exp_pj),
            ("digital.fp32_sqrt_pj", &d.fp32_sqrt_pj),
            ("digital.fp32_erf_pj", &d.fp32_erf_pj),
            ("digital.fp32_tanh_pj", &d.fp32_tanh_pj),
            ("digital.ops_per_ns", &d.ops_per_ns),
            (
                "write.cell_write_energy_pj",
                &self.write.cell_write_energy_pj,
            ),
            ("write.write_latency_ns", &self.write.write_latency_ns),
            ("write.endurance_cycles", &self.write.endurance_cycles),
            (
                "ima.input_register.power_mw",
                &self.ima.input_register.power_mw,
            ),
            (
                "ima.input_register.area_um2",
                &self.ima.input_register.area_um2,
            ),
            (
                "ima.output_register.power_mw",
                &self.ima.output_register.power_mw,
            ),
            (
                "ima.output_register.area_um2",
                &self.ima.output_register.area_um2,
            ),
            ("tile.edram.power_mw", &self.tile.edram.power_mw),
            ("tile.edram.area_um2", &self.tile.edram.area_um2),
            ("tile.bus.power_mw", &self.tile.bus.power_mw),
            ("tile.bus.area_um2", &self.tile.bus.area_um2),
            ("tile.router.power_mw", &self.tile.router.power_mw),
            ("tile.router.area_um2", &self.tile.router.area_um2),
            (
                "tile.output_register.power_mw",
                &self.tile.output_register.power_mw,
            ),
            (
                "tile.output_register.area_um2",
                &self.tile.output_register.area_um2,
            ),
            (
                "tile.digital_units.power_mw",
                &self.tile.digital_units.power_mw,
            ),
            (
                "tile.digital_units.area_um2",
                &self.tile.digital_units.area_um2,
            ),
            (
                "chip.offchip_link.power_mw",
                &self.chip.offchip_link.power_mw,
            ),
            (
                "chip.offchip_link.area_um2",
                &self.chip.offchip_link.area_um2,
            ),
        ]
    }
}

impl WriteTech {
    /// Inferences a cell survives when each inference writes it `writes_per_inference`
    /// times: endurance / writes per inference (infinite when nothing is written).
    pub fn inferences_to_wear_out(&self, writes_per_inference: f64) -> f64 {
        self.endurance_cycles.value / writes_per_inference
    }
}

impl DigitalTech {
    /// Energy per operation, pJ, for every operation kind, in the order and with the names
    /// of [`OpCounts::fields`](crate::periphery::OpCounts::fields).
    pub fn prices(&self) -> [(&'static str, f64); 18] {
        [
            ("int8_add", self.int8_add_pj.value),
            ("int8_mult", self.int8_mult_pj.value),
            ("int16_add", self.int16_add_pj.value),
            ("int16_mult", self.int16_mult_pj.value),
            ("int32_add", self.int32_add_pj.value),
            ("int32_mult", self.int32_mult_pj.value),
            ("int64_add", self.int64_add_pj.value),
            ("int_div", self.int_div_pj.value),
            ("shift", self.shift_pj.value),
            ("compare", self.compare_pj.value),
            ("table_lookup", self.table_lookup_pj.value),
            ("fp32_add", self.fp32_add_pj.value),
            ("fp32_mult", self.fp32_mult_pj.value),
            ("fp32_div", self.fp32_div_pj.value),
            ("fp32_exp", self.fp32_exp_pj.value),
            ("fp32_sqrt", self.fp32_sqrt_pj.value),
            ("fp32_erf", self.fp32_erf_pj.value),
            ("fp32_tanh", self.fp32_tanh_pj.value),
        ]
    }
}

impl AdcTech {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let t = &self.table;
        if t.bits.is_empty()
            || t.bits.len() != t.energy_pj.len()
            || t.bits.len() != t.area_um2.len()
        {
            return Err(ConfigError::new(
                format!("{key}.table"),
                "`bits`, `energy_pj` and `area_um2` of equal, non-zero length",
                format!(
                    "{} bits, {} energies, {} areas",
                    t.bits.len(),
                    t.energy_pj.len(),
                    t.area_um2.len()
                ),
            ));
        }
        if t.bits[0] == 0 || t.bits.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ConfigError::new(
                format!("{key}.table.bits"),
                "strictly increasing resolutions ≥ 1",
                format!("{:?}", t.bits),
            ));
        }
        for (name, values) in [("energy_pj", &t.energy_pj), ("area_um2", &t.area_um2)] {
            if let Some((i, v)) = values
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v > 0.0))
            {
                return Err(ConfigError::new(
                    format!("{key}.table.{name}[{i}]"),
                    "a finite number > 0 (the table is interpolated geometrically)",
                    v,
                ));
            }
        }
        if matches!(self.scaling, AdcScaling::Walden | AdcScaling::Schreier)
            && !t.bits.contains(&self.reference_bits)
        {
            return Err(ConfigError::new(
                format!("{key}.reference_bits"),
                format!("a resolution listed in {key}.table.bits {:?}", t.bits),
                self.reference_bits,
            ));
        }
        Ok(())
    }

    /// Energy of one conversion at `bits` resolution under the selected scaling, pJ.
    pub fn energy_per_conversion_pj(&self, bits: u32) -> Result<f64, ConfigError> {
        let t = &self.table;
        match self.scaling {
            AdcScaling::Walden | AdcScaling::Schreier => {
                let factor: f64 = if self.scaling == AdcScaling::Walden { 2.0 } else { 4.0 };
                let i = t.bits.iter().position(|&b| b == self.reference_bits);
                let e_ref = i.map_or(f64::NAN, |i| t.energy_pj[i]);
                Ok(e_ref * factor.powf(bits as f64 - self.reference_bits as f64))
            }
            AdcScaling::NeurosimSar => {
                let b = bits as f64;
                // µW × ns = 1e-15 J = 1e-3 pJ
                Ok((0.538 * b + 4.375) * (b + 1.0) * 1e-3)
            }
            AdcScaling::WaldenPower => {
                // mW / (conversions per ns) = pJ per conversion
                let e_ref = self.power_mw.value / self.sample_rate_gsps.value;
                Ok(e_ref * 2f64.powf(bits as f64 - self.reference_bits as f64))
            }
            AdcScaling::IsaacTable => interpolate(&t.bits, &t.energy_pj, bits).ok_or_else(|| {
                ConfigError::new(
                    "adc.table.bits",
                    format!(
                        "ADC resolution within the table's {}..={} bits (extend the table or choose another adc.scaling)",
                        t.bits[0],
                        t.bits[t.bits.len() - 1]
                    ),
                    format!("{bits} bits"),
                )
            }),
        }
    }

    /// Area of one ADC of `bits` resolution, µm²: the table, interpolated geometrically;
    /// beyond its ends ×2 per bit from the nearest entry.
    pub fn area_um2(&self, bits: u32) -> f64 {
        let t = &self.table;
        interpolate(&t.bits, &t.area_um2, bits).unwrap_or_else(|| {
            let (lo, hi) = (t.bits[0], t.bits[t.bits.len() - 1]);
            if bits < lo {
                t.area_um2[0] * 0.5f64.powi((lo - bits) as i32)
            } else {
                t.area_um2[t.bits.len() - 1] * 2f64.powi((bits - hi) as i32)
            }
        })
    }
}

/// `values` at `bits` from a table over strictly increasing `table_bits`: exact at entries,
/// geometric between neighbours, `None` outside.
fn interpolate(table_bits: &[u32], values: &[f64], bits: u32) -> Option<f64> {
    let i = table_bits.iter().position(|&b| b >= bits)?;
    if table_bits[i] == bits {
        return Some(values[i]);
    }
    if i == 0 {
        return None;
    }
    let (b0, b1) = (table_bits[i - 1] as f64, table_bits[i] as f64);
    let w = (bits as f64 - b0) / (b1 - b0);
    Some(values[i - 1] * (values[i] / values[i - 1]).powf(w))
}

fn parse_error(origin: &str, e: impl std::fmt::Display) -> TechnologyError {
    TechnologyError::Parse {
        origin: origin.to_string(),
        message: e.to_string(),
    }
}

/// Merges `over` into `base`: tables merge recursively, everything else replaces. A table
/// with a `value` key is a whole sourced number and replaces, so that a new value never
/// keeps the source of the number it replaced.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if !o.contains_key("value") => {
                merge(b, o)
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}
