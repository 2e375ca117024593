//! Tokenization of GLUE sentences and sentence pairs with the checkpoint's own tokenizer.
//!
//! Uses Hugging Face's `tokenizers` crate, so ids are those of the reference
//! implementation: `tokenizer.json` when the checkpoint has one, otherwise a BERT tokenizer
//! assembled from `vocab.txt` (BertNormalizer lower-casing as `do_lower_case` in
//! `tokenizer_config.json` says, BertPreTokenizer, WordPiece, and the
//! `[CLS] A [SEP] B [SEP]` template with token type 0 for A and 1 for B). Pairs are cut to
//! `max_len` tokens with the longest-first strategy; nothing is padded (see
//! [`crate::model::batch`] for why padding is unnecessary).

use std::path::Path;

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::utils::truncation::{TruncationDirection, TruncationParams, TruncationStrategy};
use tokenizers::{EncodeInput, Model, Tokenizer};

/// Default maximum sequence length, special tokens included (the reference outputs' value).
pub const DEFAULT_MAX_LEN: usize = 128;

/// A tokenizer could not be built or could not encode.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
pub struct TokenizeError {
    context: String,
    message: String,
}

impl TokenizeError {
    fn new(context: impl Into<String>, message: impl ToString) -> Self {
        Self {
            context: context.into(),
            message: message.to_string(),
        }
    }
}

/// The ids of one tokenized example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
}

/// Smallest `max_len` that leaves room for a word piece: `[CLS]`, one token, `[SEP]`.
pub const MIN_MAX_LEN: usize = 3;

/// A BERT tokenizer with truncation to `max_len`.
pub struct BertTokenizer {
    inner: Tokenizer,
}

impl BertTokenizer {
    /// Loads `dir/tokenizer.json`, or builds the tokenizer from `dir/vocab.txt`.
    pub fn from_dir(dir: &Path, max_len: usize) -> Result<Self, TokenizeError> {
        let json = dir.join("tokenizer.json");
        let tokenizer = if json.is_file() {
            Tokenizer::from_file(&json)
                .map_err(|e| TokenizeError::new(json.display().to_string(), e))?
        } else {
            Self::wordpiece_from_vocab(dir)?
        };
        Self::with_truncation(tokenizer, max_len)
    }

    /// Builds the standard BERT tokenizer from `dir/vocab.txt` alone.
    pub fn from_vocab(dir: &Path, max_len: usize) -> Result<Self, TokenizeError> {
        Self::with_truncation(Self::wordpiece_from_vocab(dir)?, max_len)
    }

    fn wordpiece_from_vocab(dir: &Path) -> Result<Tokenizer, TokenizeError> {
        let vocab = dir.join("vocab.txt");
        let context = vocab.display().to_string();
        if !vocab.is_file() {
            return Err(TokenizeError::new(
                dir.display().to_string(),
                "no tokenizer found: expected tokenizer.json or vocab.txt",
            ));
        }
        let model = WordPiece::from_file(&context)
            .unk_token("[UNK]".into())
            .build()
            .map_err(|e| TokenizeError::new(&context, e))?;
        let special = |token: &str| {
            model
                .token_to_id(token)
                .ok_or_else(|| TokenizeError::new(&context, format!("vocabulary lacks {token}")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        let post = TemplateProcessing::builder()
            .try_single("[CLS] $A:0 [SEP]:0")
            .and_then(|b| b.try_pair("[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1"))
            .map_err(|e| TokenizeError::new(&context, e))?
            .special_tokens(vec![("[CLS]", cls), ("[SEP]", sep)])
            .build()
            .map_err(|e| TokenizeError::new(&context, e))?;
        let lowercase = do_lower_case(dir)?;
        let mut tokenizer = Tokenizer::new(model);
        tokenizer
            .with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
            .with_pre_tokenizer(Some(BertPreTokenizer))
            .with_post_processor(Some(post));
        Ok(tokenizer)
    }

    fn with_truncation(mut inner: Tokenizer, max_len: usize) -> Result<Self, TokenizeError> {
        // Below the special tokens the tokenizers crate does not truncate at all, so the
        // request would be dropped silently.
        if max_len < MIN_MAX_LEN {
            return Err(TokenizeError::new(
                "max_len (--max-len)",
                format!(
                    "expected at least {MIN_MAX_LEN} tokens ([CLS], one word piece, [SEP]), found {max_len}"
                ),
            ));
        }
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| TokenizeError::new("truncation", e))?;
        inner.with_padding(None);
        Ok(Self { inner })
    }

    /// Tokenizes single sentences (`b` = `None`) or pairs, in parallel, keeping order.
    pub fn encode_batch(
        &self,
        examples: &[(&str, Option<&str>)],
    ) -> Result<Vec<Encoded>, TokenizeError> {
        let inputs: Vec<EncodeInput<'_>> = examples
            .iter()
            .map(|&(a, b)| match b {
                Some(b) => (a, b).into(),
                None => a.into(),
            })
            .collect();
        let encodings = self
            .inner
            .encode_batch(inputs, true)
            .map_err(|e| TokenizeError::new("encoding", e))?;
        Ok(encodings
            .into_iter()
            .map(|e| Encoded {
                input_ids: e.get_ids().to_vec(),
                token_type_ids: e.get_type_ids().to_vec(),
            })
            .collect())
    }
}

/// `do_lower_case` from `tokenizer_config.json`; `true` (BERT's default) when absent.
fn do_lower_case(dir: &Path) -> Result<bool, TokenizeError> {
    let path = dir.join("tokenizer_config.json");
    if !path.is_file() {
        return Ok(true);
    }
    let context = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| TokenizeError::new(&context, e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| TokenizeError::new(&context, e))?;
    match value.get("do_lower_case") {
        None => Ok(true),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        Some(other) => Err(TokenizeError::new(
            &context,
            format!("key `do_lower_case`: expected true or false, found {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny vocabulary in a temp dir: enough to check the template and truncation.
    fn tiny_vocab(lower: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\ncat\nsat\n##s\n.\n";
        std::fs::write(dir.path().join("vocab.txt"), vocab).unwrap();
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            format!(r#"{{"do_lower_case": {lower}}}"#),
        )
        .unwrap();
        dir
    }

    #[test]
    fn vocab_only_tokenizer_builds_pairs_with_type_ids() {
        let dir = tiny_vocab(true);
        let tok = BertTokenizer::from_dir(dir.path(), 128).unwrap();
        let out = tok
            .encode_batch(&[("The cats", Some("sat.")), ("Dog", None)])
            .unwrap();
        assert_eq!(out[0].input_ids, vec![2, 4, 5, 7, 3, 6, 8, 3]);
        assert_eq!(out[0].token_type_ids, vec![0, 0, 0, 0, 0, 1, 1, 1]);
        assert_eq!(out[1].input_ids, vec![2, 1, 3]);
    }

    #[test]
    fn lower_casing_follows_tokenizer_config() {
        let dir = tiny_vocab(false);
        let tok = BertTokenizer::from_dir(dir.path(), 128).unwrap();
        let out = tok.encode_batch(&[("The cat", None)]).unwrap();
        assert_eq!(out[0].input_ids, vec![2, 1, 5, 3]);
    }

    #[test]
    fn longest_first_truncation_trims_the_longer_sentence() {
        let dir = tiny_vocab(true);
        let tok = BertTokenizer::from_dir(dir.path(), 7).unwrap();
        // A has 4 tokens, B has 1: 3 specials leave room for 4, so A loses one token.
        let out = tok
            .encode_batch(&[("the cat the cat", Some("sat"))])
            .unwrap();
        assert_eq!(out[0].input_ids, vec![2, 4, 5, 4, 3, 6, 3]);
    }

    #[test]
    fn max_len_below_one_word_piece_is_an_error() {
        let dir = tiny_vocab(true);
        for max_len in [0, 1, 2] {
            let err = BertTokenizer::from_dir(dir.path(), max_len).err().unwrap();
            assert!(err.to_string().contains("--max-len"), "{err}");
            assert!(
                err.to_string().contains(&format!("found {max_len}")),
                "{err}"
            );
        }
        let shortest = BertTokenizer::from_dir(dir.path(), 3).unwrap();
        let out = shortest.encode_batch(&[("the cat sat", None)]).unwrap();
        assert_eq!(out[0].input_ids, vec![2, 4, 3]);
    }

    #[test]
    fn missing_tokenizer_is_an_error_naming_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = BertTokenizer::from_dir(dir.path(), 128).err().unwrap();
        assert!(
            err.to_string().contains("tokenizer.json or vocab.txt"),
            "{err}"
        );
    }
}
