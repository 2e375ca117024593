//! A batch of tokenized sequences, packed one after another without padding.
//!
//! The token rows of all sequences of a batch are stacked, and attention runs per sequence
//! over its own tokens only. This computes exactly what Hugging Face computes with padding
//! and an attention mask: the mask adds the most negative `f32` to padded keys, whose
//! softmax weights are then exactly 0.0 in `f32`, and padded query rows never reach the
//! first token's output that the head reads. Packing just skips that dead work.

use super::linear::BatchId;

/// Token ids of several sequences, packed one after another (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackedBatch {
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
    /// Identity of each sequence for per-read hardware randomness (see [`BatchId`]): by
    /// convention its file-order example index.
    pub examples: Vec<u64>,
    /// Number of tokens of each sequence, in order; they sum to `input_ids.len()`.
    pub lengths: Vec<usize>,
}

impl PackedBatch {
    /// Appends one sequence whose identity is its position in the batch.
    pub fn push(&mut self, input_ids: &[u32], token_type_ids: &[u32]) {
        self.push_example(self.lengths.len() as u64, input_ids, token_type_ids);
    }

    /// Appends sequence `example` (its file-order index, below 2^46).
    pub fn push_example(&mut self, example: u64, input_ids: &[u32], token_type_ids: &[u32]) {
        assert_eq!(input_ids.len(), token_type_ids.len());
        self.input_ids.extend_from_slice(input_ids);
        self.token_type_ids.extend_from_slice(token_type_ids);
        self.lengths.push(input_ids.len());
        self.examples.push(example);
    }

    /// The rows' identities for per-read hardware randomness.
    pub fn id(&self) -> BatchId<'_> {
        BatchId {
            examples: &self.examples,
            lengths: &self.lengths,
        }
    }

    pub fn num_sequences(&self) -> usize {
        self.lengths.len()
    }

    pub fn num_tokens(&self) -> usize {
        self.input_ids.len()
    }

    /// Row index of the first token (\[CLS\]) of each sequence.
    pub fn offsets(&self) -> Vec<usize> {
        self.lengths
            .iter()
            .scan(0, |acc, &l| {
                let start = *acc;
                *acc += l;
                Some(start)
            })
            .collect()
    }
}

/// Input the model cannot embed (ids outside the vocabulary, sequences too long).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("sequence {sequence}: {what} {value} is outside the model's range 0..{limit} (config.json `{key}`)")]
    OutOfRange {
        sequence: usize,
        what: &'static str,
        value: usize,
        limit: usize,
        key: &'static str,
    },
    #[error("sequence {sequence} is empty: expected at least the [CLS] token")]
    Empty { sequence: usize },
}
