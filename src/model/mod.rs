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

use std::path::{Path, PathBuf};
use std::sync::Once;

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

/// A checkpoint directory opened once: its `config.json`, read without touching the
/// weights, and its safetensors files, mapped. Any number of models (the digital one, each
/// chip instance's) are built from it without reading the files again.
pub struct CheckpointDir {
    pub dir: PathBuf,
    pub config: BertConfig,
    weights: Checkpoint,
    /// The unused-tensor warning is printed once per directory, not once per model built.
    warned: Once,
}

impl CheckpointDir {
    pub fn open(dir: &Path) -> Result<Self, LoadError> {
        Ok(Self {
            dir: dir.to_path_buf(),
            config: BertConfig::from_file(&dir.join("config.json"))?,
            weights: Checkpoint::open(dir)?,
            warned: Once::new(),
        })
    }

    /// Builds the model, every linear layer with `factory` ([`digital_linear`] for the
    /// exact digital engine). Tensors the model does not use (e.g. a pre-training head) are
    /// reported on stderr, once.
    pub fn classifier(
        &self,
        factory: &LinearFactory<'_>,
    ) -> Result<BertForSequenceClassification, LoadError> {
        let model = BertForSequenceClassification::load(&self.weights, &self.config, factory)?;
        self.warned.call_once(|| {
            let unused = self.weights.unused_tensors();
            if !unused.is_empty() {
                eprintln!(
                    "warning: {}: {} checkpoint tensor(s) not used by \
                     BertForSequenceClassification: {}",
                    self.dir.display(),
                    unused.len(),
                    unused.join(", ")
                );
            }
        });
        Ok(model)
    }
}

/// Loads `dir/config.json` and the weights of `dir`, building every linear layer with
/// `factory` (see [`CheckpointDir::classifier`]).
pub fn load_classifier(
    dir: &Path,
    factory: &LinearFactory<'_>,
) -> Result<(BertConfig, BertForSequenceClassification), LoadError> {
    let checkpoint = CheckpointDir::open(dir)?;
    let model = checkpoint.classifier(factory)?;
    Ok((checkpoint.config, model))
}
