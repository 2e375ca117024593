//! ELECTRA (`ElectraForSequenceClassification`): BERT's embeddings at `embedding_size`, a
//! projection `electra.embeddings_project` to `hidden_size` when the two differ, BERT's
//! encoder under `electra.encoder`, and no pooler: the head is
//! `classifier.out_proj(gelu(classifier.dense(h_[CLS])))` with the erf GELU whatever
//! `hidden_act` says. `config.json` uses BERT's keys plus `embedding_size`, with
//! `ElectraConfig`'s defaults below.

use serde_json::{json, Value};

use super::{EmbeddingNames, HeadActivation, HeadNames, LayerNames, Layout};
use crate::model::ModelConfig;

/// `ElectraConfig`'s defaults (ELECTRA-small's discriminator).
pub(super) fn defaults() -> Vec<(String, Value)> {
    super::pairs(json!({
        "embedding_size": 128,
        "hidden_size": 256,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
    }))
}

pub(super) fn layout(config: &ModelConfig) -> Layout {
    Layout {
        base: "electra",
        embeddings: EmbeddingNames::bert("electra.embeddings"),
        projection: (config.embedding_size() != config.hidden_size)
            .then(|| "electra.embeddings_project".into()),
        layers: (0..config.num_hidden_layers)
            .map(|i| LayerNames::bert(&format!("electra.encoder.layer.{i}")))
            .collect(),
        head: HeadNames {
            dense: "classifier.dense".into(),
            activation: HeadActivation::Gelu,
            classifier: "classifier.out_proj".into(),
        },
    }
}
