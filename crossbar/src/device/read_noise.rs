//! Per-read noise: the fast fluctuation of a device's conductance from one read to the next
//! (thermal and shot noise of the read current, the fast part of random telegraph noise).
//!
//! Unlike the state at read time (programming variation, drift, the accumulated 1/f
//! deviation, all drawn once per chip instance), per-read noise is drawn afresh for every
//! read, so it is a σ per device that the tile turns into column-current noise. Models (σ
//! in µS at conductance G in µS):
//!
//! | model | σ(G) | source |
//! |---|---|---|
//! | `relative` | σ_rel·G | about 1 % short-term read noise for ReRAM (aihwkit's note on its ReRAM models: `forward.w_noise` ≈ 0.01) |
//! | `absolute` | σ µS | aihwkit `forward.w_noise` with `w_noise_type = additive_constant` |
//!
//! ## Correlation across the cycles of one MVM
//!
//! A bit-serial MVM reads the same devices once per input cycle (8 reads of 100 ns for
//! 8-bit inputs on 1-bit DACs). Whether those reads see the same fluctuation is a question
//! of its time scale, stated by `correlation`:
//!
//! * `per_mvm` (default): one draw per device per MVM, shared by all its cycles. Right for
//!   fluctuations slower than an MVM (≈ 1 µs): the low-frequency end of 1/f noise and
//!   random telegraph noise, which dominate the read noise of filamentary ReRAM, and what
//!   aihwkit's MVM-to-MVM `w_noise` means. The shift-and-add then weights the common
//!   deviation by the input code, as for a one-shot read.
//! * `per_cycle`: an independent draw on every cycle. Right for white (thermal, shot)
//!   noise, whose correlation time is far below a 100 ns cycle. The shift-and-add weights
//!   each cycle's independent draw by its own significance.
//!
//! At one-shot fidelity (one cycle) both are the same.

use super::programming::non_negative;
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Whether the cycles of one bit-serial MVM share a per-read draw (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correlation {
    /// One draw per device per MVM, shared by its cycles (slow fluctuations).
    #[default]
    PerMvm,
    /// An independent draw per device per cycle (white noise).
    PerCycle,
}

/// Which per-read noise model applies. Default: none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReadNoise {
    /// Reads return the conductance the device has at read time.
    #[default]
    None,
    /// σ = `sigma`·G (0.01 = 1 %, the short-term ReRAM figure aihwkit suggests).
    Relative {
        sigma: f32,
        #[serde(default)]
        correlation: Correlation,
    },
    /// σ = `sigma_us` µS for every device.
    Absolute {
        sigma_us: f32,
        #[serde(default)]
        correlation: Correlation,
    },
}

impl ReadNoise {
    pub fn is_none(&self) -> bool {
        matches!(self, ReadNoise::None)
    }

    /// σ in µS of one read of a device at `g_us`. A device at 0 µS carries no current.
    pub fn sigma_us(&self, g_us: f32) -> f32 {
        match *self {
            ReadNoise::None => 0.0,
            ReadNoise::Relative { sigma, .. } => sigma * g_us.abs(),
            ReadNoise::Absolute { sigma_us, .. } => sigma_us,
        }
    }

    /// Whether the cycles of one MVM share a draw (`PerMvm` when read noise is off).
    pub fn correlation(&self) -> Correlation {
        match *self {
            ReadNoise::None => Correlation::PerMvm,
            ReadNoise::Relative { correlation, .. } | ReadNoise::Absolute { correlation, .. } => {
                correlation
            }
        }
    }

    /// Rejects negative or non-finite σ.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match *self {
            ReadNoise::None => Ok(()),
            ReadNoise::Relative { sigma, .. } => non_negative(&format!("{key}.sigma"), sigma),
            ReadNoise::Absolute { sigma_us, .. } => {
                non_negative(&format!("{key}.sigma_us"), sigma_us)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute() {
        let rel = ReadNoise::Relative {
            sigma: 0.01,
            correlation: Correlation::PerCycle,
        };
        assert!((rel.sigma_us(80.0) - 0.8).abs() < 1e-6);
        assert_eq!(rel.correlation(), Correlation::PerCycle);
        let abs: ReadNoise = toml::from_str("model = \"absolute\"\nsigma_us = 0.3").unwrap();
        assert_eq!(abs.sigma_us(80.0), 0.3);
        assert_eq!(
            abs.correlation(),
            Correlation::PerMvm,
            "per_mvm is the default"
        );
    }

    #[test]
    fn validation_names_keys() {
        let bad = ReadNoise::Relative {
            sigma: -0.01,
            correlation: Correlation::PerMvm,
        };
        assert_eq!(
            bad.validate("d.read_noise").unwrap_err().key,
            "d.read_noise.sigma"
        );
    }
}
