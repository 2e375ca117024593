//! Several checkpoints on one chip: which analog linears they can share, and which random
//! streams each programs from.
//!
//! Model. Checkpoints fine-tuned from one base with their lowest layers frozen (`crossbert
//! finetune --freeze-layers K`) hold bit-identical tensors for those layers. A chip serving
//! every task programs such a tensor once and lets each task's inference read the same
//! arrays; the other tensors are each task's own arrays. Two analog linears share arrays
//! when their [`ArrayKey`]s are equal:
//!
//! - the same linear ([`LinearName`]) and shape: programming draws are keyed by the linear
//!   ([`LinearName::matrix_id`]), so one physical array serves one name; identical content
//!   under two names (which fine-tuning does not produce) counts as two arrays;
//! - the same [`ContentHash`] of the weight values: SHA-256 of the weights as float32
//!   little-endian bytes, row-major `out × in` as stored by Hugging Face (so anyone can
//!   recompute it, e.g. `hashlib.sha256(w.float().numpy().astype("<f4").tobytes())`). The
//!   bias is left out: it is added digitally after the ADCs and stored in the digital
//!   periphery, not on the arrays, so two tasks whose weights agree share the arrays even
//!   when their biases differ. The hash is of the values as loaded, so a float16 base and
//!   its float32 copy hash alike;
//! - the same mapping ([`mapping_fingerprint`]: the mapping configuration, i.e. weight and
//!   input bits, encoding, slicing, array size, converters): what the arrays store and how
//!   they are read.
//!
//! Converter settings (calibrated input scales and ADC ranges) are not stored in the arrays;
//! each task calibrates its own on its train split, as a chip would load a register set per
//! task. Energy and latency per inference do not change with sharing: each task still runs
//! its own inference through the same number of array reads; only the area (and the arrays
//! to program) shrinks.
//!
//! Programming draws ([`ChipPlan::stream_ids`]). Every draw of an array comes from (seed,
//! stream id, tile, purpose). On a chip holding several models in a stated order, each
//! distinct array is a physical array of its own: the copy of a linear first held by model
//! `p` of the list draws from [`copy_stream_id`]`(matrix_id, p)`. Copy 0 (the content the
//! first model holds) keeps `matrix_id`, so the first model sees exactly its single-task
//! chip, arrays shared with it keep their single-task draws, and a single model is the
//! single-task chip bit for bit; every other model's own arrays draw afresh.

use std::collections::HashMap;
use std::fmt;

use anyhow::bail;
use mapping::MappingConfig;
use sha2::{Digest, Sha256};

use crate::experiment::hash::fnv1a64;
use crate::hardware::{HardwareConfig, LinearName};
use crate::model::{digital_linear, CheckpointDir, LinearInfo, LinearOp, LinearSpec};

/// SHA-256 of a weight matrix's values (see the module docs for the byte order).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The hash of `weight` (row-major values).
    pub fn of(weight: &[f32]) -> Self {
        let mut hasher = Sha256::new();
        // One update per block keeps the byte buffer small for large matrices.
        for block in weight.chunks(4096) {
            let bytes: Vec<u8> = block.iter().flat_map(|v| v.to_le_bytes()).collect();
            hasher.update(&bytes);
        }
        Self(hasher.finalize().into())
    }
}

impl fmt::Display for ContentHash {
    /// 64 lowercase hex digits, as `sha256sum` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

/// What decides whether two analog linears can be one set of arrays (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArrayKey {
    pub name: LinearName,
    pub out_features: usize,
    pub in_features: usize,
    pub content: ContentHash,
    /// [`mapping_fingerprint`] of the linear's mapping.
    pub mapping: u64,
}

/// FNV-1a of the mapping configuration as JSON: equal for equal mappings.
pub fn mapping_fingerprint(cfg: &MappingConfig) -> u64 {
    let text = serde_json::to_string(cfg).unwrap_or_default();
    fnv1a64(text.as_bytes())
}

/// The analog linears of a checkpoint on `hardware`, in model order, with their keys. The
/// weights are read and hashed; nothing is programmed.
pub fn array_keys(
    checkpoint: &CheckpointDir,
    hardware: &HardwareConfig,
) -> anyhow::Result<Vec<(LinearInfo, ArrayKey)>> {
    let keys = std::cell::RefCell::new(Vec::new());
    let factory = |spec: &LinearSpec| -> Box<dyn LinearOp> {
        let name = spec.info.name;
        if hardware.is_analog(&name) {
            let key = ArrayKey {
                name,
                out_features: spec.out_features(),
                in_features: spec.in_features(),
                content: ContentHash::of(spec.weight.as_slice()),
                mapping: mapping_fingerprint(hardware.mapping_for(&name)),
            };
            keys.borrow_mut().push((spec.info.clone(), key));
        }
        digital_linear(spec)
    };
    checkpoint.classifier(&factory)?;
    Ok(keys.into_inner())
}

/// Most models one chip's stream ids tell apart (the copy number takes bits 24–30).
pub const MAX_CHIP_MODELS: usize = 128;

/// The stream id of copy `copy` of a linear whose single-task stream is `matrix_id`: the
/// id itself for copy 0, else the id with `copy` XORed into bits 24–30. Encoder ids are
/// below 2^24 (layer·8 + role, layers below 2^21) and the head's have all of bits 24–31
/// set, so no copy of one linear meets another linear's id or another copy.
pub fn copy_stream_id(matrix_id: u32, copy: usize) -> u32 {
    debug_assert!(copy < MAX_CHIP_MODELS);
    matrix_id ^ ((copy as u32) << 24)
}

/// Which stream each analog linear of one model programs from; a linear not listed uses its
/// single-task `matrix_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamIds(HashMap<LinearName, u32>);

impl StreamIds {
    /// Every linear on its single-task stream (a chip holding one model).
    pub fn single_task() -> Self {
        Self::default()
    }

    pub fn id(&self, name: &LinearName) -> u32 {
        self.0
            .get(name)
            .copied()
            .unwrap_or_else(|| name.matrix_id())
    }
}

/// The models of one chip, in the chip's order, and the arrays they share.
pub struct ChipPlan {
    /// Per model, its analog linears and their keys.
    pub models: Vec<Vec<(LinearInfo, ArrayKey)>>,
    /// Per distinct array, the models holding it (ascending).
    holders: HashMap<ArrayKey, Vec<usize>>,
}

impl ChipPlan {
    /// The chip of these models (each as [`array_keys`] lists it), in this order.
    pub fn new(models: Vec<Vec<(LinearInfo, ArrayKey)>>) -> anyhow::Result<Self> {
        if models.len() > MAX_CHIP_MODELS {
            bail!(
                "expected at most {MAX_CHIP_MODELS} models on one chip (their stream ids must \
                 differ), found {}",
                models.len()
            );
        }
        let mut holders: HashMap<ArrayKey, Vec<usize>> = HashMap::new();
        for (m, linears) in models.iter().enumerate() {
            for (_, key) in linears {
                let list = holders.entry(*key).or_default();
                if list.last() != Some(&m) {
                    list.push(m);
                }
            }
        }
        Ok(Self { models, holders })
    }

    /// The models holding the array `key`, ascending (empty when none does).
    pub fn holders(&self, key: &ArrayKey) -> &[usize] {
        self.holders.get(key).map_or(&[], Vec::as_slice)
    }

    /// Whether more than one model reads the array `key`.
    pub fn is_shared(&self, key: &ArrayKey) -> bool {
        self.holders(key).len() > 1
    }

    /// The programming streams of model `model`: each linear's copy is numbered by the
    /// first model holding its content (see the module docs).
    pub fn stream_ids(&self, model: usize) -> StreamIds {
        let ids = self.models[model]
            .iter()
            .map(|(_, key)| {
                let first = self.holders(key).first().copied().unwrap_or(model);
                (key.name, copy_stream_id(key.name.matrix_id(), first))
            })
            .collect();
        StreamIds(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::LinearKind;

    #[test]
    fn content_hash_is_sha256_of_little_endian_floats() {
        // sha256sum of the 8 bytes 00 00 80 3f 00 00 00 c0 (1.0f32, -2.0f32).
        let h = ContentHash::of(&[1.0, -2.0]);
        let mut hasher = Sha256::new();
        hasher.update([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
        assert_eq!(h.0, <[u8; 32]>::from(hasher.finalize()));
        assert_eq!(h.to_string().len(), 64);
        // Blocks do not change the hash: a long input hashes as its concatenated bytes.
        let long: Vec<f32> = (0..10_000).map(|i| i as f32 * 0.5).collect();
        let mut hasher = Sha256::new();
        hasher.update(
            long.iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        assert_eq!(
            ContentHash::of(&long).0,
            <[u8; 32]>::from(hasher.finalize())
        );
        assert_ne!(ContentHash::of(&[1.0, 2.0]), ContentHash::of(&[2.0, 1.0]));
    }

    #[test]
    fn copies_never_meet_another_stream() {
        let names: Vec<LinearName> = (0..48)
            .flat_map(|l| LinearKind::ENCODER.map(|k| LinearName::encoder(l, k)))
            .chain(
                [
                    LinearKind::Pooler,
                    LinearKind::Classifier,
                    LinearKind::EmbeddingProjection,
                ]
                .map(LinearName::head),
            )
            .collect();
        let mut ids = std::collections::HashSet::new();
        for n in &names {
            for copy in 0..MAX_CHIP_MODELS {
                assert!(
                    ids.insert(copy_stream_id(n.matrix_id(), copy)),
                    "{n} copy {copy}"
                );
            }
        }
        // nor an attention write stream (layer·8 + 6 and + 7)
        for l in 0..48u32 {
            assert!(!ids.contains(&(l * 8 + 6)) && !ids.contains(&(l * 8 + 7)));
        }
    }
}
