//! Fault-injection scope: restrict swept settings to one layer or one kind of sublayer.
//!
//! A per-layer sensitivity campaign sweeps a fault or noise setting while applying it to a
//! single part of the network at a time. The spec says which grid keys are scoped and the
//! list of targets to step through:
//!
//! ```toml
//! [scope]
//! keys = ["device.stuck_at.lrs_fraction"]    # grid keys applied only to the target
//! targets = ["all", "3.ffn_out", "*.value", "0.*", "classifier"]
//! ```
//!
//! Each target becomes one more grid dimension (column `scope`). Target syntax:
//! `all` (every linear layer), `<layer>.<sublayer>` with `<layer>` an encoder layer index
//! (0-based) or `*`, and `<sublayer>` one of `query`, `key`, `value`, `attn_out` (attention
//! output projection), `ffn_in` (intermediate), `ffn_out` (FFN output) or `*`; and the two
//! heads `pooler` and `classifier`. The backend interprets the scope: scoped keys take the
//! swept value inside the target and the base hardware value everywhere else.
use crate::error::ConfigError;
use std::fmt;

/// The six linear layers of one BERT encoder layer, named after their role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sublayer {
    Query,
    Key,
    Value,
    /// Attention output projection (`attention.output.dense`).
    AttnOut,
    /// FFN up-projection (`intermediate.dense`).
    FfnIn,
    /// FFN down-projection (`output.dense`).
    FfnOut,
}

impl Sublayer {
    pub const ALL: [Sublayer; 6] = [
        Sublayer::Query,
        Sublayer::Key,
        Sublayer::Value,
        Sublayer::AttnOut,
        Sublayer::FfnIn,
        Sublayer::FfnOut,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Sublayer::Query => "query",
            Sublayer::Key => "key",
            Sublayer::Value => "value",
            Sublayer::AttnOut => "attn_out",
            Sublayer::FfnIn => "ffn_in",
            Sublayer::FfnOut => "ffn_out",
        }
    }
}

/// Where scoped settings apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeTarget {
    /// Every linear layer (an unscoped sweep).
    All,
    /// Encoder linear layers; `None` means "any" (`*`).
    Encoder {
        layer: Option<usize>,
        sublayer: Option<Sublayer>,
    },
    Pooler,
    Classifier,
}

impl ScopeTarget {
    /// Parses a target string; `key` names the spec entry for the error message.
    pub fn parse(text: &str, key: &str) -> Result<Self, ConfigError> {
        let expected = "`all`, `pooler`, `classifier` or `<layer|*>.<sublayer|*>` with sublayer \
                        one of query, key, value, attn_out, ffn_in, ffn_out";
        let bad = || ConfigError::new(key, expected, format!("{text:?}"));
        match text {
            "all" => return Ok(ScopeTarget::All),
            "pooler" => return Ok(ScopeTarget::Pooler),
            "classifier" => return Ok(ScopeTarget::Classifier),
            _ => {}
        }
        let (layer, sublayer) = text.split_once('.').ok_or_else(bad)?;
        let layer = match layer {
            "*" => None,
            n => Some(n.parse::<usize>().map_err(|_| bad())?),
        };
        let sublayer = match sublayer {
            "*" => None,
            s => Some(
                *Sublayer::ALL
                    .iter()
                    .find(|k| k.name() == s)
                    .ok_or_else(bad)?,
            ),
        };
        if layer.is_none() && sublayer.is_none() {
            // `*.*` is `all` spelled differently; one spelling keeps result keys unique.
            return Err(ConfigError::new(key, "`all` instead of `*.*`", "\"*.*\""));
        }
        Ok(ScopeTarget::Encoder { layer, sublayer })
    }

    /// Whether encoder layer `layer`'s `sublayer` is inside this target.
    pub fn contains(&self, layer: usize, sublayer: Sublayer) -> bool {
        match *self {
            ScopeTarget::All => true,
            ScopeTarget::Encoder {
                layer: l,
                sublayer: s,
            } => (l.is_none() || l == Some(layer)) && (s.is_none() || s == Some(sublayer)),
            ScopeTarget::Pooler | ScopeTarget::Classifier => false,
        }
    }
}

impl fmt::Display for ScopeTarget {
    /// The canonical spelling, used in the `scope` column and the result key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeTarget::All => f.write_str("all"),
            ScopeTarget::Pooler => f.write_str("pooler"),
            ScopeTarget::Classifier => f.write_str("classifier"),
            ScopeTarget::Encoder { layer, sublayer } => {
                match layer {
                    Some(l) => write!(f, "{l}")?,
                    None => f.write_str("*")?,
                }
                f.write_str(".")?;
                f.write_str(sublayer.map_or("*", Sublayer::name))
            }
        }
    }
}

/// What the backend receives with each work item: the target and the grid keys it restricts.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub target: ScopeTarget,
    /// Dotted hardware keys whose swept value applies only inside `target`; every other key
    /// of the point applies everywhere. Empty for an unscoped sweep.
    pub keys: Vec<String>,
}

impl Scope {
    /// The scope of a sweep without a `[scope]` table.
    pub fn everywhere() -> Self {
        Scope {
            target: ScopeTarget::All,
            keys: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonical_targets() {
        for text in ["all", "pooler", "classifier", "3.ffn_out", "*.value", "0.*"] {
            let target = ScopeTarget::parse(text, "scope.targets").unwrap();
            assert_eq!(target.to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_targets_naming_the_key() {
        for text in ["", "3", "x.value", "3.mlp", "*.*", "-1.key"] {
            let err = ScopeTarget::parse(text, "scope.targets[1]").unwrap_err();
            assert_eq!(err.key, "scope.targets[1]");
        }
    }

    #[test]
    fn containment_follows_wildcards() {
        let values = ScopeTarget::parse("*.value", "k").unwrap();
        assert!(values.contains(5, Sublayer::Value));
        assert!(!values.contains(5, Sublayer::Key));
        let layer3 = ScopeTarget::parse("3.*", "k").unwrap();
        assert!(layer3.contains(3, Sublayer::FfnIn));
        assert!(!layer3.contains(2, Sublayer::FfnIn));
        assert!(!ScopeTarget::Pooler.contains(0, Sublayer::Query));
    }
}
