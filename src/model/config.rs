//! `ModelConfig`: the `config.json` of a Hugging Face checkpoint of any supported family.
//!
//! The keys are BERT's; a family that names them otherwise (DistilBERT's `dim`, `n_layers`,
//! …) is translated first by its module in [`super::family`], which also supplies its own
//! defaults. Only the fields that change the computation are read; every one of them has
//! Hugging Face's default, so a minimal config loads. The rest of a real `config.json` (dropout
//! rates, `transformers_version`, `architectures`, …) is ignored on purpose: unlike
//! crossbert's own hardware configs, this file is written by another tool and carries
//! dozens of keys that do not affect inference, so `deny_unknown_fields` would reject every
//! real checkpoint.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::activations::HiddenAct;
use super::family::Family;

/// What the classification head predicts, from `problem_type` / `num_labels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemType {
    /// One class per example: argmax of the logits.
    SingleLabelClassification,
    /// One real value per example (`num_labels` = 1, e.g. STS-B).
    Regression,
    /// Independent binary labels (accepted in configs; GLUE has none).
    MultiLabelClassification,
}

/// The architecture of a checkpoint, with Hugging Face's defaults (BERT-base, or the
/// family's own).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfig {
    /// The family (`model_type`); "bert" when absent.
    #[serde(default)]
    pub model_type: Family,
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "defaults::hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "defaults::num_hidden_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "defaults::num_attention_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "defaults::intermediate_size")]
    pub intermediate_size: usize,
    /// Feed-forward activation; Hugging Face default "gelu".
    #[serde(default)]
    pub hidden_act: HiddenAct,
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "defaults::type_vocab_size")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon; Hugging Face default 1e-12.
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: usize,
    /// Only "absolute" is implemented; checked by `ModelConfig::validate`.
    #[serde(default = "defaults::position_embedding_type")]
    pub position_embedding_type: String,
    /// Class index → label name, e.g. {"0": "entailment", "1": "not_entailment"}. Keys are
    /// strings in JSON; parsed to integers here.
    #[serde(default, with = "id2label_serde")]
    pub id2label: BTreeMap<usize, String>,
    /// Number of outputs of the classifier; Hugging Face takes it from `id2label` when
    /// absent, and defaults to 2.
    #[serde(default)]
    pub num_labels: Option<usize>,
    #[serde(default)]
    pub problem_type: Option<ProblemType>,
    /// Width of the embedding tables when it differs from `hidden_size` (ALBERT, ELECTRA).
    #[serde(default)]
    pub embedding_size: Option<usize>,
    /// ALBERT: how many stored layers the `num_hidden_layers` layers share.
    #[serde(default)]
    pub num_hidden_groups: Option<usize>,
    /// ALBERT: layers per group; only 1 (every released ALBERT) is supported.
    #[serde(default)]
    pub inner_group_num: Option<usize>,
}

mod defaults {
    pub fn vocab_size() -> usize {
        30522
    }
    pub fn hidden_size() -> usize {
        768
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn num_attention_heads() -> usize {
        12
    }
    pub fn intermediate_size() -> usize {
        3072
    }
    pub fn max_position_embeddings() -> usize {
        512
    }
    pub fn type_vocab_size() -> usize {
        2
    }
    pub fn layer_norm_eps() -> f64 {
        1e-12
    }
    pub fn position_embedding_type() -> String {
        "absolute".into()
    }
}

/// JSON object keys are strings; `id2label` uses class indices as keys.
mod id2label_serde {
    use std::collections::BTreeMap;

    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<usize, String>, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| {
                let idx = k.parse::<usize>().map_err(|_| {
                    D::Error::custom(format!(
                        "id2label: expected class indices as keys, found {k:?}"
                    ))
                })?;
                Ok((idx, v))
            })
            .collect()
    }

    pub fn serialize<S: Serializer>(m: &BTreeMap<usize, String>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k.to_string(), v)))
    }
}

/// A `config.json` that cannot describe a model crossbert can run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigJsonError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: key `{key}`: expected {expected}, found {found}")]
    Invalid {
        path: String,
        key: &'static str,
        expected: String,
        found: String,
    },
}

impl ModelConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigJsonError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigJsonError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::from_json(&text, &shown)
    }

    /// Parses and validates config JSON; `origin` names the source in errors. The keys are
    /// translated by the family `model_type` names (see the module docs).
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ConfigJsonError> {
        let parse_error = |source| ConfigJsonError::Parse {
            path: origin.to_string(),
            source,
        };
        let mut json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(parse_error)?;
        let family = match json.get("model_type") {
            None => Family::Bert,
            Some(value) => Family::deserialize(value).map_err(parse_error)?,
        };
        family.normalize(&mut json);
        let config: ModelConfig = serde_json::from_value(json.into()).map_err(parse_error)?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Width of the embedding tables: `embedding_size`, else `hidden_size`.
    pub fn embedding_size(&self) -> usize {
        self.embedding_size.unwrap_or(self.hidden_size)
    }

    /// Which stored layer's weights layer `i` of the forward pass runs: `i` itself, or for
    /// ALBERT its group ⌊i·groups / layers⌋ (Hugging Face's
    /// `int(i / (num_hidden_layers / num_hidden_groups))`, exactly, in integers).
    pub fn stored_layer(&self, i: usize) -> usize {
        match self.num_hidden_groups {
            Some(groups) if self.model_type == Family::Albert => {
                i * groups / self.num_hidden_layers
            }
            _ => i,
        }
    }

    /// Number of classifier outputs: `num_labels`, else the size of `id2label`, else 2.
    pub fn num_labels(&self) -> usize {
        self.num_labels.unwrap_or(if self.id2label.is_empty() {
            2
        } else {
            self.id2label.len()
        })
    }

    /// `problem_type`, or Hugging Face's inference from it: one label means regression.
    pub fn problem_type(&self) -> ProblemType {
        self.problem_type.unwrap_or(if self.num_labels() == 1 {
            ProblemType::Regression
        } else {
            ProblemType::SingleLabelClassification
        })
    }

    /// Name of class `i`: `id2label[i]`, or Hugging Face's default `LABEL_i`.
    pub fn label_name(&self, i: usize) -> String {
        self.id2label
            .get(&i)
            .cloned()
            .unwrap_or_else(|| format!("LABEL_{i}"))
    }

    /// Width of one attention head.
    pub fn head_size(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigJsonError> {
        let invalid = |key, expected: &str, found: String| ConfigJsonError::Invalid {
            path: origin.to_string(),
            key,
            expected: expected.to_string(),
            found,
        };
        for (key, v) in [
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
            ("embedding_size", self.embedding_size()),
        ] {
            if v == 0 {
                return Err(invalid(key, "a positive size", "0".into()));
            }
        }
        // `%` rather than `is_multiple_of`, which is newer than the crate's rust-version.
        #[allow(clippy::manual_is_multiple_of)]
        let uneven = self.hidden_size % self.num_attention_heads != 0;
        if uneven {
            return Err(invalid(
                "num_attention_heads",
                &format!("a divisor of hidden_size {}", self.hidden_size),
                self.num_attention_heads.to_string(),
            ));
        }
        if self.position_embedding_type != "absolute" {
            return Err(invalid(
                "position_embedding_type",
                "\"absolute\"",
                format!("{:?}", self.position_embedding_type),
            ));
        }
        if !(self.layer_norm_eps >= 0.0 && self.layer_norm_eps.is_finite()) {
            return Err(invalid(
                "layer_norm_eps",
                "a finite non-negative number",
                self.layer_norm_eps.to_string(),
            ));
        }
        if let Some(groups) = self.num_hidden_groups {
            if groups == 0 || groups > self.num_hidden_layers {
                return Err(invalid(
                    "num_hidden_groups",
                    &format!("1 to num_hidden_layers {}", self.num_hidden_layers),
                    groups.to_string(),
                ));
            }
        }
        if let Some(inner) = self.inner_group_num.filter(|&n| n != 1) {
            return Err(invalid(
                "inner_group_num",
                "1 (one layer per ALBERT group)",
                inner.to_string(),
            ));
        }
        let n = self.num_labels();
        if n == 0 {
            return Err(invalid("num_labels", "at least 1", "0".into()));
        }
        if let Some(bad) = self.id2label.keys().find(|&&k| k >= n) {
            return Err(invalid(
                "id2label",
                &format!("class indices below num_labels {n}"),
                bad.to_string(),
            ));
        }
        if self.problem_type() == ProblemType::Regression && n != 1 {
            return Err(invalid(
                "problem_type",
                "num_labels 1 for regression",
                format!("regression with {n} labels"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_takes_hugging_face_defaults() {
        let c = ModelConfig::from_json("{}", "test").unwrap();
        assert_eq!(c.hidden_size, 768);
        assert_eq!(c.num_hidden_layers, 12);
        assert_eq!(c.intermediate_size, 3072);
        assert_eq!(c.layer_norm_eps, 1e-12);
        assert_eq!(c.hidden_act, HiddenAct::Gelu);
        assert_eq!(c.num_labels(), 2);
        assert_eq!(c.problem_type(), ProblemType::SingleLabelClassification);
        assert_eq!(c.label_name(1), "LABEL_1");
    }

    #[test]
    fn reads_labels_activation_and_regression() {
        let c = ModelConfig::from_json(
            r#"{"hidden_size": 384, "num_attention_heads": 12, "hidden_act": "gelu_new",
                "id2label": {"0": "LABEL_0"}, "unknown_key": [1, 2]}"#,
            "test",
        )
        .unwrap();
        assert_eq!(c.head_size(), 32);
        assert_eq!(c.hidden_act, HiddenAct::GeluTanh);
        assert_eq!(c.num_labels(), 1);
        assert_eq!(c.problem_type(), ProblemType::Regression);
        let c = ModelConfig::from_json(
            r#"{"id2label": {"0": "entailment", "1": "not_entailment"},
                "problem_type": "single_label_classification", "hidden_act": "relu"}"#,
            "test",
        )
        .unwrap();
        assert_eq!(c.label_name(1), "not_entailment");
        assert_eq!(c.hidden_act, HiddenAct::Relu);
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = ModelConfig::from_json(r#"{"hidden_size": 100}"#, "cfg.json").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("num_attention_heads") && msg.contains("cfg.json"),
            "{msg}"
        );
        let err = ModelConfig::from_json(r#"{"hidden_act": "swish"}"#, "cfg.json").unwrap_err();
        assert!(err.to_string().contains("swish"), "{err}");
        let err = ModelConfig::from_json(r#"{"id2label": {"a": "x"}}"#, "c").unwrap_err();
        assert!(err.to_string().contains("\"a\""), "{err}");
        let err = ModelConfig::from_json(r#"{"position_embedding_type": "relative_key"}"#, "c")
            .unwrap_err();
        assert!(err.to_string().contains("relative_key"), "{err}");
    }
}
