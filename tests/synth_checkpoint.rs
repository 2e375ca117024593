//! `crossbert synth-checkpoint`: a tiny random checkpoint loads through the normal loader
//! and runs a forward pass; the weights follow Hugging Face's initialization and the seed.

use std::path::Path;

use crossbert::model::{digital_linear, load_classifier, Checkpoint, PackedBatch};
use crossbert::synth::{synthesize, StoredDtype, SynthOptions};
use crossbert::tokenize::BertTokenizer;
use serde_json::json;

fn tiny_config() -> serde_json::Value {
    json!({"vocab_size": 120, "hidden_size": 16, "num_hidden_layers": 2,
           "num_attention_heads": 4, "intermediate_size": 32, "max_position_embeddings": 64})
}

fn options(seed: u64, dtype: StoredDtype) -> SynthOptions {
    SynthOptions {
        seed,
        dtype,
        num_labels: 3,
        tokenizer: None,
    }
}

fn forward_logits(dir: &Path) -> Vec<f32> {
    let (config, model) = load_classifier(dir, &digital_linear).unwrap();
    assert_eq!(config.num_labels(), 3);
    let tokenizer = BertTokenizer::from_dir(dir, 128).unwrap();
    let encoded = tokenizer
        .encode_batch(&[("a cat sat.", Some("on the mat")), ("dog", None)])
        .unwrap();
    // The generated vocabulary spells words letter by letter rather than as [UNK].
    assert!(encoded[1].input_ids.len() == 5 && !encoded[1].input_ids.contains(&1));
    let mut batch = PackedBatch::default();
    for e in &encoded {
        batch.push(&e.input_ids, &e.token_type_ids);
    }
    let logits = model.forward(&batch).unwrap();
    assert_eq!((logits.rows(), logits.cols()), (2, 3));
    logits.as_slice().to_vec()
}

#[test]
fn tiny_synthetic_checkpoint_loads_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let summary = synthesize(&tiny_config(), &options(7, StoredDtype::F32), dir.path()).unwrap();
    // 120·16 + 64·16 + 2·16 embeddings, 2 LayerNorm vectors, per layer 4·(16·16+16)
    // + (32·16+32) + (16·32+16) + 4·16, pooler 16·16+16, classifier 3·16+3.
    let per_layer = 4 * (16 * 16 + 16) + (32 * 16 + 32) + (16 * 32 + 16) + 4 * 16;
    let expected = (120 + 64 + 2) * 16 + 2 * 16 + 2 * per_layer + (16 * 16 + 16) + (3 * 16 + 3);
    assert_eq!(summary.parameters, expected);
    assert!(
        summary.weight_bytes as usize > 4 * expected,
        "f32 data plus header"
    );
    let logits = forward_logits(dir.path());
    assert!(logits.iter().all(|v| v.is_finite()));
    // Hugging Face's init: LayerNorm γ = 1, β = 0, biases 0; weights spread 0.02.
    let ck = Checkpoint::open(dir.path()).unwrap();
    let gamma = ck
        .tensor("bert.encoder.layer.1.output.LayerNorm.weight", &[16])
        .unwrap();
    assert!(gamma.iter().all(|&g| g == 1.0));
    let bias = ck
        .tensor("bert.encoder.layer.0.intermediate.dense.bias", &[32])
        .unwrap();
    assert!(bias.iter().all(|&b| b == 0.0));
    let words = ck
        .tensor("bert.embeddings.word_embeddings.weight", &[120, 16])
        .unwrap();
    let std = (words.iter().map(|w| w * w).sum::<f32>() / words.len() as f32).sqrt();
    // 1920 draws of N(0, 0.02²), seed 7: the RMS is within 10 % of 0.02 (its relative
    // standard error is 1/√3840 ≈ 1.6 %).
    assert!((std - 0.02).abs() < 0.002, "rms {std}");
}

#[test]
fn same_seed_same_bytes_other_seed_or_dtype_differs() {
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let runs = [
        (7, StoredDtype::F32),
        (7, StoredDtype::F32),
        (8, StoredDtype::F32),
        (7, StoredDtype::F16),
    ];
    for (dir, (seed, dtype)) in dirs.iter().zip(runs) {
        synthesize(&tiny_config(), &options(seed, dtype), dir.path()).unwrap();
    }
    let bytes = |i: usize| std::fs::read(dirs[i].path().join("model.safetensors")).unwrap();
    assert_eq!(bytes(0), bytes(1));
    assert_ne!(bytes(0), bytes(2));
    assert!(
        bytes(3).len() < bytes(0).len() * 6 / 10,
        "f16 file is about half the size"
    );
    // The f16 checkpoint holds the f32 one rounded: its logits agree to f16 precision.
    let (a, b) = (
        forward_logits(dirs[0].path()),
        forward_logits(dirs[3].path()),
    );
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 2e-3, "{x} vs {y}");
    }
}

#[test]
fn cli_writes_a_named_size_config_and_rejects_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"hidden_size": 100, "num_attention_heads": 12}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["synth-checkpoint", "--config"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("ck"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("num_attention_heads") && stderr.contains("divisor"),
        "{stderr}"
    );
    assert!(!dir.path().join("ck").join("model.safetensors").exists());

    let config = crossbert::synth::ModelSize::Large.config_json();
    assert_eq!(config["num_hidden_layers"], 24);
    assert_eq!(config["hidden_size"], 1024);
    assert_eq!(config["intermediate_size"], 4096);
    assert_eq!(config["num_attention_heads"], 16);
}

#[test]
fn sizes_that_would_exhaust_memory_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let many_labels = SynthOptions {
        num_labels: 1_000_000_000,
        ..options(0, StoredDtype::F32)
    };
    let err = synthesize(&tiny_config(), &many_labels, dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--num-labels") && err.contains("found 1000000000"),
        "{err}"
    );
    let mut huge = tiny_config();
    huge["intermediate_size"] = json!(1_000_000_000_000u64);
    let err = synthesize(&huge, &options(0, StoredDtype::F32), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected at most 2000000000 parameters"),
        "{err}"
    );
    assert!(!dir.path().join("model.safetensors").exists());
}

/// The tensor names and shapes `synth-checkpoint` writes for each family are exactly those
/// transformers saved for the family fixtures (tests/fixtures/families), and a synthesized
/// checkpoint of each family loads with no tensor missing or unused and runs.
#[test]
fn each_family_layout_matches_transformers_and_loads() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/families");
    for name in [
        "distilbert",
        "roberta",
        "roberta-type1",
        "albert",
        "electra",
    ] {
        let dir = fixtures.join(name);
        let config = crossbert::model::ModelConfig::from_file(&dir.join("config.json")).unwrap();
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let stored = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut theirs: Vec<(String, Vec<usize>)> = stored
            .tensors()
            .into_iter()
            .map(|(n, view)| (n, view.shape().to_vec()))
            .collect();
        theirs.sort();
        let mut ours: Vec<(String, Vec<usize>)> =
            crossbert::synth::tensor_layout(&config, config.num_labels())
                .into_iter()
                .map(|t| (t.name, t.shape))
                .collect();
        ours.sort();
        assert_eq!(ours, theirs, "{name}");

        // synthesize the same architecture from the fixture's own config.json
        let out = tempfile::tempdir().unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        synthesize(&json, &options(5, StoredDtype::F32), out.path()).unwrap();
        let written =
            crossbert::model::ModelConfig::from_file(&out.path().join("config.json")).unwrap();
        assert_eq!(written.model_type, config.model_type, "{name}");
        let written_json = std::fs::read_to_string(out.path().join("config.json")).unwrap();
        // DistilBERT's own keys, which transformers reads
        assert_eq!(
            written_json.contains("\"dim\""),
            name == "distilbert",
            "{name}"
        );
        let (_, model) = load_classifier(out.path(), &digital_linear).unwrap();
        let mut batch = PackedBatch::default();
        batch.push(&[2, 7, 9, 3], &[0, 0, 0, 0]);
        assert_eq!(model.forward(&batch).unwrap().cols(), 3);
    }
}
