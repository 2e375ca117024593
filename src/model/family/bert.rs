//! BERT (`BertForSequenceClassification`), the reference family:
//!
//! ```text
//! BertForSequenceClassification
//! ├── bert
//! │   ├── embeddings            word + token type + position, LayerNorm
//! │   ├── encoder.layer.{i}
//! │   │   ├── attention.self    query, key, value, softmax(QKᵀ/√d)·V
//! │   │   ├── attention.output  dense, LayerNorm(· + input)
//! │   │   ├── intermediate      dense, hidden_act
//! │   │   └── output            dense, LayerNorm(· + attention out)
//! │   └── pooler.dense          on [CLS], tanh
//! └── classifier                → logits
//! ```
//!
//! `config.json` keys are [`ModelConfig`]'s own, with Hugging Face's BERT defaults.

use super::{EmbeddingNames, HeadActivation, HeadNames, LayerNames, Layout};
use crate::model::ModelConfig;

pub(super) fn layout(config: &ModelConfig) -> Layout {
    Layout {
        base: "bert",
        embeddings: EmbeddingNames::bert("bert.embeddings"),
        projection: None,
        layers: (0..config.num_hidden_layers)
            .map(|i| LayerNames::bert(&format!("bert.encoder.layer.{i}")))
            .collect(),
        head: HeadNames {
            dense: "bert.pooler.dense".into(),
            activation: HeadActivation::Tanh,
            classifier: "classifier".into(),
        },
    }
}
