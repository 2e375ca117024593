//! The model families crossbert runs, and what distinguishes them.
//!
//! Every supported family is BERT's post-LayerNorm encoder (see [`super::encoder`]) under
//! other tensor names, with a few differences a [`Layout`] states: the embedding width and
//! a projection to the hidden size (ALBERT, ELECTRA), no token-type table (DistilBERT),
//! positions counted from `pad_token_id + 1` (RoBERTa), one layer's weights shared by
//! several layers (ALBERT), and the head's activation (tanh, ReLU or GELU). Each family is
//! one module here: how its `config.json` maps onto [`ModelConfig`]'s keys, and its
//! layout. A family with a different block (pre-LN, bottlenecks) would instead implement
//! [`super::SequenceClassifier`] itself.

mod albert;
mod bert;
mod distilbert;
mod electra;
mod roberta;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::activations::HiddenAct;
use super::config::ModelConfig;
use crate::periphery::exact::gelu_erf;
use crate::periphery::OpCounts;

/// A model family, as `config.json` names it in `model_type` ("bert" when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    #[default]
    Bert,
    #[serde(rename = "distilbert")]
    DistilBert,
    Roberta,
    Albert,
    Electra,
}

impl Family {
    pub const ALL: [Family; 5] = [
        Family::Bert,
        Family::DistilBert,
        Family::Roberta,
        Family::Albert,
        Family::Electra,
    ];

    /// The `model_type` of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::DistilBert => "distilbert",
            Family::Roberta => "roberta",
            Family::Albert => "albert",
            Family::Electra => "electra",
        }
    }

    /// Parses a `model_type`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.model_type() == s)
    }

    /// The Hugging Face class crossbert runs (`architectures` in `config.json`).
    pub fn architecture(self) -> &'static str {
        match self {
            Family::Bert => "BertForSequenceClassification",
            Family::DistilBert => "DistilBertForSequenceClassification",
            Family::Roberta => "RobertaForSequenceClassification",
            Family::Albert => "AlbertForSequenceClassification",
            Family::Electra => "ElectraForSequenceClassification",
        }
    }

    /// Rewrites the family's `config.json` keys into [`ModelConfig`]'s (BERT's) and fills
    /// the family's own defaults for keys that are absent.
    pub(super) fn normalize(self, json: &mut Map<String, Value>) {
        let defaults = match self {
            Family::Bert => return,
            Family::DistilBert => distilbert::normalize(json),
            Family::Roberta => roberta::defaults(),
            Family::Albert => albert::defaults(),
            Family::Electra => electra::defaults(),
        };
        for (key, value) in defaults {
            json.entry(key).or_insert(value);
        }
    }

    /// Rewrites [`ModelConfig`]'s keys into the family's own, the inverse of
    /// `normalize` (what a written `config.json` must hold for transformers to read it).
    pub fn native_keys(self, json: &mut Map<String, Value>) {
        if self == Family::DistilBert {
            distilbert::native_keys(json);
        }
    }

    /// Where the family keeps each tensor of a model with this `config`.
    pub fn layout(self, config: &ModelConfig) -> Layout {
        match self {
            Family::Bert => bert::layout(config),
            Family::DistilBert => distilbert::layout(config),
            Family::Roberta => roberta::layout(config),
            Family::Albert => albert::layout(config),
            Family::Electra => electra::layout(config),
        }
    }

    /// Whether the family has a token-type (segment) embedding table.
    pub fn has_token_types(self) -> bool {
        self != Family::DistilBert
    }
}

/// Everything that tells one family's model apart: tensor names (without `.weight` /
/// `.bias`) and the small differences of its forward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The base model's prefix (`bert`, `roberta`, …): tensor names are also found without
    /// it, as a bare base model saves them.
    pub base: &'static str,
    pub embeddings: EmbeddingNames,
    /// A linear from the embedding width to the hidden size, applied to every token before
    /// the first layer (ALBERT's `embedding_hidden_mapping_in`, ELECTRA's
    /// `embeddings_project`); `None` when the widths agree.
    pub projection: Option<String>,
    /// The weights of each stored layer, in order. Layer `i` of the forward pass runs
    /// stored layer [`ModelConfig::stored_layer`]`(i)`: all of them once, except ALBERT's
    /// shared ones.
    pub layers: Vec<LayerNames>,
    pub head: HeadNames,
}

/// The embedding tables and their LayerNorm.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingNames {
    pub word: String,
    pub position: String,
    /// `None` for a family without segments (DistilBERT).
    pub token_type: Option<String>,
    pub layer_norm: String,
    /// Position id of a sequence's first token: 0, or `pad_token_id + 1` for RoBERTa, whose
    /// positions count real tokens after the padding index.
    pub first_position: usize,
}

/// The eight parameterized parts of one post-LN transformer layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNames {
    pub query: String,
    pub key: String,
    pub value: String,
    /// The projection after the heads are concatenated.
    pub attention_output: String,
    /// LayerNorm of the attention output plus the layer's input.
    pub attention_layer_norm: String,
    /// The first feed-forward linear (hidden → intermediate).
    pub intermediate: String,
    /// The second feed-forward linear (intermediate → hidden).
    pub output: String,
    /// LayerNorm of the feed-forward output plus its input.
    pub output_layer_norm: String,
}

/// The classification head: a dense layer on the first token's hidden state, an
/// activation, and the linear that produces the logits.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadNames {
    /// BERT's and ALBERT's pooler, DistilBERT's `pre_classifier`, RoBERTa's and ELECTRA's
    /// `classifier.dense`.
    pub dense: String,
    pub activation: HeadActivation,
    pub classifier: String,
}

/// The activation between the head's two linears, fixed by the family's code (not by
/// `hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadActivation {
    Tanh,
    Relu,
    /// The erf GELU.
    Gelu,
}

impl LayerNames {
    /// BERT's names under `prefix` (`bert.encoder.layer.3`), shared by RoBERTa and ELECTRA.
    fn bert(prefix: &str) -> Self {
        Self {
            query: format!("{prefix}.attention.self.query"),
            key: format!("{prefix}.attention.self.key"),
            value: format!("{prefix}.attention.self.value"),
            attention_output: format!("{prefix}.attention.output.dense"),
            attention_layer_norm: format!("{prefix}.attention.output.LayerNorm"),
            intermediate: format!("{prefix}.intermediate.dense"),
            output: format!("{prefix}.output.dense"),
            output_layer_norm: format!("{prefix}.output.LayerNorm"),
        }
    }
}

impl EmbeddingNames {
    /// BERT's tables under `prefix` (`bert.embeddings`), positions from 0.
    fn bert(prefix: &str) -> Self {
        Self {
            word: format!("{prefix}.word_embeddings"),
            position: format!("{prefix}.position_embeddings"),
            token_type: Some(format!("{prefix}.token_type_embeddings")),
            layer_norm: format!("{prefix}.LayerNorm"),
            first_position: 0,
        }
    }
}

impl HeadActivation {
    /// Applies the activation in place, exactly in `f32`.
    pub fn apply(self, values: &mut [f32]) {
        match self {
            HeadActivation::Tanh => values.iter_mut().for_each(|v| *v = v.tanh()),
            HeadActivation::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
            HeadActivation::Gelu => values.iter_mut().for_each(|v| *v = gelu_erf(*v)),
        }
    }

    /// Operations on one row of `cols` values: an fp32 tanh each, a compare each (ReLU), or
    /// the erf GELU's ([`HiddenAct::counts`]).
    pub fn counts(self, cols: usize) -> OpCounts {
        match self {
            HeadActivation::Tanh => OpCounts {
                fp32_tanh: cols as u64,
                ..Default::default()
            },
            HeadActivation::Relu => HiddenAct::Relu.counts(cols),
            HeadActivation::Gelu => HiddenAct::Gelu.counts(cols),
        }
    }
}

/// The `(key, value)` pairs of a JSON object literal, for family defaults.
fn pairs(value: Value) -> Vec<(String, Value)> {
    match value {
        Value::Object(map) => map.into_iter().collect(),
        _ => unreachable!("family defaults are JSON objects"),
    }
}
