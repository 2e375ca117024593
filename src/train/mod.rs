//! Fine-tuning: BERT's backward pass, AdamW, and the training loop of `crossbert finetune`
//! (BERT checkpoints only, [`require_bert`]).
//!
//! - [`params`]: every tensor of the model in one named list (what the optimizer updates and
//!   the checkpoint writer saves) and its module tree of indices.
//! - [`kernels`]: linear layers, LayerNorm, activations and softmax, forward and backward,
//!   on fixed blocks so results do not depend on the thread count.
//! - [`bert`]: the forward pass with its tape, the loss, the backward pass.
//! - [`optimizer`]: AdamW with linear warm-up and decay, gradient clipping.
//! - [`hardware_aware`]: the chip's weight noise, drop-out and converters in the forward
//!   pass (`crossbert finetune --preset/--hardware`).
//! - [`chip_in_loop`]: the emulated chip's own error in the forward pass
//!   (`[training] chip_in_loop = true`).
//! - [`finetune`]: the training loop.

pub mod bert;
pub mod chip_in_loop;
pub mod finetune;
pub mod hardware_aware;
pub mod kernels;
pub mod optimizer;
pub mod params;

pub use bert::{loss, Dropout, Targets, TrainBert};
pub use params::{BertIndex, Params};

/// Training runs BERT only (its backward pass is written for BERT's module tree); other
/// families get this error instead of a missing-tensor one.
pub fn require_bert(
    config: &crate::model::ModelConfig,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let family = config.model_type;
    if family != crate::model::Family::Bert {
        anyhow::bail!(
            "{}: model_type {:?}: fine-tuning supports \"bert\" checkpoints only (inference \
             runs every family)",
            path.display(),
            family.model_type()
        );
    }
    Ok(())
}
