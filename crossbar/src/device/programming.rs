//! Programming variation: the conductance a write-and-verify loop really leaves in a cell.
//!
//! Programming is a one-off event per chip instance, so each cell gets one draw z ~ N(0, 1)
//! from the [`Purpose::Programming`](crate::Purpose::Programming) stream and keeps the
//! resulting conductance until drift changes it. With target conductance G:
//!
//! | model | programmed conductance | source |
//! |---|---|---|
//! | `relative` | G·(1 + σ·z) | NeuroSim's multiplicative Gaussian |
//! | `absolute` | G + σ·z (σ in µS) | — |
//! | `lognormal` | G·e^(σ·z) (never negative) | — |
//! | `linear` | G + max(a + b·G, 0)·z | state-dependent fits below |
//! | `table` | G + σ(G)·z, σ piecewise linear in G | measured σ-vs-G curves |
//!
//! Built-in state-dependent fits (σ in µS, G in µS):
//! * `reram_cmo_2pct`: σ = 0.0112185 + 0.0112903·G, aihwkit `ReRamCMONoiseModel`, CMO/HfOx
//!   devices programmed with a 2 % acceptance range;
//! * `reram_cmo_0p2pct`: σ = 0.00081107 + 0.00106879·G, same model, 0.2 % acceptance;
//! * `crosssim_rram_milo`: σ = max(−0.009107·G + 4.782, 0), CrossSim's RRAM_Milo device,
//!   fitted over 50–225 µS (outside that range the line is extrapolated; σ hits 0 at 525 µS);
//! * `pcm`: σ = (0.26348 + 1.9650·g − 1.1731·g²)·G_max/25 µS with g = G/G_max, aihwkit
//!   `PCMLikeNoiseModel` (Nandakumar et al., ICECS 2019; the polynomial was fitted in µS for
//!   G_max = 25 µS and scales with the cell's G_max, the conductance the largest weight maps
//!   to).
//!
//! Additive models can produce a negative conductance; `program_array` clamps the final
//! conductance at 0 µS (see the crate docs). σ(G) is a function of the target conductance,
//! so it applies unchanged to continuous targets (`program_conductances`); for levels it is
//! evaluated once per level, not once per cell.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// Which programming-variation model applies. Default: none (cells hit their target).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProgrammingVariation {
    /// Every cell lands exactly on its target.
    #[default]
    None,
    /// G·(1 + σ·z): `sigma` is a fraction of the target (0.05 = 5 %).
    Relative { sigma: f32 },
    /// G + σ·z with a fixed σ in µS.
    Absolute { sigma_us: f32 },
    /// G·e^(σ·z), θ = σ·z ~ N(0, σ²); `sigma` is dimensionless.
    Lognormal { sigma: f32 },
    /// G + σ(G)·z with σ(G) = max(a_us + b·G, 0) µS.
    Linear { a_us: f32, b: f32 },
    /// G + σ(G)·z with σ(G) interpolated linearly between the points (`g_us[k]`, `sigma_us[k]`),
    /// held constant beyond the first and last point. `g_us` strictly increasing.
    Table { g_us: Vec<f32>, sigma_us: Vec<f32> },
    /// aihwkit ReRAM-CMO fit, 2 % acceptance: σ = 0.0112185 + 0.0112903·G µS.
    #[serde(rename = "reram_cmo_2pct")]
    ReramCmo2Pct,
    /// aihwkit ReRAM-CMO fit, 0.2 % acceptance: σ = 0.00081107 + 0.00106879·G µS.
    #[serde(rename = "reram_cmo_0p2pct")]
    ReramCmo0p2Pct,
    /// CrossSim RRAM_Milo: σ = max(−0.009107·G + 4.782, 0) µS, fitted over 50–225 µS.
    CrosssimRramMilo,
    /// aihwkit PCM: σ = (0.26348 + 1.9650·g − 1.1731·g²)·G_max/25 µS, g = G/G_max.
    Pcm,
}

/// How a level's programmed conductance is drawn from one standard normal z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum LevelDraw {
    /// G + σ·z (σ in µS; 0 = exact).
    Additive { target_us: f32, sigma_us: f32 },
    /// G·e^(σ·z).
    Lognormal { target_us: f32, sigma: f32 },
}

impl LevelDraw {
    /// The programmed conductance for standard-normal draw `z` (may be negative for additive
    /// draws; the caller clamps).
    #[inline]
    pub(crate) fn apply(&self, z: f32) -> f32 {
        match *self {
            LevelDraw::Additive {
                target_us,
                sigma_us,
            } => target_us + sigma_us * z,
            LevelDraw::Lognormal { target_us, sigma } => target_us * (sigma * z).exp(),
        }
    }
}

impl ProgrammingVariation {
    /// True when no draw is needed: every cell lands on its target.
    pub fn is_none(&self) -> bool {
        matches!(self, ProgrammingVariation::None)
    }

    /// Standard deviation in µS of the programmed conductance of a cell whose target is
    /// `g_us` (before the clamp at 0) and whose largest conductance is `g_max_us` (used by
    /// `pcm` only). Lognormal: G·√((e^(σ²) − 1)·e^(σ²)).
    pub fn sigma_us(&self, g_us: f32, g_max_us: f32) -> f32 {
        match self {
            ProgrammingVariation::None => 0.0,
            ProgrammingVariation::Relative { sigma } => sigma * g_us,
            ProgrammingVariation::Absolute { sigma_us } => *sigma_us,
            ProgrammingVariation::Lognormal { sigma } => {
                let spread = (*sigma as f64).powi(2).exp();
                (g_us as f64 * ((spread - 1.0) * spread).sqrt()) as f32
            }
            ProgrammingVariation::Linear { a_us, b } => (a_us + b * g_us).max(0.0),
            ProgrammingVariation::Table { g_us: gs, sigma_us } => interpolate(gs, sigma_us, g_us),
            ProgrammingVariation::ReramCmo2Pct => 0.011_218_539 + 0.011_290_274 * g_us,
            ProgrammingVariation::ReramCmo0p2Pct => 0.000_811_07 + 0.001_068_79 * g_us,
            ProgrammingVariation::CrosssimRramMilo => (-0.009_107 * g_us + 4.782).max(0.0),
            ProgrammingVariation::Pcm => {
                let g = g_us / g_max_us;
                (0.263_48 + 1.965_0 * g - 1.173_1 * g * g) * g_max_us / 25.0
            }
        }
    }

    /// The draw rule for a cell whose target conductance is `target_us` (cell maximum
    /// `g_max_us`).
    pub(crate) fn level_draw(&self, target_us: f32, g_max_us: f32) -> LevelDraw {
        match self {
            ProgrammingVariation::Lognormal { sigma } => LevelDraw::Lognormal {
                target_us,
                sigma: *sigma,
            },
            additive => LevelDraw::Additive {
                target_us,
                sigma_us: additive.sigma_us(target_us, g_max_us),
            },
        }
    }

    /// Rejects negative or non-finite σ and malformed tables; `key` is this config's path.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            ProgrammingVariation::Relative { sigma }
            | ProgrammingVariation::Lognormal { sigma } => {
                non_negative(&format!("{key}.sigma"), *sigma)
            }
            ProgrammingVariation::Absolute { sigma_us } => {
                non_negative(&format!("{key}.sigma_us"), *sigma_us)
            }
            ProgrammingVariation::Linear { a_us, b } => {
                finite(&format!("{key}.a_us"), *a_us)?;
                finite(&format!("{key}.b"), *b)
            }
            ProgrammingVariation::Table { g_us, sigma_us } => validate_table(key, g_us, sigma_us),
            _ => Ok(()),
        }
    }
}

/// Piecewise-linear interpolation of (xs, ys) at x, constant beyond the end points.
fn interpolate(xs: &[f32], ys: &[f32], x: f32) -> f32 {
    let upper = xs.partition_point(|&xk| xk < x);
    if upper == 0 {
        return ys[0];
    }
    if upper == xs.len() {
        return ys[xs.len() - 1];
    }
    let (x0, x1, y0, y1) = (xs[upper - 1], xs[upper], ys[upper - 1], ys[upper]);
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

fn validate_table(key: &str, g_us: &[f32], sigma_us: &[f32]) -> Result<(), ConfigError> {
    if g_us.is_empty() || g_us.len() != sigma_us.len() {
        return Err(ConfigError::new(
            format!("{key}.sigma_us"),
            format!(
                "as many σ values as g_us points (at least 1, g_us has {})",
                g_us.len()
            ),
            format!("{} values", sigma_us.len()),
        ));
    }
    for (k, pair) in g_us.windows(2).enumerate() {
        if pair[1].partial_cmp(&pair[0]) != Some(std::cmp::Ordering::Greater) {
            return Err(ConfigError::new(
                format!("{key}.g_us[{}]", k + 1),
                format!("strictly increasing conductances (> {} µS)", pair[0]),
                pair[1],
            ));
        }
    }
    for (k, &g) in g_us.iter().enumerate() {
        finite(&format!("{key}.g_us[{k}]"), g)?;
    }
    for (k, &s) in sigma_us.iter().enumerate() {
        non_negative(&format!("{key}.sigma_us[{k}]"), s)?;
    }
    Ok(())
}

/// Largest magnitude a device parameter may take, in its own unit (µS, or relative to a
/// conductance). No real device comes near it; larger finite values (say σ = 1e30) overflow
/// the f32 current sums of an array into NaN, far from the key that caused them.
pub(crate) const LARGEST_PARAMETER: f32 = 1e6;

pub(crate) fn non_negative(key: &str, value: f32) -> Result<(), ConfigError> {
    if (0.0..=LARGEST_PARAMETER).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            format!("a value in [0, {LARGEST_PARAMETER:e}]"),
            value,
        ))
    }
}

/// A time (s) that must be finite and > 0.
pub(crate) fn positive_time(key: &str, t_s: f64) -> Result<(), ConfigError> {
    if t_s > 0.0 && t_s.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::new(key, "a time > 0 s", t_s))
    }
}

pub(crate) fn finite(key: &str, value: f32) -> Result<(), ConfigError> {
    if value.abs() <= LARGEST_PARAMETER {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            format!("a value in [-{LARGEST_PARAMETER:e}, {LARGEST_PARAMETER:e}]"),
            value,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_fits_follow_their_formulas() {
        // Hand-evaluated at G = 50 µS and 100 µS.
        let cmo = ProgrammingVariation::ReramCmo2Pct;
        assert!((cmo.sigma_us(50.0, 100.0) - (0.0112185 + 0.0112903 * 50.0)).abs() < 1e-5);
        let fine = ProgrammingVariation::ReramCmo0p2Pct;
        assert!((fine.sigma_us(100.0, 100.0) - 0.10769).abs() < 1e-4);
        let milo = ProgrammingVariation::CrosssimRramMilo;
        assert!((milo.sigma_us(100.0, 100.0) - 3.8713).abs() < 1e-4);
        assert_eq!(milo.sigma_us(600.0, 100.0), 0.0);
        // PCM at G = G_max = 25 µS: 0.26348 + 1.9650 − 1.1731 = 1.05538 µS; at half of a
        // 50 µS range the polynomial doubles: (0.26348 + 0.9825 − 0.293275)·2 = 1.90541.
        let pcm = ProgrammingVariation::Pcm;
        assert!((pcm.sigma_us(25.0, 25.0) - 1.05538).abs() < 1e-4);
        assert!((pcm.sigma_us(25.0, 50.0) - 1.90541).abs() < 1e-4);
    }

    #[test]
    fn table_interpolates_and_holds_ends() {
        let t = ProgrammingVariation::Table {
            g_us: vec![10.0, 20.0, 40.0],
            sigma_us: vec![1.0, 2.0, 0.0],
        };
        assert!(t.validate("p").is_ok());
        assert_eq!(t.sigma_us(5.0, 100.0), 1.0);
        assert!((t.sigma_us(15.0, 100.0) - 1.5).abs() < 1e-6);
        assert!((t.sigma_us(30.0, 100.0) - 1.0).abs() < 1e-6);
        assert_eq!(t.sigma_us(40.0, 100.0), 0.0);
        assert_eq!(t.sigma_us(99.0, 100.0), 0.0);
    }

    #[test]
    fn bad_values_name_their_key() {
        let neg = ProgrammingVariation::Relative { sigma: -0.1 };
        assert_eq!(
            neg.validate("d.programming").unwrap_err().key,
            "d.programming.sigma"
        );
        let unsorted = ProgrammingVariation::Table {
            g_us: vec![10.0, 10.0],
            sigma_us: vec![1.0, 1.0],
        };
        assert_eq!(unsorted.validate("p").unwrap_err().key, "p.g_us[1]");
        let ragged = ProgrammingVariation::Table {
            g_us: vec![10.0, 20.0],
            sigma_us: vec![1.0],
        };
        assert_eq!(ragged.validate("p").unwrap_err().key, "p.sigma_us");
        let neg_table = ProgrammingVariation::Table {
            g_us: vec![10.0, 20.0],
            sigma_us: vec![1.0, -1.0],
        };
        assert_eq!(neg_table.validate("p").unwrap_err().key, "p.sigma_us[1]");
    }
}
