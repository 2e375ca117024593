//! Configuration errors that name the key, what was expected and what was found.

/// An impossible or unknown configuration value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: expected {expected}, found {found}")]
pub struct ConfigError {
    /// Dotted path of the offending key, e.g. `device.programming.sigma`.
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
