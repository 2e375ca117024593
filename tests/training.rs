//! The backward pass against PyTorch: loss and every tensor's gradient of one batch, on tiny
//! random checkpoints (each `hidden_act`, classification and regression) and on the shared
//! MiniLM checkpoints. References: `tests/fixtures/gradients` (float64 PyTorch autograd, see
//! its README for the script and conventions).
//!
//! Error of a tensor: ‖g − g_ref‖ / ‖g_ref‖ ≤ 1e-4. The key projection's bias is the
//! exception: softmax ignores a constant added to every score of a row, so its exact
//! gradient is zero and only rounding is left; its norm must be below 1e-6 of the largest
//! gradient norm instead.

mod common;

use std::path::{Path, PathBuf};

use crossbert::model::{Checkpoint, ModelConfig, PackedBatch};
use crossbert::train::{loss, BertIndex, Params, Targets, TrainBert};
use serde_json::Value;

const TOLERANCE: f64 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gradients")
        .join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The batch of a fixture, and its targets.
fn batch(json: &Value, regression: bool) -> (PackedBatch, Targets) {
    let mut batch = PackedBatch::default();
    let ids = json["input_ids"].as_array().unwrap();
    let types = json["token_type_ids"].as_array().unwrap();
    let as_u32 = |v: &Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    for (i, t) in ids.iter().zip(types) {
        batch.push(&as_u32(i), &as_u32(t));
    }
    let labels = json["labels"].as_array().unwrap();
    let targets = if regression {
        Targets::Scores(labels.iter().map(|l| l.as_f64().unwrap() as f32).collect())
    } else {
        Targets::Classes(
            labels
                .iter()
                .map(|l| l.as_u64().unwrap() as usize)
                .collect(),
        )
    };
    (batch, targets)
}

/// Loss and gradients of crossbert for the fixture's batch.
fn gradients(model_dir: &Path, batch_json: &Value) -> (f64, Vec<Vec<f32>>, Params) {
    let config = ModelConfig::from_file(&model_dir.join("config.json")).unwrap();
    let weights = Checkpoint::open(model_dir).unwrap();
    let labels = config.num_labels();
    let (params, _) = Params::load(&weights, &config, labels, true, 0).unwrap();
    let index = BertIndex::new(&params, &config);
    let (batch, targets) = batch(batch_json, labels == 1);
    let model = TrainBert::new(&params, &index, &config);
    let forward = model.forward(&batch, None);
    let logits = (0..forward.logits.rows())
        .map(|r| forward.logits.row(r).to_vec())
        .collect();
    let (value, d_logits) = loss(&forward.logits, &targets);
    let mut grads = params.zeros_like();
    model.backward(&forward.tape, &d_logits, &mut grads, true);
    (value, logits, grads)
}

fn check_loss_and_logits(ours: f64, logits: &[Vec<f32>], reference: &Value) {
    let want = reference["loss"].as_f64().unwrap();
    assert!(
        (ours - want).abs() <= 1e-5 * want.abs().max(1.0),
        "loss {ours} vs PyTorch {want}"
    );
    for (row, want) in logits.iter().zip(reference["logits"].as_array().unwrap()) {
        for (a, b) in row.iter().zip(want.as_array().unwrap()) {
            let b = b.as_f64().unwrap();
            assert!((*a as f64 - b).abs() < 1e-4, "logit {a} vs PyTorch {b}");
        }
    }
}

fn norm(v: impl Iterator<Item = f64>) -> f64 {
    v.map(|x| x * x).sum::<f64>().sqrt()
}

/// Checks every tensor; `reference(name)` gives (our values, reference values) to compare.
fn check_tensors(grads: &Params, reference: impl Fn(&str, &[f32]) -> (Vec<f64>, Vec<f64>)) {
    let pairs: Vec<(String, Vec<f64>, Vec<f64>)> = grads
        .tensors
        .iter()
        .map(|t| {
            let (ours, want) = reference(&t.name, &t.value);
            (t.name.clone(), ours, want)
        })
        .collect();
    let largest = pairs
        .iter()
        .map(|(_, _, w)| norm(w.iter().copied()))
        .fold(0.0, f64::max);
    let mut worst = (0.0, String::new());
    for (name, ours, want) in &pairs {
        assert_eq!(ours.len(), want.len(), "{name}: number of values");
        let error = norm(ours.iter().zip(want).map(|(a, b)| a - b));
        if name.ends_with("attention.self.key.bias") {
            let ours = norm(ours.iter().copied());
            assert!(
                ours <= 1e-6 * largest,
                "{name}: norm {ours:e} should be ~0 (largest {largest:e})"
            );
            continue;
        }
        let relative = error / norm(want.iter().copied());
        assert!(
            relative <= TOLERANCE,
            "{name}: relative error {relative:e} > {TOLERANCE:e}"
        );
        if relative > worst.0 {
            worst = (relative, name.clone());
        }
    }
    eprintln!(
        "{} tensors within {TOLERANCE:e}; worst {:.2e} ({})",
        pairs.len(),
        worst.0,
        worst.1
    );
}

fn tiny(name: &str) {
    let dir = fixture(name);
    let reference = read_json(&dir.join("batch.json"));
    let (value, logits, grads) = gradients(&dir, &reference);
    check_loss_and_logits(value, &logits, &reference);
    let bytes = std::fs::read(dir.join("grads.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    check_tensors(&grads, |name, ours| {
        let view = file
            .tensor(name)
            .unwrap_or_else(|_| panic!("{name} missing from the fixture"));
        assert_eq!(view.dtype(), safetensors::Dtype::F64);
        let want = view
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        (ours.iter().map(|&v| v as f64).collect(), want)
    });
}

#[test]
fn gradients_match_pytorch_tiny_gelu() {
    tiny("tiny-gelu");
}

#[test]
fn gradients_match_pytorch_tiny_gelu_tanh() {
    tiny("tiny-gelu_new");
}

#[test]
fn gradients_match_pytorch_tiny_relu() {
    tiny("tiny-relu");
}

#[test]
fn gradients_match_pytorch_tiny_regression() {
    tiny("tiny-regression");
}

/// A shared checkpoint: every tensor's sampled values (see the fixture README) and its norm.
fn shared(name: &str) {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = fixture(name);
    let reference = read_json(&dir.join("batch.json"));
    let (value, logits, grads) = gradients(&shared.join("models").join(name), &reference);
    check_loss_and_logits(value, &logits, &reference);
    let samples = read_json(&dir.join("grads-sample.json"));
    check_tensors(&grads, |name, ours| {
        let s = &samples[name];
        let indices = s["indices"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} missing"));
        let mine = indices
            .iter()
            .map(|i| ours[i.as_u64().unwrap() as usize] as f64)
            .collect();
        let want = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        (mine, want)
    });
    // And the norm of each whole tensor.
    check_tensors(&grads, |name, ours| {
        let want = samples[name]["norm"].as_f64().unwrap();
        (vec![norm(ours.iter().map(|&v| v as f64))], vec![want])
    });
}

#[test]
fn gradients_match_pytorch_minilm_sst2() {
    shared("minilm-sst2");
}

#[test]
fn gradients_match_pytorch_minilm_stsb() {
    shared("minilm-stsb");
}

// ---- `crossbert finetune` end to end on the tiny checkpoints and fixture data ----

fn finetune(base: &str, task: &str, out: &Path, threads: &str) -> String {
    common::stdout_of(
        common::finetune_command(&format!("gradients/{base}"), task, out)
            .env("RAYON_NUM_THREADS", threads),
    )
}

/// Names and shapes of every tensor of a safetensors file.
fn tensor_shapes(path: &Path) -> Vec<(String, Vec<usize>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<(String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    names.sort();
    names
}

/// The written checkpoint is what transformers reads: the tensors transformers itself saves
/// for this architecture, and logits that transformers computes from it
/// (`tiny-gelu-sst2.logits.json`, made by scripts/reference/finetuned_logits.py from the
/// same command) within 1e-3 of crossbert's inference engine on the same files.
#[test]
fn finetuned_checkpoint_matches_transformers() {
    let out = tempfile::tempdir().unwrap();
    let stdout = finetune("tiny-gelu", "sst2", out.path(), "2");
    assert!(stdout.contains("epoch 2: train loss"), "{stdout}");
    assert_eq!(
        tensor_shapes(&out.path().join("model.safetensors")),
        tensor_shapes(&fixture("tiny-gelu/model.safetensors")),
        "tensors transformers' save_pretrained writes for this model"
    );
    let reference = read_json(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/finetune/tiny-gelu-sst2.logits.json"),
    );
    let written = read_json(&out.path().join("config.json"));
    assert_eq!(written["id2label"], serde_json::json!({"0": "0", "1": "1"}));
    assert_eq!(
        written["id2label"],
        reference["checkpoint_config"]["id2label"]
    );
    let (_, model) =
        crossbert::model::load_classifier(out.path(), &crossbert::model::digital_linear).unwrap();
    let tokenizer = crossbert::tokenize::BertTokenizer::from_dir(out.path(), 128).unwrap();
    let task = crossbert::glue::Task::parse("sst2").unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/finetune");
    let labels = crossbert::glue::LabelMap::standard(task);
    let dev =
        crossbert::glue::read_split(&data, task, crossbert::glue::Split::Dev, &labels).unwrap();
    let encoded = crossbert::glue::evaluate::tokenize_examples(&tokenizer, &dev).unwrap();
    let logits = crossbert::glue::evaluate::predict_logits(&model, &encoded, 8).unwrap();
    let want = reference["logits"].as_array().unwrap();
    assert_eq!(want.len(), dev.len());
    let mut worst = 0.0f64;
    for (r, row) in want.iter().enumerate() {
        for (a, b) in logits.row(r).iter().zip(row.as_array().unwrap()) {
            worst = worst.max((*a as f64 - b.as_f64().unwrap()).abs());
        }
    }
    eprintln!("largest logit difference against transformers: {worst:.2e}");
    assert!(worst <= 1e-3, "largest logit difference {worst} > 1e-3");
}

/// One seed, one result: the same bytes with one thread and with two.
#[test]
fn finetune_is_identical_for_any_thread_count() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    finetune("tiny-regression", "stsb", one.path(), "1");
    finetune("tiny-regression", "stsb", two.path(), "2");
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(
        read(one.path()) == read(two.path()),
        "checkpoints differ between 1 and 2 threads"
    );
    let log = read_json(&one.path().join("training.json"));
    let history = log["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "one entry per epoch");
    for epoch in history {
        assert!(
            epoch["dev"]["pearson"].as_f64().unwrap().is_finite(),
            "{epoch}"
        );
    }
}

#[test]
fn finetune_rejects_impossible_settings() {
    let out = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["finetune", "--base"])
        .arg(fixture("tiny-gelu"))
        .args(["--task", "sst2", "--data", "/nonexistent", "--out"])
        .arg(out.path())
        .args(["--warmup", "1.5"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("expected a fraction of the steps in [0, 1), found 1.5"),
        "{stderr}"
    );
}

/// Dropout is off in the PyTorch fixtures, so its backward pass is checked here against
/// the loss itself: with the masks of one step fixed (they depend on the seed, the step and
/// the shapes, not on the weights), the derivative of the loss along the gradient g must be
/// ‖g‖². Central difference with step ε = 1e-2/‖g‖ (moving the loss by about 1 %);
/// tolerance 1 % relative, seed 11, step 5, dropout 0.3 everywhere.
#[test]
fn dropout_gradient_matches_the_loss_it_differentiates() {
    let dir = fixture("tiny-gelu");
    let reference = read_json(&dir.join("batch.json"));
    let config = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let weights = Checkpoint::open(&dir).unwrap();
    let (params, _) = Params::load(&weights, &config, 2, true, 0).unwrap();
    let index = BertIndex::new(&params, &config);
    let (batch, targets) = batch(&reference, false);
    let dropout = crossbert::train::Dropout {
        hidden: 0.3,
        attention: 0.3,
        seed: 11,
        step: 5,
    };
    let loss_at = |p: &Params| {
        let model = TrainBert::new(p, &index, &config);
        loss(&model.forward(&batch, Some(dropout)).logits, &targets)
    };
    let model = TrainBert::new(&params, &index, &config);
    let forward = model.forward(&batch, Some(dropout));
    let (_, d_logits) = loss(&forward.logits, &targets);
    let mut grads = params.zeros_like();
    model.backward(&forward.tape, &d_logits, &mut grads, true);
    let g2: f64 = grads
        .tensors
        .iter()
        .flat_map(|t| &t.value)
        .map(|&g| (g as f64).powi(2))
        .sum();
    let eps = 1e-2 / g2.sqrt();
    let moved = |sign: f64| {
        let mut p = params.clone();
        for (t, g) in p.tensors.iter_mut().zip(&grads.tensors) {
            t.value
                .iter_mut()
                .zip(&g.value)
                .for_each(|(w, g)| *w += (sign * eps) as f32 * g);
        }
        loss_at(&p).0
    };
    let numeric = (moved(1.0) - moved(-1.0)) / (2.0 * eps);
    let relative = (numeric - g2).abs() / g2;
    eprintln!("directional derivative {numeric:.6e}, ‖g‖² {g2:.6e}, relative {relative:.2e}");
    assert!(
        relative < 1e-2,
        "with dropout: numeric {numeric} vs ‖g‖² {g2}"
    );
    // And the masks do something: the loss differs from the loss without dropout.
    let plain = loss(&model.forward(&batch, None).logits, &targets).0;
    assert!((plain - loss_at(&params).0).abs() > 1e-3);
}

/// A head that predicts the task's outputs is kept; one for another task (here three
/// classes for SST-2's two) is replaced by a new head with the task's label names.
#[test]
fn finetune_keeps_a_fitting_head_and_replaces_another() {
    let out = tempfile::tempdir().unwrap();
    let kept = finetune("tiny-gelu", "sst2", out.path(), "2");
    assert!(kept.contains("the checkpoint's head"), "{kept}");
    let replaced = finetune("tiny-gelu_new", "sst2", out.path(), "2");
    assert!(replaced.contains("new head"), "{replaced}");
    let config = read_json(&out.path().join("config.json"));
    assert_eq!(config["id2label"], serde_json::json!({"0": "0", "1": "1"}));
    assert_eq!(config["num_labels"], 2);
}

// ---- knowledge distillation (`finetune --distill`) ----

fn cross_entropy_loss(logits: &crossbert::model::Matrix, targets: Targets) -> (f64, Vec<f32>) {
    let (value, grad) = loss(logits, &targets);
    (value, grad.as_slice().to_vec())
}

/// The distilled targets are the blend they claim: weight 0 is the labels' loss bit for bit,
/// weight 1 against the student's own logits has a zero gradient (its minimum), and the
/// loss is linear in the weight (cross-entropy is linear in its target), to 1e-6 relative
/// (the blended targets are f32).
#[test]
fn distillation_blends_the_labels_and_the_teacher() {
    use crossbert::model::Matrix;
    let student = Matrix::from_vec(3, 2, vec![1.5, -0.5, 0.2, 0.9, -2.0, 3.0]);
    let teacher = Matrix::from_vec(3, 2, vec![0.3, 0.1, -1.0, 2.5, 0.7, 0.6]);
    let labels = || Targets::Classes(vec![0, 1, 0]);

    let plain = cross_entropy_loss(&student, labels());
    assert_eq!(
        cross_entropy_loss(&student, labels().distilled(&teacher, 0.0)),
        plain
    );

    let (_, at_minimum) = cross_entropy_loss(&student, labels().distilled(&student, 1.0));
    assert!(at_minimum.iter().all(|g| g.abs() < 1e-7), "{at_minimum:?}");

    let (on_teacher, _) = cross_entropy_loss(&student, labels().distilled(&teacher, 1.0));
    let (blend, _) = cross_entropy_loss(&student, labels().distilled(&teacher, 0.25));
    let want = 0.75 * plain.0 + 0.25 * on_teacher;
    assert!((blend - want).abs() <= 1e-6 * want, "{blend} vs {want}");

    let scores =
        Targets::Scores(vec![4.0, 1.0]).distilled(&Matrix::from_vec(2, 1, vec![2.0, 3.0]), 0.25);
    assert_eq!(scores, Targets::Scores(vec![3.5, 1.5]));
}

/// `--distill` changes the training, and is refused where there is no teacher: outside
/// [0, 1], or on a base whose head is replaced (a new head predicts nothing yet).
#[test]
fn finetune_distills_from_a_fitting_head_only() {
    let (plain, distilled) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    finetune("tiny-gelu", "sst2", plain.path(), "2");
    common::stdout_of(
        common::finetune_command("gradients/tiny-gelu", "sst2", distilled.path())
            .args(["--distill", "0.5"]),
    );
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(read(plain.path()) != read(distilled.path()));
    assert_eq!(
        read_json(&distilled.path().join("training.json"))["distill"],
        0.5
    );

    for (base, distill, expected) in [
        (
            "gradients/tiny-gelu",
            "1.5",
            "expected a weight in [0, 1], found 1.5",
        ),
        (
            "gradients/tiny-gelu_new",
            "0.5",
            "needs a base with a sst2 head",
        ),
    ] {
        let out = tempfile::tempdir().unwrap();
        let output = common::finetune_command(base, "sst2", out.path())
            .args(["--distill", distill])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
