//! DistilBERT (`DistilBertForSequenceClassification`): BERT's block under other names, no
//! token-type table, no pooler.
//!
//! - `config.json` names the sizes `dim`, `n_layers`, `n_heads`, `hidden_dim` (the
//!   feed-forward width) and `activation`; they are read as BERT's keys. Every LayerNorm's
//!   eps is 1e-12 in the family's code, not a config key.
//! - Embeddings: word + position (from 0), LayerNorm. Token types are ignored.
//! - Layer `distilbert.transformer.layer.{i}`: `attention.{q,k,v,out}_lin`,
//!   `sa_layer_norm`, `ffn.lin1`, `ffn.lin2`, `output_layer_norm`.
//! - Head: `classifier(ReLU(pre_classifier(h_[CLS])))`, the ReLU fixed by the family.

use serde_json::{json, Map, Value};

use super::{EmbeddingNames, HeadActivation, HeadNames, LayerNames, Layout};
use crate::model::ModelConfig;

/// DistilBERT's name of each of BERT's keys.
const KEYS: [(&str, &str); 5] = [
    ("dim", "hidden_size"),
    ("n_layers", "num_hidden_layers"),
    ("n_heads", "num_attention_heads"),
    ("hidden_dim", "intermediate_size"),
    ("activation", "hidden_act"),
];

/// Renames DistilBERT's keys to BERT's and returns `DistilBertConfig`'s defaults.
pub(super) fn normalize(json: &mut Map<String, Value>) -> Vec<(String, Value)> {
    for (theirs, ours) in KEYS {
        if let Some(value) = json.remove(theirs) {
            json.insert(ours.into(), value);
        }
    }
    json.insert("layer_norm_eps".into(), json!(1e-12));
    super::pairs(json!({"num_hidden_layers": 6}))
}

/// Renames BERT's keys to DistilBERT's and drops those the family has no use for.
pub(super) fn native_keys(json: &mut Map<String, Value>) {
    for (theirs, ours) in KEYS {
        if let Some(value) = json.remove(ours) {
            json.insert(theirs.into(), value);
        }
    }
    for unused in ["type_vocab_size", "layer_norm_eps"] {
        json.remove(unused);
    }
}

pub(super) fn layout(config: &ModelConfig) -> Layout {
    Layout {
        base: "distilbert",
        embeddings: EmbeddingNames {
            token_type: None,
            ..EmbeddingNames::bert("distilbert.embeddings")
        },
        projection: None,
        layers: (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("distilbert.transformer.layer.{i}");
                LayerNames {
                    query: format!("{p}.attention.q_lin"),
                    key: format!("{p}.attention.k_lin"),
                    value: format!("{p}.attention.v_lin"),
                    attention_output: format!("{p}.attention.out_lin"),
                    attention_layer_norm: format!("{p}.sa_layer_norm"),
                    intermediate: format!("{p}.ffn.lin1"),
                    output: format!("{p}.ffn.lin2"),
                    output_layer_norm: format!("{p}.output_layer_norm"),
                }
            })
            .collect(),
        head: HeadNames {
            dense: "pre_classifier".into(),
            activation: HeadActivation::Relu,
            classifier: "classifier".into(),
        },
    }
}
