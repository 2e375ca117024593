//! Read noise: the fluctuation of a device's conductance from one read (one MVM) to the next.
//!
//! Unlike programming variation, read noise is drawn afresh on every read, so it is a σ per
//! device that the tile turns into column-current noise (Σ_i V_i²·σ_ij² for independent
//! devices). Models (σ in µS at conductance G in µS):
//!
//! | model | σ(G) | source |
//! |---|---|---|
//! | `relative` | σ_rel·G | about 1 % short-term read noise for ReRAM (aihwkit's note on its ReRAM models: `forward.w_noise` ≈ 0.01) |
//! | `absolute` | σ µS | — |
//! | `reram_cmo` | K·│log₁₀ G│·√ln((t + t_r)/(2·t_r)) | aihwkit `ReRamCMONoiseModel` (K = 0.0277316483, t_r = 1 µs) |
//!
//! Reading of the aihwkit ReRAM-CMO form (its source, `apply_drift_noise_to_conductance`):
//! G is the device conductance in µS after relaxation (so log₁₀ G is of the µS value, about
//! 1.7 at 50 µS); t is the time of inference in seconds since programming and t_r = 1 µs
//! the duration of one read. The square root of ln(f_max/f_min), with f_max = 1/(2·t_r) and
//! f_min = 1/(t + t_r), is the integrated power of 1/f noise over the band a read at time t
//! can see. aihwkit adds this deviation once, together with drift; crossbert uses it as the
//! per-read σ at the chip's `read_time_s`, which is what the contract's per-MVM read noise
//! needs. Absolute value of log₁₀ G because σ is a magnitude (only G < 1 µS is affected).

use super::programming::non_negative;
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Which read-noise model applies. Default: none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReadNoise {
    /// Reads return the programmed conductance.
    #[default]
    None,
    /// σ = `sigma`·G (0.01 = 1 %, the short-term ReRAM figure aihwkit suggests).
    Relative { sigma: f32 },
    /// σ = `sigma_us` µS for every device.
    Absolute { sigma_us: f32 },
    /// aihwkit ReRAM-CMO 1/f read noise, σ = K·|log₁₀ G|·√ln((t + t_r)/(2·t_r)), t = the
    /// chip's read time in s. Defaults: `k` 0.0277316483, `t_read_s` 1e-6 s (aihwkit).
    ReramCmo {
        #[serde(default = "cmo_k")]
        k: f32,
        #[serde(default = "cmo_t_read_s")]
        t_read_s: f64,
    },
}

/// aihwkit ReRAM-CMO read-noise coefficient K (dimensionless; σ in µS).
fn cmo_k() -> f32 {
    0.027_731_648
}

/// aihwkit ReRAM-CMO duration of one read, s.
fn cmo_t_read_s() -> f64 {
    1e-6
}

impl ReadNoise {
    /// The aihwkit ReRAM-CMO read noise with its published constants.
    pub fn reram_cmo() -> Self {
        ReadNoise::ReramCmo {
            k: cmo_k(),
            t_read_s: cmo_t_read_s(),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, ReadNoise::None)
    }

    /// σ in µS of one read of a device at `g_us`, `read_time_s` seconds after programming.
    /// A device at 0 µS carries no current and reads without noise.
    pub fn sigma_us(&self, g_us: f32, read_time_s: f64) -> f32 {
        match *self {
            ReadNoise::None => 0.0,
            ReadNoise::Relative { sigma } => sigma * g_us.abs(),
            ReadNoise::Absolute { sigma_us } => sigma_us,
            ReadNoise::ReramCmo { k, t_read_s } => {
                if g_us <= 0.0 {
                    return 0.0;
                }
                let band = ((read_time_s + t_read_s) / (2.0 * t_read_s)).ln().max(0.0);
                k * g_us.log10().abs() * band.sqrt() as f32
            }
        }
    }

    /// The earliest read time (s after programming) the model is defined for: the
    /// ReRAM-CMO 1/f band is empty before one read duration has passed.
    pub fn earliest_read_time_s(&self) -> f64 {
        match *self {
            ReadNoise::ReramCmo { t_read_s, .. } => t_read_s,
            _ => 0.0,
        }
    }

    /// Rejects negative σ or K and a non-positive read duration.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match *self {
            ReadNoise::None => Ok(()),
            ReadNoise::Relative { sigma } => non_negative(&format!("{key}.sigma"), sigma),
            ReadNoise::Absolute { sigma_us } => non_negative(&format!("{key}.sigma_us"), sigma_us),
            ReadNoise::ReramCmo { k, t_read_s } => {
                non_negative(&format!("{key}.k"), k)?;
                if t_read_s > 0.0 && t_read_s.is_finite() {
                    Ok(())
                } else {
                    Err(ConfigError::new(
                        format!("{key}.t_read_s"),
                        "a read duration > 0 s",
                        t_read_s,
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmo_sigma_matches_hand_evaluation() {
        // G = 50 µS, t = 1 day: 0.0277316·log10(50)·sqrt(ln((86400 + 1e-6)/2e-6)).
        let expected = 0.027_731_648_f64 * 50f64.log10() * (86_400f64 / 2e-6).ln().sqrt();
        let got = ReadNoise::reram_cmo().sigma_us(50.0, 86_400.0) as f64;
        assert!(
            (got - expected).abs() < 1e-5 * expected,
            "{got} vs {expected}"
        );
        // σ grows with t as sqrt(ln t) and vanishes at t = t_read.
        assert_eq!(ReadNoise::reram_cmo().sigma_us(50.0, 1e-6), 0.0);
        assert_eq!(ReadNoise::reram_cmo().sigma_us(0.0, 1.0), 0.0);
    }

    #[test]
    fn relative_and_absolute() {
        assert!((ReadNoise::Relative { sigma: 0.01 }.sigma_us(80.0, 1.0) - 0.8).abs() < 1e-6);
        assert_eq!(
            ReadNoise::Absolute { sigma_us: 0.3 }.sigma_us(80.0, 1.0),
            0.3
        );
    }

    #[test]
    fn validation_names_keys() {
        let bad = ReadNoise::Relative { sigma: -0.01 };
        assert_eq!(
            bad.validate("d.read_noise").unwrap_err().key,
            "d.read_noise.sigma"
        );
        let zero_read = ReadNoise::ReramCmo {
            k: 0.03,
            t_read_s: 0.0,
        };
        assert_eq!(
            zero_read.validate("d.read_noise").unwrap_err().key,
            "d.read_noise.t_read_s"
        );
    }
}
