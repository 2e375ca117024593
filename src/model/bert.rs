//! BERT for sequence classification, one struct per module of the Hugging Face
//! implementation so that checkpoint names map one-to-one onto fields:
//!
//! ```text
//! BertForSequenceClassification
//! ├── bert: BertModel
//! │   ├── embeddings: BertEmbeddings        word + token type + position, LayerNorm
//! │   ├── encoder: BertEncoder
//! │   │   └── layer.{i}: BertLayer
//! │   │       ├── attention: BertAttention
//! │   │       │   ├── self: BertSelfAttention       query, key, value, softmax(QKᵀ/√d)·V
//! │   │       │   └── output: BertSelfOutput        dense, LayerNorm(· + input)
//! │   │       ├── intermediate: BertIntermediate    dense, GELU
//! │   │       └── output: BertOutput                dense, LayerNorm(· + attention out)
//! │   └── pooler: BertPooler                dense on \[CLS\], tanh
//! └── classifier                           dense → logits
//! ```
//!
//! Sequences are *packed*: the token rows of all sequences of a batch are stacked without
//! padding, and attention runs per sequence over its own tokens only. This computes exactly
//! what Hugging Face computes with padding and an attention mask: the mask adds the most
//! negative `f32` to padded keys, whose softmax weights are then exactly 0.0 in `f32`, and
//! padded query rows never reach the pooled \[CLS\] output. Packing just skips that dead work.
//!
//! The non-linear functions run as the hardware's digital periphery computes them
//! ([`BertForSequenceClassification::with_periphery`]): the float choices are the exact
//! `f32` functions of [`super::activations`] (GELU in the form the checkpoint's
//! `hidden_act` names), so the default periphery gives the digital engine's results bit for
//! bit; fixed-point softmax, LayerNorm and table/integer GELU come from
//! [`crate::periphery`].
//!
//! The attention products Q_h·K_hᵀ and P·V_h have no weights, so they are not linears:
//! [`ScoreProducts`] says where they run — digital logic at the periphery's stated
//! precision (fp32, the default and bit-identical to the digital engine, or int8), or
//! hardware behind the [`HeadProducts`] seam
//! ([`BertForSequenceClassification::with_attention_products`]).

use std::sync::Arc;

use rayon::prelude::*;

use crate::periphery::{self, matmul_a_b, matmul_a_bt, AttentionPrecision, PeripheryConfig};

use super::activations::HiddenAct;
use super::checkpoint::{Checkpoint, CheckpointError};
use super::config::BertConfig;
use super::linear::{BatchId, Linear, LinearFactory, LinearKind};
use super::matrix::{gemm_strided, Matrix, StridedRef};

/// Token ids of several sequences, packed one after another (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackedBatch {
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
    /// Identity of each sequence for per-read hardware randomness (see [`BatchId`]): by
    /// convention its file-order example index.
    pub examples: Vec<u64>,
    /// Number of tokens of each sequence, in order; they sum to `input_ids.len()`.
    pub lengths: Vec<usize>,
}

impl PackedBatch {
    /// Appends one sequence whose identity is its position in the batch.
    pub fn push(&mut self, input_ids: &[u32], token_type_ids: &[u32]) {
        self.push_example(self.lengths.len() as u64, input_ids, token_type_ids);
    }

    /// Appends sequence `example` (its file-order index, below 2^46).
    pub fn push_example(&mut self, example: u64, input_ids: &[u32], token_type_ids: &[u32]) {
        assert_eq!(input_ids.len(), token_type_ids.len());
        self.input_ids.extend_from_slice(input_ids);
        self.token_type_ids.extend_from_slice(token_type_ids);
        self.lengths.push(input_ids.len());
        self.examples.push(example);
    }

    /// The rows' identities for per-read hardware randomness.
    pub fn id(&self) -> BatchId<'_> {
        BatchId {
            examples: &self.examples,
            lengths: &self.lengths,
        }
    }

    pub fn num_sequences(&self) -> usize {
        self.lengths.len()
    }

    pub fn num_tokens(&self) -> usize {
        self.input_ids.len()
    }

    /// Row index of the first token (\[CLS\]) of each sequence.
    pub fn offsets(&self) -> Vec<usize> {
        self.lengths
            .iter()
            .scan(0, |acc, &l| {
                let start = *acc;
                *acc += l;
                Some(start)
            })
            .collect()
    }
}

/// Input the model cannot embed (ids outside the vocabulary, sequences too long).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("sequence {sequence}: {what} {value} is outside the model's range 0..{limit} (config.json `{key}`)")]
    OutOfRange {
        sequence: usize,
        what: &'static str,
        value: usize,
        limit: usize,
        key: &'static str,
    },
    #[error("sequence {sequence} is empty: expected at least the [CLS] token")]
    Empty { sequence: usize },
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
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
    ) -> Result<Self, CheckpointError> {
        let h = config.hidden_size;
        Ok(Self {
            weight: weights.tensor(&format!("{prefix}.weight"), &[h])?,
            bias: weights.tensor(&format!("{prefix}.bias"), &[h])?,
            eps: config.layer_norm_eps,
            kind: periphery::LayerNorm::Float,
        })
    }

    /// Normalizes every row (token) of `x` in place.
    pub fn forward(&self, x: &mut Matrix) {
        let cols = x.cols();
        self.kind
            .apply(x.as_mut_slice(), cols, &self.weight, &self.bias, self.eps)
            .expect("γ and β were loaded with one value per hidden feature");
    }
}

/// Word, position and token-type embeddings, summed and normalized.
pub struct BertEmbeddings {
    word_embeddings: Matrix,
    position_embeddings: Matrix,
    token_type_embeddings: Matrix,
    layer_norm: LayerNorm,
}

impl BertEmbeddings {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
    ) -> Result<Self, CheckpointError> {
        let h = config.hidden_size;
        Ok(Self {
            word_embeddings: weights.matrix(
                &format!("{prefix}.word_embeddings.weight"),
                config.vocab_size,
                h,
            )?,
            position_embeddings: weights.matrix(
                &format!("{prefix}.position_embeddings.weight"),
                config.max_position_embeddings,
                h,
            )?,
            token_type_embeddings: weights.matrix(
                &format!("{prefix}.token_type_embeddings.weight"),
                config.type_vocab_size,
                h,
            )?,
            layer_norm: LayerNorm::load(weights, config, &format!("{prefix}.LayerNorm"))?,
        })
    }

    /// Checks that every id of the batch has an embedding row.
    pub fn check(&self, batch: &PackedBatch) -> Result<(), InputError> {
        let mut start = 0;
        for (sequence, &len) in batch.lengths.iter().enumerate() {
            if len == 0 {
                return Err(InputError::Empty { sequence });
            }
            let limits = [
                (
                    len - 1,
                    self.position_embeddings.rows(),
                    "position",
                    "max_position_embeddings",
                ),
                (
                    *batch.input_ids[start..start + len]
                        .iter()
                        .max()
                        .expect("len > 0") as usize,
                    self.word_embeddings.rows(),
                    "token id",
                    "vocab_size",
                ),
                (
                    *batch.token_type_ids[start..start + len]
                        .iter()
                        .max()
                        .expect("len > 0") as usize,
                    self.token_type_embeddings.rows(),
                    "token type id",
                    "type_vocab_size",
                ),
            ];
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
    /// Face's order. Positions restart at 0 for every sequence.
    pub fn forward(&self, batch: &PackedBatch) -> Matrix {
        let h = self.word_embeddings.cols();
        let mut x = Matrix::zeros(batch.num_tokens(), h);
        let mut row = 0;
        for &len in &batch.lengths {
            for position in 0..len {
                let word = self.word_embeddings.row(batch.input_ids[row] as usize);
                let kind = self
                    .token_type_embeddings
                    .row(batch.token_type_ids[row] as usize);
                let pos = self.position_embeddings.row(position);
                for (j, out) in x.row_mut(row).iter_mut().enumerate() {
                    *out = (word[j] + kind[j]) + pos[j];
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

/// How [`BertSelfAttention`] computes Q_h·K_hᵀ and P·V_h.
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
pub struct BertSelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    num_heads: usize,
    head_size: usize,
    /// How the periphery computes softmax; `Float` is the exact
    /// [`periphery::exact::softmax_row`].
    softmax: periphery::Softmax,
    /// How the score and context products run; default fp32 digital.
    products: ScoreProducts,
}

impl BertSelfAttention {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        layer: usize,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let h = config.hidden_size;
        let linear = |name: &str, kind| {
            Linear::load(
                weights,
                &format!("{prefix}.{name}"),
                Some(layer),
                kind,
                h,
                h,
                factory,
            )
        };
        Ok(Self {
            query: linear("query", LinearKind::Query)?,
            key: linear("key", LinearKind::Key)?,
            value: linear("value", LinearKind::Value)?,
            num_heads: config.num_attention_heads,
            head_size: config.head_size(),
            softmax: periphery::Softmax::Float,
            products: ScoreProducts::Digital(AttentionPrecision::Float32),
        })
    }

    /// The concatenated head outputs (tokens × hidden), before the output projection.
    pub fn forward(&self, hidden: &Matrix, lengths: &[usize], batch: BatchId<'_>) -> Matrix {
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
                match &self.products {
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
    pub fn score_macs(&self, len: usize) -> u64 {
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

/// The projection after attention, with the residual connection and LayerNorm.
pub struct BertSelfOutput {
    dense: Linear,
    layer_norm: LayerNorm,
}

impl BertSelfOutput {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        layer: usize,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let h = config.hidden_size;
        Ok(Self {
            dense: Linear::load(
                weights,
                &format!("{prefix}.dense"),
                Some(layer),
                LinearKind::AttentionOutput,
                h,
                h,
                factory,
            )?,
            layer_norm: LayerNorm::load(weights, config, &format!("{prefix}.LayerNorm"))?,
        })
    }

    /// `LayerNorm(dense(context) + input)`.
    pub fn forward(&self, context: &Matrix, input: &Matrix, batch: BatchId<'_>) -> Matrix {
        let mut x = self.dense.forward(context, batch);
        x.add_assign(input);
        self.layer_norm.forward(&mut x);
        x
    }
}

/// Self-attention followed by its output projection (`attention.self`, `attention.output`).
pub struct BertAttention {
    self_attention: BertSelfAttention,
    output: BertSelfOutput,
}

impl BertAttention {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        layer: usize,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            self_attention: BertSelfAttention::load(
                weights,
                config,
                &format!("{prefix}.self"),
                layer,
                factory,
            )?,
            output: BertSelfOutput::load(
                weights,
                config,
                &format!("{prefix}.output"),
                layer,
                factory,
            )?,
        })
    }

    pub fn forward(&self, hidden: &Matrix, lengths: &[usize], batch: BatchId<'_>) -> Matrix {
        let context = self.self_attention.forward(hidden, lengths, batch);
        self.output.forward(&context, hidden, batch)
    }
}

/// First feed-forward layer and its activation.
pub struct BertIntermediate {
    dense: Linear,
    act: HiddenAct,
    /// A periphery approximation of GELU replacing `act`; `None` computes `act` in `f32`.
    approximation: Option<periphery::Gelu>,
}

impl BertIntermediate {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        layer: usize,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            dense: Linear::load(
                weights,
                &format!("{prefix}.dense"),
                Some(layer),
                LinearKind::Intermediate,
                config.hidden_size,
                config.intermediate_size,
                factory,
            )?,
            act: config.hidden_act,
            approximation: None,
        })
    }

    pub fn forward(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix {
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

/// Second feed-forward layer, with the residual connection and LayerNorm.
pub struct BertOutput {
    dense: Linear,
    layer_norm: LayerNorm,
}

impl BertOutput {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        layer: usize,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            dense: Linear::load(
                weights,
                &format!("{prefix}.dense"),
                Some(layer),
                LinearKind::Output,
                config.intermediate_size,
                config.hidden_size,
                factory,
            )?,
            layer_norm: LayerNorm::load(weights, config, &format!("{prefix}.LayerNorm"))?,
        })
    }

    /// `LayerNorm(dense(intermediate) + input)`.
    pub fn forward(&self, intermediate: &Matrix, input: &Matrix, batch: BatchId<'_>) -> Matrix {
        let mut x = self.dense.forward(intermediate, batch);
        x.add_assign(input);
        self.layer_norm.forward(&mut x);
        x
    }
}

/// One transformer block.
pub struct BertLayer {
    attention: BertAttention,
    intermediate: BertIntermediate,
    output: BertOutput,
}

impl BertLayer {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        layer: usize,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            attention: BertAttention::load(
                weights,
                config,
                &format!("{prefix}.attention"),
                layer,
                factory,
            )?,
            intermediate: BertIntermediate::load(
                weights,
                config,
                &format!("{prefix}.intermediate"),
                layer,
                factory,
            )?,
            output: BertOutput::load(weights, config, &format!("{prefix}.output"), layer, factory)?,
        })
    }

    pub fn forward(&self, hidden: &Matrix, lengths: &[usize], batch: BatchId<'_>) -> Matrix {
        let attended = self.attention.forward(hidden, lengths, batch);
        let inner = self.intermediate.forward(&attended, batch);
        self.output.forward(&inner, &attended, batch)
    }

    /// Multiply-accumulates of this layer for the given sequence lengths.
    fn macs(&self, lengths: &[usize]) -> u64 {
        let tokens: usize = lengths.iter().sum();
        let attn = &self.attention.self_attention;
        let linear = [
            &attn.query,
            &attn.key,
            &attn.value,
            &self.attention.output.dense,
            &self.intermediate.dense,
            &self.output.dense,
        ]
        .iter()
        .map(|l| l.macs(tokens))
        .sum::<u64>();
        linear + lengths.iter().map(|&l| attn.score_macs(l)).sum::<u64>()
    }
}

/// The stack of transformer blocks.
pub struct BertEncoder {
    layers: Vec<BertLayer>,
}

impl BertEncoder {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let layers = (0..config.num_hidden_layers)
            .map(|i| BertLayer::load(weights, config, &format!("{prefix}.layer.{i}"), i, factory))
            .collect::<Result<_, _>>()?;
        Ok(Self { layers })
    }

    pub fn forward(&self, hidden: Matrix, lengths: &[usize], batch: BatchId<'_>) -> Matrix {
        self.layers
            .iter()
            .fold(hidden, |h, layer| layer.forward(&h, lengths, batch))
    }
}

/// `tanh(dense(h_\[CLS\]))`: the sequence summary the classifier reads.
pub struct BertPooler {
    dense: Linear,
}

impl BertPooler {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let h = config.hidden_size;
        Ok(Self {
            dense: Linear::load(
                weights,
                &format!("{prefix}.dense"),
                None,
                LinearKind::Pooler,
                h,
                h,
                factory,
            )?,
        })
    }

    /// One row per sequence, from the rows of the \[CLS\] tokens (`cls_rows`).
    pub fn forward(&self, hidden: &Matrix, cls_rows: &[usize], batch: BatchId<'_>) -> Matrix {
        let mut pooled = self.dense.forward(&hidden.select_rows(cls_rows), batch);
        pooled.as_mut_slice().iter_mut().for_each(|v| *v = v.tanh());
        pooled
    }
}

/// Embeddings, encoder and pooler (`bert.` in the checkpoint).
pub struct BertModel {
    embeddings: BertEmbeddings,
    encoder: BertEncoder,
    pooler: BertPooler,
}

impl BertModel {
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        prefix: &str,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        Ok(Self {
            embeddings: BertEmbeddings::load(weights, config, &format!("{prefix}.embeddings"))?,
            encoder: BertEncoder::load(weights, config, &format!("{prefix}.encoder"), factory)?,
            pooler: BertPooler::load(weights, config, &format!("{prefix}.pooler"), factory)?,
        })
    }

    /// The pooled output, one row per sequence.
    pub fn forward(&self, batch: &PackedBatch) -> Result<Matrix, InputError> {
        self.embeddings.check(batch)?;
        let hidden =
            self.encoder
                .forward(self.embeddings.forward(batch), &batch.lengths, batch.id());
        Ok(self.pooler.forward(&hidden, &batch.offsets(), batch.id()))
    }
}

/// BERT with a linear classifier (or regressor) on the pooled output.
pub struct BertForSequenceClassification {
    bert: BertModel,
    classifier: Linear,
    num_labels: usize,
}

impl BertForSequenceClassification {
    /// Loads the model, building each linear layer with `factory` (see [`super::linear`]).
    pub fn load(
        weights: &Checkpoint,
        config: &BertConfig,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, CheckpointError> {
        let num_labels = config.num_labels();
        Ok(Self {
            bert: BertModel::load(weights, config, "bert", factory)?,
            classifier: Linear::load(
                weights,
                "classifier",
                None,
                LinearKind::Classifier,
                config.hidden_size,
                num_labels,
                factory,
            )?,
            num_labels,
        })
    }

    pub fn num_labels(&self) -> usize {
        self.num_labels
    }

    /// Computes softmax, LayerNorm, GELU and the digital attention products as `p` says
    /// (see the module docs). Float GELU
    /// choices (erf, tanh) keep the checkpoint's own `hidden_act`; the table and integer
    /// forms replace it.
    pub fn with_periphery(mut self, p: &PeripheryConfig) -> Self {
        let approximation = match p.gelu {
            periphery::Gelu::Erf | periphery::Gelu::Tanh => None,
            ref approx => Some(approx.clone()),
        };
        self.bert.embeddings.layer_norm.kind = p.layernorm.clone();
        for layer in &mut self.bert.encoder.layers {
            layer.attention.self_attention.softmax = p.softmax.clone();
            layer.attention.self_attention.products = ScoreProducts::Digital(p.attention);
            layer.attention.output.layer_norm.kind = p.layernorm.clone();
            layer.intermediate.approximation = approximation.clone();
            layer.output.layer_norm.kind = p.layernorm.clone();
        }
        self
    }

    /// Runs the attention products of encoder layer `l` on `products(l)` (e.g. write-enabled
    /// crossbars) instead of digital logic.
    pub fn with_attention_products(
        mut self,
        products: impl Fn(usize) -> Arc<dyn HeadProducts>,
    ) -> Self {
        for (l, layer) in self.bert.encoder.layers.iter_mut().enumerate() {
            layer.attention.self_attention.products = ScoreProducts::Hardware(products(l));
        }
        self
    }

    /// Logits, one row per sequence of the batch, `num_labels` columns.
    pub fn forward(&self, batch: &PackedBatch) -> Result<Matrix, InputError> {
        let pooled = self.bert.forward(batch)?;
        Ok(self.classifier.forward(&pooled, batch.id()))
    }

    /// Floating-point operations of the matrix products for sequences of these lengths
    /// (2 per multiply-accumulate; element-wise work is not counted).
    pub fn flops(&self, lengths: &[usize]) -> u64 {
        let sequences = lengths.len();
        let encoder: u64 = self
            .bert
            .encoder
            .layers
            .iter()
            .map(|l| l.macs(lengths))
            .sum();
        let heads = self.bert.pooler.dense.macs(sequences) + self.classifier.macs(sequences);
        2 * (encoder + heads)
    }
}
