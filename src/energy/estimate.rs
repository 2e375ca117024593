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
//! array), ADCs (`⌈array_cols / columns_per_adc⌉` per array, area by resolution), one
//! 1-bit DAC per row, one
//! S&H per column, shift-and-add units per ADC. Buffers, routers and the digital periphery
//! are not included.

use super::technology::TechnologyTable;
use crossbar::ConfigError;
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
    /// Resolution of those ADCs (their area depends on it).
    pub adc_bits: u32,
    /// Input cycles per MVM.
    pub cycles_per_mvm: u32,
    /// MVMs per inference.
    pub mvms: u64,
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

/// Area of the arrays and their converters, mm².
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AreaBreakdown {
    pub arrays_mm2: f64,
    pub adc_mm2: f64,
    pub dac_mm2: f64,
    pub sample_hold_mm2: f64,
    pub shift_add_mm2: f64,
}

impl AreaBreakdown {
    pub fn total_mm2(&self) -> f64 {
        self.arrays_mm2 + self.adc_mm2 + self.dac_mm2 + self.sample_hold_mm2 + self.shift_add_mm2
    }
}

impl MatrixLayout {
    fn check(&self, i: usize) -> Result<(), ConfigError> {
        for (field, v) in [
            ("array_rows", self.array_rows),
            ("array_cols", self.array_cols),
            ("converted_cols", self.converted_cols),
            ("columns_per_adc", self.columns_per_adc),
            ("adc_bits", self.adc_bits),
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

    fn adcs_per_array(&self) -> u64 {
        self.converted_cols.div_ceil(self.columns_per_adc) as u64
    }

    /// Duration of one MVM, ns.
    fn mvm_ns(&self, tech: &TechnologyTable) -> f64 {
        let read = tech.array.read_cycle_ns.value;
        let samples = self.columns_per_adc.min(self.converted_cols) as f64;
        let convert = samples / tech.adc.sample_rate_gsps.value;
        self.cycles_per_mvm as f64 * read.max(convert) + read.min(convert)
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

/// Area of the arrays and converters of `layouts`.
pub fn area(
    layouts: &[MatrixLayout],
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
        a.adc_mm2 += adcs * tech.adc.area_um2(m.adc_bits) / UM2_PER_MM2;
        a.dac_mm2 += arrays * m.array_rows as f64 * tech.dac.area_um2.value / UM2_PER_MM2;
        a.sample_hold_mm2 +=
            arrays * m.converted_cols as f64 * tech.sample_hold.area_um2.value / UM2_PER_MM2;
        a.shift_add_mm2 +=
            adcs * tech.shift_add.units_per_adc * tech.shift_add.area_um2.value / UM2_PER_MM2;
    }
    Ok(a)
}
