//! Scope: restrict swept settings to one layer or one kind of sublayer.
//!
//! A per-layer sensitivity campaign sweeps a fault or noise setting while applying it to a
//! single part of the network at a time; a mixed-precision study does the same with a
//! mapping setting (e.g. the ADC bits of one sublayer kind while the others keep the
//! base's). The spec says which grid keys are scoped and the list of targets to step
//! through:
//!
//! ```toml
//! [scope]
//! keys = ["device.stuck_at.rate_g_max"]      # grid keys applied only to the target
//! targets = ["all", "3.ffn_out", "*.value", "0.*", "classifier"]
//! ```
//!
//! Scoped keys are device or mapping settings (`device.…`, `mapping.…`): the sections a
//! `[[layers.overrides]]` entry sets, which is how the backend applies them.
//!
//! Each target becomes one more grid dimension (column `scope`). Targets are written as
//! `[[layers.overrides]]` targets are ([`LinearPattern`]): `all` (every linear
//! layer), `<layer>.<sublayer>` with `<layer>` an encoder layer index (0-based) or `*`, and
//! `<sublayer>` one of `query`, `key`, `value`, `attn_out` (or `attention_output`: the
//! attention output projection), `ffn_in` (intermediate), `ffn_out` (FFN output) or `*`;
//! and the two heads `pooler` and `classifier`. The backend interprets the scope: scoped
//! keys take the swept value inside the target and the base hardware value everywhere else.
use crate::error::ConfigError;
use crate::hardware::{LinearKind, LinearName, LinearPattern};
use std::fmt;

/// Where scoped settings apply: every linear, or the linears a pattern selects. Patterns
/// are those of `[[layers.overrides]]` targets ([`LinearPattern`], parsed there: one
/// grammar for both), which is how the backend applies a scoped point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeTarget {
    /// Every linear layer (an unscoped sweep).
    All,
    Linears(LinearPattern),
}

impl ScopeTarget {
    /// Parses a target string; `key` names the spec entry for the error message.
    pub fn parse(text: &str, key: &str) -> Result<Self, ConfigError> {
        match text {
            "all" => Ok(ScopeTarget::All),
            // `*.*` is `all` spelled differently; one spelling keeps result keys unique.
            "*.*" => Err(ConfigError::new(key, "`all` instead of `*.*`", "\"*.*\"")),
            _ => LinearPattern::try_from(text.to_string())
                .map(ScopeTarget::Linears)
                .map_err(|message| ConfigError::new(key, message, format!("{text:?}"))),
        }
    }

    /// Whether the linear `name` is inside this target.
    pub fn contains(&self, name: &LinearName) -> bool {
        match self {
            ScopeTarget::All => true,
            ScopeTarget::Linears(pattern) => pattern.matches(name),
        }
    }
}

impl fmt::Display for ScopeTarget {
    /// The canonical spelling, used in the `scope` column and the result key: the
    /// pattern's, except that the attention output projection is `attn_out` (the spelling
    /// result files have always used).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ScopeTarget::Linears(pattern) = self else {
            return f.write_str("all");
        };
        let canonical = pattern.to_string();
        let long = LinearKind::AttentionOutput.name();
        match canonical.strip_suffix(long) {
            Some(layer) => write!(f, "{layer}attn_out"),
            None => f.write_str(&canonical),
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
        for text in [
            "all",
            "pooler",
            "classifier",
            "3.ffn_out",
            "*.value",
            "0.*",
            "*.attn_out",
        ] {
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
        assert!(values.contains(&LinearName::encoder(5, LinearKind::Value)));
        assert!(!values.contains(&LinearName::encoder(5, LinearKind::Key)));
        let layer3 = ScopeTarget::parse("3.*", "k").unwrap();
        assert!(layer3.contains(&LinearName::encoder(3, LinearKind::Intermediate)));
        assert!(!layer3.contains(&LinearName::encoder(2, LinearKind::Intermediate)));
        let pooler = ScopeTarget::parse("pooler", "k").unwrap();
        assert!(!pooler.contains(&LinearName::encoder(0, LinearKind::Query)));
        assert!(pooler.contains(&LinearName::head(LinearKind::Pooler)));
    }

    #[test]
    fn both_spellings_of_the_attention_output_share_one_key() {
        for text in ["2.attn_out", "2.attention_output"] {
            let target = ScopeTarget::parse(text, "k").unwrap();
            assert_eq!(target.to_string(), "2.attn_out");
        }
    }
}
