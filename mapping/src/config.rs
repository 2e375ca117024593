//! What a mapping is asked to do: precisions, encoding, array geometry and converters.

use crossbar::ir_drop::IrDropConfig;
use crossbar::{AdcConfig, CellConfig, ConfigError, DacConfig};
use serde::{Deserialize, Serialize};

/// How much of the analog chain is emulated (DESIGN.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fidelity {
    /// The full chain: weights sliced over `cell.bits_per_cell` cells, inputs streamed
    /// through the DAC cycles, an ADC conversion on every slice × cycle × tile column.
    BitSliced,
    /// aihwkit's level: each weight's magnitude on one device (pair) programmed to the
    /// conductance G_min + (|w_q| / (2^(stored bits) − 1))·(G_max − G_min), an analog value
    /// for weights of up to 24 bits (`cell.bits_per_cell` is ignored), inputs applied in one
    /// bipolar DAC shot (needs `dac.dac_bits` ≥ `input_bits`), one ADC conversion of each
    /// tile column's full analog sum.
    OneShot,
}

impl Fidelity {
    /// The name used in configurations and results.
    pub fn name(self) -> &'static str {
        match self {
            Fidelity::BitSliced => "bit_sliced",
            Fidelity::OneShot => "one_shot",
        }
    }
}

/// How a signed weight is stored on non-negative conductances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// W⁺ = max(w, 0) and W⁻ = max(−w, 0) on two columns; the periphery subtracts the
    /// digitized I⁻ from I⁺. Both columns see the same rows, so the G_min offset current
    /// (G_min·ΣV) appears in both and cancels. Stores b−1 magnitude bits.
    Differential,
    /// w + 2^(b−1) (unsigned, b bits) on one column per output, plus per array one
    /// reference column per slice holding the slices of 2^(b−1). The periphery subtracts
    /// the reference column's digitized output, which removes both the encoding offset
    /// 2^(b−1)·Σx and the G_min offset current (every column of the array carries
    /// G_min·ΣV).
    Offset,
    /// w + 2^(b−1) on one column per output, like `offset`, but with no reference column:
    /// the periphery subtracts the nominal current of the offset, (G_min + ℓ_off,s·step)·Σx
    /// per slice s, computed from the input codes' sum Σx (one sum per token and array, one
    /// multiply per output slice). One device per weight, as in aihwkit's inference tiles
    /// (its `SingleDeviceConductanceConverter`) and ISAAC's biased encoding. Unlike a
    /// reference column it does not cancel a shift common to all devices (relaxation),
    /// since the subtracted current is nominal. aihwkit spreads the tile's [w_min, w_max]
    /// over [G_min, G_max]; here each output's ±max|w| is, as for every encoding.
    DigitalOffset,
}

impl Encoding {
    /// The name used in configurations and results.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Differential => "differential",
            Encoding::Offset => "offset",
            Encoding::DigitalOffset => "digital_offset",
        }
    }
}

/// How the two columns of a signed weight (W⁺ and W⁻, or a column and its reference
/// column) are read out.
///
/// With a finite on/off ratio every driven row adds G_min·V to every column, so a column
/// digitized on its own spends most of its ADC range on that common offset (at ReRAM-CMO's
/// 9–88 µS, G_min/G_max = 10 %: the offset of the driven rows is as large as a tenth of the
/// full-scale signal, and typical signals are far below full scale). Subtracting the pair
/// in the analog domain first leaves only the signed difference to digitize.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// Each column converted on its own (unipolar range from 0 for bit-serial drives);
    /// the periphery subtracts the two codes (ISAAC). One conversion and one S&H sample
    /// per column and cycle. Default.
    #[default]
    TwoConversions,
    /// A differential sample-and-hold takes I⁺ − I⁻ (charge-domain subtraction) and one
    /// bipolar conversion digitizes it; the ADC range is calibrated on the differences
    /// (or is ±rows·V·(G_max − G_min) at full scale). One S&H sample and one conversion per
    /// pair and cycle: half the conversions, ADCs and S&H units of `two_conversions`
    /// (priced as such: a differential S&H is counted as one S&H), and no digital
    /// subtraction.
    AnalogDifference,
}

impl Readout {
    /// The name used in configurations and results.
    pub fn name(self) -> &'static str {
        match self {
            Readout::TwoConversions => "two_conversions",
            Readout::AnalogDifference => "analog_difference",
        }
    }
}

/// Drift compensation: a digital gain per array (or per array column) that undoes the
/// uniform part of conductance drift, measured with a known reference input (aihwkit's
/// `GlobalDriftCompensation` and `PerColumnDriftCompensation`).
///
/// Right after programming, and again at read time, each array is read with the one-hot
/// reference inputs e_1 … e_rows (every row driven alone, the read-out tensor aihwkit
/// uses); each read gives every output feature's digitized column difference, the stored
/// weight of that row. With `ref` the mean magnitude of those outputs after programming
/// and `meas` the same at read time, the array's outputs are multiplied by α = ref/meas:
/// one α per array (`global`, the mean over all its outputs) or one per output feature of
/// the array (`per_column`). The reference reads are modelled as exact (ideal converters,
/// no per-read noise: a real chip averages repeated reference reads), so α reflects the
/// conductances alone; aihwkit reads them through its noisy periphery. The multiplies by α
/// (one per token, output feature and array) are digital events of every inference; the
/// reference reads, 2 × rows one-hot reads per array, happen once per chip instance and
/// read time and are reported apart ([`crate::MappingReport::drift_compensation_reads`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftCompensation {
    /// No compensation (default).
    #[default]
    None,
    /// One gain per array.
    Global,
    /// One gain per output feature of each array.
    PerColumn,
}

impl DriftCompensation {
    /// The name used in configurations and results.
    pub fn name(self) -> &'static str {
        match self {
            DriftCompensation::None => "none",
            DriftCompensation::Global => "global",
            DriftCompensation::PerColumn => "per_column",
        }
    }
}

/// Granularity of the weight quantization scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightScale {
    /// One scale for the whole matrix: max|W| / (2^(b−1) − 1).
    PerTensor,
    /// One scale per output feature (a column of Wᵀ): max_k |W_nk| / (2^(b−1) − 1).
    PerColumn,
    /// One scale per output feature and row tile: the max over that array's inputs only
    /// (aihwkit's `weight_scaling_columnwise` on tiles of `max_input_size` rows). Every
    /// array then uses its cells' full range; its outputs are scaled digitally before the
    /// row tiles are added (counted in `array_gain_multiplies`).
    PerArrayColumn,
}

/// Where the input quantization scale comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputScale {
    /// Per token at run time: max_k |x_tk| / (2^(n−1) − 1) (a digital max over the token).
    Dynamic,
    /// One scale fixed by `MappedMatrix::calibrate` from sample data: max |x| / (2^(n−1) − 1).
    Calibrated,
}

/// A mapping of one matrix onto crossbar arrays. Defaults are the `isaac-32nm` point of
/// DESIGN.md: ISAAC's (ISCA 2016) 1-bit DACs, 2-bit cells, 128×128 arrays and 8-bit ADCs,
/// with 8-bit inputs and weights (ISAAC itself uses 16-bit fixed point).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MappingConfig {
    /// Emulation level. Default `bit_sliced`.
    pub fidelity: Fidelity,
    /// Signed weight precision in bits, 2–24 (integers in ±(2^(b−1) − 1)). Default 8
    /// (8-bit quantized BERT, as in the isaac-32nm preset).
    pub weight_bits: u8,
    /// Weight scale granularity. Default `per_column`.
    pub weight_scale: WeightScale,
    /// Signed encoding. Default `differential`.
    pub encoding: Encoding,
    /// Signed input precision in bits, 2–24. Default 8 (the isaac-32nm preset; ISAAC
    /// streams 16-bit inputs).
    pub input_bits: u8,
    /// Input scale source. Default `dynamic`.
    pub input_scale: InputScale,
    /// Rows (word lines) per array, 1–4096. Default 128 (ISAAC, PUMA).
    pub array_rows: usize,
    /// Columns (bit lines) per array, 1–4096. Default 128 (ISAAC, PUMA).
    pub array_cols: usize,
    /// Rows per array kept free for fault-aware remapping. Default 0.
    pub spare_rows: usize,
    /// Columns per array kept free for fault-aware remapping. Default 0.
    pub spare_cols: usize,
    /// Place rows and columns so that stuck cells hurt least, using the spares (see
    /// `remap`). Default false (identity placement, spares unused).
    pub remap_faults: bool,
    /// Cell precision and conductance range. Default 2 bits/cell (ISAAC, PUMA),
    /// 9.0–88.2 µS (aihwkit ReRAM-CMO device range).
    pub cell: CellConfig,
    /// Row DACs. Default 1 bit at 0.5 V.
    pub dac: DacConfig,
    /// Column ADCs. Default 8 bits, full-scale range, 128 columns per ADC.
    pub adc: AdcConfig,
    /// Wire resistance of the arrays (a static effective conductance per cell, applied at
    /// programming; see `crossbar::ir_drop`). Default off.
    pub ir_drop: IrDropConfig,
    /// Digital drift compensation (see [`DriftCompensation`]). Default `none`.
    pub drift_compensation: DriftCompensation,
    /// Readout of a column pair (see [`Readout`]). Default `two_conversions` (ISAAC).
    pub readout: Readout,
}

impl Default for MappingConfig {
    fn default() -> Self {
        Self {
            fidelity: Fidelity::BitSliced,
            weight_bits: 8,
            weight_scale: WeightScale::PerColumn,
            encoding: Encoding::Differential,
            input_bits: 8,
            input_scale: InputScale::Dynamic,
            array_rows: 128,
            array_cols: 128,
            spare_rows: 0,
            spare_cols: 0,
            remap_faults: false,
            cell: CellConfig {
                bits_per_cell: 2,
                g_min_us: 9.0,
                g_max_us: 88.2,
            },
            dac: DacConfig::default(),
            adc: AdcConfig::default(),
            ir_drop: IrDropConfig::default(),
            drift_compensation: DriftCompensation::None,
            readout: Readout::TwoConversions,
        }
    }
}

impl MappingConfig {
    /// Magnitude bits a weight occupies: b−1 (differential) or b (offset).
    pub fn stored_bits(&self) -> u8 {
        match self.encoding {
            Encoding::Differential => self.weight_bits - 1,
            Encoding::Offset | Encoding::DigitalOffset => self.weight_bits,
        }
    }

    /// Bits held by one cell: `cell.bits_per_cell` when bit-sliced, all stored bits at
    /// one-shot.
    pub fn bits_per_slice(&self) -> u8 {
        match self.fidelity {
            Fidelity::BitSliced => self.cell.bits_per_cell,
            Fidelity::OneShot => self.stored_bits(),
        }
    }

    /// Cells (slices) per stored weight magnitude.
    pub fn slices(&self) -> usize {
        self.stored_bits().div_ceil(self.bits_per_slice()) as usize
    }

    /// Physical columns one output feature occupies in an array (reference columns of the
    /// offset encoding not included).
    pub fn columns_per_output(&self) -> usize {
        match self.encoding {
            Encoding::Differential => 2 * self.slices(),
            Encoding::Offset | Encoding::DigitalOffset => self.slices(),
        }
    }

    /// Reference columns per array (offset encoding: one per slice).
    pub fn reference_columns(&self) -> usize {
        match self.encoding {
            Encoding::Differential | Encoding::DigitalOffset => 0,
            Encoding::Offset => self.slices(),
        }
    }

    /// Every value possible and consistent; errors name `key`.field.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let k = |field: &str| format!("{key}.{field}");
        bits_in(&k("weight_bits"), self.weight_bits, 2, 24)?;
        bits_in(&k("input_bits"), self.input_bits, 2, 24)?;
        self.cell.validate(&k("cell"))?;
        self.dac.validate(&k("dac"))?;
        self.adc.validate(&k("adc"))?;
        self.ir_drop.validate(&k("ir_drop"))?;
        for (field, side) in [
            ("array_rows", self.array_rows),
            ("array_cols", self.array_cols),
        ] {
            if !(1..=LARGEST_ARRAY_SIDE).contains(&side) {
                return Err(ConfigError::new(
                    k(field),
                    format!("1 to {LARGEST_ARRAY_SIDE}"),
                    side,
                ));
            }
        }
        if self.spare_rows >= self.array_rows {
            return Err(ConfigError::new(
                k("spare_rows"),
                format!("fewer than array_rows ({})", self.array_rows),
                self.spare_rows,
            ));
        }
        let needed = self.columns_per_output() + self.reference_columns() + self.spare_cols;
        if self.array_cols < needed {
            return Err(ConfigError::new(
                k("array_cols"),
                format!("at least {needed} (columns of one output, reference columns and spares)"),
                self.array_cols,
            ));
        }
        let one_shot_dac = self.dac.dac_bits >= self.input_bits;
        if self.fidelity == Fidelity::OneShot && !one_shot_dac {
            return Err(ConfigError::new(
                k("dac.dac_bits"),
                format!("≥ input_bits ({}) for one_shot fidelity", self.input_bits),
                self.dac.dac_bits,
            ));
        }
        if self.readout == Readout::AnalogDifference && self.encoding == Encoding::DigitalOffset {
            return Err(ConfigError::new(
                k("readout"),
                "\"two_conversions\" with encoding = \"digital_offset\" (it has no second \
                 column to subtract in analog)",
                "analog_difference",
            ));
        }
        self.adc.validate_for_drive(
            &k("adc"),
            one_shot_dac || self.readout == Readout::AnalogDifference,
        )
    }

    /// Converted outputs of an array with `cols` active columns holding `outputs` output
    /// features: every column, or one difference per (output, slice) pair.
    pub fn converted_columns(&self, cols: usize, outputs: usize) -> usize {
        match self.readout {
            Readout::TwoConversions => cols,
            Readout::AnalogDifference => outputs * self.slices(),
        }
    }
}

/// Largest array side (rows or columns). Fabricated ReRAM arrays reach 1024 × 1024; the
/// bound guards against a typo allocating gigabytes (each array is held whole, 4 bytes per
/// cell: 4096 × 4096 is 64 MiB).
pub const LARGEST_ARRAY_SIDE: usize = 4096;

fn bits_in(key: &str, bits: u8, lo: u8, hi: u8) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&bits) {
        Ok(())
    } else {
        Err(ConfigError::new(key, format!("{lo} to {hi} bits"), bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(f: impl FnOnce(&mut MappingConfig)) -> String {
        let mut c = MappingConfig::default();
        f(&mut c);
        c.validate("hw.mapping").unwrap_err().key
    }

    #[test]
    fn default_is_valid_and_isaac_shaped() {
        let c = MappingConfig::default();
        c.validate("m").unwrap();
        assert_eq!(c.slices(), 4); // 7 magnitude bits on 2-bit cells
        assert_eq!(c.columns_per_output(), 8);
    }

    #[test]
    fn validation_errors_name_the_key() {
        assert_eq!(err(|c| c.weight_bits = 0), "hw.mapping.weight_bits");
        assert_eq!(err(|c| c.input_bits = 1), "hw.mapping.input_bits");
        assert_eq!(err(|c| c.array_rows = 0), "hw.mapping.array_rows");
        assert_eq!(err(|c| c.array_cols = 0), "hw.mapping.array_cols");
        // A typo in the size is an error, not a 51 GB allocation.
        assert_eq!(err(|c| c.array_rows = 100_000_000), "hw.mapping.array_rows");
        assert_eq!(
            err(|c| c.array_cols = LARGEST_ARRAY_SIDE + 1),
            "hw.mapping.array_cols"
        );
        assert_eq!(err(|c| c.cell.g_max_us = 1e30), "hw.mapping.cell.g_max_us");
        assert_eq!(err(|c| c.spare_rows = 128), "hw.mapping.spare_rows");
        assert_eq!(
            err(|c| c.cell.bits_per_cell = 0),
            "hw.mapping.cell.bits_per_cell"
        );
        assert_eq!(err(|c| c.cell.g_min_us = 100.0), "hw.mapping.cell.g_min_us");
        assert_eq!(err(|c| c.adc.adc_bits = 0), "hw.mapping.adc.adc_bits");
        assert_eq!(err(|c| c.dac.dac_bits = 0), "hw.mapping.dac.dac_bits");
        assert_eq!(
            err(|c| c.fidelity = Fidelity::OneShot),
            "hw.mapping.dac.dac_bits"
        );
        // One-shot weights are analog conductances: 24 bits are fine, 25 are not.
        let mut one_shot = MappingConfig {
            fidelity: Fidelity::OneShot,
            weight_bits: 24,
            input_bits: 24,
            ..Default::default()
        };
        one_shot.dac.dac_bits = 24;
        one_shot.validate("m").unwrap();
        one_shot.weight_bits = 25;
        assert_eq!(
            one_shot.validate("hw.mapping").unwrap_err().key,
            "hw.mapping.weight_bits"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = serde_json::from_str::<MappingConfig>(r#"{"weight_bitz": 4}"#).unwrap_err();
        assert!(e.to_string().contains("weight_bitz"), "{e}");
        let c: MappingConfig =
            serde_json::from_str(r#"{"weight_bits": 4, "adc": {"adc_bits": 6}}"#).unwrap();
        assert_eq!((c.weight_bits, c.adc.adc_bits, c.array_rows), (4, 6, 128));
    }
}
