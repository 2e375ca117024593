//! # crossbert
//!
//! BERT inference emulated on resistive-memory (ReRAM) processing-in-memory hardware.
//!
//! Everything crossbert measures is a difference from the exact digital result of the same
//! checkpoint on the same data, so the digital engine comes first:
//!
//! - [`model`]: a Hugging Face BERT checkpoint (config, safetensors weights in f32/f16/bf16)
//!   as one struct per BERT module, computed in `f32`. Every weight product passes through
//!   [`model::LinearOp`], the seam where an analog backend plugs in.
//! - [`tokenize`]: WordPiece tokenization with Hugging Face's `tokenizers`, exactly as the
//!   reference outputs were produced (sentence pairs, longest-first truncation at 128).
//! - [`glue`]: the nine GLUE tasks: official TSV readers, label mapping, metrics, and the
//!   evaluation loop (length-bucketed batches run in parallel).
//! - [`periphery`]: the digital periphery (softmax, LayerNorm, GELU, attention products) with
//!   exact and fixed-point implementations and their operation counts.
//! - [`energy`]: technology tables and the energy / latency / area roll-up of event counts.
//! - [`experiment`]: declarative sweeps into tidy, crash-safe result CSVs; shards, merge,
//!   summaries and figures.
//! - [`synth`]: random-weight checkpoints of any BERT size in the Hugging Face layout.
//! - [`probe`]: a linear probe (task head) trained on a frozen encoder's pooled features.
//! - [`report`]: one GLUE evaluation and its JSON report (`crossbert eval`, Python's
//!   `crossbert.evaluate`).
//! - [`error`]: the error of an impossible or unknown setting, in one shape for every layer.
//! - [`draws`]: crossbert's own random draws (training, synthetic weights), keyed like the chip's.
//! - [`cli`]: the `crossbert` command.

pub mod backend;
pub mod cli;
pub mod draws;
pub mod energy;
pub mod error;
pub mod experiment;
pub mod glue;
pub mod hardware;
pub mod model;
pub mod periphery;
pub mod probe;
pub mod report;
pub mod synth;
pub mod tokenize;
pub mod train;
