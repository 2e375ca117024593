//! Where the attention score products run: the `[attention]` section.
//!
//! Q_h·K_hᵀ and P·V_h have no static weights: K_h and V_h are new for every sequence. By
//! default they run in the digital periphery at `periphery.attention` precision (fp32 or
//! int8). With `mode = "crossbar"` they run on write-enabled crossbar arrays instead
//! (ReTransformer, ICCAD 2020, and X-Former put them there): for every sequence, layer and
//! head, K_h (len × d) is written as a weight matrix with out = len, in = d, so that
//! scores = Q_h·K_hᵀ is an MVM per query token, and V_hᵀ as one with out = d, in = len, so
//! that context = P·V_h is an MVM per probability row. Both use the chip's `[mapping]`
//! (weight and input bits, slicing, encoding, DAC, ADC, array size), so ADC quantization
//! and write noise reach the scores.
//!
//! ```toml
//! [attention]
//! mode = "crossbar"                                  # digital (default) | crossbar
//! write_noise = { model = "relative", sigma = 0.02 } # any [device] programming model
//! endurance_cycles = 1e12                            # default: energy table write.endurance_cycles
//! reuse_across_layers = true                         # one array set serves every layer
//! ```
//!
//! * `write_noise`: the conductance a write leaves, drawn afresh at every write with the
//!   programming-variation models of `[device].programming` (same keys and units). Default:
//!   none. Read noise, drift and stuck-at faults of `[device]` are not applied to these
//!   arrays (a cell is read right after it is written; a fault map of arrays that are
//!   rewritten every inference is not modelled).
//! * `endurance_cycles` (writes a cell survives, cycles): default the technology table's
//!   `write.endurance_cycles`, 10^12 in the isaac-32nm table (Yang, Strukov & Stewart,
//!   Nature Nanotechnology 2013, Table 1, after ITRS 2011). Write energy per cell (3 pJ) and
//!   write latency per row (10 ns) come from the same `[write]` table of
//!   data/technology/isaac-32nm.toml.
//! * `reuse_across_layers` (default true): the chip holds one set of attention arrays (K
//!   and V of every head) that every encoder layer rewrites in turn, as layers run one after
//!   another in the latency model; each cell is then written `num_hidden_layers` times per
//!   inference. `false` gives every layer its own set: one write per cell per inference,
//!   `num_hidden_layers` times the arrays.
//!
//! Input and ADC ranges of the attention arrays are *dynamic*: `[mapping]`'s calibrated
//! ranges are set per written matrix from that inference's own operands (max |Q_h| or
//! max |P| for the input scale, the largest current those inputs draw for the ADC range),
//! since the matrices exist only for one inference. This is an auto-ranging ADC with no
//! clipping; the range-finding pass itself is not counted as energy.

use crate::error::ConfigError;
use crossbar::device::ProgrammingVariation;
use serde::{Deserialize, Serialize};

/// Where Q·Kᵀ and P·V run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttentionMode {
    /// Digital periphery at `periphery.attention` precision.
    #[default]
    Digital,
    /// Write-enabled crossbars, K and V written every inference.
    Crossbar,
}

/// The `[attention]` section (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttentionConfig {
    /// Default: digital.
    pub mode: AttentionMode,
    /// Conductance spread of each inference-time write (programming-variation model).
    /// Default: none.
    pub write_noise: ProgrammingVariation,
    /// Writes a cell survives, cycles. Default (`None`): the technology table's
    /// `write.endurance_cycles` (10^12, Yang et al. 2013).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endurance_cycles: Option<f64>,
    /// One array set rewritten by every layer (true, default) or one set per layer.
    pub reuse_across_layers: bool,
}

impl Default for AttentionConfig {
    fn default() -> Self {
        Self {
            mode: AttentionMode::Digital,
            write_noise: ProgrammingVariation::None,
            endurance_cycles: None,
            reuse_across_layers: true,
        }
    }
}

impl AttentionConfig {
    /// Checks every value; `key` is the dotted path of this section (`attention`).
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        self.write_noise.validate(&format!("{key}.write_noise"))?;
        if let Some(n) = self.endurance_cycles {
            if !(n.is_finite() && n >= 1.0) {
                return Err(ConfigError::new(
                    format!("{key}.endurance_cycles"),
                    "a finite number of write cycles >= 1",
                    n,
                ));
            }
        }
        Ok(())
    }

    /// Times each attention cell is written per inference (the busiest cell: the first
    /// rows and columns are written for every sequence length).
    pub fn writes_per_cell_per_inference(&self, num_layers: usize) -> u64 {
        if self.reuse_across_layers {
            num_layers as u64
        } else {
            1
        }
    }
}
