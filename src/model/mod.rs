//! The BERT model: configuration, checkpoint loading, and the forward pass.
//!
//! A Hugging Face checkpoint directory (`config.json` plus safetensors weights) becomes a
//! [`BertForSequenceClassification`]. All arithmetic is `f32` on row-major
//! tokens × features matrices ([`Matrix`]). The weight products go through the
//! [`linear`] seam, so the same model code runs digitally or on emulated crossbars; the
//! non-linear functions are in [`activations`], so a modelled periphery can replace them.

pub mod activations;
pub mod bert;
pub mod checkpoint;
pub mod config;
pub mod linear;
pub mod matrix;

use std::path::Path;

pub use bert::{BertForSequenceClassification, InputError, PackedBatch};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use config::{BertConfig, ConfigJsonError, ProblemType};
pub use linear::{digital_linear, BatchId, LinearFactory, LinearKind, LinearOp, LinearSpec};
pub use matrix::Matrix;

/// Why a checkpoint directory could not become a model.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Config(#[from] ConfigJsonError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Loads `dir/config.json` and the weights of `dir`, building every linear layer with
/// `factory` ([`digital_linear`] for the exact digital engine). Tensors in the checkpoint
/// that the model does not use (e.g. a pre-training head) are reported on stderr.
pub fn load_classifier(
    dir: &Path,
    factory: &LinearFactory<'_>,
) -> Result<(BertConfig, BertForSequenceClassification), LoadError> {
    let config = BertConfig::from_file(&dir.join("config.json"))?;
    let weights = Checkpoint::open(dir)?;
    let model = BertForSequenceClassification::load(&weights, &config, factory)?;
    let unused = weights.unused_tensors();
    if !unused.is_empty() {
        eprintln!(
            "warning: {}: {} checkpoint tensor(s) not used by BertForSequenceClassification: {}",
            dir.display(),
            unused.len(),
            unused.join(", ")
        );
    }
    Ok((config, model))
}
