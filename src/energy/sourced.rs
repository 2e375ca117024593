//! A number that carries where it comes from.
//!
//! Every figure of a technology table is a `Sourced` value: the number itself (its unit is
//! in the field name), the technology node it was published for, and the source. In TOML it
//! is written `{ value = 1.67, node_nm = 32, source = "ISAAC (ISCA 2016), Table 6" }`; a
//! bare number (`1.67`) is accepted for quick overrides and recorded as unsourced.

use crossbar::ConfigError;
use serde::{Deserialize, Serialize};

/// The source recorded for a bare number given without one.
pub const UNSOURCED: &str = "user value (no source given)";

/// A published (or derived, or assumed) number with its node and source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "SourcedRepr")]
pub struct Sourced {
    pub value: f64,
    /// Technology node in nm the number was published for; absent for device-level
    /// figures that belong to no CMOS node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_nm: Option<u32>,
    /// Publication, and how the number was derived from it when it is not quoted directly.
    pub source: String,
}

impl Sourced {
    pub fn new(value: f64, node_nm: Option<u32>, source: impl Into<String>) -> Self {
        Self {
            value,
            node_nm,
            source: source.into(),
        }
    }

    /// Errors unless the value is finite and ≥ 0 (`> 0` when `positive`).
    pub fn check(&self, key: &str, positive: bool) -> Result<(), ConfigError> {
        let ok = self.value.is_finite()
            && if positive {
                self.value > 0.0
            } else {
                self.value >= 0.0
            };
        if ok {
            Ok(())
        } else {
            let expected = if positive {
                "a finite number > 0"
            } else {
                "a finite number ≥ 0"
            };
            Err(ConfigError::new(key, expected, self.value))
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SourcedRepr {
    Bare(f64),
    Full(FullRepr),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullRepr {
    value: f64,
    #[serde(default)]
    node_nm: Option<u32>,
    source: String,
}

impl From<SourcedRepr> for Sourced {
    fn from(r: SourcedRepr) -> Self {
        match r {
            SourcedRepr::Bare(value) => Sourced::new(value, None, UNSOURCED),
            SourcedRepr::Full(f) => Sourced::new(f.value, f.node_nm, f.source),
        }
    }
}
