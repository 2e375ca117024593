//! A number that carries where it comes from.
//!
//! Every figure of a technology table is a `Sourced` value: the number itself (its unit is
//! in the field name), the technology node it was published for, and the source. In TOML it
//! is written `{ value = 1.67, node_nm = 32, source = "ISAAC (ISCA 2016), Table 6" }`; a
//! bare number (`1.67`) is accepted for quick overrides and recorded as unsourced.

use crate::error::ConfigError;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// The source recorded for a bare number given without one.
pub const UNSOURCED: &str = "user value (no source given)";

/// A published (or derived, or assumed) number with its node and source.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

impl<'de> Deserialize<'de> for Sourced {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SourcedVisitor)
    }
}

/// Reads either form, with errors that show both.
struct SourcedVisitor;

const FIELDS: &[&str] = &["value", "node_nm", "source"];

impl<'de> Visitor<'de> for SourcedVisitor {
    type Value = Sourced;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, or { value = <number>, node_nm = <integer, optional>, source = \"<publication>\" }")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Sourced, E> {
        Ok(Sourced::new(v, None, UNSOURCED))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Sourced, E> {
        self.visit_f64(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Sourced, E> {
        self.visit_f64(v as f64)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sourced, A::Error> {
        let (mut value, mut node_nm, mut source) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "value" => value = Some(map.next_value::<f64>()?),
                "node_nm" => node_nm = Some(map.next_value::<u32>()?),
                "source" => source = Some(map.next_value::<String>()?),
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
        let source = source.ok_or_else(|| {
            de::Error::custom(
                "missing field `source` (give the publication, or write a bare number)",
            )
        })?;
        Ok(Sourced::new(value, node_nm, source))
    }
}
