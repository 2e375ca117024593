//! Drift and relaxation: how a programmed conductance moves between programming and the read
//! at time t (seconds after programming, the chip's `read_time_s`).
//!
//! Each device gets one draw z ~ N(0, 1) from the [`Purpose::Drift`](crate::Purpose::Drift)
//! stream, once per chip instance. Two laws:
//!
//! * **Power law** (PCM-like): G(t) = G·(t/t₀)^(−ν) for t > t₀, with a per-device exponent
//!   ν = μ_ν + σ_ν·z. Before t₀ (the reference read after programming) G is unchanged, as in
//!   aihwkit's PCM model. aihwkit PCM: t₀ = 20 s, μ_ν 0.049–0.1 and σ_ν 0.008–0.045 depending
//!   on the conductance state (crossbert takes one μ_ν and σ_ν for all states). ν is
//!   Gaussian and not truncated, so a few devices with ν < 0 grow instead of decay.
//! * **ReRAM relaxation** (aihwkit `ReRamCMONoiseModel`, CMO/HfOx devices): the conductance
//!   distribution's mean shifts by m·ln t and spreads by σ(t) = s₁·ln t + s₀, independent of
//!   the level: G(t) = G + m·ln t + σ(t)·z, with m = −0.0890 µS, s₁ = 0.04201 µS,
//!   s₀ = 0.41183 µS. t is in seconds (aihwkit: "Times in seconds") and ln t = 0 at t = 1 s,
//!   the fit's origin, so the law is defined for t ≥ 1 s only (earlier reads are a
//!   configuration error). After one day: shift −1.01 µS, σ 0.89 µS.
//!
//! Compensating drift (a global output scale measured through the tile) happens downstream,
//! not here. The relaxation can push a device below 0 µS; `program_array` clamps at 0.

use super::programming::{finite, non_negative};
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Which drift law applies. Default: none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum Drift {
    /// Conductances stay where programming left them.
    #[default]
    None,
    /// G(t) = G·(t/t0_s)^(−ν), ν ~ N(nu_mean, nu_sigma²) per device; t0_s defaults to 20 s
    /// (aihwkit PCM).
    PowerLaw {
        #[serde(default = "pcm_t0_s")]
        t0_s: f64,
        nu_mean: f32,
        nu_sigma: f32,
    },
    /// G(t) = G + mean_slope_us·ln t + (sigma_slope_us·ln t + sigma_intercept_us)·z, t ≥ 1 s.
    /// Defaults: the aihwkit ReRAM-CMO fit (−0.0890, 0.04201, 0.41183 µS).
    ReramRelaxation {
        #[serde(default = "cmo_mean_slope_us")]
        mean_slope_us: f32,
        #[serde(default = "cmo_sigma_slope_us")]
        sigma_slope_us: f32,
        #[serde(default = "cmo_sigma_intercept_us")]
        sigma_intercept_us: f32,
    },
}

/// aihwkit PCM drift reference time t₀, s.
fn pcm_t0_s() -> f64 {
    20.0
}

/// aihwkit ReRAM-CMO relaxation: mean shift per unit ln t, µS.
fn cmo_mean_slope_us() -> f32 {
    -0.089_002_06
}

/// aihwkit ReRAM-CMO relaxation: σ growth per unit ln t, µS.
fn cmo_sigma_slope_us() -> f32 {
    0.042_011_37
}

/// aihwkit ReRAM-CMO relaxation: σ at t = 1 s, µS.
fn cmo_sigma_intercept_us() -> f32 {
    0.411_833_4
}

/// A drift law evaluated at one read time: what remains per device is one multiply-add.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum DriftAt {
    /// No change.
    Identity,
    /// G·exp(−ν·ln(t/t₀)) with ν = nu_mean + nu_sigma·z.
    PowerLaw {
        log_ratio: f32,
        nu_mean: f32,
        nu_sigma: f32,
    },
    /// G + shift + σ·z.
    Relaxation { shift_us: f32, sigma_us: f32 },
}

impl DriftAt {
    #[inline]
    pub(crate) fn apply(&self, g_us: f32, z: f32) -> f32 {
        match *self {
            DriftAt::Identity => g_us,
            DriftAt::PowerLaw {
                log_ratio,
                nu_mean,
                nu_sigma,
            } => g_us * (-(nu_mean + nu_sigma * z) * log_ratio).exp(),
            DriftAt::Relaxation { shift_us, sigma_us } => g_us + shift_us + sigma_us * z,
        }
    }
}

impl Drift {
    /// The aihwkit ReRAM-CMO relaxation with its published coefficients.
    pub fn reram_cmo() -> Self {
        Drift::ReramRelaxation {
            mean_slope_us: cmo_mean_slope_us(),
            sigma_slope_us: cmo_sigma_slope_us(),
            sigma_intercept_us: cmo_sigma_intercept_us(),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Drift::None)
    }

    /// The law at read time `t_s` (seconds after programming).
    pub(crate) fn at(&self, t_s: f64) -> DriftAt {
        match *self {
            Drift::None => DriftAt::Identity,
            Drift::PowerLaw { t0_s, .. } if t_s <= t0_s => DriftAt::Identity,
            Drift::PowerLaw {
                t0_s,
                nu_mean,
                nu_sigma,
            } => DriftAt::PowerLaw {
                log_ratio: (t_s / t0_s).ln() as f32,
                nu_mean,
                nu_sigma,
            },
            Drift::ReramRelaxation {
                mean_slope_us,
                sigma_slope_us,
                sigma_intercept_us,
            } => {
                let ln_t = t_s.ln() as f32;
                DriftAt::Relaxation {
                    shift_us: mean_slope_us * ln_t,
                    sigma_us: sigma_slope_us * ln_t + sigma_intercept_us,
                }
            }
        }
    }

    /// The earliest read time (s) the law is defined for: 1 s for the relaxation fit.
    pub fn earliest_read_time_s(&self) -> f64 {
        match self {
            Drift::ReramRelaxation { .. } => 1.0,
            _ => 0.0,
        }
    }

    /// Rejects t₀ ≤ 0, negative σ_ν or relaxation σ coefficients, non-finite values.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match *self {
            Drift::None => Ok(()),
            Drift::PowerLaw {
                t0_s,
                nu_mean,
                nu_sigma,
            } => {
                if !(t0_s > 0.0 && t0_s.is_finite()) {
                    return Err(ConfigError::new(
                        format!("{key}.t0_s"),
                        "a reference time > 0 s",
                        t0_s,
                    ));
                }
                finite(&format!("{key}.nu_mean"), nu_mean)?;
                non_negative(&format!("{key}.nu_sigma"), nu_sigma)
            }
            Drift::ReramRelaxation {
                mean_slope_us,
                sigma_slope_us,
                sigma_intercept_us,
            } => {
                finite(&format!("{key}.mean_slope_us"), mean_slope_us)?;
                non_negative(&format!("{key}.sigma_slope_us"), sigma_slope_us)?;
                non_negative(&format!("{key}.sigma_intercept_us"), sigma_intercept_us)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxation_after_one_day_matches_the_fit() {
        // ln(86400) = 11.3667: shift −1.0117 µS, σ 0.8894 µS.
        match Drift::reram_cmo().at(86_400.0) {
            DriftAt::Relaxation { shift_us, sigma_us } => {
                assert!((shift_us + 1.01166).abs() < 1e-4, "{shift_us}");
                assert!((sigma_us - 0.88936).abs() < 1e-4, "{sigma_us}");
            }
            other => panic!("expected relaxation, got {other:?}"),
        }
    }

    #[test]
    fn power_law_waits_for_t0() {
        let pcm = Drift::PowerLaw {
            t0_s: 20.0,
            nu_mean: 0.05,
            nu_sigma: 0.0,
        };
        assert_eq!(pcm.at(10.0), DriftAt::Identity);
        // (2000/20)^(−0.05) = 100^(−0.05) = 0.79433.
        assert!((pcm.at(2000.0).apply(10.0, 0.0) - 7.9433).abs() < 1e-3);
    }

    #[test]
    fn validation_names_keys() {
        let bad = Drift::PowerLaw {
            t0_s: 0.0,
            nu_mean: 0.05,
            nu_sigma: 0.01,
        };
        assert_eq!(bad.validate("d.drift").unwrap_err().key, "d.drift.t0_s");
        let neg = Drift::PowerLaw {
            t0_s: 20.0,
            nu_mean: 0.05,
            nu_sigma: -0.01,
        };
        assert_eq!(neg.validate("d.drift").unwrap_err().key, "d.drift.nu_sigma");
    }
}
