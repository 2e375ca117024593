//! BERT's forward pass for training, keeping what the backward pass needs (the [`Tape`]),
//! and the backward pass itself: the gradient of the loss with respect to every tensor.
//!
//! The computation is the inference engine's ([`crate::model::encoder`]): sequences packed
//! without padding, attention per sequence, LayerNorm statistics in `f64`, the checkpoint's
//! `hidden_act`. Training adds what Hugging Face's `BertForSequenceClassification` does in
//! `train()` mode: dropout after the embeddings, on the attention probabilities, after each
//! block's output projection (before the residual sum) and on the pooled output. The loss is
//! Hugging Face's: mean cross-entropy, or mean squared error for one-output regression.
//!
//! Each layer's backward pass is written out by hand from the chain rule (see the comments
//! at each step); `tests/training.rs` holds every tensor's gradient to PyTorch's within a
//! relative 1e-4.

use crate::draws::Draw;
use crossbar::rng::StreamKey;
use rand::Rng;
use rayon::prelude::*;

use crate::glue::evaluate::length_buckets;
use crate::glue::Gold;
use crate::model::matrix::{gemm_strided, StridedRef};
use crate::model::{Matrix, ModelConfig, PackedBatch};
use crate::periphery::exact::softmax_row;
use crate::tokenize::Encoded;

use super::hardware_aware::ChipStep;
use super::kernels::{
    activation_backward, activation_forward, layer_norm_backward, layer_norm_forward,
    linear_backward, linear_forward, softmax_backward, LayerNormCache,
};
use super::params::{BertIndex, LayerNormIndex, LinearIndex, Params};

/// What the examples of a batch should predict.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// One class index per sequence (cross-entropy).
    Classes(Vec<usize>),
    /// One probability distribution over the classes per sequence, a row each
    /// (cross-entropy against it; distillation's blend of labels and a teacher).
    Distributions(Matrix),
    /// One real value per sequence (squared error, one-output models).
    Scores(Vec<f32>),
}

impl Targets {
    /// The targets of gold labels (a split holds one kind: the first label decides).
    pub fn from_golds(golds: &[Gold]) -> Self {
        match golds.first() {
            Some(Gold::Score(_)) => {
                Targets::Scores(golds.iter().filter_map(|g| g.score()).collect())
            }
            _ => Targets::Classes(golds.iter().filter_map(|g| g.class()).collect()),
        }
    }

    /// Knowledge distillation: these targets blended with a teacher's predictions,
    /// (1 − `alpha`)·target + `alpha`·teacher, the teacher's logits taken through a
    /// softmax for classes and as they are for scores.
    pub fn distilled(self, teacher: &Matrix, alpha: f32) -> Self {
        match self {
            Targets::Scores(scores) => Targets::Scores(
                scores
                    .iter()
                    .enumerate()
                    .map(|(r, s)| (1.0 - alpha) * s + alpha * teacher.row(r)[0])
                    .collect(),
            ),
            Targets::Classes(classes) => {
                let mut one_hot = Matrix::zeros(classes.len(), teacher.cols());
                for (r, &c) in classes.iter().enumerate() {
                    one_hot.row_mut(r)[c] = 1.0;
                }
                Targets::Distributions(one_hot).distilled(teacher, alpha)
            }
            Targets::Distributions(mut targets) => {
                let mut probabilities = teacher.clone();
                for r in 0..targets.rows() {
                    softmax_in_place(probabilities.row_mut(r));
                    for (t, p) in targets.row_mut(r).iter_mut().zip(probabilities.row(r)) {
                        *t = (1.0 - alpha) * *t + alpha * p;
                    }
                }
                Targets::Distributions(targets)
            }
        }
    }
}

/// Replaces logits by their softmax probabilities (in f64, as the loss computes them).
fn softmax_in_place(row: &mut [f32]) {
    let (max, sum) = max_and_exp_sum(row);
    for z in row.iter_mut() {
        *z = (((*z - max) as f64).exp() / sum) as f32;
    }
}

/// The largest logit and Σ exp(z − max) in f64: the stable parts of a softmax.
fn max_and_exp_sum(row: &[f32]) -> (f32, f64) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (max, row.iter().map(|&z| ((z - max) as f64).exp()).sum())
}

/// Dropout of one training step; `None` in a forward pass for evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Dropout {
    /// After the embeddings, the block outputs and on the pooled output
    /// (`hidden_dropout_prob`).
    pub hidden: f32,
    /// On the attention probabilities (`attention_probs_dropout_prob`).
    pub attention: f32,
    /// Masks derive from (seed, step, site), never from the thread that draws them.
    pub seed: u64,
    pub step: u64,
}

/// Sites of dropout masks (the `matrix` field of their random streams).
mod site {
    pub const EMBEDDINGS: u32 = 0;
    pub const POOLED: u32 = 1;
    pub fn attention_probs(layer: usize) -> u32 {
        2 + 3 * layer as u32
    }
    pub fn attention_output(layer: usize) -> u32 {
        3 + 3 * layer as u32
    }
    pub fn output(layer: usize) -> u32 {
        4 + 3 * layer as u32
    }
}

impl Dropout {
    /// A mask of `len` scale factors: 0 with probability `p`, else 1/(1 − p).
    fn mask(&self, p: f32, site: u32, part: u32, len: usize) -> Option<Vec<f32>> {
        if p <= 0.0 {
            return None;
        }
        let mut rng = StreamKey::new(self.seed, site, part, Draw::Dropout.into())
            .with_index(self.step)
            .rng();
        let keep = 1.0 / (1.0 - p);
        Some(
            (0..len)
                .map(|_| if rng.random::<f32>() < p { 0.0 } else { keep })
                .collect(),
        )
    }
}

fn apply_mask(values: &mut [f32], mask: &Option<Vec<f32>>) {
    if let Some(mask) = mask {
        values.iter_mut().zip(mask).for_each(|(v, m)| *v *= m);
    }
}

/// The model being trained: its tensors, their module tree and the architecture, and for
/// hardware-aware training the chip of the current step (its analog linears' noisy weights
/// and quantizers, see [`super::hardware_aware`]).
pub struct TrainBert<'a> {
    pub params: &'a Params,
    pub index: &'a BertIndex,
    pub config: &'a ModelConfig,
    pub chip: Option<&'a ChipStep<'a>>,
}

/// Everything the forward pass of one batch keeps for the backward pass.
pub struct Tape {
    lengths: Vec<usize>,
    input_ids: Vec<u32>,
    token_type_ids: Vec<u32>,
    embeddings_norm: LayerNormCache,
    embeddings_mask: Option<Vec<f32>>,
    layers: Vec<LayerTape>,
    /// The \[CLS\] rows of the last layer (the pooler's input).
    cls: Matrix,
    /// tanh of the pooler, before dropout.
    pooled: Matrix,
    pooled_mask: Option<Vec<f32>>,
    /// The classifier's input (the pooled output after dropout).
    classifier_input: Matrix,
}

struct LayerTape {
    input: Matrix,
    q: Matrix,
    k: Matrix,
    v: Matrix,
    attention: AttentionTape,
    context: Matrix,
    attention_mask: Option<Vec<f32>>,
    attention_norm: LayerNormCache,
    /// Output of the attention block (input of the feed-forward block).
    attended: Matrix,
    /// Intermediate pre-activation and activation.
    pre: Matrix,
    activated: Matrix,
    output_mask: Option<Vec<f32>>,
    output_norm: LayerNormCache,
}

/// Per sequence, heads × len × len probabilities and their dropout mask.
struct AttentionTape {
    probs: Vec<Vec<f32>>,
    masks: Vec<Option<Vec<f32>>>,
}

/// Logits of a batch and the tape to differentiate them.
pub struct Forward {
    pub logits: Matrix,
    pub tape: Tape,
}

impl<'a> TrainBert<'a> {
    /// The digital model (no chip).
    pub fn new(params: &'a Params, index: &'a BertIndex, config: &'a ModelConfig) -> Self {
        Self {
            params,
            index,
            config,
            chip: None,
        }
    }

    fn tensor(&self, i: usize) -> &[f32] {
        self.params.get(i)
    }

    /// The weight a linear computes with: on the chip, its noisy copy of this step.
    fn weight(&self, l: LinearIndex) -> &[f32] {
        self.chip
            .and_then(|c| c.weight(l.weight))
            .unwrap_or_else(|| self.tensor(l.weight))
    }

    fn linear(&self, l: LinearIndex, x: &Matrix) -> Matrix {
        let bias = self.tensor(l.bias);
        self.chip
            .and_then(|c| c.linear(l.weight, x, bias))
            .unwrap_or_else(|| linear_forward(x, self.tensor(l.weight), bias))
    }

    fn layer_norm(&self, n: LayerNormIndex, x: &mut Matrix) -> LayerNormCache {
        layer_norm_forward(
            x,
            self.tensor(n.weight),
            self.tensor(n.bias),
            self.config.layer_norm_eps,
        )
    }

    /// Logits of every example (no dropout), in input order: batches of up to 64 examples
    /// of similar length.
    pub fn logits(&self, encoded: &[Encoded]) -> Matrix {
        let labels = self.tensor(self.index.classifier.bias).len();
        let mut logits = Matrix::zeros(encoded.len(), labels);
        for bucket in length_buckets(encoded, 64) {
            let mut batch = PackedBatch::default();
            for &i in &bucket {
                batch.push(&encoded[i].input_ids, &encoded[i].token_type_ids);
            }
            let out = self.forward(&batch, None).logits;
            for (row, &i) in bucket.iter().enumerate() {
                logits.row_mut(i).copy_from_slice(out.row(row));
            }
        }
        logits
    }

    /// The forward pass: logits (sequences × labels) and the tape. `dropout` is `None` for
    /// evaluation. The batch must have been checked against the model (token ids, lengths).
    pub fn forward(&self, batch: &PackedBatch, dropout: Option<Dropout>) -> Forward {
        let h = self.config.hidden_size;
        let mut x = self.embed(batch);
        let embeddings_norm = self.layer_norm(self.index.embeddings_layer_norm, &mut x);
        let embeddings_mask =
            dropout.and_then(|d| d.mask(d.hidden, site::EMBEDDINGS, 0, x.as_slice().len()));
        apply_mask(x.as_mut_slice(), &embeddings_mask);
        let mut layers = Vec::with_capacity(self.index.layers.len());
        for l in 0..self.index.layers.len() {
            let (next, tape) = self.layer_forward(l, x, &batch.lengths, dropout);
            layers.push(tape);
            x = next;
        }
        let cls = x.select_rows(&batch.offsets());
        let mut pooled = self.linear(self.index.pooler, &cls);
        pooled.as_mut_slice().iter_mut().for_each(|v| *v = v.tanh());
        let pooled_mask =
            dropout.and_then(|d| d.mask(d.hidden, site::POOLED, 0, pooled.rows() * h));
        let mut classifier_input = pooled.clone();
        apply_mask(classifier_input.as_mut_slice(), &pooled_mask);
        let logits = self.linear(self.index.classifier, &classifier_input);
        Forward {
            logits,
            tape: Tape {
                lengths: batch.lengths.clone(),
                input_ids: batch.input_ids.clone(),
                token_type_ids: batch.token_type_ids.clone(),
                embeddings_norm,
                embeddings_mask,
                layers,
                cls,
                pooled,
                pooled_mask,
                classifier_input,
            },
        }
    }

    /// word + token type + position, summed in Hugging Face's order.
    fn embed(&self, batch: &PackedBatch) -> Matrix {
        let h = self.config.hidden_size;
        let (word, kind, position) = (
            self.tensor(self.index.word_embeddings),
            self.tensor(self.index.token_type_embeddings),
            self.tensor(self.index.position_embeddings),
        );
        let mut x = Matrix::zeros(batch.num_tokens(), h);
        let positions = batch.lengths.iter().flat_map(|&len| 0..len);
        for (row, p) in positions.enumerate() {
            let w = &word[batch.input_ids[row] as usize * h..][..h];
            let t = &kind[batch.token_type_ids[row] as usize * h..][..h];
            let pos = &position[p * h..][..h];
            for (j, out) in x.row_mut(row).iter_mut().enumerate() {
                *out = (w[j] + t[j]) + pos[j];
            }
        }
        x
    }

    fn layer_forward(
        &self,
        l: usize,
        input: Matrix,
        lengths: &[usize],
        dropout: Option<Dropout>,
    ) -> (Matrix, LayerTape) {
        let ix = &self.index.layers[l];
        let q = self.linear(ix.query, &input);
        let k = self.linear(ix.key, &input);
        let v = self.linear(ix.value, &input);
        let (context, attention) = self.attention_forward(l, &q, &k, &v, lengths, dropout);
        let mut attended = self.linear(ix.attention_output, &context);
        let size = attended.as_slice().len();
        let attention_mask =
            dropout.and_then(|d| d.mask(d.hidden, site::attention_output(l), 0, size));
        apply_mask(attended.as_mut_slice(), &attention_mask);
        attended.add_assign(&input);
        let attention_norm = self.layer_norm(ix.attention_layer_norm, &mut attended);
        let pre = self.linear(ix.intermediate, &attended);
        let activated = activation_forward(self.config.hidden_act, &pre);
        let mut out = self.linear(ix.output, &activated);
        let output_mask = dropout.and_then(|d| d.mask(d.hidden, site::output(l), 0, size));
        apply_mask(out.as_mut_slice(), &output_mask);
        out.add_assign(&attended);
        let output_norm = self.layer_norm(ix.output_layer_norm, &mut out);
        let tape = LayerTape {
            input,
            q,
            k,
            v,
            attention,
            context,
            attention_mask,
            attention_norm,
            attended,
            pre,
            activated,
            output_mask,
            output_norm,
        };
        (out, tape)
    }

    /// softmax(Q_h·K_hᵀ/√d)·V_h per sequence and head (dropout on the probabilities).
    fn attention_forward(
        &self,
        l: usize,
        q: &Matrix,
        k: &Matrix,
        v: &Matrix,
        lengths: &[usize],
        dropout: Option<Dropout>,
    ) -> (Matrix, AttentionTape) {
        let (width, heads) = (q.cols(), self.config.num_attention_heads);
        let d = width / heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut context = Matrix::zeros(q.rows(), width);
        let blocks = sequence_blocks(context.as_mut_slice(), lengths, width);
        let results: Vec<(Vec<f32>, Option<Vec<f32>>)> = blocks
            .into_par_iter()
            .map(|(s, start, len, out)| {
                let rows = start * width..(start + len) * width;
                let (qs, ks, vs) = (
                    &q.as_slice()[rows.clone()],
                    &k.as_slice()[rows.clone()],
                    &v.as_slice()[rows],
                );
                let mut probs = vec![0.0f32; heads * len * len];
                for (head, p) in probs.chunks_exact_mut(len * len).enumerate() {
                    let col = head * d;
                    let (q_h, k_t) = (view(qs, col, width), view_t(ks, col, width));
                    gemm_strided(len, d, len, q_h, k_t, 0.0, p, len);
                    for row in p.chunks_exact_mut(len) {
                        row.iter_mut().for_each(|x| *x *= scale);
                        softmax_row(row);
                    }
                }
                let mask = dropout.and_then(|dr| {
                    dr.mask(
                        dr.attention,
                        site::attention_probs(l),
                        s as u32,
                        probs.len(),
                    )
                });
                let mut used = probs.clone();
                apply_mask(&mut used, &mask);
                for (head, p) in used.chunks_exact(len * len).enumerate() {
                    let col = head * d;
                    let p = StridedRef::row_major(p, len);
                    gemm_strided(
                        len,
                        len,
                        d,
                        p,
                        view(vs, col, width),
                        0.0,
                        &mut out[col..],
                        width,
                    );
                }
                (probs, mask)
            })
            .collect();
        let (probs, masks) = results.into_iter().unzip();
        (context, AttentionTape { probs, masks })
    }
}

/// The mean loss of a batch's logits and its gradient with respect to the logits.
pub fn loss(logits: &Matrix, targets: &Targets) -> (f64, Matrix) {
    let n = logits.rows() as f32;
    let mut grad = logits.clone();
    let mut loss = 0.0f64;
    match targets {
        Targets::Classes(classes) => {
            for (r, &c) in classes.iter().enumerate() {
                loss += cross_entropy(grad.row_mut(r), |j| f32::from(j == c), n);
            }
        }
        Targets::Distributions(targets) => {
            for r in 0..targets.rows() {
                let target = targets.row(r);
                loss += cross_entropy(grad.row_mut(r), |j| target[j], n);
            }
        }
        Targets::Scores(scores) => {
            for (r, &t) in scores.iter().enumerate() {
                let e = grad.row(r)[0] - t;
                loss += (e as f64).powi(2);
                grad.row_mut(r)[0] = 2.0 * e / n;
            }
        }
    }
    (loss / n as f64, grad)
}

/// The cross-entropy of one sequence's logits against the class distribution `target`;
/// replaces the logits by the gradient of the batch mean (`n` sequences).
fn cross_entropy(row: &mut [f32], target: impl Fn(usize) -> f32, n: f32) -> f64 {
    let (max, sum) = max_and_exp_sum(row);
    let log_sum = sum.ln() + max as f64;
    let mut loss = 0.0;
    for (j, z) in row.iter_mut().enumerate() {
        let t = target(j);
        if t != 0.0 {
            loss += t as f64 * (log_sum - *z as f64);
        }
        let p = (((*z - max) as f64).exp() / sum) as f32;
        *z = (p - t) / n;
    }
    loss
}

impl TrainBert<'_> {
    /// Adds the gradient of the loss to `grads`, given the gradient at the logits.
    /// `train_word_embeddings` false skips the word-embedding table (frozen).
    pub fn backward(
        &self,
        tape: &Tape,
        d_logits: &Matrix,
        grads: &mut Params,
        train_word_embeddings: bool,
    ) {
        let ix = self.index;
        let mut d_pooled = self.linear_back(ix.classifier, &tape.classifier_input, d_logits, grads);
        apply_mask(d_pooled.as_mut_slice(), &tape.pooled_mask);
        // tanh' = 1 − tanh².
        for (d, t) in d_pooled
            .as_mut_slice()
            .iter_mut()
            .zip(tape.pooled.as_slice())
        {
            *d *= 1.0 - t * t;
        }
        let d_cls = self.linear_back(ix.pooler, &tape.cls, &d_pooled, grads);
        let tokens: usize = tape.lengths.iter().sum();
        let mut d = Matrix::zeros(tokens, self.config.hidden_size);
        let offsets = tape.lengths.iter().scan(0, |acc, &l| {
            let start = *acc;
            *acc += l;
            Some(start)
        });
        for (s, row) in offsets.enumerate() {
            d.row_mut(row).copy_from_slice(d_cls.row(s));
        }
        for l in (0..tape.layers.len()).rev() {
            d = self.layer_backward(l, &tape.layers[l], d, &tape.lengths, grads);
        }
        apply_mask(d.as_mut_slice(), &tape.embeddings_mask);
        self.layer_norm_back(
            ix.embeddings_layer_norm,
            &tape.embeddings_norm,
            &mut d,
            grads,
        );
        self.embed_backward(tape, &d, grads, train_word_embeddings);
    }

    fn linear_back(&self, l: LinearIndex, x: &Matrix, dy: &Matrix, grads: &mut Params) -> Matrix {
        let (dw, db) = two_mut(grads, l.weight, l.bias);
        linear_backward(x, self.weight(l), dy, dw, db)
    }

    fn layer_norm_back(
        &self,
        n: LayerNormIndex,
        cache: &LayerNormCache,
        dy: &mut Matrix,
        grads: &mut Params,
    ) {
        let (dg, db) = two_mut(grads, n.weight, n.bias);
        layer_norm_backward(cache, self.tensor(n.weight), dy, dg, db);
    }

    /// From the gradient at a layer's output to the gradient at its input.
    fn layer_backward(
        &self,
        l: usize,
        t: &LayerTape,
        mut d_out: Matrix,
        lengths: &[usize],
        grads: &mut Params,
    ) -> Matrix {
        let ix = &self.index.layers[l];
        // out = LN(dropout(W_o·act + b_o) + attended)
        self.layer_norm_back(ix.output_layer_norm, &t.output_norm, &mut d_out, grads);
        let mut d_attended = d_out.clone();
        apply_mask(d_out.as_mut_slice(), &t.output_mask);
        let mut d_act = self.linear_back(ix.output, &t.activated, &d_out, grads);
        activation_backward(self.config.hidden_act, &t.pre, &mut d_act);
        let d_from_ffn = self.linear_back(ix.intermediate, &t.attended, &d_act, grads);
        d_attended.add_assign(&d_from_ffn);
        // attended = LN(dropout(W_ao·context + b_ao) + input)
        self.layer_norm_back(
            ix.attention_layer_norm,
            &t.attention_norm,
            &mut d_attended,
            grads,
        );
        let mut d_input = d_attended.clone();
        apply_mask(d_attended.as_mut_slice(), &t.attention_mask);
        let d_context = self.linear_back(ix.attention_output, &t.context, &d_attended, grads);
        let (dq, dk, dv) = self.attention_backward(t, &d_context, lengths);
        for (lin, dy) in [(ix.query, &dq), (ix.key, &dk), (ix.value, &dv)] {
            let dx = self.linear_back(lin, &t.input, dy, grads);
            d_input.add_assign(&dx);
        }
        d_input
    }

    /// Gradients at Q, K and V from the gradient at the context, per sequence and head:
    /// with P̃ the (dropped-out) probabilities, dV = P̃ᵀ·dC and dP̃ = dC·Vᵀ; through dropout
    /// and softmax, dS = P ⊙ (dP − rowsum(dP ⊙ P)); then dQ = dS·K/√d and dK = dSᵀ·Q/√d.
    fn attention_backward(
        &self,
        t: &LayerTape,
        d_context: &Matrix,
        lengths: &[usize],
    ) -> (Matrix, Matrix, Matrix) {
        let (rows, width) = (t.q.rows(), t.q.cols());
        let (mut dq, mut dk, mut dv) = (
            Matrix::zeros(rows, width),
            Matrix::zeros(rows, width),
            Matrix::zeros(rows, width),
        );
        let blocks = sequence_blocks(dq.as_mut_slice(), lengths, width)
            .into_iter()
            .zip(sequence_blocks(dk.as_mut_slice(), lengths, width))
            .zip(sequence_blocks(dv.as_mut_slice(), lengths, width))
            .collect::<Vec<_>>();
        blocks.into_par_iter().for_each(
            |(((s, start, len, dq_s), (_, _, _, dk_s)), (_, _, _, dv_s))| {
                let tokens = start * width..(start + len) * width;
                self.sequence_attention_backward(t, s, tokens, d_context, [dq_s, dk_s, dv_s]);
            },
        );
        (dq, dk, dv)
    }

    /// [`Self::attention_backward`] of sequence `s`, whose tokens are `rows` of the
    /// (tokens × width, row-major) Q, K, V and context: writes its rows of dQ, dK and dV.
    fn sequence_attention_backward(
        &self,
        t: &LayerTape,
        s: usize,
        rows: std::ops::Range<usize>,
        d_context: &Matrix,
        [dq_s, dk_s, dv_s]: [&mut [f32]; 3],
    ) {
        let (width, heads) = (t.q.cols(), self.config.num_attention_heads);
        let d = width / heads;
        let scale = 1.0 / (d as f32).sqrt();
        let len = rows.len() / width;
        let (qs, ks, vs) = (
            &t.q.as_slice()[rows.clone()],
            &t.k.as_slice()[rows.clone()],
            &t.v.as_slice()[rows.clone()],
        );
        let dc = &d_context.as_slice()[rows];
        let probs = &t.attention.probs[s];
        let mask = &t.attention.masks[s];
        let mut dropped = probs.clone();
        apply_mask(&mut dropped, mask);
        let mut dp = vec![0.0f32; len * len];
        for head in 0..heads {
            let col = head * d;
            let hp = head * len * len..(head + 1) * len * len;
            let p = &probs[hp.clone()];
            // dP̃ = dC_h·V_hᵀ and dV_h = P̃ᵀ·dC_h.
            let (dc_h, v_t) = (view(dc, col, width), view_t(vs, col, width));
            gemm_strided(len, d, len, dc_h, v_t, 0.0, &mut dp, len);
            let p_t = transposed(&dropped[hp.clone()], len);
            gemm_strided(len, len, d, p_t, dc_h, 0.0, &mut dv_s[col..], width);
            // Through dropout (P̃ = P ⊙ mask) and softmax.
            if let Some(m) = mask {
                dp.iter_mut().zip(&m[hp]).for_each(|(g, m)| *g *= m);
            }
            for (p_row, g_row) in p.chunks_exact(len).zip(dp.chunks_exact_mut(len)) {
                softmax_backward(p_row, g_row);
                g_row.iter_mut().for_each(|g| *g *= scale);
            }
            // dQ_h = dS·K_h, dK_h = dSᵀ·Q_h.
            gemm_strided(
                len,
                len,
                d,
                StridedRef::row_major(&dp, len),
                view(ks, col, width),
                0.0,
                &mut dq_s[col..],
                width,
            );
            gemm_strided(
                len,
                len,
                d,
                transposed(&dp, len),
                view(qs, col, width),
                0.0,
                &mut dk_s[col..],
                width,
            );
        }
    }

    fn embed_backward(
        &self,
        tape: &Tape,
        d: &Matrix,
        grads: &mut Params,
        train_word_embeddings: bool,
    ) {
        let h = self.config.hidden_size;
        let ix = self.index;
        let positions = tape.lengths.iter().flat_map(|&len| 0..len);
        for (row, p) in positions.enumerate() {
            let g = d.row(row);
            let targets = [
                (
                    ix.word_embeddings,
                    tape.input_ids[row] as usize,
                    train_word_embeddings,
                ),
                (
                    ix.token_type_embeddings,
                    tape.token_type_ids[row] as usize,
                    true,
                ),
                (ix.position_embeddings, p, true),
            ];
            for (tensor, r, trained) in targets {
                if trained {
                    let out = &mut grads.get_mut(tensor)[r * h..(r + 1) * h];
                    out.iter_mut().zip(g).for_each(|(o, v)| *o += v);
                }
            }
        }
    }
}

/// Head `col` of a packed row-major matrix (rows × width) as a rows × d view.
fn view(data: &[f32], col: usize, width: usize) -> StridedRef<'_> {
    StridedRef {
        data: &data[col..],
        row_stride: width,
        col_stride: 1,
    }
}

/// The transpose of [`view`]: d × rows.
fn view_t(data: &[f32], col: usize, width: usize) -> StridedRef<'_> {
    StridedRef {
        data: &data[col..],
        row_stride: 1,
        col_stride: width,
    }
}

/// A row-major len × len matrix, transposed.
fn transposed(data: &[f32], len: usize) -> StridedRef<'_> {
    StridedRef {
        data,
        row_stride: 1,
        col_stride: len,
    }
}

/// One contiguous block of rows per sequence: (sequence, first row, length, rows).
fn sequence_blocks<'a>(
    mut rest: &'a mut [f32],
    lengths: &[usize],
    width: usize,
) -> Vec<(usize, usize, usize, &'a mut [f32])> {
    let mut blocks = Vec::with_capacity(lengths.len());
    let mut start = 0;
    for (s, &len) in lengths.iter().enumerate() {
        let (block, tail) = rest.split_at_mut(len * width);
        blocks.push((s, start, len, block));
        rest = tail;
        start += len;
    }
    blocks
}

/// Two distinct tensors of `params`, both mutable.
fn two_mut(params: &mut Params, a: usize, b: usize) -> (&mut [f32], &mut [f32]) {
    assert!(a < b, "a weight comes before its bias in tensor_layout");
    let (head, tail) = params.tensors.split_at_mut(b);
    (&mut head[a].value, &mut tail[0].value)
}
