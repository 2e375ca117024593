//! Accumulated 1/f deviation: how far a device's conductance has wandered, by low-frequency
//! (1/f) noise, between programming and the read at time t.
//!
//! 1/f noise has most of its power at low frequencies, so over the microseconds of one
//! inference it hardly moves: what an inference sees is the deviation accumulated since
//! programming, one value per device, the same for every MVM read at that time. It is
//! therefore part of the *state at read time t*, drawn once per chip instance and read time
//! (stream [`Purpose::AccumulatedNoise`](crate::Purpose::AccumulatedNoise)), like
//! programming variation and drift, and not per-read noise (see [`super::read_noise`]).
//! Its σ grows with t as √ln: the integrated power of 1/f noise over the band from 1/t
//! (the slowest fluctuation that had time to act) to 1/(2·t_read) (the fastest one a read
//! of duration t_read resolves) is proportional to ln((t + t_read)/(2·t_read)).
//!
//! This is what aihwkit calls "read noise" in its ReRAM-CMO and PCM fits: it is added once,
//! together with drift, when the weights are read at t (`apply_drift_noise_to_conductance`
//! of `ReRamCMONoiseModel` and `PCMLikeNoiseModel`, aihwkit 1.1).
//!
//! | model | deviation added to G(t), µS | source |
//! |---|---|---|
//! | `reram_cmo` | K·│log₁₀ G(t)│·√ln((t + t_r)/(2·t_r))·z, K = 0.0277316483, t_r = 1 µs | aihwkit `ReRamCMONoiseModel` (CMO/HfOx devices) |
//! | `pcm` | G(t)·Q_s·√ln((t + t₀ + t_r)/(2·t_r))·z, Q_s = min(0.0088/max((G_p/G_max)^0.65, 10⁻³), 0.2), t_r = 250 ns, t₀ = 20 s | aihwkit `PCMLikeNoiseModel` (Nandakumar et al., ICECS 2019) |
//!
//! G(t) is the conductance after drift, G_p the programmed one (before drift), G_max the
//! cell's largest conductance (the one the largest weight maps to). Differences from the
//! peer: `reram_cmo` takes │log₁₀ G│ (aihwkit takes log₁₀ G, which is negative below 1 µS
//! and undefined at 0; a σ is a magnitude); the PCM form follows aihwkit in measuring time
//! from t₀ before programming completes (its t = t_inference + t₀).

use super::programming::{non_negative, positive_time};
use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Which accumulated-noise model applies. Default: none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum AccumulatedNoise {
    /// The conductance does not wander after programming.
    #[default]
    None,
    /// aihwkit ReRAM-CMO: σ = k·|log₁₀ G|·√ln((t + t_read_s)/(2·t_read_s)) µS. Defaults:
    /// `k` 0.0277316483, `t_read_s` 1e-6 s (aihwkit).
    ReramCmo {
        #[serde(default = "cmo_k")]
        k: f32,
        #[serde(default = "cmo_t_read_s")]
        t_read_s: f64,
    },
    /// aihwkit PCM: σ = G·Q_s(G_prog)·√ln((t + t0_s + t_read_s)/(2·t_read_s)). Defaults:
    /// `t_read_s` 250e-9 s, `t0_s` 20 s (aihwkit).
    Pcm {
        #[serde(default = "pcm_t_read_s")]
        t_read_s: f64,
        #[serde(default = "pcm_t0_s")]
        t0_s: f64,
    },
}

/// aihwkit ReRAM-CMO 1/f coefficient K (dimensionless; σ in µS).
fn cmo_k() -> f32 {
    0.027_731_648
}

/// aihwkit ReRAM-CMO duration of one read, s.
fn cmo_t_read_s() -> f64 {
    1e-6
}

/// aihwkit PCM duration of one read, s.
fn pcm_t_read_s() -> f64 {
    250e-9
}

/// aihwkit PCM first read after programming (drift reference), s.
pub(crate) fn pcm_t0_s() -> f64 {
    20.0
}

/// The model evaluated at one read time: what remains per device is one multiply-add.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum AccumulatedAt {
    Identity,
    /// G + k·band·|log₁₀ G|·z.
    ReramCmo {
        k_band: f32,
    },
    /// G + G·Q_s(G_prog)·band·z.
    Pcm {
        band: f32,
    },
}

impl AccumulatedAt {
    /// The conductance at read time given the programmed `g_prog_us` (before drift), the
    /// drifted `g_us`, the cell's largest conductance and one standard normal `z`.
    #[inline]
    pub(crate) fn apply(&self, g_prog_us: f32, g_us: f32, g_max_us: f32, z: f32) -> f32 {
        match *self {
            AccumulatedAt::Identity => g_us,
            AccumulatedAt::ReramCmo { k_band } if g_us > 0.0 => {
                g_us + k_band * g_us.log10().abs() * z
            }
            AccumulatedAt::ReramCmo { .. } => g_us,
            AccumulatedAt::Pcm { band } => {
                let relative = (g_prog_us.abs() / g_max_us).powf(0.65).max(1e-3);
                let q_s = (0.0088 / relative).min(0.2);
                g_us + g_us.abs() * q_s * band * z
            }
        }
    }
}

impl AccumulatedNoise {
    /// The aihwkit ReRAM-CMO 1/f deviation with its published constants.
    pub fn reram_cmo() -> Self {
        AccumulatedNoise::ReramCmo {
            k: cmo_k(),
            t_read_s: cmo_t_read_s(),
        }
    }

    /// The aihwkit PCM 1/f deviation with its published constants.
    pub fn pcm() -> Self {
        AccumulatedNoise::Pcm {
            t_read_s: pcm_t_read_s(),
            t0_s: pcm_t0_s(),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, AccumulatedNoise::None)
    }

    /// √ln of the 1/f band a read of duration `t_read_s` at `t_s` sees (0 when empty).
    fn band(t_s: f64, t_read_s: f64) -> f32 {
        ((t_s + t_read_s) / (2.0 * t_read_s)).ln().max(0.0).sqrt() as f32
    }

    /// The model at read time `t_s` (seconds after programming).
    pub(crate) fn at(&self, t_s: f64) -> AccumulatedAt {
        match *self {
            AccumulatedNoise::None => AccumulatedAt::Identity,
            AccumulatedNoise::ReramCmo { k, t_read_s } => AccumulatedAt::ReramCmo {
                k_band: k * Self::band(t_s, t_read_s),
            },
            AccumulatedNoise::Pcm { t_read_s, t0_s } => AccumulatedAt::Pcm {
                band: Self::band(t_s + t0_s, t_read_s),
            },
        }
    }

    /// σ in µS of the deviation of a device at `g_us` (programmed at `g_prog_us`, cell
    /// maximum `g_max_us`) read `t_s` seconds after programming.
    pub fn sigma_us(&self, g_prog_us: f32, g_us: f32, g_max_us: f32, t_s: f64) -> f32 {
        self.at(t_s).apply(g_prog_us, g_us, g_max_us, 1.0) - g_us
    }

    /// The earliest read time (s after programming) the model is defined for: the
    /// ReRAM-CMO band is empty before one read duration has passed.
    pub fn earliest_read_time_s(&self) -> f64 {
        match *self {
            AccumulatedNoise::ReramCmo { t_read_s, .. } => t_read_s,
            _ => 0.0,
        }
    }

    /// Rejects a negative K and non-positive or non-finite times.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let time_ok = |field: &str, t: f64| positive_time(&format!("{key}.{field}"), t);
        match *self {
            AccumulatedNoise::None => Ok(()),
            AccumulatedNoise::ReramCmo { k, t_read_s } => {
                non_negative(&format!("{key}.k"), k)?;
                time_ok("t_read_s", t_read_s)
            }
            AccumulatedNoise::Pcm { t_read_s, t0_s } => {
                time_ok("t_read_s", t_read_s)?;
                time_ok("t0_s", t0_s)
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
        let got = AccumulatedNoise::reram_cmo().sigma_us(50.0, 50.0, 88.2, 86_400.0) as f64;
        assert!(
            (got - expected).abs() < 1e-5 * expected,
            "{got} vs {expected}"
        );
        // The band is empty at t = t_read, and a device at 0 µS does not wander.
        assert_eq!(
            AccumulatedNoise::reram_cmo().sigma_us(50.0, 50.0, 88.2, 1e-6),
            0.0
        );
        assert_eq!(
            AccumulatedNoise::reram_cmo().sigma_us(0.0, 0.0, 88.2, 1.0),
            0.0
        );
    }

    #[test]
    fn pcm_sigma_matches_hand_evaluation() {
        // G_prog = 10 µS of G_max 25 µS, drifted to 9 µS, read 1 h after programming:
        // Q_s = 0.0088/0.4^0.65 = 0.015979, band = sqrt(ln((3600 + 20 + 2.5e-7)/5e-7)).
        let q_s = 0.0088 / 0.4f64.powf(0.65);
        let band = ((3620.0f64 + 2.5e-7) / 5e-7).ln().sqrt();
        let expected = 9.0 * q_s * band;
        let got = AccumulatedNoise::pcm().sigma_us(10.0, 9.0, 25.0, 3600.0) as f64;
        assert!(
            (got - expected).abs() < 1e-5 * expected,
            "{got} vs {expected}"
        );
        // Q_s saturates at 0.2 for nearly empty devices.
        let tiny = AccumulatedNoise::pcm().sigma_us(1e-6, 1.0, 25.0, 3600.0) as f64;
        assert!((tiny - 0.2 * band).abs() < 1e-5, "{tiny}");
    }

    #[test]
    fn validation_names_keys() {
        let zero_read = AccumulatedNoise::ReramCmo {
            k: 0.03,
            t_read_s: 0.0,
        };
        assert_eq!(
            zero_read.validate("d.accumulated_noise").unwrap_err().key,
            "d.accumulated_noise.t_read_s"
        );
        let neg_k = AccumulatedNoise::ReramCmo {
            k: -0.03,
            t_read_s: 1e-6,
        };
        assert_eq!(neg_k.validate("a").unwrap_err().key, "a.k");
        let bad_t0 = AccumulatedNoise::Pcm {
            t_read_s: 2.5e-7,
            t0_s: -1.0,
        };
        assert_eq!(bad_t0.validate("a").unwrap_err().key, "a.t0_s");
    }
}
