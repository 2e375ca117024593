//! When each part of an inference runs: latency, throughput and array utilization.
//!
//! **Stages.** Every analog matrix is its own resource (weights stay on their arrays); one
//! MVM through it takes its layout's MVM time ([`crate::energy::estimate`]), and it runs one
//! MVM per token (the head's two linears one per sequence), in every layer that uses it (an
//! ALBERT group's arrays serve all its layers). Digital work runs on the
//! digital units at `digital.ops_per_ns` (every counted operation one lane-cycle): linears
//! left digital (2 operations per multiply-accumulate), the embedding LayerNorm, each
//! layer's two residual-add-and-LayerNorms and its FFN activation per token, and its
//! attention (scores, softmax, products) per sequence. Attention on crossbars takes its
//! arrays' MVM time and its row writes.
//!
//! **Schedules** (`chip.schedule`):
//! * `serial`: every stage after the previous one, token after token. Throughput is one
//!   inference per latency.
//! * `pipelined` (ISAAC's idea, as far as a transformer allows): Q, K and V run in parallel;
//!   stages between two attentions stream tokens, so such a chain of per-token stages
//!   takes `tokens × slowest + (sum of the others)` (the pipeline fills once); attention
//!   needs every token's K and V, so it waits for the chain before it and the chain after it
//!   waits for it. Consecutive inferences overlap layer by layer: throughput is one
//!   inference per busy time of the busiest resource (a matrix, or one layer's digital
//!   units, each layer's being their own).
//!
//! Array utilization is the arrays' busy time (arrays × MVMs × MVM time) over the arrays
//! available in the time one inference occupies the chip (the inverse throughput).

use std::collections::HashMap;

use serde::Serialize;

use super::AnalogModel;
use crate::energy::{MatrixLayout, TechnologyTable};
use crate::hardware::{AttentionMode, LinearKind, LinearName, Schedule};
use crate::model::LinearInfo;
use crate::periphery::EncoderLayerShape;

/// Timing of the mean inference over a set of sequences.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timing {
    pub schedule: Schedule,
    /// Latency of one inference, ns (mean over the sequences).
    pub latency_ns: f64,
    pub throughput_inferences_per_s: f64,
    pub throughput_tokens_per_s: f64,
    /// Busy array time over available array time, 0–1.
    pub array_utilization: f64,
}

/// Per-token and per-sequence stage times of one model on one chip.
struct Stages<'a> {
    model: &'a AnalogModel,
    /// Every linear of the model (how it runs: per token or per sequence, its uses).
    linears: HashMap<LinearName, &'a LinearInfo>,
    /// MVM time and arrays of each analog matrix.
    matrices: HashMap<LinearName, (f64, u64)>,
    /// Per-row time of each digital linear.
    digital: HashMap<LinearName, f64>,
    ops_per_ns: f64,
    /// Attention on crossbars: time per layer and sequence (writes and MVMs), ns.
    crossbar_attention_ns: Option<f64>,
}

impl Stages<'_> {
    /// Per-row time of a linear: its MVM, or its digital multiply-accumulates (0 when the
    /// model has no such linear).
    fn linear_ns(&self, name: LinearName) -> f64 {
        self.matrices
            .get(&name)
            .map(|(ns, _)| *ns)
            .or_else(|| self.digital.get(&name).copied())
            .unwrap_or(0.0)
    }

    fn ops_ns(&self, ops: u64) -> f64 {
        ops as f64 / self.ops_per_ns
    }

    fn shape(&self, seq: usize) -> EncoderLayerShape {
        let c = &self.model.config;
        EncoderLayerShape {
            seq,
            hidden: c.hidden_size,
            heads: c.num_attention_heads,
            intermediate: c.intermediate_size,
        }
    }

    /// Per-token time of a residual add and LayerNorm.
    fn add_norm_ns(&self) -> f64 {
        let h = self.model.config.hidden_size;
        self.ops_ns(self.model.hardware.periphery.layernorm.counts(h).total() + h as u64)
    }

    fn activation_ns(&self) -> f64 {
        let c = &self.model.config;
        let p = &self.model.hardware.periphery;
        self.ops_ns(
            c.hidden_act
                .periphery_counts(p, c.intermediate_size)
                .total(),
        )
    }

    /// One layer's attention for a sequence of `seq` tokens.
    fn attention_ns(&self, seq: usize) -> f64 {
        if let Some(ns) = self.crossbar_attention_ns {
            return ns;
        }
        let p = &self.model.hardware.periphery;
        let s = self.shape(seq);
        let scores = (s.heads * seq * seq) as u64;
        let softmax = p.softmax.counts(seq) * (s.heads * seq) as u64;
        self.ops_ns(2 * scores + softmax.total() + p.encoder_attention_ops(&s).total())
    }

    /// Per-row time of linear `kind` in layer `l` of the forward pass (which runs the
    /// weights of stored layer `stored_layer(l)`).
    fn encoder_ns(&self, l: usize, kind: LinearKind) -> f64 {
        let stored = self.model.config.stored_layer(l);
        self.linear_ns(LinearName::encoder(stored, kind))
    }

    /// The per-token stages of layer `l` after its attention, and the next layer's Q/K/V.
    fn chain_after_attention(&self, l: usize) -> Vec<f64> {
        let mut chain = vec![
            self.encoder_ns(l, LinearKind::AttentionOutput),
            self.add_norm_ns(),
            self.encoder_ns(l, LinearKind::Intermediate),
            self.activation_ns(),
            self.encoder_ns(l, LinearKind::Output),
            self.add_norm_ns(),
        ];
        if l + 1 < self.model.config.num_hidden_layers {
            chain.push(self.qkv_ns(l + 1, f64::max));
        }
        chain
    }

    /// Q, K and V of layer `l` per token, combined by `combine` (max: in parallel; sum:
    /// one after another).
    fn qkv_ns(&self, l: usize, combine: fn(f64, f64) -> f64) -> f64 {
        [LinearKind::Query, LinearKind::Key, LinearKind::Value]
            .map(|k| self.encoder_ns(l, k))
            .into_iter()
            .fold(0.0, combine)
    }

    /// The head's two linears and its activation, once per sequence.
    fn head_ns(&self) -> f64 {
        self.linear_ns(LinearName::head(LinearKind::Pooler))
            + self.ops_ns(self.model.model.head_ops().total())
            + self.linear_ns(LinearName::head(LinearKind::Classifier))
    }

    /// Per token: the embeddings' LayerNorm and, if the model has one, the projection to
    /// the hidden size.
    fn embeddings_ns(&self) -> f64 {
        let p = &self.model.hardware.periphery;
        self.ops_ns(self.model.model.embedding_ops(p).total())
            + self.linear_ns(LinearName::head(LinearKind::EmbeddingProjection))
    }

    /// Latency of one sequence of `seq` tokens, every stage in turn.
    fn serial_ns(&self, seq: usize) -> f64 {
        let t = seq as f64;
        let layers = self.model.config.num_hidden_layers;
        let per_layer: f64 = (0..layers)
            .map(|l| {
                let chain: f64 = self.chain_after_attention(l)[..6].iter().sum();
                t * (self.qkv_ns(l, |a, b| a + b) + chain) + self.attention_ns(seq)
            })
            .sum();
        t * self.embeddings_ns() + per_layer + self.head_ns()
    }

    /// Latency of one sequence of `seq` tokens, pipelined.
    fn pipelined_ns(&self, seq: usize) -> f64 {
        let t = seq as f64;
        let stream = |chain: &[f64]| {
            let slowest = chain.iter().copied().fold(0.0, f64::max);
            t * slowest + chain.iter().sum::<f64>() - slowest
        };
        let layers = self.model.config.num_hidden_layers;
        let mut ns = stream(&[self.embeddings_ns(), self.qkv_ns(0, f64::max)]);
        for l in 0..layers {
            ns += self.attention_ns(seq) + stream(&self.chain_after_attention(l));
        }
        ns + self.head_ns()
    }

    /// Busy time per sequence of the busiest resource, and of all arrays (array·ns).
    fn busiest_and_array_time(&self, seq: usize) -> (f64, f64) {
        let t = seq as f64;
        let layers = self.model.config.num_hidden_layers;
        // rows one sequence sends through a linear, every use counted
        let rows = |name: &LinearName| {
            let info = self.linears[name];
            info.uses as f64 * if info.per_token() { t } else { 1.0 }
        };
        let matrices = self
            .matrices
            .iter()
            .map(|(name, (ns, arrays))| (rows(name) * ns, *arrays as f64 * rows(name) * ns));
        let (mut busiest, mut array_ns) = (0.0f64, 0.0);
        for (busy, arrays_busy) in matrices {
            busiest = busiest.max(busy);
            array_ns += arrays_busy;
        }
        let digital_per_layer = self.attention_ns(seq)
            + t * (2.0 * self.add_norm_ns() + self.activation_ns())
            + t * self
                .digital
                .iter()
                .filter(|(name, _)| name.layer.is_some())
                .map(|(name, ns)| self.linears[name].uses as f64 * ns)
                .sum::<f64>()
                / layers.max(1) as f64;
        (busiest.max(digital_per_layer), array_ns)
    }
}

/// Timing of the mean inference over `lengths` on `model` (see the module docs).
/// `layouts` are the analog matrices' (in model order) followed by those of attention on
/// crossbars, each with the MVMs of all sequences; `row_writes` the attention writes;
/// `arrays` all arrays of the chip.
pub fn timing(
    model: &AnalogModel,
    lengths: &[usize],
    layouts: &[MatrixLayout],
    row_writes: u64,
    arrays: u64,
    tech: &TechnologyTable,
) -> Timing {
    let (linears, attention) = layouts.split_at(model.layers().len().min(layouts.len()));
    let matrices = model
        .layers()
        .iter()
        .zip(linears)
        .map(|(l, m)| (l.info().name, (m.mvm_ns(tech), m.arrays)))
        .collect();
    let ops_per_ns = tech.digital.ops_per_ns.value;
    let digital = model
        .digital
        .iter()
        .map(|d| {
            let ns = 2.0 * (d.in_features * d.out_features) as f64 / ops_per_ns;
            (d.name, ns)
        })
        .collect();
    let sequences = lengths.len() as f64;
    let crossbar_attention_ns =
        (model.hardware.attention.mode == AttentionMode::Crossbar).then(|| {
            let mvms: f64 = attention
                .iter()
                .map(|m| m.mvms as f64 * m.mvm_ns(tech))
                .sum();
            let writes = row_writes as f64 * tech.write.write_latency_ns.value;
            (mvms + writes) / sequences / model.config.num_hidden_layers.max(1) as f64
        });
    let stages = Stages {
        model,
        linears: model.model.linears().iter().map(|l| (l.name, l)).collect(),
        matrices,
        digital,
        ops_per_ns,
        crossbar_attention_ns,
    };
    let schedule = model.hardware.chip.schedule;
    let latency = |seq: usize| match schedule {
        Schedule::Serial => stages.serial_ns(seq),
        Schedule::Pipelined => stages.pipelined_ns(seq),
    };
    let (mut latency_ns, mut period_ns, mut array_ns) = (0.0, 0.0, 0.0);
    for &seq in lengths {
        let one = latency(seq);
        let (busiest, arrays) = stages.busiest_and_array_time(seq);
        latency_ns += one;
        period_ns += match schedule {
            Schedule::Serial => one,
            Schedule::Pipelined => busiest,
        };
        array_ns += arrays;
    }
    let tokens: usize = lengths.iter().sum();
    Timing {
        schedule,
        latency_ns: latency_ns / sequences,
        throughput_inferences_per_s: sequences / period_ns * 1e9,
        throughput_tokens_per_s: tokens as f64 / period_ns * 1e9,
        array_utilization: array_ns / (arrays as f64 * period_ns),
    }
}
