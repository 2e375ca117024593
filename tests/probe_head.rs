//! The linear probe: its optimiser on toy features, and `crossbert finetune-head` end to
//! end on a synthesized base encoder and a small SST-2-shaped file.

use std::process::Command;

use crossbert::model::Matrix;
use crossbert::probe::{train_logistic, LogisticOptions};
use crossbert::synth::{synthesize, StoredDtype, SynthOptions};

/// Three linearly separable clusters in 4-D: class c has feature c set to 1 ± a small
/// deterministic wobble, the others near 0.
fn toy_features() -> (Matrix, Vec<usize>) {
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for i in 0..60 {
        let class = i % 3;
        let wobble = ((i * 37 % 11) as f32 - 5.0) * 0.02;
        let mut row = [wobble, -wobble, 0.5 * wobble, 0.1];
        row[class] += 1.0;
        data.extend_from_slice(&row);
        labels.push(class);
    }
    (Matrix::from_vec(60, 4, data), labels)
}

#[test]
fn probe_loss_never_increases_and_separable_data_is_fit_exactly() {
    let (x, y) = toy_features();
    let options = LogisticOptions {
        iterations: 300,
        ..LogisticOptions::default()
    };
    let (probe, losses) = train_logistic(&x, &y, 3, &options).unwrap();
    // Zero weights give uniform probabilities: the first loss is ln 3.
    assert!((losses[0] - 3f64.ln()).abs() < 1e-12);
    for pair in losses.windows(2) {
        assert!(pair[1] <= pair[0], "loss rose: {pair:?}");
    }
    assert!(
        losses[losses.len() - 1] < 0.5 * losses[0],
        "{:?}",
        losses.last()
    );
    assert_eq!(probe.classify(&x), y, "separable toy data: 100 % accuracy");
}

#[test]
fn probe_is_deterministic() {
    let (x, y) = toy_features();
    let a = train_logistic(&x, &y, 3, &LogisticOptions::default()).unwrap();
    let b = train_logistic(&x, &y, 3, &LogisticOptions::default()).unwrap();
    assert_eq!(a.0, b.0);
}

#[test]
fn finetune_head_writes_a_checkpoint_that_eval_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let config = serde_json::json!({"vocab_size": 200, "hidden_size": 16,
        "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
        "max_position_embeddings": 64});
    let options = SynthOptions {
        seed: 3,
        dtype: StoredDtype::F32,
        num_labels: 2,
        tokenizer: None,
    };
    synthesize(&config, &options, &base).unwrap();
    let data = tmp.path().join("glue");
    std::fs::create_dir_all(data.join("SST-2")).unwrap();
    let rows = ["good fun .\t1", "awful mess\t0", "great film\t1", "dull\t0"];
    let tsv = format!("sentence\tlabel\n{}\n", rows.join("\n"));
    for split in ["train.tsv", "dev.tsv"] {
        std::fs::write(data.join("SST-2").join(split), &tsv).unwrap();
    }
    let out = tmp.path().join("probe");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crossbert"));
    cmd.args([
        "finetune-head",
        "--task",
        "sst2",
        "--max-train",
        "3",
        "--base",
    ])
    .arg(&base)
    .arg("--data")
    .arg(&data)
    .arg("--out")
    .arg(&out);
    let run = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("3 train rows"), "{stdout}");

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["finetuning_task"], "sst2");
    assert_eq!(config["problem_type"], "single_label_classification");
    assert_eq!(config["id2label"]["1"], "1");
    assert_eq!(config["label2id"]["0"], 0);
    let ck = crossbert::model::Checkpoint::open(&out).unwrap();
    assert!(ck.contains("classifier.weight"));
    let eval = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["eval", "--task", "sst2", "--json", "--model"])
        .arg(&out)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(report["rows"], 4);
}
