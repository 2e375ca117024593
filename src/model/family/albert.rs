//! ALBERT (`AlbertForSequenceClassification`): factorized embeddings and shared layers.
//!
//! - The embedding tables are `embedding_size` wide; `albert.encoder.
//!   embedding_hidden_mapping_in` projects every token to `hidden_size`.
//! - The `num_hidden_layers` layers share the weights of `num_hidden_groups` stored layers
//!   (`albert_layer_groups.{g}.albert_layers.0`): layer i runs group
//!   ⌊i·groups / layers⌋ (see [`ModelConfig::stored_layer`]). On a chip each group is
//!   programmed once and its arrays serve every layer that runs it.
//! - Pooler `albert.pooler` with tanh, then `classifier`.
//!
//! `config.json` uses BERT's keys plus `embedding_size`, `num_hidden_groups` and
//! `inner_group_num` (only 1 is supported), with `AlbertConfig`'s defaults below.

use serde_json::{json, Value};

use super::{EmbeddingNames, HeadActivation, HeadNames, LayerNames, Layout};
use crate::model::ModelConfig;

/// `AlbertConfig`'s defaults (ALBERT-xxlarge).
pub(super) fn defaults() -> Vec<(String, Value)> {
    super::pairs(json!({
        "vocab_size": 30000,
        "embedding_size": 128,
        "hidden_size": 4096,
        "num_hidden_groups": 1,
        "num_attention_heads": 64,
        "intermediate_size": 16384,
        "inner_group_num": 1,
        "hidden_act": "gelu_new",
    }))
}

pub(super) fn layout(config: &ModelConfig) -> Layout {
    let groups = config.num_hidden_groups.unwrap_or(1);
    Layout {
        base: "albert",
        embeddings: EmbeddingNames::bert("albert.embeddings"),
        projection: Some("albert.encoder.embedding_hidden_mapping_in".into()),
        layers: (0..groups)
            .map(|g| {
                let p = format!("albert.encoder.albert_layer_groups.{g}.albert_layers.0");
                LayerNames {
                    query: format!("{p}.attention.query"),
                    key: format!("{p}.attention.key"),
                    value: format!("{p}.attention.value"),
                    attention_output: format!("{p}.attention.dense"),
                    attention_layer_norm: format!("{p}.attention.LayerNorm"),
                    intermediate: format!("{p}.ffn"),
                    output: format!("{p}.ffn_output"),
                    output_layer_norm: format!("{p}.full_layer_layer_norm"),
                }
            })
            .collect(),
        head: HeadNames {
            dense: "albert.pooler".into(),
            activation: HeadActivation::Tanh,
            classifier: "classifier".into(),
        },
    }
}
