//! Bad input ends in a clear error (what was expected, what was found, where), never a
//! panic: damaged safetensors files, lying headers, non-finite weights, configs that
//! disagree with the tensors, empty or ragged TSV files, labels the checkpoint does not
//! know. The checkpoint cases also run through the `crossbert` binary, which must exit
//! non-zero with the message on stderr.

use std::path::{Path, PathBuf};
use std::process::Command;

use crossbert::glue::{reader::parse_tsv, LabelMap, Split, Task};
use crossbert::model::{Checkpoint, CheckpointError};
use crossbert::synth::{synthesize, StoredDtype, SynthOptions};
use safetensors::tensor::{Dtype, TensorView};

const SST2_DEV: &str = "sentence\tlabel\ngood fun .\t1\nawful\t0\n";

/// A tiny synthesized checkpoint and an SST-2 data folder with `dev` as its dev file.
fn setup(dev: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    let config = serde_json::json!({"vocab_size": 150, "hidden_size": 8,
        "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
        "max_position_embeddings": 32});
    let options = SynthOptions {
        seed: 1,
        dtype: StoredDtype::F32,
        num_labels: 2,
        tokenizer: None,
    };
    synthesize(&config, &options, &model).unwrap();
    let data = tmp.path().join("glue");
    std::fs::create_dir_all(data.join("SST-2")).unwrap();
    std::fs::write(data.join("SST-2/dev.tsv"), dev).unwrap();
    (tmp, model, data)
}

/// Runs `crossbert eval` and returns its stderr, asserting a non-zero exit without a
/// panic message.
fn eval_fails(model: &Path, data: &Path) -> String {
    eval_fails_with(model, data, &[], 1)
}

/// `eval_fails` with `extra` arguments, expecting exit code `code` (clap's usage errors
/// exit with 2, crossbert's own with 1).
fn eval_fails_with(model: &Path, data: &Path, extra: &[&str], code: i32) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["eval", "--task", "sst2", "--model"])
        .arg(model)
        .arg("--data")
        .arg(data)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn impossible_sizes_and_values_are_named_before_any_work() {
    let (tmp, model, data) = setup(SST2_DEV);
    // Truncation below [CLS] word [SEP] used to be dropped silently.
    for max_len in ["0", "1"] {
        let stderr = eval_fails_with(&model, &data, &["--max-len", max_len], 1);
        assert!(
            stderr.contains("--max-len") && stderr.contains(&format!("found {max_len}")),
            "{stderr}"
        );
    }
    let stderr = eval_fails_with(&model, &data, &["--batch-size", "0"], 2);
    assert!(
        stderr.contains("--batch-size") && stderr.contains("at least 1"),
        "{stderr}"
    );
    // A size that would allocate 51 GB, and a σ that would turn into NaN in calibration.
    let cases = [
        ("[mapping]\narray_rows = 100000000\n", "mapping.array_rows"),
        (
            "[device.programming]\nmodel = \"relative\"\nsigma = 1e30\n",
            "device.programming.sigma",
        ),
    ];
    for (body, key) in cases {
        let file = tmp.path().join("chip.toml");
        std::fs::write(&file, format!("preset = \"isaac-32nm\"\n{body}")).unwrap();
        let hardware = ["--hardware", file.to_str().unwrap()];
        let stderr = eval_fails_with(&model, &data, &hardware, 1);
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

fn weights(model: &Path) -> PathBuf {
    model.join("model.safetensors")
}

#[test]
fn the_unmodified_setup_evaluates() {
    let (_tmp, model, data) = setup(SST2_DEV);
    let out = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["eval", "--task", "sst2", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn truncated_safetensors_names_file_and_tensor() {
    let (_tmp, model, data) = setup(SST2_DEV);
    let bytes = std::fs::read(weights(&model)).unwrap();
    std::fs::write(weights(&model), &bytes[..bytes.len() - 100]).unwrap();
    let stderr = eval_fails(&model, &data);
    assert!(
        stderr.contains("truncated") && stderr.contains("model.safetensors"),
        "{stderr}"
    );
    assert!(stderr.contains("tensor `"), "{stderr}");
    // Shorter than the 8-byte length field.
    std::fs::write(weights(&model), [1u8, 2, 3]).unwrap();
    let stderr = eval_fails(&model, &data);
    assert!(stderr.contains("not a valid safetensors file"), "{stderr}");
}

/// A safetensors file from a hand-written header and data section.
fn raw_file(path: &Path, header: &str, data: &[u8]) {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn headers_that_lie_about_offsets_or_sizes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = weights(dir.path());
    let open_err = || {
        Checkpoint::open(dir.path())
            .err()
            .expect("must fail")
            .to_string()
    };
    // `b` claims 4 bytes for a [2] float32 tensor (8 bytes).
    raw_file(
        &path,
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,12]}}"#,
        &[0u8; 12],
    );
    let msg = open_err();
    assert!(
        msg.contains("`b`") && msg.contains("expected 8 bytes"),
        "{msg}"
    );
    assert!(
        msg.contains("[8, 12]") && msg.contains("model.safetensors"),
        "{msg}"
    );
    // A gap between tensors.
    raw_file(
        &path,
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
        &[0u8; 12],
    );
    let msg = open_err();
    assert!(msg.contains("`b`") && msg.contains("offset"), "{msg}");
    // Offsets past the end of the file.
    raw_file(
        &path,
        r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
        &[0u8; 8],
    );
    let msg = open_err();
    assert!(
        msg.contains("truncated") && msg.contains("`a`") && msg.contains("16"),
        "{msg}"
    );
    // A header length field larger than the file.
    let mut bytes = 1_000_000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    std::fs::write(&path, bytes).unwrap();
    let msg = open_err();
    assert!(msg.contains("1000000") && msg.contains("header"), "{msg}");
    // Not JSON.
    raw_file(&path, "[not json", &[]);
    assert!(open_err().contains("not a valid safetensors file"));
}

#[test]
fn non_finite_weight_is_reported_with_the_tensor_name() {
    let (_tmp, model, data) = setup(SST2_DEV);
    let bytes = std::fs::read(weights(&model)).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let target = "bert.encoder.layer.0.intermediate.dense.weight";
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    for (name, _, _, data) in &mut tensors {
        if name == target {
            data[12..16].copy_from_slice(&f32::INFINITY.to_le_bytes());
        }
    }
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    drop(file);
    safetensors::serialize_to_file(views, None, &weights(&model)).unwrap();
    let stderr = eval_fails(&model, &data);
    assert!(
        stderr.contains(target) && stderr.contains("inf"),
        "{stderr}"
    );
    assert!(stderr.contains("flat index 3"), "{stderr}");
}

#[test]
fn config_that_disagrees_with_the_tensors_names_both_shapes() {
    let (_tmp, model, data) = setup(SST2_DEV);
    let path = model.join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"intermediate_size\": 16", "\"intermediate_size\": 24"),
    )
    .unwrap();
    let stderr = eval_fails(&model, &data);
    assert!(stderr.contains("intermediate.dense.weight"), "{stderr}");
    assert!(
        stderr.contains("[24, 8]") && stderr.contains("[16, 8]"),
        "{stderr}"
    );
    assert!(stderr.contains("config.json"), "{stderr}");
}

#[test]
fn empty_ragged_and_unknown_label_tsv_name_file_and_line() {
    for (dev, expected) in [
        ("", "dev.tsv:1: file is empty"),
        (
            "sentence\tlabel\n",
            "dev.tsv:1: expected at least one example",
        ),
        (
            "sentence\tlabel\nok\t1\nragged row\n",
            "dev.tsv:3: expected 2 tab-separated columns, found 1",
        ),
        (
            "sentence\tlabel\nok\t1\nbad\t1\textra\n",
            "dev.tsv:3: expected 2 tab-separated columns, found 3",
        ),
        (
            "sentence\tlabel\nok\t7\n",
            "dev.tsv:2: label `7`: expected one of [\"0\", \"1\"]",
        ),
    ] {
        let (_tmp, model, data) = setup(dev);
        let stderr = eval_fails(&model, &data);
        assert!(stderr.contains(expected), "{dev:?}: {stderr}");
    }
}

#[test]
fn labels_outside_a_named_id2label_are_rejected() {
    let config = crossbert::model::ModelConfig::from_json(
        r#"{"id2label": {"0": "negative", "1": "positive"}}"#,
        "c",
    )
    .unwrap();
    let labels = LabelMap::for_checkpoint(Task::Sst2, &config).unwrap();
    let err = parse_tsv(
        "sentence\tlabel\nfine\t1\n",
        "x.tsv",
        Task::Sst2.layout(Split::Dev),
        &labels,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("x.tsv:2: label `1`") && err.contains("negative"),
        "{err}"
    );
    let err = crossbert::model::ModelConfig::from_json(
        r#"{"num_labels": 2, "id2label": {"0": "a", "5": "b"}}"#,
        "config.json",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("id2label") && err.contains('5'), "{err}");
}

#[test]
fn missing_checkpoint_error_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Checkpoint::open(dir.path()),
        Err(CheckpointError::NotFound { .. })
    ));
}
