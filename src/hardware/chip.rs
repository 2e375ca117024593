//! The chip's organisation: arrays grouped into in-situ multiply-accumulate units (IMAs,
//! also called macros), IMAs into tiles, tiles into a chip.
//!
//! ```toml
//! [chip]
//! arrays_per_ima = 8      # crossbar arrays sharing one IMA's input and output registers
//! imas_per_tile = 12      # IMAs sharing one tile's eDRAM buffer, bus and router
//! tiles = 168             # tiles on the chip; absent: as many as the mapped model needs
//! offchip_links = 4       # chip-to-chip links (ISAAC: 4 HyperTransport links)
//! schedule = "pipelined"  # pipelined | serial (see crossbert::backend::schedule)
//! ```
//!
//! The defaults are ISAAC's (Shafiee et al., ISCA 2016, §VII–VIII: 8 arrays of 128×128 per
//! IMA, 12 IMAs per tile, 168 tiles and 4 HyperTransport links per chip). The defaults leave
//! the tile count to the model and have no off-chip links: a chip that holds its model's
//! weights needs neither ISAAC's fixed size nor its links to neighbouring chips. What each
//! level's registers, buffers, bus, router and links cost is in the technology table
//! ([`crate::energy::TechnologyTable`]: `ima`, `tile`, `chip`).

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};

/// The largest count accepted for any level (a chip of more than a million tiles or IMAs
/// per tile is a typing error, and would overflow the area sums' precision long before).
const LARGEST_COUNT: u32 = 1 << 20;

/// How arrays are grouped into IMAs, tiles and a chip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChipConfig {
    /// Crossbar arrays per IMA. Default 8 (ISAAC).
    pub arrays_per_ima: u32,
    /// IMAs per tile. Default 12 (ISAAC).
    pub imas_per_tile: u32,
    /// Tiles on the chip. Default: absent, as many as the mapped model needs. When given,
    /// the chip's area and peak figures count all of them, and a model that needs more is
    /// an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiles: Option<u32>,
    /// Off-chip links. Default 0 (ISAAC's chip has 4 HyperTransport links).
    pub offchip_links: u32,
    /// How the stages of an inference are ordered in time. Default `pipelined`.
    pub schedule: Schedule,
}

/// How the stages of an inference are ordered in time (see
/// [`crate::backend::schedule`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Every stage after the previous one, token after token.
    Serial,
    /// Q, K and V in parallel, tokens streamed between attentions, inferences overlapped
    /// layer by layer.
    #[default]
    Pipelined,
}

impl Schedule {
    /// The name used in configurations and reports.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Serial => "serial",
            Schedule::Pipelined => "pipelined",
        }
    }
}

impl Default for ChipConfig {
    fn default() -> Self {
        Self {
            arrays_per_ima: 8,
            imas_per_tile: 12,
            tiles: None,
            offchip_links: 0,
            schedule: Schedule::Pipelined,
        }
    }
}

impl ChipConfig {
    /// Every count ≥ 1 (links ≥ 0) and at most 2²⁰; errors name `{key}.<field>`.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let counts = [
            ("arrays_per_ima", Some(self.arrays_per_ima), 1),
            ("imas_per_tile", Some(self.imas_per_tile), 1),
            ("tiles", self.tiles, 1),
            ("offchip_links", Some(self.offchip_links), 0),
        ];
        for (field, value, least) in counts {
            if let Some(v) = value.filter(|v| !(least..=LARGEST_COUNT).contains(v)) {
                return Err(ConfigError::new(
                    format!("{key}.{field}"),
                    format!("a count in {least}..={LARGEST_COUNT}"),
                    v,
                ));
            }
        }
        Ok(())
    }

    /// IMAs a matrix of `arrays` arrays takes (each matrix on IMAs of its own).
    pub fn imas_for(&self, arrays: u64) -> u64 {
        arrays.div_ceil(u64::from(self.arrays_per_ima))
    }

    /// Arrays per tile.
    pub fn arrays_per_tile(&self) -> u64 {
        u64::from(self.arrays_per_ima) * u64::from(self.imas_per_tile)
    }
}
