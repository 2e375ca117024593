//! Multi-task chips (#13 item 3): `crossbert finetune --freeze-layers`, content hashes of
//! programmed linears, `crossbert map` of several checkpoints, and `crossbert eval
//! --chip-model` (shared arrays see the same programming draws, a task's own arrays their own).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gradients")
        .join(name)
}

/// Every tensor of a safetensors file as the bits of its float32 values (float16 and
/// bfloat16 widened), by name.
fn tensor_bits(path: &Path) -> BTreeMap<String, Vec<u32>> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let bits = view
                .data()
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, bits)
        })
        .collect()
}

/// `finetune --freeze-layers K` of a fixture base into `out`; its stdout.
fn finetune_frozen(base: &str, task: &str, k: &str, out: &Path) -> String {
    common::stdout_of(
        common::finetune_command(&format!("gradients/{base}"), task, out)
            .args(["--freeze-layers", k])
            .env("RAYON_NUM_THREADS", "2"),
    )
}

/// Frozen layers come out bit-identical to the base (every tensor of each), the others
/// change, and `training.json` records K.
#[test]
fn freeze_layers_keeps_the_lowest_layers_bit_identical() {
    let out = tempfile::tempdir().unwrap();
    finetune_frozen("tiny-gelu", "sst2", "1", out.path());
    let base = tensor_bits(&fixture("tiny-gelu/model.safetensors"));
    let tuned = tensor_bits(&out.path().join("model.safetensors"));
    let (mut frozen, mut trained) = (0, 0);
    for (name, bits) in &tuned {
        if name.starts_with("bert.encoder.layer.0.") {
            assert_eq!(
                bits, &base[name],
                "{name} is frozen: expected the base's bits"
            );
            frozen += 1;
        } else if name.starts_with("bert.encoder.layer.1.") && name.ends_with(".weight") {
            assert_ne!(
                bits, &base[name],
                "{name} is trained: expected it to change"
            );
            trained += 1;
        }
    }
    assert_eq!(
        frozen, 16,
        "every tensor of layer 0: 6 linears and 2 LayerNorms"
    );
    assert_eq!(
        trained, 8,
        "the weights of layer 1: 6 linears and 2 LayerNorms"
    );
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("training.json")).unwrap())
            .unwrap();
    assert_eq!(log["freeze_layers"], 1);
}

#[test]
fn freeze_layers_beyond_the_model_is_an_error() {
    let out = tempfile::tempdir().unwrap();
    let output = common::finetune_command("gradients/tiny-gelu", "sst2", out.path())
        .args(["--freeze-layers", "3"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--freeze-layers: expected at most num_hidden_layers = 2")
            && stderr.contains("found 3"),
        "{stderr}"
    );
}
