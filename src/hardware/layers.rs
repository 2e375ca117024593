//! Which linear layers run on crossbars, and per-layer device and mapping overrides.
//!
//! A linear is named `<layer>.<kind>` for the six weight matrices of stored encoder layer
//! `<layer>` (0-based; an ALBERT group) — `query`, `key`, `value`, `attention_output`,
//! `ffn_in` (the first feed-forward linear), `ffn_out` (the second) — and `pooler` /
//! `classifier` for the head's two linears, `embedding_projection` for ALBERT's and
//! ELECTRA's projection of the embeddings ([`LinearName`]). The names are the same in every
//! family. A pattern is a name with `*` for any layer or any kind (`*.value`, `3.*`), or
//! `all`.

pub use crate::model::{LinearKind, LinearName};
use crossbar::DeviceConfig;
use mapping::MappingConfig;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A set of linears: `all`, `pooler`, `classifier`, `embedding_projection`, or
/// `<layer|*>.<kind|*>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinearPattern {
    text: String,
    layer: Option<usize>,
    kind: Option<LinearKind>,
    encoder_only: bool,
}

impl LinearPattern {
    pub fn matches(&self, name: &LinearName) -> bool {
        (!self.encoder_only || name.layer.is_some())
            && self.layer.is_none_or(|l| name.layer == Some(l))
            && self.kind.is_none_or(|k| name.kind == k)
    }
}

impl TryFrom<String> for LinearPattern {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let bad = || {
            format!(
                "expected `all`, `pooler`, `classifier`, `embedding_projection` or \
                 `<layer|*>.<kind|*>` with kind one of query, key, value, attention_output, \
                 ffn_in, ffn_out; found {text:?}"
            )
        };
        let (layer, kind, encoder_only) = match text.split_once('.') {
            None if text == "all" => (None, None, false),
            None => match LinearKind::parse(&text) {
                Some(k) if !k.in_encoder() => (None, Some(k), false),
                _ => return Err(bad()),
            },
            Some((layer, kind)) => {
                let layer = match layer {
                    "*" => None,
                    l => Some(l.parse::<usize>().map_err(|_| bad())?),
                };
                let kind = match kind {
                    "*" => None,
                    k => Some(
                        LinearKind::parse(k)
                            .filter(|k| k.in_encoder())
                            .ok_or_else(bad)?,
                    ),
                };
                (layer, kind, true)
            }
        };
        Ok(Self {
            text,
            layer,
            kind,
            encoder_only,
        })
    }
}

impl fmt::Display for LinearPattern {
    /// The canonical spelling (`attn_out` reads `attention_output`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.layer, self.kind) {
            (None, None) if !self.encoder_only => f.write_str("all"),
            (_, Some(kind)) if !kind.in_encoder() => f.write_str(kind.name()),
            (layer, kind) => {
                match layer {
                    Some(l) => write!(f, "{l}.")?,
                    None => f.write_str("*.")?,
                }
                f.write_str(kind.map_or("*", LinearKind::name))
            }
        }
    }
}

impl From<LinearPattern> for String {
    fn from(p: LinearPattern) -> String {
        p.text
    }
}

/// A device model and/or a mapping for the linears a pattern selects (fault-injection
/// campaigns, mixed precision). An override sets at least one of the two; a linear takes
/// each from the last override that matches it and sets it, else from the top-level
/// section, so a device-only override and a mapping-only override of the same linear
/// both apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerOverride {
    /// Which linears.
    pub target: LinearPattern,
    /// Their device model: `[device]` with this table merged over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceConfig>,
    /// Their mapping (precisions, cells, array size, encoding, converters): `[mapping]`
    /// with this table merged over it. Not written out when unset, so descriptions without
    /// it keep their `config_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<MappingConfig>,
}

/// Which linears are analog. Default: the six encoder matrices of every layer (the pooler
/// and classifier stay digital, as in most accelerator studies of BERT).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LayerSelection {
    pub analog: Vec<LinearPattern>,
    pub overrides: Vec<LayerOverride>,
}

impl Default for LayerSelection {
    fn default() -> Self {
        let analog = [
            "query",
            "key",
            "value",
            "attention_output",
            "ffn_in",
            "ffn_out",
        ]
        .iter()
        .map(|k| LinearPattern::try_from(format!("*.{k}")).unwrap())
        .collect();
        Self {
            analog,
            overrides: Vec::new(),
        }
    }
}
