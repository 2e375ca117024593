//! The trainable tensors of `BertForSequenceClassification`, flat and named as in the
//! checkpoint, with the index of every tensor each module reads.
//!
//! Training needs every tensor in one list (the optimizer, gradient clipping and the
//! checkpoint writer treat them alike) and also addressed by module (the forward and
//! backward passes). [`Params`] is the list, in [`tensor_layout`]'s order; [`BertIndex`] is
//! the module tree of indices into it. Gradients are a second `Params`-shaped list
//! ([`Params::zeros_like`]).

use std::path::Path;

use crate::draws::Draw;
use crossbar::rng::StreamKey;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use crate::model::{Checkpoint, CheckpointError, ModelConfig};
use crate::synth::{tensor_layout, write_safetensors, INITIALIZER_RANGE};

/// One named tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Hugging Face name, e.g. `bert.encoder.layer.0.attention.self.query.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    pub value: Vec<f32>,
}

/// Every tensor of the model, in [`tensor_layout`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub tensors: Vec<Tensor>,
}

/// Where a tensor came from when the parameters were loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Checkpoint,
    /// Not in the base checkpoint (a base encoder has no classifier): drawn from
    /// N(0, 0.02²) for weights, zero for biases, as Hugging Face initializes a new head.
    Initialized,
}

impl Params {
    /// Loads every tensor of a `num_labels`-output classifier from `weights` (names with or
    /// without `bert.`). The checkpoint's `classifier.*` is kept when `keep_head` is set and
    /// it has this shape; otherwise a new head is initialized from `seed` as Hugging Face
    /// does. Any other missing tensor is an error.
    pub fn load(
        weights: &Checkpoint,
        config: &ModelConfig,
        num_labels: usize,
        keep_head: bool,
        seed: u64,
    ) -> Result<(Self, Vec<Origin>), CheckpointError> {
        let mut origins = Vec::new();
        let mut tensors = Vec::new();
        for (number, spec) in tensor_layout(config, num_labels).into_iter().enumerate() {
            let is_head = spec.name.starts_with("classifier.");
            let keep = keep_head && has_matching(weights, &spec.name, &spec.shape);
            let value = if is_head && !keep {
                origins.push(Origin::Initialized);
                initial_head(&spec.name, spec.elements(), seed, number as u32)
            } else {
                origins.push(Origin::Checkpoint);
                weights.tensor(&spec.name, &spec.shape)?
            };
            tensors.push(Tensor {
                name: spec.name,
                shape: spec.shape,
                value,
            });
        }
        Ok((Self { tensors }, origins))
    }

    /// A list of the same names and shapes, all zeros (for gradients and moments).
    pub fn zeros_like(&self) -> Self {
        let tensors = self
            .tensors
            .iter()
            .map(|t| Tensor {
                name: t.name.clone(),
                shape: t.shape.clone(),
                value: vec![0.0; t.value.len()],
            })
            .collect();
        Self { tensors }
    }

    /// Sets the tensors `which` selects to zero.
    pub fn fill_zero(&mut self, which: impl Fn(usize) -> bool + Sync) {
        self.tensors
            .par_iter_mut()
            .enumerate()
            .filter(|(i, _)| which(*i))
            .for_each(|(_, t)| t.value.fill(0.0));
    }

    /// Index of the tensor named `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.tensors.iter().position(|t| t.name == name)
    }

    pub fn get(&self, i: usize) -> &[f32] {
        &self.tensors[i].value
    }

    pub fn get_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.tensors[i].value
    }

    /// Number of values of all tensors.
    pub fn len(&self) -> usize {
        self.tensors.iter().map(|t| t.value.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every tensor as float32 to a safetensors file.
    pub fn write_safetensors(&self, path: &Path) -> anyhow::Result<()> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|t| {
                let data = t.value.iter().flat_map(|v| v.to_le_bytes()).collect();
                (t.name.clone(), t.shape.clone(), data)
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, shape, data)| {
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    data,
                )?;
                Ok((name.clone(), view))
            })
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
        write_safetensors(path, views)
    }
}

/// Whether the checkpoint holds `name` with this shape (a base model's head for another
/// number of labels is replaced, as Hugging Face's `ignore_mismatched_sizes` does).
fn has_matching(weights: &Checkpoint, name: &str, shape: &[usize]) -> bool {
    weights.contains(name) && weights.tensor(name, shape).is_ok()
}

fn initial_head(name: &str, elements: usize, seed: u64, number: u32) -> Vec<f32> {
    if name.ends_with(".bias") {
        return vec![0.0; elements];
    }
    let mut rng = StreamKey::new(seed, number, 0, Draw::HeadInit.into()).rng();
    let normal = Normal::new(0.0f32, INITIALIZER_RANGE).expect("positive std");
    (0..elements).map(|_| normal.sample(&mut rng)).collect()
}

/// A linear layer's tensors: `weight` (`out × in`) and `bias`.
#[derive(Debug, Clone, Copy)]
pub struct LinearIndex {
    pub weight: usize,
    pub bias: usize,
    pub in_features: usize,
    pub out_features: usize,
}

/// A LayerNorm's γ (`weight`) and β (`bias`).
#[derive(Debug, Clone, Copy)]
pub struct LayerNormIndex {
    pub weight: usize,
    pub bias: usize,
}

/// One encoder layer (`bert.encoder.layer.{i}`).
#[derive(Debug, Clone)]
pub struct LayerIndex {
    pub query: LinearIndex,
    pub key: LinearIndex,
    pub value: LinearIndex,
    pub attention_output: LinearIndex,
    pub attention_layer_norm: LayerNormIndex,
    pub intermediate: LinearIndex,
    pub output: LinearIndex,
    pub output_layer_norm: LayerNormIndex,
}

/// The module tree of `BertForSequenceClassification` as indices into [`Params`].
#[derive(Debug, Clone)]
pub struct BertIndex {
    pub word_embeddings: usize,
    pub position_embeddings: usize,
    pub token_type_embeddings: usize,
    pub embeddings_layer_norm: LayerNormIndex,
    pub layers: Vec<LayerIndex>,
    pub pooler: LinearIndex,
    pub classifier: LinearIndex,
}

impl BertIndex {
    /// The indices of `params`, which must hold [`tensor_layout`]'s tensors.
    pub fn new(params: &Params, config: &ModelConfig) -> Self {
        let find = |name: String| {
            params
                .index(&name)
                .unwrap_or_else(|| panic!("{name}: Params hold every tensor of tensor_layout"))
        };
        let linear = |prefix: String| {
            let weight = find(format!("{prefix}.weight"));
            let shape = &params.tensors[weight].shape;
            LinearIndex {
                weight,
                bias: find(format!("{prefix}.bias")),
                in_features: shape[1],
                out_features: shape[0],
            }
        };
        let layer_norm = |prefix: String| LayerNormIndex {
            weight: find(format!("{prefix}.weight")),
            bias: find(format!("{prefix}.bias")),
        };
        let e = "bert.embeddings";
        let layers = (0..config.num_hidden_layers)
            .map(|l| {
                let p = format!("bert.encoder.layer.{l}");
                LayerIndex {
                    query: linear(format!("{p}.attention.self.query")),
                    key: linear(format!("{p}.attention.self.key")),
                    value: linear(format!("{p}.attention.self.value")),
                    attention_output: linear(format!("{p}.attention.output.dense")),
                    attention_layer_norm: layer_norm(format!("{p}.attention.output.LayerNorm")),
                    intermediate: linear(format!("{p}.intermediate.dense")),
                    output: linear(format!("{p}.output.dense")),
                    output_layer_norm: layer_norm(format!("{p}.output.LayerNorm")),
                }
            })
            .collect();
        Self {
            word_embeddings: find(format!("{e}.word_embeddings.weight")),
            position_embeddings: find(format!("{e}.position_embeddings.weight")),
            token_type_embeddings: find(format!("{e}.token_type_embeddings.weight")),
            embeddings_layer_norm: layer_norm(format!("{e}.LayerNorm")),
            layers,
            pooler: linear("bert.pooler.dense".into()),
            classifier: linear("classifier".into()),
        }
    }
}
