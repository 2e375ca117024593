//! The error of an impossible or unknown setting in anything crossbert reads: hardware
//! descriptions (beyond the device and mapping sections, whose crates report their own),
//! periphery and energy tables, experiment specs.
//!
//! It has the shape of the physics crates' errors (the dotted key, what was expected, what
//! was found), and theirs convert into it, so one hardware description reports every bad
//! value the same way whichever layer checked it.

/// An impossible or unknown setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: expected {expected}, found {found}")]
pub struct ConfigError {
    /// Dotted path of the offending key, e.g. `periphery.softmax.input_frac_bits`.
    pub key: String,
    pub expected: String,
    pub found: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, expected: impl Into<String>, found: impl ToString) -> Self {
        Self {
            key: key.into(),
            expected: expected.into(),
            found: found.to_string(),
        }
    }
}

/// A device or mapping setting the `crossbar` crate rejected (the mapping crate reports its
/// settings with the same type).
impl From<crossbar::ConfigError> for ConfigError {
    fn from(e: crossbar::ConfigError) -> Self {
        Self {
            key: e.key,
            expected: e.expected,
            found: e.found,
        }
    }
}
