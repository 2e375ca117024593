//! Latency and area estimates from the mapping.
//!
//! Inputs are per weight matrix: how many arrays of what size it occupies, how many columns
//! share one ADC, how many input cycles one MVM takes (input bits / DAC bits; 1 for a
//! one-shot drive), and how many MVMs an inference runs through it (one per token vector).
//!
//! Latency assumptions (ISAAC-like, stated so users can disagree):
//! * all arrays of one matrix work on the same input vector at the same time;
//! * in one input cycle an array settles (`array.read_cycle_ns`) and its ADCs convert the
//!   columns they serve, `min(columns_per_adc, array_cols) / sample_rate`; sampling is
//!   pipelined with the next read, so a cycle costs the longer of the two and an MVM adds
//!   the shorter once to fill the pipeline;
//! * MVMs of a matrix run one after another, and matrices run in model order (no overlap of
//!   layers or tokens): an upper estimate of a pipelined chip's latency;
//! * digital periphery, attention products and buffer traffic are not in the latency (no
//!   published clocked model of them is in the table);
//! * inference-time writes add one `write.write_latency_ns` per written row.
//!
//! Area covers the arrays and their converters: arrays (scaled by cells from the reference
//! array), ADCs (`⌈converted columns / columns_per_adc⌉` per array, area by resolution;
//! none for an ideal ADC, which is a modelling device), one 1-bit DAC per row, one S&H per
//! converted column, shift-and-add units per ADC. Above them, the IMA, tile and chip blocks
//! ([`super::chip::Blocks`]: registers, eDRAM, bus, router share, tile digital units,
//! off-chip links): each matrix takes IMAs of its own, IMAs fill tiles in model order, and
//! a chip of fixed `chip.tiles` counts all its tiles and arrays (the unused ones priced
//! like the first matrix's). The digital periphery's own units (softmax, LayerNorm, GELU)
//! are not included: no published area for them is in the table.

use super::chip::{imas_and_tiles, Blocks};
use super::technology::TechnologyTable;
use crate::error::ConfigError;
use crate::hardware::ChipConfig;
use serde::{Deserialize, Serialize};

/// How one weight matrix sits on the chip, as the mapping reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixLayout {
    /// Name of the matrix (e.g. `encoder.layer.0.attention.self.query`).
    pub name: String,
    /// Physical arrays it occupies (all slices, signs and tiles).
    pub arrays: u64,
    pub array_rows: u32,
    pub array_cols: u32,
    /// Outputs each array converts per cycle: its columns, or half of them when column
    /// pairs are subtracted in analog before one conversion. ADCs and S&H units follow it.
    pub converted_cols: u32,
    /// Columns that share one ADC.
    pub columns_per_adc: u32,
    /// Resolution of those ADCs (their area depends on it); 0 for an ideal ADC, which
    /// has no hardware.
    pub adc_bits: u32,
    /// Input cycles per MVM.
    pub cycles_per_mvm: u32,
    /// MVMs per inference.
    pub mvms: u64,
}

impl MatrixLayout {
    /// How the analog matrix `m` sits on the chip, running `mvms` MVMs per inference.
    pub fn of(name: &str, m: &mapping::MappedMatrix, mvms: u64) -> Self {
        let report = m.report();
        let adc = &m.config().adc;
        Self {
            name: name.to_string(),
            arrays: report.arrays as u64,
            array_rows: report.array_rows as u32,
            array_cols: report.array_cols as u32,
            converted_cols: report.converted_columns_per_array as u32,
            columns_per_adc: adc.columns_per_adc,
            adc_bits: adc.counted_bits() as u32,
            cycles_per_mvm: report.input_cycles as u32,
            mvms,
        }
    }
}

/// Latency of one inference, ns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyEstimate {
    /// Each matrix's share, in input order.
    pub matrices_ns: Vec<(String, f64)>,
    /// Inference-time writes.
    pub writes_ns: f64,
    /// Sum of the above.
    pub total_ns: f64,
}

/// Area of the chip by component, mm². `total_mm2()` is the sum of the fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AreaBreakdown {
    pub arrays_mm2: f64,
    pub adc_mm2: f64,
    pub dac_mm2: f64,
    pub sample_hold_mm2: f64,
    pub shift_add_mm2: f64,
    /// IMA input and output registers and tile output registers.
    pub registers_mm2: f64,
    /// The eDRAM buffers (component name `buffer`, as their accesses in the energy).
    pub edram_mm2: f64,
    pub bus_mm2: f64,
    /// The tiles' shares of their routers.
    pub router_mm2: f64,
    pub tile_digital_mm2: f64,
    pub offchip_mm2: f64,
}

impl AreaBreakdown {
    /// Component names (those of the energy and power breakdowns) with their areas, mm².
    pub fn components(&self) -> [(&'static str, f64); 11] {
        [
            ("array", self.arrays_mm2),
            ("adc", self.adc_mm2),
            ("dac", self.dac_mm2),
            ("sample_hold", self.sample_hold_mm2),
            ("shift_add", self.shift_add_mm2),
            ("registers", self.registers_mm2),
            ("buffer", self.edram_mm2),
            ("bus", self.bus_mm2),
            ("router", self.router_mm2),
            ("tile_digital", self.tile_digital_mm2),
            ("offchip", self.offchip_mm2),
        ]
    }

    pub fn total_mm2(&self) -> f64 {
        self.components().iter().map(|(_, a)| a).sum()
    }
}

impl MatrixLayout {
    fn check(&self, i: usize) -> Result<(), ConfigError> {
        for (field, v) in [
            ("array_rows", self.array_rows),
            ("array_cols", self.array_cols),
            ("converted_cols", self.converted_cols),
            ("columns_per_adc", self.columns_per_adc),
            ("cycles_per_mvm", self.cycles_per_mvm),
        ] {
            if v == 0 {
                return Err(ConfigError::new(
                    format!("layout[{i}].{field}"),
                    format!("a count ≥ 1 for matrix {:?}", self.name),
                    v,
                ));
            }
        }
        Ok(())
    }

    /// ADCs of one array (the converter positions; an ideal ADC's have no area).
    pub(crate) fn adcs_per_array(&self) -> u64 {
        self.converted_cols.div_ceil(self.columns_per_adc) as u64
    }

    /// The array read and the conversions of one ADC's columns, ns.
    fn read_and_convert_ns(&self, tech: &TechnologyTable) -> (f64, f64) {
        let samples = self.columns_per_adc.min(self.converted_cols) as f64;
        (
            tech.array.read_cycle_ns.value,
            samples / tech.adc.sample_rate_gsps.value,
        )
    }

    /// One input cycle when reads and conversions overlap: the longer of the two, ns.
    pub(crate) fn cycle_ns(&self, tech: &TechnologyTable) -> f64 {
        let (read, convert) = self.read_and_convert_ns(tech);
        read.max(convert)
    }

    /// Duration of one MVM: its cycles plus the shorter stage once to fill the pipeline, ns.
    pub(crate) fn mvm_ns(&self, tech: &TechnologyTable) -> f64 {
        let (read, convert) = self.read_and_convert_ns(tech);
        self.cycles_per_mvm as f64 * self.cycle_ns(tech) + read.min(convert)
    }
}

/// Latency of one inference through `layouts`, plus `row_writes` inference-time row writes.
pub fn latency(
    layouts: &[MatrixLayout],
    row_writes: u64,
    tech: &TechnologyTable,
) -> Result<LatencyEstimate, ConfigError> {
    let mut est = LatencyEstimate {
        writes_ns: row_writes as f64 * tech.write.write_latency_ns.value,
        ..Default::default()
    };
    for (i, m) in layouts.iter().enumerate() {
        m.check(i)?;
        est.matrices_ns
            .push((m.name.clone(), m.mvms as f64 * m.mvm_ns(tech)));
    }
    est.total_ns = est.writes_ns + est.matrices_ns.iter().map(|(_, ns)| ns).sum::<f64>();
    Ok(est)
}

/// Area of the chip that holds `layouts` (see the module docs for the placement).
pub fn area(
    layouts: &[MatrixLayout],
    chip: &ChipConfig,
    tech: &TechnologyTable,
) -> Result<AreaBreakdown, ConfigError> {
    let (imas, tiles) = imas_and_tiles(layouts.iter().map(|l| l.arrays), chip);
    let Some(fixed) = chip.tiles.map(u64::from) else {
        return area_of(layouts, imas, tiles, chip, tech);
    };
    if tiles > fixed {
        return Err(ConfigError::new(
            "chip.tiles",
            format!("at least the {tiles} tiles ({imas} IMAs) the mapped model needs"),
            fixed,
        ));
    }
    let mut all = layouts.to_vec();
    let used: u64 = layouts.iter().map(|l| l.arrays).sum();
    if let Some(first) = layouts.first() {
        all.push(MatrixLayout {
            name: "unused arrays".into(),
            arrays: fixed * chip.arrays_per_tile() - used,
            ..first.clone()
        });
    }
    area_of(
        &all,
        fixed * u64::from(chip.imas_per_tile),
        fixed,
        chip,
        tech,
    )
}

/// Area of the arrays and converters of `layouts` and the blocks of `imas` IMAs in
/// `tiles` tiles.
pub(crate) fn area_of(
    layouts: &[MatrixLayout],
    imas: u64,
    tiles: u64,
    chip: &ChipConfig,
    tech: &TechnologyTable,
) -> Result<AreaBreakdown, ConfigError> {
    const UM2_PER_MM2: f64 = 1e6;
    let reference_cells = tech.array.rows as f64 * tech.array.cols as f64;
    let mut a = AreaBreakdown::default();
    for (i, m) in layouts.iter().enumerate() {
        m.check(i)?;
        let arrays = m.arrays as f64;
        let adcs = arrays * m.adcs_per_array() as f64;
        let cells = m.array_rows as f64 * m.array_cols as f64;
        a.arrays_mm2 += arrays * tech.array.area_um2.value * cells / reference_cells / UM2_PER_MM2;
        if m.adc_bits > 0 {
            a.adc_mm2 += adcs * tech.adc.area_um2(m.adc_bits) / UM2_PER_MM2;
        }
        a.dac_mm2 += arrays * m.array_rows as f64 * tech.dac.area_um2.value / UM2_PER_MM2;
        a.sample_hold_mm2 +=
            arrays * m.converted_cols as f64 * tech.sample_hold.area_um2.value / UM2_PER_MM2;
        a.shift_add_mm2 +=
            adcs * tech.shift_add.units_per_adc * tech.shift_add.area_um2.value / UM2_PER_MM2;
    }
    let links = u64::from(chip.offchip_links);
    let blocks =
        Blocks::of(imas, tiles, links, tech, |b| b.area_um2.value).scaled(1.0 / UM2_PER_MM2);
    a.registers_mm2 = blocks.registers;
    a.edram_mm2 = blocks.edram;
    a.bus_mm2 = blocks.bus;
    a.router_mm2 = blocks.router;
    a.tile_digital_mm2 = blocks.tile_digital;
    a.offchip_mm2 = blocks.offchip;
    Ok(a)
}
