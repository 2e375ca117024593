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

/// Per-read noise is keyed by example and token position, not by batch: on noisy
/// bit-sliced hardware (`reram-cmo` plus 2 % per-MVM read noise and ADC noise of 1 % of the
/// range), a synthesized BERT (hidden 32, 2 layers, weight seed 5) gives 24 sequences of 3
/// to 49 tokens the same logits at batch sizes 1, 8 and 32 and on 1 and 2 threads: bit for
/// bit between thread counts at one batch size, and within 1e-4 of each row's largest
/// logit across batch sizes (the digital float sums round differently with the packing).
/// The tolerance is far below the noise: the same sequences evaluated as other examples
/// (reversed order, so other read ids) move by more than 100× it.
#[test]
fn noisy_logits_do_not_depend_on_batch_size_or_threads() {
    use crossbert::backend::AnalogModel;
    use crossbert::hardware::HardwareConfig;
    use crossbert::tokenize::Encoded;

    let config = serde_json::json!({"vocab_size": 150, "hidden_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64});
    let dir = common::tiny_checkpoint(config, 5);
    let hw = HardwareConfig::from_toml_str(
        "preset = \"reram-cmo\"\n\
         [mapping]\nadc = { noise = 0.01 }\n\
         [device]\nread_noise = { model = \"relative\", sigma = 0.02 }",
        "noisy.toml",
    )
    .unwrap();
    let sequences: Vec<Encoded> = (0..24)
        .map(|s| {
            let len = 3 + (s * 7) % 47;
            Encoded {
                input_ids: (0..len)
                    .map(|i| ((i * 31 + s * 17 + 2) % 150) as u32)
                    .collect(),
                token_type_ids: vec![0; len],
            }
        })
        .collect();
    let chip = AnalogModel::load(dir.path(), &hw, 4).unwrap();
    chip.calibrate(&sequences[..8]).unwrap();
    let run = |threads: usize, batch: usize, encoded: &[Encoded]| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| predict_logits(&chip.model, encoded, batch).unwrap())
    };
    let reference = run(1, 8, &sequences);
    chip.check().unwrap();
    assert_eq!(reference, run(2, 8, &sequences), "1 vs 2 threads");
    for batch in [1, 32] {
        let other = run(2, batch, &sequences);
        let err = common::max_relative_error(&other, &reference);
        assert!(err < 1e-4, "batch size {batch}: {err}");
    }
    let mut reversed: Vec<Encoded> = sequences.clone();
    reversed.reverse();
    let moved = run(2, 8, &reversed);
    let rows: Vec<usize> = (0..24).rev().collect();
    let moved = crossbert::model::Matrix::from_vec(
        24,
        2,
        rows.iter().flat_map(|&r| moved.row(r).to_vec()).collect(),
    );
    let err = common::max_relative_error(&moved, &reference);
    println!("other read ids move the logits by {err:e} of the row's largest");
    assert!(err > 1e-2, "{err}");
}

/// The shared error helper fails on NaN: a NaN logit is an infinite error, never a pass.
#[test]
fn max_relative_error_fails_on_nan() {
    let expected = crossbert::model::Matrix::from_vec(1, 2, vec![1.0, -2.0]);
    let nan = crossbert::model::Matrix::from_vec(1, 2, vec![1.0, f32::NAN]);
    assert_eq!(common::max_relative_error(&nan, &expected), f32::INFINITY);
    assert_eq!(common::max_relative_error(&expected, &expected), 0.0);
}
