//! The models: configuration, checkpoint loading, and the forward pass.
//!
//! A Hugging Face checkpoint directory (`config.json` plus safetensors weights) of any
//! family in [`family`] (BERT, DistilBERT, RoBERTa, ALBERT, ELECTRA) becomes a
//! [`SequenceClassifier`], the one interface the backend, GLUE evaluation, the cost model
//! and the sweeps use. All arithmetic is `f32` on row-major tokens × features matrices
//! ([`Matrix`]). The weight products go through the [`linear`] seam, so the same model code
//! runs digitally or on emulated crossbars; the non-linear functions are in
//! [`crate::periphery`], so a modelled periphery can replace them.

pub mod activations;
pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod encoder;
pub mod family;
pub mod linear;
pub mod matrix;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use crate::periphery::{OpCounts, PeripheryConfig};

pub use batch::{InputError, PackedBatch};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use config::{ConfigJsonError, ModelConfig, ProblemType};
pub use encoder::{EncoderClassifier, HeadAt, HeadProducts};
pub use family::Family;
pub use linear::{
    digital_linear, BatchId, LinearFactory, LinearInfo, LinearKind, LinearName, LinearOp,
    LinearSpec,
};
pub use matrix::Matrix;

/// A model that classifies (or scores) sequences: what the rest of crossbert knows of it.
pub trait SequenceClassifier: Send + Sync {
    /// The architecture, as `config.json` gives it.
    fn config(&self) -> &ModelConfig;

    /// Every linear layer, each once (a shared layer's `uses` counts its applications), in
    /// the order the forward pass first runs them.
    fn linears(&self) -> &[LinearInfo];

    /// Logits, one row per sequence of the batch, `num_labels` columns.
    fn forward(&self, batch: &PackedBatch) -> Result<Matrix, InputError>;

    /// Computes softmax, LayerNorm, GELU and the digital attention products as `p` says.
    fn set_periphery(&mut self, p: &PeripheryConfig);

    /// Runs the attention products of layer `i` of the forward pass on `products(i)` (e.g.
    /// write-enabled crossbars) instead of digital logic.
    fn set_attention_products(&mut self, products: &dyn Fn(usize) -> Arc<dyn HeadProducts>);

    /// Periphery operations per token of the embeddings (their LayerNorm).
    fn embedding_ops(&self, p: &PeripheryConfig) -> OpCounts;

    /// Operations per sequence of the head's activation.
    fn head_ops(&self) -> OpCounts;

    /// Operations outside the linear layers for one sequence of `len` tokens.
    fn digital_ops(&self, p: &PeripheryConfig, len: usize) -> DigitalOps;

    /// Floating-point operations of the matrix products for sequences of these lengths
    /// (2 per multiply-accumulate; element-wise work is not counted).
    fn flops(&self, lengths: &[usize]) -> u64;

    /// Outputs per sequence.
    fn num_labels(&self) -> usize {
        self.config().num_labels()
    }
}

/// A boxed model is a model (so `&Box<dyn SequenceClassifier>` is accepted where a
/// `&dyn SequenceClassifier` is).
impl<T: SequenceClassifier + ?Sized> SequenceClassifier for Box<T> {
    fn config(&self) -> &ModelConfig {
        (**self).config()
    }
    fn linears(&self) -> &[LinearInfo] {
        (**self).linears()
    }
    fn forward(&self, batch: &PackedBatch) -> Result<Matrix, InputError> {
        (**self).forward(batch)
    }
    fn set_periphery(&mut self, p: &PeripheryConfig) {
        (**self).set_periphery(p)
    }
    fn set_attention_products(&mut self, products: &dyn Fn(usize) -> Arc<dyn HeadProducts>) {
        (**self).set_attention_products(products)
    }
    fn embedding_ops(&self, p: &PeripheryConfig) -> OpCounts {
        (**self).embedding_ops(p)
    }
    fn head_ops(&self) -> OpCounts {
        (**self).head_ops()
    }
    fn digital_ops(&self, p: &PeripheryConfig, len: usize) -> DigitalOps {
        (**self).digital_ops(p, len)
    }
    fn flops(&self, lengths: &[usize]) -> u64 {
        (**self).flops(lengths)
    }
}

/// Operations of one sequence outside the linear layers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DigitalOps {
    /// Softmax, LayerNorms, activations, residual adds, score scaling.
    pub periphery: OpCounts,
    /// The attention products Q·Kᵀ and P·V at the periphery's precision.
    pub attention: OpCounts,
}

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
    pub config: ModelConfig,
    weights: Checkpoint,
    /// The unused-tensor warning is printed once per directory, not once per model built.
    warned: Once,
}

impl CheckpointDir {
    pub fn open(dir: &Path) -> Result<Self, LoadError> {
        let config = ModelConfig::from_file(&dir.join("config.json"))?;
        let mut weights = Checkpoint::open(dir)?;
        weights.set_base_prefix(config.model_type.layout(&config).base);
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            weights,
            warned: Once::new(),
        })
    }

    /// Builds the model, every linear layer with `factory` ([`digital_linear`] for the
    /// exact digital engine). Tensors the model does not use (e.g. a pre-training head) are
    /// reported on stderr, once.
    pub fn classifier(
        &self,
        factory: &LinearFactory<'_>,
    ) -> Result<Box<dyn SequenceClassifier>, LoadError> {
        let model = EncoderClassifier::load(&self.weights, &self.config, factory)?;
        self.warned.call_once(|| {
            let unused = self.weights.unused_tensors();
            if !unused.is_empty() {
                eprintln!(
                    "warning: {}: {} checkpoint tensor(s) not used by {}: {}",
                    self.dir.display(),
                    unused.len(),
                    self.config.model_type.architecture(),
                    unused.join(", ")
                );
            }
        });
        Ok(Box::new(model))
    }
}

/// Loads `dir/config.json` and the weights of `dir`, building every linear layer with
/// `factory` (see [`CheckpointDir::classifier`]).
pub fn load_classifier(
    dir: &Path,
    factory: &LinearFactory<'_>,
) -> Result<(ModelConfig, Box<dyn SequenceClassifier>), LoadError> {
    let checkpoint = CheckpointDir::open(dir)?;
    let model = checkpoint.classifier(factory)?;
    Ok((checkpoint.config, model))
}
