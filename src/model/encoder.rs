//! The post-LayerNorm transformer encoder with a classification head, as every supported
//! family computes it, built from a family's [`Layout`]:
//!
//! ```text
//! EncoderClassifier
//! ├── model: EncoderModel
//! │   ├── embeddings: Embeddings     word + token type + position, LayerNorm
//! │   ├── projection: Linear         embedding width → hidden (ALBERT, ELECTRA only)
//! │   ├── encoder: Encoder
//! │   │   └── layers: EncoderLayer   one per stored layer; layer i runs stored_layer(i)
//! │   │       ├── self_attention     query, key, value, softmax(QKᵀ/√d)·V
//! │   │       ├── attention_output   dense, LayerNorm(· + input)
//! │   │       ├── intermediate       dense, hidden_act
//! │   │       └── output             dense, LayerNorm(· + attention out)
//! │   └── pooler: Pooler             dense on the first token, the family's activation
//! └── classifier: Linear             → logits
//! ```
//!
//! Sequences come packed ([`PackedBatch`]): attention runs per sequence over its own
//! tokens only, which equals Hugging Face's padded computation.
//!
//! The non-linear functions run as the hardware's digital periphery computes them
//! ([`SequenceClassifier::set_periphery`]): the float choices are the exact `f32`
//! functions of [`crate::periphery::exact`] (GELU in the form the checkpoint's `hidden_act`
//! names), so the default periphery gives the digital engine's results bit for bit;
//! fixed-point softmax, LayerNorm and table/integer GELU come from [`crate::periphery`].
//! The head's activation is the family's, always exact.
//!
//! The attention products Q_h·K_hᵀ and P·V_h have no weights, so they are not linears:
//! [`ScoreProducts`] says where they run in each layer of the forward pass — digital logic
//! at the periphery's stated precision (fp32, the default and bit-identical to the digital
//! engine, or int8), or hardware behind the [`HeadProducts`] seam
//! ([`SequenceClassifier::set_attention_products`]).

use std::sync::Arc;

use rayon::prelude::*;

use crate::periphery::{
    self, matmul_a_b, matmul_a_bt, AttentionPrecision, EncoderLayerShape, OpCounts, PeripheryConfig,
};

use super::activations::HiddenAct;
use super::batch::{InputError, PackedBatch};
use super::checkpoint::{Checkpoint, CheckpointError};
use super::config::ModelConfig;
use super::family::{EmbeddingNames, HeadActivation, LayerNames, Layout};
use super::linear::{BatchId, Linear, LinearFactory, LinearInfo, LinearKind, LinearName};
use super::matrix::{gemm_strided, Matrix, StridedRef};
use super::{DigitalOps, SequenceClassifier};

/// Where the linears being loaded sit: their stored layer (`None` outside the encoder) and
/// how many times a forward pass applies them.
struct At {
    layer: Option<usize>,
    uses: usize,
}

impl At {
    const ONCE_OUTSIDE_ENCODER: At = At {
        layer: None,
        uses: 1,
    };

    /// Loads linear `name` (`out_features × in_features`) in role `kind`.
    fn load(
        &self,
        weights: &Checkpoint,
        name: &str,
        kind: LinearKind,
        in_features: usize,
        out_features: usize,
        factory: &LinearFactory<'_>,
    ) -> Result<Linear, CheckpointError> {
        let info = LinearInfo {
            name: LinearName {
                layer: self.layer,
                kind,
            },
            checkpoint_name: name.to_string(),
            in_features,
            out_features,
            uses: self.uses,
        };
        Linear::load(weights, info, factory)
    }
}

/// LayerNorm with its learned scale (`weight`) and shift (`bias`).
pub struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f64,
    /// How the periphery computes it; `Float` is the exact
    /// [`periphery::exact::layer_norm_row`].
    kind: periphery::LayerNorm,
}

impl LayerNorm {
    /// Loads `{prefix}.weight` and `{prefix}.bias`, `width` values each.
    fn load(
        weights: &Checkpoint,
        config: &ModelConfig,
        prefix: &str,
        width: usize,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            weight: weights.tensor(&format!("{prefix}.weight"), &[width])?,
            bias: weights.tensor(&format!("{prefix}.bias"), &[width])?,
            eps: config.layer_norm_eps,
            kind: periphery::LayerNorm::Float,
        })
    }

    /// Normalizes every row (token) of `x` in place.
    fn forward(&self, x: &mut Matrix) {
        let cols = x.cols();
        self.kind
            .apply(x.as_mut_slice(), cols, &self.weight, &self.bias, self.eps)
            .expect("γ and β were loaded with one value per hidden feature");
    }
}

/// Word, position and (unless the family has none) token-type embeddings, summed and
/// normalized.
pub struct Embeddings {
    word_embeddings: Matrix,
    position_embeddings: Matrix,
    token_type_embeddings: Option<Matrix>,
    /// Position id of each sequence's first token.
    first_position: usize,
    layer_norm: LayerNorm,
}

impl Embeddings {
    fn load(
        weights: &Checkpoint,
        config: &ModelConfig,
        names: &EmbeddingNames,
    ) -> Result<Self, CheckpointError> {
        let e = config.embedding_size();
        let table = |name: &str, rows| weights.matrix(&format!("{name}.weight"), rows, e);
        Ok(Self {
            word_embeddings: table(&names.word, config.vocab_size)?,
            position_embeddings: table(&names.position, config.max_position_embeddings)?,
            token_type_embeddings: match &names.token_type {
                Some(name) => Some(table(name, config.type_vocab_size)?),
                None => None,
            },
            first_position: names.first_position,
            layer_norm: LayerNorm::load(weights, config, &names.layer_norm, e)?,
        })
    }

    /// Checks that every id of the batch has an embedding row.
    fn check(&self, batch: &PackedBatch) -> Result<(), InputError> {
        let mut start = 0;
        for (sequence, &len) in batch.lengths.iter().enumerate() {
            if len == 0 {
                return Err(InputError::Empty { sequence });
            }
            let max =
                |ids: &[u32]| *ids[start..start + len].iter().max().expect("len > 0") as usize;
            let mut limits = vec![
                (
                    self.first_position + len - 1,
                    self.position_embeddings.rows(),
                    "position",
                    "max_position_embeddings",
                ),
                (
                    max(&batch.input_ids),
                    self.word_embeddings.rows(),
                    "token id",
                    "vocab_size",
                ),
            ];
            if let Some(table) = &self.token_type_embeddings {
                limits.push((
                    max(&batch.token_type_ids),
                    table.rows(),
                    "token type id",
                    "type_vocab_size",
                ));
            }
            for (value, limit, what, key) in limits {
                if value >= limit {
                    return Err(InputError::OutOfRange {
                        sequence,
                        what,
                        value,
                        limit,
                        key,
                    });
                }
            }
            start += len;
        }
        Ok(())
    }

    /// One row per token: `LayerNorm(word + token_type + position)`, summed in Hugging
    /// Face's order. Positions restart at `first_position` for every sequence.
    fn forward(&self, batch: &PackedBatch) -> Matrix {
        let e = self.word_embeddings.cols();
        let mut x = Matrix::zeros(batch.num_tokens(), e);
        let mut row = 0;
        for &len in &batch.lengths {
            for position in self.first_position..self.first_position + len {
                let word = self.word_embeddings.row(batch.input_ids[row] as usize);
                let pos = self.position_embeddings.row(position);
                let out = x.row_mut(row);
                match &self.token_type_embeddings {
                    Some(table) => {
                        let kind = table.row(batch.token_type_ids[row] as usize);
                        for (j, out) in out.iter_mut().enumerate() {
                            *out = (word[j] + kind[j]) + pos[j];
                        }
                    }
                    None => {
                        for (j, out) in out.iter_mut().enumerate() {
                            *out = word[j] + pos[j];
                        }
                    }
                }
                row += 1;
            }
        }
        self.layer_norm.forward(&mut x);
        x
    }
}

/// Where one attention head's products run: which head of which sequence, and its sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadAt {
    pub head: usize,
    /// The sequence's identity for per-inference randomness (by convention its file-order
    /// example index, see [`BatchId`]).
    pub sequence: u64,
    /// Tokens of the sequence.
    pub len: usize,
    /// Head size.
    pub d: usize,
}

/// The two products of one attention head computed by some hardware instead of digital
/// logic (e.g. write-enabled crossbars, `crate::backend::attention`). One instance serves
/// one encoder layer; buffers are row-major.
pub trait HeadProducts: Send + Sync {
    /// `out` (len × len) = q (len × d) · kᵀ, with k stored len × d.
    fn scores(&self, at: HeadAt, q: &[f32], k: &[f32], out: &mut [f32]);
    /// `out` (len × d) = p (len × len) · v (len × d).
    fn context(&self, at: HeadAt, p: &[f32], v: &[f32], out: &mut [f32]);
}

/// How [`SelfAttention`] computes Q_h·K_hᵀ and P·V_h.
#[derive(Clone)]
pub enum ScoreProducts {
    /// Digital logic at a stated precision. fp32 runs the engine's gemm (the digital
    /// engine's results bit for bit); int8 runs [`periphery::matmul_a_bt`] and
    /// [`periphery::matmul_a_b`] (per-tensor int8 operands, int32 sums).
    Digital(AttentionPrecision),
    /// Hardware behind the [`HeadProducts`] seam.
    Hardware(Arc<dyn HeadProducts>),
}

/// Multi-head scaled dot-product self-attention.
pub struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    num_heads: usize,
    head_size: usize,
    /// How the periphery computes softmax; `Float` is the exact
    /// [`periphery::exact::softmax_row`].
    softmax: periphery::Softmax,
}

impl SelfAttention {
    fn load(
        weights: &Checkpoint,
        config: &ModelConfig,
        names: &LayerNames,
        at: &At,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let h = config.hidden_size;
        Ok(Self {
            query: at.load(weights, &names.query, LinearKind::Query, h, h, factory)?,
            key: at.load(weights, &names.key, LinearKind::Key, h, h, factory)?,
            value: at.load(weights, &names.value, LinearKind::Value, h, h, factory)?,
            num_heads: config.num_attention_heads,
            head_size: config.head_size(),
            softmax: periphery::Softmax::Float,
        })
    }

    /// The concatenated head outputs (tokens × hidden), before the output projection, with
    /// the score and context products computed as `products` says.
    fn forward(
        &self,
        hidden: &Matrix,
        products: &ScoreProducts,
        lengths: &[usize],
        batch: BatchId<'_>,
    ) -> Matrix {
        let q = self.query.forward(hidden, batch);
        let k = self.key.forward(hidden, batch);
        let v = self.value.forward(hidden, batch);
        let width = hidden.cols();
        let mut context = Matrix::zeros(hidden.rows(), width);
        // Split the output into one contiguous block of rows per sequence, so sequences run
        // in parallel; each block's result does not depend on which thread computes it.
        let mut blocks = Vec::with_capacity(lengths.len());
        let mut rest = context.as_mut_slice();
        let mut start = 0;
        for (i, &len) in lengths.iter().enumerate() {
            let (block, tail) = rest.split_at_mut(len * width);
            blocks.push((batch.sequence(i), start, len, block));
            rest = tail;
            start += len;
        }
        blocks
            .into_par_iter()
            .for_each(|(sequence, start, len, block)| {
                let rows = start * width..(start + len) * width;
                let tokens = SequenceRows {
                    q: &q.as_slice()[rows.clone()],
                    k: &k.as_slice()[rows.clone()],
                    v: &v.as_slice()[rows],
                    len,
                    width,
                };
                match products {
                    ScoreProducts::Digital(AttentionPrecision::Float32) => {
                        self.attend_float32(&tokens, block)
                    }
                    products => self.attend_per_head(products, sequence, &tokens, block),
                }
            });
        context
    }

    /// softmax(Q_h·K_hᵀ/√d)·V_h for every head h of one sequence in fp32 on strided views
    /// of the packed rows; writes head h into columns h·d..(h+1)·d of `out`.
    fn attend_float32(&self, t: &SequenceRows<'_>, out: &mut [f32]) {
        let (len, width, d) = (t.len, t.width, self.head_size);
        let mut scores = vec![0.0f32; len * len];
        for head in 0..self.num_heads {
            let col = head * d;
            // Q_h (len × d) and K_hᵀ (d × len) as strided views into the packed rows.
            let q_h = StridedRef {
                data: &t.q[col..],
                row_stride: width,
                col_stride: 1,
            };
            let k_t = StridedRef {
                data: &t.k[col..],
                row_stride: 1,
                col_stride: width,
            };
            gemm_strided(len, d, len, q_h, k_t, 0.0, &mut scores, len);
            self.softmax_rows(&mut scores, len);
            let v_h = StridedRef {
                data: &t.v[col..],
                row_stride: width,
                col_stride: 1,
            };
            let probs = StridedRef::row_major(&scores, len);
            gemm_strided(len, len, d, probs, v_h, 0.0, &mut out[col..], width);
        }
    }

    /// The same per head on contiguous copies of Q_h, K_h and V_h, with the products in
    /// int8 or on hardware (`sequence` identifies the sequence to the hardware).
    fn attend_per_head(
        &self,
        products: &ScoreProducts,
        sequence: u64,
        t: &SequenceRows<'_>,
        out: &mut [f32],
    ) {
        let (len, width, d) = (t.len, t.width, self.head_size);
        let mut scores = vec![0.0f32; len * len];
        let mut context = vec![0.0f32; len * d];
        let columns = |m: &[f32], col: usize| -> Vec<f32> {
            m.chunks_exact(width)
                .flat_map(|row| &row[col..col + d])
                .copied()
                .collect()
        };
        for head in 0..self.num_heads {
            let col = head * d;
            let (q_h, k_h, v_h) = (columns(t.q, col), columns(t.k, col), columns(t.v, col));
            let at = HeadAt {
                head,
                sequence,
                len,
                d,
            };
            match products {
                ScoreProducts::Digital(precision) => {
                    matmul_a_bt(&q_h, &k_h, (len, len, d), &mut scores, *precision)
                        .expect("Q_h and K_h are len × d, the scores len × len");
                }
                ScoreProducts::Hardware(hw) => hw.scores(at, &q_h, &k_h, &mut scores),
            }
            self.softmax_rows(&mut scores, len);
            match products {
                ScoreProducts::Digital(precision) => {
                    matmul_a_b(&scores, &v_h, (len, d, len), &mut context, *precision)
                        .expect("P is len × len, V_h and the context len × d");
                }
                ScoreProducts::Hardware(hw) => hw.context(at, &scores, &v_h, &mut context),
            }
            for (out_row, ctx_row) in out.chunks_exact_mut(width).zip(context.chunks_exact(d)) {
                out_row[col..col + d].copy_from_slice(ctx_row);
            }
        }
    }

    /// Scales each row of len scores by 1/√d and applies the periphery's softmax.
    fn softmax_rows(&self, scores: &mut [f32], len: usize) {
        let scale = 1.0 / (self.head_size as f32).sqrt();
        for row in scores.chunks_exact_mut(len) {
            row.iter_mut().for_each(|s| *s *= scale);
            self.softmax
                .apply(row, len)
                .expect("a row of len scores has len columns");
        }
    }

    /// Multiply-accumulates of Q·Kᵀ and P·V for one sequence of `len` tokens.
    fn score_macs(&self, len: usize) -> u64 {
        (2 * len * len * self.num_heads * self.head_size) as u64
    }
}

/// The Q, K and V rows (len × width each) of one sequence.
struct SequenceRows<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    len: usize,
    width: usize,
}

/// A projection followed by the residual connection and LayerNorm: the attention output
/// (after the heads are concatenated) and the second feed-forward layer.
pub struct DenseAddNorm {
    dense: Linear,
    layer_norm: LayerNorm,
}

impl DenseAddNorm {
    /// `LayerNorm(dense(x) + residual)`.
    fn forward(&self, x: &Matrix, residual: &Matrix, batch: BatchId<'_>) -> Matrix {
        let mut y = self.dense.forward(x, batch);
        y.add_assign(residual);
        self.layer_norm.forward(&mut y);
        y
    }
}

/// First feed-forward layer and its activation.
pub struct Intermediate {
    dense: Linear,
    act: HiddenAct,
    /// A periphery approximation of GELU replacing `act`; `None` computes `act` in `f32`.
    approximation: Option<periphery::Gelu>,
}

impl Intermediate {
    fn forward(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix {
        let mut y = self.dense.forward(x, batch);
        match &self.approximation {
            None => self.act.apply(y.as_mut_slice()),
            Some(gelu) => {
                let cols = y.cols();
                gelu.apply(y.as_mut_slice(), cols)
                    .expect("the intermediate matrix has intermediate_size columns");
            }
        }
        y
    }
}

/// One transformer block.
pub struct EncoderLayer {
    self_attention: SelfAttention,
    attention_output: DenseAddNorm,
    intermediate: Intermediate,
    output: DenseAddNorm,
}

impl EncoderLayer {
    fn load(
        weights: &Checkpoint,
        config: &ModelConfig,
        names: &LayerNames,
        at: &At,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let layer_norm = |name| LayerNorm::load(weights, config, name, h);
        Ok(Self {
            self_attention: SelfAttention::load(weights, config, names, at, factory)?,
            attention_output: DenseAddNorm {
                dense: at.load(
                    weights,
                    &names.attention_output,
                    LinearKind::AttentionOutput,
                    h,
                    h,
                    factory,
                )?,
                layer_norm: layer_norm(&names.attention_layer_norm)?,
            },
            intermediate: Intermediate {
                dense: at.load(
                    weights,
                    &names.intermediate,
                    LinearKind::Intermediate,
                    h,
                    i,
                    factory,
                )?,
                act: config.hidden_act,
                approximation: None,
            },
            output: DenseAddNorm {
                dense: at.load(weights, &names.output, LinearKind::Output, i, h, factory)?,
                layer_norm: layer_norm(&names.output_layer_norm)?,
            },
        })
    }

    fn forward(
        &self,
        hidden: &Matrix,
        products: &ScoreProducts,
        lengths: &[usize],
        batch: BatchId<'_>,
    ) -> Matrix {
        let context = self
            .self_attention
            .forward(hidden, products, lengths, batch);
        let attended = self.attention_output.forward(&context, hidden, batch);
        let inner = self.intermediate.forward(&attended, batch);
        self.output.forward(&inner, &attended, batch)
    }
}

/// The stack of transformer blocks: layer i of the forward pass runs stored layer
/// `stored[i]` with the attention products `products[i]`.
pub struct Encoder {
    layers: Vec<EncoderLayer>,
    stored: Vec<usize>,
    products: Vec<ScoreProducts>,
}

impl Encoder {
    fn load(
        weights: &Checkpoint,
        config: &ModelConfig,
        names: &[LayerNames],
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let stored: Vec<usize> = (0..config.num_hidden_layers)
            .map(|i| config.stored_layer(i))
            .collect();
        let layers = names
            .iter()
            .enumerate()
            .map(|(s, names)| {
                let at = At {
                    layer: Some(s),
                    uses: stored.iter().filter(|&&t| t == s).count(),
                };
                EncoderLayer::load(weights, config, names, &at, factory)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            layers,
            products: vec![ScoreProducts::Digital(AttentionPrecision::Float32); stored.len()],
            stored,
        })
    }

    fn forward(&self, hidden: Matrix, lengths: &[usize], batch: BatchId<'_>) -> Matrix {
        self.stored
            .iter()
            .zip(&self.products)
            .fold(hidden, |h, (&s, products)| {
                self.layers[s].forward(&h, products, lengths, batch)
            })
    }
}

/// The head's first half: `activation(dense(h_first))` on each sequence's first token
/// (BERT's pooler; the first linear of the other families' classification heads).
pub struct Pooler {
    dense: Linear,
    activation: HeadActivation,
}

impl Pooler {
    /// One row per sequence, from the rows of the first tokens (`first_rows`).
    fn forward(&self, hidden: &Matrix, first_rows: &[usize], batch: BatchId<'_>) -> Matrix {
        let mut pooled = self.dense.forward(&hidden.select_rows(first_rows), batch);
        self.activation.apply(pooled.as_mut_slice());
        pooled
    }
}

/// Embeddings, encoder and pooler: everything but the last linear, which a task adds.
pub struct EncoderModel {
    embeddings: Embeddings,
    projection: Option<Linear>,
    encoder: Encoder,
    pooler: Pooler,
}

impl EncoderModel {
    /// Loads the model `config` describes from `weights` (see [`EncoderClassifier::load`]).
    pub fn load(
        weights: &Checkpoint,
        config: &ModelConfig,
        layout: &Layout,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let (e, h) = (config.embedding_size(), config.hidden_size);
        let at = At::ONCE_OUTSIDE_ENCODER;
        let kind = LinearKind::EmbeddingProjection;
        Ok(Self {
            embeddings: Embeddings::load(weights, config, &layout.embeddings)?,
            projection: match &layout.projection {
                Some(name) => Some(at.load(weights, name, kind, e, h, factory)?),
                None => None,
            },
            encoder: Encoder::load(weights, config, &layout.layers, factory)?,
            pooler: Pooler {
                dense: at.load(
                    weights,
                    &layout.head.dense,
                    LinearKind::Pooler,
                    h,
                    h,
                    factory,
                )?,
                activation: layout.head.activation,
            },
        })
    }

    /// The pooled output, one row per sequence.
    pub fn pooled(&self, batch: &PackedBatch) -> Result<Matrix, InputError> {
        self.embeddings.check(batch)?;
        let mut hidden = self.embeddings.forward(batch);
        if let Some(projection) = &self.projection {
            hidden = projection.forward(&hidden, batch.id());
        }
        let hidden = self.encoder.forward(hidden, &batch.lengths, batch.id());
        Ok(self.pooler.forward(&hidden, &batch.offsets(), batch.id()))
    }

    /// Every linear, in the order the forward pass first runs them.
    fn linears(&self) -> impl Iterator<Item = &Linear> {
        let layers = self.encoder.layers.iter().flat_map(|l| {
            let a = &l.self_attention;
            [
                &a.query,
                &a.key,
                &a.value,
                &l.attention_output.dense,
                &l.intermediate.dense,
                &l.output.dense,
            ]
        });
        self.projection
            .iter()
            .chain(layers)
            .chain([&self.pooler.dense])
    }
}

/// A post-LN transformer encoder with a classification (or regression) layer on its pooled
/// output: the model of every family in [`super::family`].
pub struct EncoderClassifier {
    config: ModelConfig,
    model: EncoderModel,
    classifier: Linear,
    /// Every linear, in the order the forward pass first runs them.
    linears: Vec<LinearInfo>,
}

impl EncoderClassifier {
    /// Loads the model `config` describes from `weights`, with the tensor names of its
    /// family's layout, building each linear layer with `factory` (see [`super::linear`])
    /// in the order the forward pass first runs them.
    pub fn load(
        weights: &Checkpoint,
        config: &ModelConfig,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let layout = config.model_type.layout(config);
        let model = EncoderModel::load(weights, config, &layout, factory)?;
        let classifier = At::ONCE_OUTSIDE_ENCODER.load(
            weights,
            &layout.head.classifier,
            LinearKind::Classifier,
            config.hidden_size,
            config.num_labels(),
            factory,
        )?;
        let linears = model
            .linears()
            .chain([&classifier])
            .map(|l| l.info().clone())
            .collect();
        Ok(Self {
            config: config.clone(),
            model,
            classifier,
            linears,
        })
    }
}

impl SequenceClassifier for EncoderClassifier {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn linears(&self) -> &[LinearInfo] {
        &self.linears
    }

    fn forward(&self, batch: &PackedBatch) -> Result<Matrix, InputError> {
        let pooled = self.model.pooled(batch)?;
        Ok(self.classifier.forward(&pooled, batch.id()))
    }

    /// Float GELU choices (erf, tanh) keep the checkpoint's own `hidden_act`; the table
    /// and integer forms replace it.
    fn set_periphery(&mut self, p: &PeripheryConfig) {
        let approximation = match p.gelu {
            periphery::Gelu::Erf | periphery::Gelu::Tanh => None,
            ref approx => Some(approx.clone()),
        };
        let model = &mut self.model;
        model.embeddings.layer_norm.kind = p.layernorm.clone();
        for layer in &mut model.encoder.layers {
            layer.self_attention.softmax = p.softmax.clone();
            layer.attention_output.layer_norm.kind = p.layernorm.clone();
            layer.intermediate.approximation = approximation.clone();
            layer.output.layer_norm.kind = p.layernorm.clone();
        }
        for products in &mut model.encoder.products {
            *products = ScoreProducts::Digital(p.attention);
        }
    }

    fn set_attention_products(&mut self, products: &dyn Fn(usize) -> Arc<dyn HeadProducts>) {
        for (i, slot) in self.model.encoder.products.iter_mut().enumerate() {
            *slot = ScoreProducts::Hardware(products(i));
        }
    }

    fn embedding_ops(&self, p: &PeripheryConfig) -> OpCounts {
        p.layernorm.counts(self.config.embedding_size())
    }

    fn head_ops(&self) -> OpCounts {
        self.model.pooler.activation.counts(self.config.hidden_size)
    }

    fn digital_ops(&self, p: &PeripheryConfig, len: usize) -> DigitalOps {
        let c = &self.config;
        let shape = EncoderLayerShape {
            seq: len,
            hidden: c.hidden_size,
            heads: c.num_attention_heads,
            intermediate: c.intermediate_size,
        };
        let layers = c.num_hidden_layers as u64;
        let activation = c.hidden_act.periphery_counts(p, c.intermediate_size);
        DigitalOps {
            periphery: p.encoder_layer_ops(&shape, activation) * layers
                + self.embedding_ops(p) * len as u64
                + self.head_ops(),
            attention: p.encoder_attention_ops(&shape) * layers,
        }
    }

    fn flops(&self, lengths: &[usize]) -> u64 {
        let tokens = lengths.iter().sum();
        let linears: u64 = self
            .linears
            .iter()
            .map(|l| l.macs(tokens, lengths.len()))
            .sum();
        let attention = &self.model.encoder.layers[0].self_attention;
        let scores: u64 = lengths.iter().map(|&l| attention.score_macs(l)).sum();
        2 * (linears + self.config.num_hidden_layers as u64 * scores)
    }
}
