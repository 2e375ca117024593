//! Results must not depend on the number of threads: the same logits, bit for bit, on a
//! 1-thread and a 2-thread rayon pool.

mod common;

use crossbert::glue::evaluate::{predict_logits, tokenize_examples};
use crossbert::glue::{self, LabelMap, Split, Task};
use crossbert::model::{digital_linear, load_classifier};
use crossbert::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};

#[test]
fn logits_identical_on_one_and_two_threads() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("models/minilm-mrpc");
    let (config, model) = load_classifier(&dir, &digital_linear).unwrap();
    let tokenizer = BertTokenizer::from_dir(&dir, DEFAULT_MAX_LEN).unwrap();
    let labels = LabelMap::for_checkpoint(Task::Mrpc, &config).unwrap();
    let mut examples =
        glue::read_split(&shared.join("glue"), Task::Mrpc, Split::Dev, &labels).unwrap();
    examples.truncate(32);
    let encoded = tokenize_examples(&tokenizer, &examples).unwrap();
    let run = |threads: usize, batch: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| predict_logits(&model, &encoded, batch).unwrap())
    };
    let one = run(1, 8);
    assert_eq!(one, run(2, 8), "1 vs 2 threads");
    // Packing instead of padding: an example's logits do not depend on its batch either.
    let other_batching = run(2, 5);
    let max_diff = one
        .as_slice()
        .iter()
        .zip(other_batching.as_slice())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_diff < 1e-5,
        "batch size 8 vs 5: logits differ by {max_diff}"
    );
}
