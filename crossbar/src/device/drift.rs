//! Drift and relaxation: how a programmed conductance moves between programming and the read
//! at time t (seconds after programming, the chip's `read_time_s`).
//!
//! Each device gets one draw z ~ N(0, 1) from the [`Purpose::Drift`](crate::Purpose::Drift)
//! stream, once per chip instance. Three laws:
//!
//! * **PCM** (`pcm`, aihwkit `PCMLikeNoiseModel`, Nandakumar et al., ICECS 2019):
//!   G(t) = G_p·((t + t₀)/t₀)^(−ν) with t₀ = 20 s and a per-device exponent
//!   ν = │μ_ν(g) + σ_ν(g)·z│ whose mean and spread depend on the target conductance
//!   relative to the cell's largest, g = G_target/G_max (floored at 10⁻⁷):
//!   μ_ν = clamp(−0.0155·ln g + 0.0244, 0.049, 0.1), σ_ν = clamp(−0.0125·ln g − 0.0059,
//!   0.008, 0.045). As in aihwkit, time runs from t₀ before the end of programming (its
//!   t = t_inference + t₀), so drift has already begun at the first read.
//! * **Power law** (`power_law`, a generic PCM-like form): G(t) = G·(t/t₀)^(−ν) for t > t₀
//!   and unchanged before, with one Gaussian ν = μ_ν + σ_ν·z for every state, not
//!   truncated (a few devices with ν < 0 grow). It differs from aihwkit's PCM in the time
//!   origin (t/t₀, not (t + t₀)/t₀), in ν not depending on G and in ν not being folded at 0;
//!   use `pcm` to reproduce aihwkit.
//! * **ReRAM relaxation** (aihwkit `ReRamCMONoiseModel`, CMO/HfOx devices): the conductance
//!   distribution's mean shifts by m·ln t and spreads by σ(t) = s₁·ln t + s₀, independent of
//!   the level: G(t) = G + m·ln t + σ(t)·z, with m = −0.0890 µS, s₁ = 0.04201 µS,
//!   s₀ = 0.41183 µS. t is in seconds (aihwkit: "Times in seconds") and ln t = 0 at t = 1 s,
//!   the fit's origin, so the law is defined for t ≥ 1 s only (earlier reads are a
//!   configuration error). After one day: shift −1.01 µS, σ 0.89 µS.
//!
//! Compensating drift (a global output scale measured through the tile) happens downstream,
//! not here. The relaxation can push a device below 0 µS; `program_array` clamps at 0.

use super::programming::{finite, non_negative, positive_time};
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Which drift law applies. Default: none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum Drift {
    /// Conductances stay where programming left them.
    #[default]
    None,
    /// aihwkit PCM: G_p·((t + t0_s)/t0_s)^(−ν), ν = |μ_ν(G/G_max) + σ_ν(G/G_max)·z|;
    /// `t0_s` defaults to 20 s.
    Pcm {
        #[serde(default = "pcm_t0_s")]
        t0_s: f64,
    },
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

use super::accumulated_noise::pcm_t0_s;

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
    /// G·exp(−ν·ln((t + t₀)/t₀)) with ν from the target's state.
    Pcm { log_ratio: f32 },
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
    /// The conductance at read time of a device programmed to `g_us` (target `target_us`,
    /// cell maximum `g_max_us`) for its standard-normal draw `z`.
    #[inline]
    pub(crate) fn apply(&self, g_us: f32, target_us: f32, g_max_us: f32, z: f32) -> f32 {
        match *self {
            DriftAt::Identity => g_us,
            DriftAt::Pcm { log_ratio } => {
                g_us * (-pcm_nu(target_us / g_max_us, z) * log_ratio).exp()
            }
            DriftAt::PowerLaw {
                log_ratio,
                nu_mean,
                nu_sigma,
            } => g_us * (-(nu_mean + nu_sigma * z) * log_ratio).exp(),
            DriftAt::Relaxation { shift_us, sigma_us } => g_us + shift_us + sigma_us * z,
        }
    }
}

/// The aihwkit PCM drift exponent of a device at relative target conductance `g_rel`.
fn pcm_nu(g_rel: f32, z: f32) -> f32 {
    let ln_g = g_rel.abs().max(1e-7).ln();
    let mean = (-0.0155 * ln_g + 0.0244).clamp(0.049, 0.1);
    let spread = (-0.0125 * ln_g - 0.0059).clamp(0.008, 0.045);
    (mean + spread * z).abs()
}

impl Drift {
    /// The aihwkit PCM drift with its published coefficients.
    pub fn pcm() -> Self {
        Drift::Pcm { t0_s: pcm_t0_s() }
    }

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
            Drift::Pcm { t0_s } => DriftAt::Pcm {
                log_ratio: ((t_s + t0_s) / t0_s).ln() as f32,
            },
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
            Drift::Pcm { t0_s } => positive_t0(key, t0_s),
            Drift::PowerLaw {
                t0_s,
                nu_mean,
                nu_sigma,
            } => {
                positive_t0(key, t0_s)?;
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

fn positive_t0(key: &str, t0_s: f64) -> Result<(), ConfigError> {
    positive_time(&format!("{key}.t0_s"), t0_s)
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
        assert!((pcm.at(2000.0).apply(10.0, 10.0, 25.0, 0.0) - 7.9433).abs() < 1e-3);
    }

    #[test]
    fn pcm_exponent_follows_the_state() {
        // g = 1 (G_max): μ = clamp(0.0244, 0.049, 0.1) = 0.049, σ = clamp(−0.0059, …) = 0.008;
        // g = 0.01: μ = 0.0155·4.6052 + 0.0244 = 0.09578, σ = 0.0125·4.6052 − 0.0059 = 0.05167
        // → 0.045. ν is folded at 0: z = −20 gives |0.049 − 0.16| = 0.111.
        assert!((pcm_nu(1.0, 0.0) - 0.049).abs() < 1e-6);
        assert!((pcm_nu(1.0, 1.0) - 0.057).abs() < 1e-6);
        assert!((pcm_nu(0.01, 0.0) - 0.095_781).abs() < 1e-5);
        assert!((pcm_nu(0.01, 1.0) - 0.140_781).abs() < 1e-5);
        assert!((pcm_nu(1.0, -20.0) - 0.111).abs() < 1e-5);
        // One hour: G·(3620/20)^(−0.049) at G = G_max with z = 0.
        let at = Drift::pcm().at(3600.0);
        let want = 25.0 * (3620.0f64 / 20.0).powf(-0.049);
        assert!((at.apply(25.0, 25.0, 25.0, 0.0) as f64 - want).abs() < 1e-4);
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
