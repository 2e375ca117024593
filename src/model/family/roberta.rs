//! RoBERTa (`RobertaForSequenceClassification`): BERT's encoder and tensor names under
//! `roberta.`, with two differences.
//!
//! - Positions count real tokens from `pad_token_id + 1` (Hugging Face's
//!   `create_position_ids_from_input_ids`): with the usual pad id 1 a sequence's tokens
//!   take positions 2, 3, …, which is why `max_position_embeddings` is 514.
//! - No pooler: the head is `classifier.out_proj(tanh(classifier.dense(h_<s>)))`.
//!
//! The byte-level BPE tokenizer comes from `tokenizer.json` like any other; it gives every
//! token type 0. `config.json` uses BERT's keys, with RoBERTa's defaults below.

use serde_json::{json, Value};

use super::{EmbeddingNames, HeadActivation, HeadNames, LayerNames, Layout};
use crate::model::ModelConfig;

/// `RobertaConfig`'s defaults where they differ from BERT's.
pub(super) fn defaults() -> Vec<(String, Value)> {
    super::pairs(json!({"pad_token_id": 1}))
}

pub(super) fn layout(config: &ModelConfig) -> Layout {
    Layout {
        base: "roberta",
        embeddings: EmbeddingNames {
            first_position: config.pad_token_id + 1,
            ..EmbeddingNames::bert("roberta.embeddings")
        },
        projection: None,
        layers: (0..config.num_hidden_layers)
            .map(|i| LayerNames::bert(&format!("roberta.encoder.layer.{i}")))
            .collect(),
        head: HeadNames {
            dense: "classifier.dense".into(),
            activation: HeadActivation::Tanh,
            classifier: "classifier.out_proj".into(),
        },
    }
}
