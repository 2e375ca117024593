//! Fine-tuning: BERT's backward pass, AdamW, and the training loop of `crossbert finetune`.
//!
//! - [`params`]: every tensor of the model in one named list (what the optimizer updates and
//!   the checkpoint writer saves) and its module tree of indices.
//! - [`kernels`]: linear layers, LayerNorm, activations and softmax, forward and backward,
//!   on fixed blocks so results do not depend on the thread count.
//! - [`bert`]: the forward pass with its tape, the loss, the backward pass.
//! - [`optimizer`]: AdamW with linear warm-up and decay, gradient clipping.
//! - [`hardware_aware`]: the chip's weight noise, drop-out and converters in the forward
//!   pass (`crossbert finetune --preset/--hardware`).
//! - [`finetune`]: the training loop.

pub mod bert;
pub mod finetune;
pub mod hardware_aware;
pub mod kernels;
pub mod optimizer;
pub mod params;

pub use bert::{loss, Dropout, Targets, TrainBert};
pub use params::{BertIndex, Params};
