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

// ---- checkpoints of two tasks sharing their frozen layer 0 ----

/// tiny-gelu fine-tuned on SST-2 and on STS-B with `--freeze-layers 1`: layer 0 is the
/// base's in both, layer 1 each task's own (made once per test binary).
fn frozen_pair() -> &'static (PathBuf, PathBuf) {
    static PAIR: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    PAIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let (a, b) = (dir.join("sst2"), dir.join("stsb"));
        finetune_frozen("tiny-gelu", "sst2", "1", &a);
        finetune_frozen("tiny-gelu", "stsb", "1", &b);
        (a, b)
    })
}

/// isaac-32nm with 20 % relative programming variation: every array's draws show in its
/// outputs (the preset's ranges are dynamic, so nothing needs calibrating).
fn noisy_hardware() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noisy.toml");
    std::fs::write(
        &path,
        "preset = \"isaac-32nm\"\n[device]\nprogramming = { model = \"relative\", sigma = 0.2 }\n",
    )
    .unwrap();
    (dir, path)
}

fn crossbert(args: &[&str], paths: &[(&str, &Path)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_crossbert"));
    command.args(args);
    for (flag, path) in paths {
        command.arg(flag).arg(path);
    }
    command
}

fn json_of(command: &mut std::process::Command) -> serde_json::Value {
    serde_json::from_str(&common::stdout_of(command)).unwrap()
}

/// `map --model A --model B`: layer 0 (6 linears) is shared, layer 1 is each model's own;
/// the shared chip has the arrays of one layer 0 fewer than two chips.
#[test]
fn map_of_two_models_shares_the_frozen_layer() {
    let (a, b) = frozen_pair();
    let one = |m: &Path| {
        json_of(&mut crossbert(
            &["map", "--preset", "isaac-32nm", "--json"],
            &[("--model", m)],
        ))
    };
    let (alone_a, alone_b) = (one(a), one(b));
    let r = json_of(&mut crossbert(
        &["map", "--preset", "isaac-32nm", "--json"],
        &[("--model", a), ("--model", b)],
    ));
    let models = r["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for (m, alone) in models.iter().zip([&alone_a, &alone_b]) {
        assert_eq!(m["linears"], 12);
        assert_eq!(m["linears_shared"], 6);
        assert_eq!(m["arrays"], alone["arrays"]);
        // each model alone: the area `map` reports for it
        let area = m["area_mm2"].as_f64().unwrap();
        assert!(
            (area - alone["area_mm2"].as_f64().unwrap()).abs() < 1e-9,
            "{m}"
        );
        assert_eq!(
            m["energy_pj_per_inference"],
            alone["energy_pj_per_inference"]
        );
    }
    let layer0: u64 = models[0]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["name"].as_str().unwrap().starts_with("0."))
        .map(|l| l["arrays"].as_u64().unwrap())
        .sum();
    let separate = r["arrays_separate"].as_u64().unwrap();
    assert_eq!(separate, alone_a["arrays"].as_u64().unwrap() * 2);
    assert_eq!(r["arrays_shared_chip"].as_u64().unwrap(), separate - layer0);
    assert_eq!(models[0]["arrays_shared"].as_u64().unwrap(), layer0);
    let (sep, shared) = (
        r["area_mm2_separate"].as_f64().unwrap(),
        r["area_mm2_shared_chip"].as_f64().unwrap(),
    );
    assert!(shared < sep && shared > sep / 2.0, "{shared} vs {sep}");
    // B's own layer-1 arrays draw from copy 1 of their streams, the shared ones from copy 0.
    for l in models[1]["layers"].as_array().unwrap() {
        let name = l["name"].as_str().unwrap();
        let shared_layer = name.starts_with("0.");
        assert_eq!(
            l["models"],
            serde_json::json!(if shared_layer { vec![0, 1] } else { vec![1] }),
            "{name}"
        );
        let stream = l["stream_id"].as_u64().unwrap();
        assert_eq!(stream >= 1 << 24, !shared_layer, "{name}: stream {stream}");
    }
    // The same checkpoint twice shares everything; the text form says what was saved.
    let text = common::stdout_of(&mut crossbert(
        &["map", "--preset", "isaac-32nm"],
        &[("--model", a), ("--model", a)],
    ));
    assert!(text.contains("50.0 % of the arrays"), "{text}");
    assert!(text.contains("unchanged by sharing"), "{text}");
}

/// Per analog linear, the bits of its output for one fixed input on `chip` (read ids 0…).
fn linear_outputs(chip: &crossbert::backend::AnalogModel) -> Vec<(String, Vec<u32>)> {
    use crossbert::model::{BatchId, LinearOp, Matrix};
    chip.layers()
        .iter()
        .map(|l| {
            let n = l.info().in_features;
            let x = Matrix::from_vec(
                3,
                n,
                (0..3 * n).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect(),
            );
            let batch = BatchId {
                examples: &[0, 1, 2],
                lengths: &[1, 1, 1],
            };
            // ranges calibrated on this input, then the output from them
            l.calibrate_on_next_forward();
            let y = l.forward(&x, batch);
            assert_eq!(l.error(), None, "{}", l.name());
            assert!(y.as_slice().iter().all(|v| v.is_finite()), "{}", l.name());
            (
                l.name().to_string(),
                y.as_slice().iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

/// Shared arrays see the same programming draws: two checkpoints sharing frozen layer 0,
/// each programmed alone on chip seed 5, give bit-identical outputs through layer 0's
/// linears and different ones through layer 1's. On the two-model chip, the first model
/// is its single-task chip bit for bit, the second keeps the shared draws, and its own
/// arrays draw afresh (they differ from its single-task programming).
#[test]
fn shared_arrays_see_the_same_programming_draws() {
    use crossbert::backend::multitask::array_keys;
    use crossbert::backend::{AnalogModel, ChipPlan};
    use crossbert::hardware::HardwareConfig;
    use crossbert::model::CheckpointDir;
    let (a, b) = frozen_pair();
    let (_dir, path) = noisy_hardware();
    let hw = HardwareConfig::from_file(&path).unwrap();
    let (ca, cb) = (
        CheckpointDir::open(a).unwrap(),
        CheckpointDir::open(b).unwrap(),
    );
    let alone_a = linear_outputs(&AnalogModel::program(&ca, &hw, 5).unwrap());
    let alone_b = linear_outputs(&AnalogModel::program(&cb, &hw, 5).unwrap());
    for ((name, ya), (_, yb)) in alone_a.iter().zip(&alone_b) {
        if name.starts_with("0.") {
            assert_eq!(ya, yb, "{name}: shared (frozen) arrays, same draws");
        } else {
            assert_ne!(ya, yb, "{name}: each task's own arrays");
        }
    }
    let plan = ChipPlan::new(vec![
        array_keys(&ca, &hw).unwrap(),
        array_keys(&cb, &hw).unwrap(),
    ])
    .unwrap();
    let on_chip = |c: &CheckpointDir, i| {
        linear_outputs(&AnalogModel::program_streams(c, &hw, 5, &plan.stream_ids(i)).unwrap())
    };
    assert_eq!(
        on_chip(&ca, 0),
        alone_a,
        "the chip's first model: its single-task chip"
    );
    for ((name, y), (_, y_alone)) in on_chip(&cb, 1).iter().zip(&alone_b) {
        if name.starts_with("0.") {
            assert_eq!(y, y_alone, "{name}: shared, the draws of copy 0");
        } else {
            assert_ne!(
                y, y_alone,
                "{name}: B's own array on the shared chip draws afresh"
            );
        }
    }
    // With variation off, the streams do not matter: B's own arrays read back alike.
    let ideal = HardwareConfig::preset("isaac-32nm").unwrap();
    let plain = linear_outputs(&AnalogModel::program(&cb, &ideal, 5).unwrap());
    let shared =
        linear_outputs(&AnalogModel::program_streams(&cb, &ideal, 5, &plan.stream_ids(1)).unwrap());
    assert_eq!(plain, shared);
}

/// `eval --chip-model`: the chip's first model evaluates exactly as alone; the second's
/// result changes (its own arrays draw afresh) and the report names the chip.
#[test]
fn eval_on_a_shared_chip() {
    let (a, b) = frozen_pair();
    let (_dir, hw) = noisy_hardware();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/finetune");
    let eval = |model: &Path, task: &str, chip: &[&Path]| {
        let mut command = crossbert(
            &["eval", "--task", task, "--json", "--seed", "5"],
            &[("--model", model), ("--data", &data), ("--hardware", &hw)],
        );
        for m in chip {
            command.arg("--chip-model").arg(m);
        }
        json_of(&mut command)
    };
    let alone = eval(a, "sst2", &[]);
    let first = eval(a, "sst2", &[a, b]);
    assert_eq!(first["value"], alone["value"]);
    assert_eq!(first["metrics"], alone["metrics"]);
    assert_eq!(first["chip_model_index"], 0);
    assert_eq!(first["linears_shared"], 6);
    assert_eq!(first["linears_analog"], 12);
    let b_alone = eval(b, "stsb", &[]);
    let second = eval(b, "stsb", &[a, b]);
    assert_eq!(second["chip_model_index"], 1);
    assert_ne!(
        second["metrics"], b_alone["metrics"],
        "B's own arrays draw afresh"
    );
    assert_eq!(second["digital_value"], b_alone["digital_value"]);
    // --model must be on the chip
    let output = crossbert(
        &["eval", "--task", "sst2"],
        &[
            ("--model", a),
            ("--data", &data),
            ("--hardware", &hw),
            ("--chip-model", b),
        ],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("expected --model") && stderr.contains("among the chip's checkpoints"),
        "{stderr}"
    );
}
