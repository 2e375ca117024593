//! Errors of programming and running a mapped matrix.

use crossbar::ConfigError;

/// Why a mapped-matrix call could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    /// An input had the wrong size.
    #[error("matrix {matrix_id}: {what}: expected {expected}, found {found}")]
    Shape {
        matrix_id: u32,
        what: String,
        expected: String,
        found: String,
    },
    /// A calibrated scale or range is used before `calibrate` set it.
    #[error(
        "matrix {matrix_id}: {what} is `calibrated` but MappedMatrix::calibrate was not called"
    )]
    NotCalibrated { matrix_id: u32, what: &'static str },
    #[error(transparent)]
    Config(#[from] ConfigError),
}
