//! The `vocab.txt`-only tokenizer must give the same ids as the checkpoint's
//! `tokenizer.json` on real GLUE text (single sentences and pairs, with truncation).

mod common;

use crossbert::glue::{self, LabelMap, Split, Task};
use crossbert::model::ModelConfig;
use crossbert::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};

#[test]
fn vocab_only_tokenizer_matches_tokenizer_json() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let model = shared.join("models/minilm-mrpc");
    let config = ModelConfig::from_file(&model.join("config.json")).unwrap();
    let from_json = BertTokenizer::from_dir(&model, DEFAULT_MAX_LEN).unwrap();
    let from_vocab = BertTokenizer::from_vocab(&model, DEFAULT_MAX_LEN).unwrap();
    // MRPC pairs and RTE pairs (long premises exercise longest-first truncation).
    for task in [Task::Mrpc, Task::Rte] {
        let labels = match task {
            Task::Mrpc => LabelMap::for_checkpoint(task, &config).unwrap(),
            _ => LabelMap::for_checkpoint(task, &ModelConfig::from_json("{}", "default").unwrap())
                .unwrap(),
        };
        let examples = glue::read_split(&shared.join("glue"), task, Split::Dev, &labels).unwrap();
        let inputs: Vec<(&str, Option<&str>)> = examples
            .iter()
            .map(|e| (e.text_a.as_str(), e.text_b.as_deref()))
            .collect();
        let a = from_json.encode_batch(&inputs).unwrap();
        let b = from_vocab.encode_batch(&inputs).unwrap();
        let truncated = a
            .iter()
            .filter(|e| e.input_ids.len() == DEFAULT_MAX_LEN)
            .count();
        println!(
            "{task}: {} examples, {truncated} truncated to {DEFAULT_MAX_LEN} tokens",
            a.len()
        );
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{task} dev example {i}");
        }
    }
}
