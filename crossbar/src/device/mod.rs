//! Device non-idealities of ReRAM and PCM cells: what conductance a cell really has when it
//! is read.
//!
//! The effects are grouped by the time scale on which they are drawn, each a separate
//! swappable part of [`DeviceConfig`] with its own module, unit and source:
//!
//! **State at read time t** — drawn once per chip instance (seed) and read time
//! `read_time_s`, then frozen: every MVM of that chip at that time sees the same
//! conductances.
//! 1. [`programming`]: programming variation (write-and-verify leaves G near its target);
//! 2. [`drift`]: drift / relaxation from programming to t, with per-device parameters;
//! 3. [`accumulated_noise`]: the 1/f deviation accumulated between programming and t
//!    (aihwkit's "read noise" of its ReRAM-CMO and PCM fits, drawn as aihwkit draws it);
//! 4. [`faults`]: stuck-at faults at G_max and G_min.
//!
//! **Per read** — drawn afresh for every MVM (or every cycle of one, by its `correlation`):
//! 5. [`read_noise`]: short-time fluctuation of each device (aihwkit's `forward.w_noise`):
//!    a σ per device the tile turns into column-current noise
//!    ([`DeviceConfig::read_noise_sigma_us`]), or one sampled read of an array
//!    ([`DeviceConfig::sample_read`]).
//!
//! (The ADC's own input-referred noise, per conversion, belongs to the converter:
//! `crate::adc::AdcConfig::noise`.)
//!
//! [`program_array`] applies 1–4 in that order to an array of levels: target G(ℓ) from the
//! [`CellConfig`] (or any target conductance, [`program_conductances`]), then programming
//! variation, then drift to `read_time_s`, then the accumulated 1/f deviation, then stuck
//! cells overwrite their conductance with exactly G_max or G_min (a stuck cell neither
//! programs nor drifts). Finally every conductance is clamped at 0 µS: the additive models
//! (relative, absolute, state-dependent σ, ReRAM relaxation, 1/f) have Gaussian tails below
//! zero, which a physical device cannot reach. Nothing is clamped above G_max: a device can
//! overshoot its nominal range, and the ADC range handles what that does to currents.
//! (aihwkit's ReRAM-CMO clamps to [G_min, G_max] instead; its PCM model clamps at 0.)
//!
//! Each effect draws from its own stream (`Purpose::Programming`, `Drift`,
//! `AccumulatedNoise`, `StuckAt` of the caller's key), one standard normal per cell in
//! row-major order whatever the other effects do, so switching faults on does not change
//! the programming draw of healthy cells, and a later read time moves the same devices
//! along the same trajectories.
//!
//! A configuration as a researcher writes it (TOML; every part optional, unknown keys are
//! errors), programmed onto one 2-bit ReRAM-CMO array:
//!
//! ```
//! use crossbar::{program_array, CellConfig, DeviceConfig, Purpose, StreamKey};
//!
//! let cfg: DeviceConfig = toml::from_str(r#"
//!     read_time_s = 86400                          # read one day after programming
//!     programming = { model = "reram_cmo_2pct" }   # aihwkit ReRAM-CMO, 2 % acceptance
//!     drift = { model = "reram_relaxation" }       # aihwkit ReRAM-CMO coefficients
//!     accumulated_noise = { model = "reram_cmo" }  # aihwkit ReRAM-CMO 1/f deviation
//!     read_noise = { model = "relative", sigma = 0.01, correlation = "per_mvm" }
//!     stuck_at = { rate_g_max = 0.001, rate_g_min = 0.001, layout = "independent" }
//! "#).unwrap();
//! cfg.validate("device").unwrap();
//! let cell = CellConfig::reram_cmo(2);
//! let levels = vec![3u8; 64 * 64];
//! let key = StreamKey::new(7, 0, 0, Purpose::Programming);
//! let array = program_array(&cfg, &cell, &levels, 64, 64, key);
//! assert_eq!(array.g_us.len(), 64 * 64);
//! let mut csv = Vec::new();
//! array.faults.write_csv(&mut csv).unwrap(); // row,col,kind
//! ```
//!
//! CONTRACT between the device models and the tile/mapping code (signatures kept stable):
//!
//! * `DeviceConfig` (serde, `deny_unknown_fields`, `Default` = ideal) with `validate(key)`
//!   and `is_ideal()`;
//! * `program_array(cfg, cell, levels, rows, cols, key) -> ProgrammedArray`: the actual
//!   conductances (µS, row-major rows×cols) of an array whose cells were programmed to
//!   `levels`, in their state at `cfg`'s read time, all sampled once per chip instance from
//!   `key` (purposes derived inside);
//! * `program_conductances(cfg, cell, targets_us, rows, cols, key) -> ProgrammedArray`: the
//!   same for continuous target conductances (µS) instead of levels, with the same streams
//!   (`program_array` is this applied to the targets G(ℓ));
//! * `DeviceConfig::read_noise_sigma_us(g_us)`: σ in µS of the per-read Gaussian
//!   fluctuation of a device at conductance `g_us` (0 when read noise is off), and
//!   `read_noise.correlation()` across the cycles of one MVM.

pub mod accumulated_noise;
pub mod drift;
pub mod faults;
pub mod programming;
pub mod read_noise;

pub use accumulated_noise::AccumulatedNoise;
pub use drift::Drift;
pub use faults::{sample_fault_map, FaultLayout, FaultMap, StuckAt, StuckAtFaults, StuckCell};
pub use programming::ProgrammingVariation;
pub use read_noise::{Correlation, ReadNoise};

use crate::cell::CellConfig;
use crate::error::ConfigError;
use crate::rng::{Purpose, StreamKey};
use accumulated_noise::AccumulatedAt;
use drift::DriftAt;
use programming::LevelDraw;
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Every device effect, each a separate swappable part. Default: ideal (every effect off,
/// read at 1 s after programming).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceConfig {
    /// Programming variation (state at read time: once per chip instance). Default: none.
    pub programming: ProgrammingVariation,
    /// Drift / relaxation to `read_time_s` (state at read time). Default: none.
    pub drift: Drift,
    /// 1/f deviation accumulated until `read_time_s` (state at read time). Default: none.
    pub accumulated_noise: AccumulatedNoise,
    /// Per-read noise (every MVM, or every cycle). Default: none.
    pub read_noise: ReadNoise,
    /// Stuck-at faults (once per chip instance). Default: rates 0.
    pub stuck_at: StuckAtFaults,
    /// Time between programming and the read (inference), s. Default 1 s, the origin of the
    /// aihwkit ReRAM-CMO relaxation fit (no shift yet). Drift studies set it (86 400 = a day).
    pub read_time_s: f64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            programming: ProgrammingVariation::None,
            drift: Drift::None,
            accumulated_noise: AccumulatedNoise::None,
            read_noise: ReadNoise::None,
            stuck_at: StuckAtFaults::default(),
            read_time_s: 1.0,
        }
    }
}

impl DeviceConfig {
    /// The aihwkit ReRAM-CMO device (2 % acceptance programming, relaxation and the
    /// accumulated 1/f deviation) read `read_time_s` after programming, without per-read
    /// noise or faults.
    pub fn reram_cmo(read_time_s: f64) -> Self {
        Self {
            programming: ProgrammingVariation::ReramCmo2Pct,
            drift: Drift::reram_cmo(),
            accumulated_noise: AccumulatedNoise::reram_cmo(),
            read_noise: ReadNoise::None,
            stuck_at: StuckAtFaults::default(),
            read_time_s,
        }
    }

    /// Checks every part; `key` is the dotted path of this config (e.g. `hardware.device`).
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        self.programming.validate(&format!("{key}.programming"))?;
        self.drift.validate(&format!("{key}.drift"))?;
        self.accumulated_noise
            .validate(&format!("{key}.accumulated_noise"))?;
        self.read_noise.validate(&format!("{key}.read_noise"))?;
        self.stuck_at.validate(&format!("{key}.stuck_at"))?;
        let earliest = self
            .accumulated_noise
            .earliest_read_time_s()
            .max(self.drift.earliest_read_time_s());
        if !(self.read_time_s >= earliest && self.read_time_s.is_finite()) {
            return Err(ConfigError::new(
                format!("{key}.read_time_s"),
                format!("a finite time >= {earliest} s (the earliest the drift and accumulated-noise models are defined)"),
                self.read_time_s,
            ));
        }
        Ok(())
    }

    /// True when every effect is off: conductances equal their targets and reads are exact.
    pub fn is_ideal(&self) -> bool {
        self.programming.is_none()
            && self.read_noise.is_none()
            && self.drift.is_none()
            && self.accumulated_noise.is_none()
            && self.stuck_at.is_none()
    }

    /// True when programmed conductances leave their targets other than by stuck cells
    /// (programming variation, drift or accumulated 1/f deviation).
    pub fn varies_conductance(&self) -> bool {
        !(self.programming.is_none() && self.drift.is_none() && self.accumulated_noise.is_none())
    }

    /// The same device right after programming: programming variation and stuck cells,
    /// without drift or accumulated deviation (what a drift compensation's reference read
    /// sees). Its streams are those of `self`, so the two states share every programming
    /// draw.
    pub fn at_programming(&self) -> DeviceConfig {
        DeviceConfig {
            drift: Drift::None,
            accumulated_noise: AccumulatedNoise::None,
            ..self.clone()
        }
    }

    /// σ in µS of the per-read Gaussian fluctuation of one device at conductance `g_us`
    /// (0 when read noise is off).
    pub fn read_noise_sigma_us(&self, g_us: f32) -> f32 {
        self.read_noise.sigma_us(g_us)
    }

    /// One read of every device: g + σ(g)·z with z ~ N(0, 1) from `key`'s
    /// [`Purpose::ReadNoise`] stream (the caller's `index` says which read, e.g. the MVM
    /// number), clamped at 0 µS like programmed conductances. Returns `g_us` unchanged when
    /// read noise is off.
    pub fn sample_read(&self, g_us: &[f32], key: StreamKey) -> Vec<f32> {
        if self.read_noise.is_none() {
            return g_us.to_vec();
        }
        let mut rng = key.with_purpose(Purpose::ReadNoise).rng();
        g_us.iter()
            .map(|&g| {
                let z: f32 = rng.sample(StandardNormal);
                (g + self.read_noise_sigma_us(g) * z).max(0.0)
            })
            .collect()
    }
}

/// One programmed array: the conductances it really has, and where its faults are.
#[derive(Clone, Debug)]
pub struct ProgrammedArray {
    /// Actual conductance of each cell, µS, row-major rows×cols.
    pub g_us: Vec<f32>,
    /// The stuck cells (their `g_us` is exactly G_max or G_min).
    pub faults: FaultMap,
}

/// Programs a rows×cols array to `levels` (row-major) and returns the conductances read at
/// `cfg.read_time_s`; see the module docs for the order of effects and the clamp at 0 µS.
/// The same `key` (seed, matrix, tile) always gives the same array. Equivalent to
/// [`program_conductances`] with the targets G(ℓ) of the cell's levels.
///
/// # Panics
/// If `levels.len() != rows·cols` or a level exceeds the cell's highest level: both are
/// bugs in the calling mapper, not configuration errors.
pub fn program_array(
    cfg: &DeviceConfig,
    cell: &CellConfig,
    levels: &[u8],
    rows: usize,
    cols: usize,
    key: StreamKey,
) -> ProgrammedArray {
    assert_eq!(levels.len(), rows * cols, "levels must be rows×cols");
    let top = cell.max_level();
    assert!(
        levels.iter().all(|&l| l <= top),
        "a level exceeds the cell's highest level {top}"
    );
    // Every level has one target G, so its σ(G) is evaluated once per level, not per cell.
    let per_level: Vec<_> = (0..=top)
        .map(|l| {
            cfg.programming
                .level_draw(cell.conductance_us(l), cell.g_max_us)
        })
        .collect();
    let programmed = with_programming_variation(
        &cfg.programming,
        levels.len(),
        |i| per_level[levels[i] as usize],
        key,
    );
    let targets: Vec<f32> = levels.iter().map(|&l| cell.conductance_us(l)).collect();
    after_programming(cfg, cell, &targets, programmed, rows, cols, key)
}

/// Programs a rows×cols array to arbitrary target conductances `targets_us` (µS,
/// row-major) and returns the conductances read at `cfg.read_time_s`. This is the analog
/// view of a device (aihwkit's): a weight is a conductance anywhere in [G_min, G_max], not
/// one of 2^c levels, so one-shot mappings can hold weights of up to 24 bits. The effects,
/// their order and their random streams are those of [`program_array`] (one normal per cell
/// per effect, row-major), and state-dependent σ(G) is evaluated at each cell's own target.
/// `cell` gives only the G_min / G_max stuck cells take.
///
/// # Panics
/// If `targets_us.len() != rows·cols` or a target is negative or not finite (a bug in the
/// calling mapper).
pub fn program_conductances(
    cfg: &DeviceConfig,
    cell: &CellConfig,
    targets_us: &[f32],
    rows: usize,
    cols: usize,
    key: StreamKey,
) -> ProgrammedArray {
    assert_eq!(targets_us.len(), rows * cols, "targets must be rows×cols");
    assert!(
        targets_us.iter().all(|g| g.is_finite() && *g >= 0.0),
        "target conductances must be finite and >= 0 µS"
    );
    let programmed = with_programming_variation(
        &cfg.programming,
        targets_us.len(),
        |i| cfg.programming.level_draw(targets_us[i], cell.g_max_us),
        key,
    );
    after_programming(cfg, cell, targets_us, programmed, rows, cols, key)
}

/// Drift and accumulated deviation to the read time, stuck cells forced, the clamp at 0 µS:
/// the effects that follow programming variation, applied to the programmed conductances
/// `g_us` of cells whose targets were `targets_us`.
fn after_programming(
    cfg: &DeviceConfig,
    cell: &CellConfig,
    targets_us: &[f32],
    programmed: Vec<f32>,
    rows: usize,
    cols: usize,
    key: StreamKey,
) -> ProgrammedArray {
    let mut g_us = programmed.clone();
    apply_drift(cfg, cell, targets_us, &mut g_us, key);
    apply_accumulated_noise(cfg, cell, &programmed, &mut g_us, key);
    let faults = sample_fault_map(&cfg.stuck_at, rows, cols, key);
    for stuck in &faults.cells {
        g_us[stuck.row as usize * cols + stuck.col as usize] = match stuck.kind {
            StuckAt::GMax => cell.g_max_us,
            StuckAt::GMin => cell.g_min_us,
        };
    }
    for g in &mut g_us {
        *g = g.max(0.0);
    }
    ProgrammedArray { g_us, faults }
}

/// The programmed conductance of each of `cells` cells, whose target and σ are given by
/// `draw_of(cell)`: one standard normal per cell from the programming stream, in order.
fn with_programming_variation(
    model: &ProgrammingVariation,
    cells: usize,
    draw_of: impl Fn(usize) -> LevelDraw,
    key: StreamKey,
) -> Vec<f32> {
    if model.is_none() {
        return (0..cells).map(|i| draw_of(i).apply(0.0)).collect();
    }
    let mut rng = key.with_purpose(Purpose::Programming).rng();
    (0..cells)
        .map(|i| draw_of(i).apply(rng.sample(StandardNormal)))
        .collect()
}

/// Moves every conductance to the read time (one normal per cell).
fn apply_drift(
    cfg: &DeviceConfig,
    cell: &CellConfig,
    targets_us: &[f32],
    g_us: &mut [f32],
    key: StreamKey,
) {
    let law = cfg.drift.at(cfg.read_time_s);
    if law == DriftAt::Identity {
        return;
    }
    let mut rng = key.with_purpose(Purpose::Drift).rng();
    for (g, &target) in g_us.iter_mut().zip(targets_us) {
        *g = law.apply(*g, target, cell.g_max_us, rng.sample(StandardNormal));
    }
}

/// Adds the 1/f deviation accumulated until the read time (one normal per cell) to the
/// drifted conductances `g_us` of cells programmed to `programmed_us`.
fn apply_accumulated_noise(
    cfg: &DeviceConfig,
    cell: &CellConfig,
    programmed_us: &[f32],
    g_us: &mut [f32],
    key: StreamKey,
) {
    let law = cfg.accumulated_noise.at(cfg.read_time_s);
    if law == AccumulatedAt::Identity {
        return;
    }
    let mut rng = key.with_purpose(Purpose::AccumulatedNoise).rng();
    for (g, &g_prog) in g_us.iter_mut().zip(programmed_us) {
        *g = law.apply(g_prog, *g, cell.g_max_us, rng.sample(StandardNormal));
    }
}

#[cfg(test)]
mod tests;
