//! Analog-to-digital converters that read the column currents of a tile.
//!
//! Each column current of each input cycle is converted once (after a sample-and-hold
//! captured it). A `adc_bits`-bit ADC covers a current range and clips outside it:
//!
//! * unipolar range [0, I_max] (bit-serial drive, all currents ≥ 0): codes 0..=2^b − 1,
//!   LSB = I_max / (2^b − 1);
//! * bipolar range [−I_max, I_max] (one-shot bipolar drive): a mid-tread converter with
//!   codes −(2^(b−1) − 1)..=2^(b−1) − 1, so zero current is exactly representable,
//!   LSB = I_max / (2^(b−1) − 1). Needs b ≥ 2.
//!
//! The range is either the **full scale** a tile can produce (every active row at full
//! read voltage on cells at G_max), **calibrated** per tile from sample data (the largest
//! current magnitude seen), or the calibrated **span** [smallest, largest current seen]: an
//! offset-aware range whose low reference sits at the smallest current instead of 0, so
//! that the levels are not spent on the G_min·V current every driven cell adds whatever
//! its weight (a converter with an adjustable low reference voltage; no extra events). `columns_per_adc` says how many columns time-share one ADC:
//! it changes latency and area, never the converted values. An **ideal** ADC passes the
//! current through unquantized and unclipped.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Where an ADC's range comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdcRange {
    /// The largest current the tile can produce: active rows × full read voltage × G_max.
    FullScale,
    /// The largest current magnitude observed per tile on calibration data.
    Calibrated,
    /// From the smallest to the largest current observed per tile on calibration data,
    /// with 2^b − 1 steps (unipolar codes, whatever the drive's polarity).
    CalibratedSpan,
}

impl AdcRange {
    /// Whether the range is measured on calibration data.
    pub fn is_calibrated(self) -> bool {
        matches!(self, AdcRange::Calibrated | AdcRange::CalibratedSpan)
    }
}

/// ADC settings. Defaults: 8 bits, full-scale range, one ADC per 128 columns (ISAAC,
/// ISCA 2016: 8-bit 1.28 GS/s ADC shared by the 128 columns of an array), no noise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdcConfig {
    /// Resolution in bits (1–24; bipolar one-shot reads need ≥ 2). Default 8 (ISAAC).
    pub adc_bits: u8,
    /// Ideal converter: no quantization and no clipping (`adc_bits` is then ignored).
    /// Default false.
    pub ideal: bool,
    /// Range source. Default `full_scale`.
    pub range: AdcRange,
    /// Columns time-sharing one ADC (latency/area bookkeeping only). Default 128 (ISAAC).
    pub columns_per_adc: u32,
    /// Input-referred noise: σ of a Gaussian added to the current of every conversion,
    /// as a fraction of the range's magnitude I_max (of its width for `calibrated_span`;
    /// dimensionless). Default 0. aihwkit's
    /// `forward.out_noise` is the same idea relative to its output bound (0.04 in its BERT
    /// example hardware); thermal noise of the sense amplifier and comparator.
    pub noise: f32,
}

impl Default for AdcConfig {
    fn default() -> Self {
        Self {
            adc_bits: 8,
            ideal: false,
            range: AdcRange::FullScale,
            columns_per_adc: 128,
            noise: 0.0,
        }
    }
}

impl AdcConfig {
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if !self.ideal && !(1..=24).contains(&self.adc_bits) {
            return Err(ConfigError::new(
                format!("{key}.adc_bits"),
                "1 to 24 (or ideal = true)",
                self.adc_bits,
            ));
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) || (self.ideal && self.noise > 0.0) {
            return Err(ConfigError::new(
                format!("{key}.noise"),
                "a finite fraction of the range >= 0 (0 for an ideal ADC)",
                self.noise,
            ));
        }
        if self.columns_per_adc == 0 {
            return Err(ConfigError::new(
                format!("{key}.columns_per_adc"),
                "at least 1 column per ADC",
                0,
            ));
        }
        Ok(())
    }

    /// Checks that this ADC can read the currents of a drive: bipolar (one-shot) currents
    /// need at least 2 bits for a mid-tread converter.
    pub fn validate_for_drive(&self, key: &str, bipolar: bool) -> Result<(), ConfigError> {
        if bipolar && !self.ideal && self.adc_bits < 2 {
            return Err(ConfigError::new(
                format!("{key}.adc_bits"),
                "at least 2 for the bipolar currents of a one-shot DAC",
                self.adc_bits,
            ));
        }
        Ok(())
    }

    /// The resolution under which conversions are counted: 0 for an ideal ADC.
    pub fn counted_bits(&self) -> u8 {
        if self.ideal {
            0
        } else {
            self.adc_bits
        }
    }

    /// The converter for one tile whose range is ±`i_max_ua` (µA; [0, i_max] if unipolar).
    /// A bipolar converter needs `validate_for_drive` to have passed (≥ 2 bits).
    pub fn converter(&self, i_max_ua: f32, bipolar: bool) -> Adc {
        if self.ideal {
            return Adc::Ideal;
        }
        let i_max = i_max_ua.max(0.0);
        debug_assert!(!bipolar || self.adc_bits >= 2, "bipolar ADC with < 2 bits");
        if bipolar {
            let half = ((1u32 << (self.adc_bits - 1)) - 1) as f32;
            self.quantizing(-i_max, i_max, 2.0 * half, self.noise * i_max)
        } else {
            self.quantizing(0.0, i_max, self.unipolar_codes(), self.noise * i_max)
        }
    }

    /// The converter of a calibrated span [lo, hi] (µA): 2^b − 1 steps from lo, noise σ a
    /// fraction `noise` of hi − lo.
    pub fn converter_span(&self, lo_ua: f32, hi_ua: f32) -> Adc {
        if self.ideal {
            return Adc::Ideal;
        }
        let width = (hi_ua - lo_ua).max(0.0);
        self.quantizing(
            lo_ua,
            lo_ua + width,
            self.unipolar_codes(),
            self.noise * width,
        )
    }

    fn unipolar_codes(&self) -> f32 {
        ((1u32 << self.adc_bits) - 1) as f32
    }

    fn quantizing(&self, lo: f32, hi: f32, max_code: f32, noise_ua: f32) -> Adc {
        let lsb = (hi - lo) / max_code;
        Adc::Quantizing {
            noise_ua,
            lo,
            lsb,
            // A zero range (a tile that never conducts) converts everything to code 0.
            inv_lsb: if lsb > 0.0 { 1.0 / lsb } else { 0.0 },
            max_code,
        }
    }
}

/// A converter resolved for one tile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Adc {
    Ideal,
    Quantizing {
        lo: f32,
        lsb: f32,
        inv_lsb: f32,
        max_code: f32,
        /// σ of the input-referred noise, µA (0 = noiseless).
        noise_ua: f32,
    },
}

impl Adc {
    /// σ of the input-referred noise of every conversion, µA (0 for a noiseless ADC).
    pub fn noise_ua(&self) -> f32 {
        match *self {
            Adc::Ideal => 0.0,
            Adc::Quantizing { noise_ua, .. } => noise_ua,
        }
    }

    /// Converts a column current (µA) and returns the current its code stands for.
    #[inline]
    pub fn convert(&self, i_ua: f32) -> f32 {
        match *self {
            Adc::Ideal => i_ua,
            Adc::Quantizing {
                lo,
                lsb,
                inv_lsb,
                max_code,
                ..
            } => {
                // f32::max maps NaN to 0, so x is a number in [0, max_code].
                let x = ((i_ua - lo) * inv_lsb).max(0.0).min(max_code);
                // x ≥ 0, so truncating x + 0.5 rounds to the nearest code.
                // SAFETY: x + 0.5 is finite and below 2^24 + 1, inside i32's range; the
                // unchecked conversion vectorizes where `as` (saturating) does not.
                let code = unsafe { (x + 0.5).to_int_unchecked::<i32>() } as f32;
                lo + code * lsb
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adc(bits: u8) -> AdcConfig {
        AdcConfig {
            adc_bits: bits,
            ..Default::default()
        }
    }

    #[test]
    fn unipolar_rounds_to_nearest_code_and_clips() {
        // 2 bits over [0, 3] µA: codes at 0, 1, 2, 3 µA.
        let a = adc(2).converter(3.0, false);
        assert_eq!(a.convert(1.4), 1.0);
        assert_eq!(a.convert(1.6), 2.0);
        assert_eq!(a.convert(-0.7), 0.0);
        assert_eq!(a.convert(9.0), 3.0);
    }

    #[test]
    fn bipolar_is_mid_tread() {
        // 3 bits over ±3 µA: codes −3..=3 at 1 µA steps, zero exact.
        let a = adc(3).converter(3.0, true);
        assert_eq!(a.convert(0.2), 0.0);
        assert_eq!(a.convert(-1.7), -2.0);
        assert_eq!(a.convert(-8.0), -3.0);
        assert_eq!(a.convert(2.6), 3.0);
    }

    #[test]
    fn error_is_at_most_half_an_lsb_inside_the_range() {
        let a = adc(8).converter(10.0, false);
        let lsb = 10.0 / 255.0;
        for k in 0..=1000 {
            let i = k as f32 * 0.01;
            assert!((a.convert(i) - i).abs() <= 0.5 * lsb + 1e-6, "at {i} µA");
        }
    }

    #[test]
    fn zero_range_and_ideal() {
        assert_eq!(adc(8).converter(0.0, false).convert(5.0), 0.0);
        let ideal = AdcConfig {
            ideal: true,
            ..Default::default()
        };
        assert_eq!(ideal.converter(1.0, false).convert(7.25), 7.25);
        assert_eq!(ideal.counted_bits(), 0);
    }

    #[test]
    fn validation_names_the_key() {
        assert_eq!(
            adc(0).validate("hw.adc").unwrap_err().key,
            "hw.adc.adc_bits"
        );
        let e = AdcConfig {
            columns_per_adc: 0,
            ..Default::default()
        }
        .validate("hw.adc")
        .unwrap_err();
        assert_eq!(e.key, "hw.adc.columns_per_adc");
        for (noise, ideal) in [(-0.01, false), (f32::NAN, false), (0.02, true)] {
            let e = AdcConfig {
                noise,
                ideal,
                ..Default::default()
            };
            assert_eq!(e.validate("hw.adc").unwrap_err().key, "hw.adc.noise");
        }
    }
}
