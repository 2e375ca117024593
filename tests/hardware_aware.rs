//! Hardware-aware fine-tuning (`crossbert finetune --preset/--hardware`): the measured
//! weight noise against its analytic value, the measured converter noise against the ADC
//! precision, the injected noises' statistics, the
//! straight-through gradient, and the command end to end (a noise-free chip trains exactly
//! as digital training does; one seed gives the same checkpoint with 1 and 2 threads).

mod common;

use std::path::{Path, PathBuf};

use crossbert::hardware::HardwareConfig;
use crossbert::model::{Checkpoint, ModelConfig, PackedBatch};
use crossbert::tokenize::Encoded;
use crossbert::train::hardware_aware::{HardwareAware, MeasuredNoise};
use crossbert::train::kernels::linear_forward;
use crossbert::train::{loss, BertIndex, Params, Targets, TrainBert};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// The tiny random checkpoint of the gradient fixtures (2 layers, hidden 32, FFN 64).
fn tiny() -> (ModelConfig, Params, BertIndex) {
    let dir = fixture("gradients/tiny-gelu");
    let config = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let weights = Checkpoint::open(&dir).unwrap();
    let (params, _) = Params::load(&weights, &config, 2, true, 0).unwrap();
    let index = BertIndex::new(&params, &config);
    (config, params, index)
}

fn hardware(text: &str) -> HardwareConfig {
    HardwareConfig::from_toml_str(text, "test.toml").unwrap()
}

/// With ideal devices, what the read-back differs by is the 8-bit weight quantization of
/// isaac-32nm: a rounding error uniform over one step max|w|/127, so an RMS of
/// 1/(127·√12) = 0.00227 of max|w| (the max itself is exact, so slightly less). Tolerance
/// ±12 % (1,024–2,048 weights per matrix). The ideal preset (24-bit weights) reads back
/// the weights to float rounding. Relative programming variation is noise that grows with
/// the weight: its fitted proportional part triples from 10 % to 30 % (±0.5).
#[test]
fn measured_weight_noise_matches_the_weight_quantization_and_grows_with_variation() {
    let (_, params, index) = tiny();
    let noise = |text: &str| -> Vec<MeasuredNoise> {
        let chip = HardwareAware::new(&hardware(text), &params, &index, 0).unwrap();
        assert_eq!(
            chip.linears.len(),
            12,
            "six analog linears in each of 2 layers"
        );
        chip.linears.iter().map(|l| l.measured.unwrap()).collect()
    };
    let quantization = 1.0 / (127.0 * 12f64.sqrt());
    for (l, m) in noise("preset = \"isaac-32nm\"").into_iter().enumerate() {
        let ratio = m.rms / quantization;
        assert!(
            (0.88..=1.12).contains(&ratio),
            "linear {l}: {m:?} = {ratio} × 1/(127√12)"
        );
    }
    for m in noise("preset = \"ideal\"") {
        assert!(m.rms < 1e-6, "ideal hardware reads back {m:?}");
    }
    let proportional = |s: f64| {
        let text = format!(
            "preset = \"isaac-32nm\"\n[device]\nprogramming = {{ model = \"relative\", sigma = {s} }}"
        );
        noise(&text).iter().map(|m| m.proportional).sum::<f64>() / 12.0
    };
    let (ten, thirty) = (proportional(0.1), proportional(0.3));
    eprintln!("mean proportional weight noise: 10 % variation {ten:.4}, 30 % {thirty:.4}");
    let ratio = thirty / ten;
    assert!((2.5..=3.5).contains(&ratio), "30 % vs 10 %: {ratio}");
}

/// `n` random sentences of 6–13 tokens over the tiny vocabulary (ids 5–99), from `seed`.
fn sentences(n: usize, seed: u64) -> Vec<Encoded> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let len = rng.random_range(4..12);
            let mut ids = vec![2];
            ids.extend((0..len).map(|_| rng.random_range(5..100u32)));
            ids.push(3);
            Encoded {
                token_type_ids: vec![0; ids.len()],
                input_ids: ids,
            }
        })
        .collect()
}

/// The chip of `text` for the tiny checkpoint, calibrated on 32 sentences and its
/// converter noise measured on the same sentences (`probe` 1) or on 32 others.
fn measured_chip(
    text: &str,
    (config, params, index): &(ModelConfig, Params, BertIndex),
    probe: u64,
) -> HardwareAware {
    let mut chip = HardwareAware::new(&hardware(text), params, index, 0).unwrap();
    let model = TrainBert::new(params, index, config);
    chip.measure_converters(&model, &sentences(32, 1), &sentences(32, probe))
        .unwrap();
    chip
}

/// On the inputs the ranges were calibrated on nothing clips, and the converters' error is
/// rounding over each array's range: two more ADC bits make it four times smaller where
/// the converted currents span many steps, less where they fall within a few steps of zero
/// (as more do at low precision). Measured RMS (mean over the 12 linears, isaac-32nm,
/// seed 0): 8 over 10 bits within 3–4.5 (measured 3.58), and 6 bits above 8 bits; ideal
/// converters measure nothing.
#[test]
fn measured_converter_noise_follows_the_adc_precision() {
    let tiny = tiny();
    let rms = |bits: u8, probe: u64| {
        let text = format!("preset = \"isaac-32nm\"\n[mapping.adc]\nadc_bits = {bits}\n");
        let chip = measured_chip(&text, &tiny, probe);
        chip.linears
            .iter()
            .map(|l| l.measured_output.unwrap().rms)
            .sum::<f64>()
            / 12.0
    };
    let [six, eight, ten] = [6, 8, 10].map(|bits| rms(bits, 1));
    eprintln!(
        "converter noise RMS (of max|y|): 6 bits {six:.5}, 8 bits {eight:.5}, 10 bits {ten:.5}; \
         8 bits on other sentences than the calibration's {:.5}",
        rms(8, 2)
    );
    assert!(ten > 0.0 && six > eight);
    assert!(
        (3.0..=4.5).contains(&(eight / ten)),
        "8 vs 10 bits: {}",
        eight / ten
    );
    let ideal = measured_chip("preset = \"ideal\"", &tiny, 2);
    assert!(ideal.linears.iter().all(|l| l.measured_output.is_none()
        && l.output_noise == 0.0
        && l.output_noise_proportional == 0.0));
}

/// Converter noise alone (τ_a = 0.05, no weight noise, no quantizers): each analog output
/// moves from its noise-free value by a Gaussian of standard deviation 0.05·Y, Y the
/// linear's calibrated max|y| (tolerance 5 %, 8,192 outputs of the first query, seed 0,
/// step 3); the same step draws the same noise, the next one other noise.
#[test]
fn injected_converter_noise_has_the_configured_size() {
    let tiny = tiny();
    let (_, params, index) = &tiny;
    let text = "preset = \"isaac-32nm\"\n[training]\nweight_noise = 0.0\n\
                weight_noise_proportional = 0.0\ninput_bits = 0\noutput_noise = 0.05\n\
                output_noise_proportional = 0.0\n";
    let chip = measured_chip(text, &tiny, 2);
    let query = index.layers[0].query;
    let x = crossbert::model::Matrix::from_vec(
        256,
        query.in_features,
        (0..256 * query.in_features)
            .map(|i| (i * 37 % 101) as f32 / 50.0 - 1.0)
            .collect(),
    );
    let (w, b) = (params.get(query.weight), params.get(query.bias));
    let clean = linear_forward(&x, w, b);
    let step = chip.perturb(params, 3);
    let noisy = step.linear(query.weight, &x, b).unwrap();
    let range = f64::from(chip.ranges()[0].1);
    let (mut sum, mut squares) = (0.0f64, 0.0f64);
    for (n, c) in noisy.as_slice().iter().zip(clean.as_slice()) {
        let e = f64::from(n - c) / range;
        sum += e;
        squares += e * e;
    }
    let count = clean.as_slice().len() as f64;
    let std = (squares / count - (sum / count).powi(2)).sqrt();
    eprintln!("{count} outputs: converter noise std {std:.5} of max|y| (τ_a 0.05)");
    assert!((std / 0.05 - 1.0).abs() < 0.05, "std {std}");
    let again = chip.perturb(params, 3).linear(query.weight, &x, b).unwrap();
    assert_eq!(noisy.as_slice(), again.as_slice(), "same step, same noise");
    let next = chip.perturb(params, 4).linear(query.weight, &x, b).unwrap();
    assert_ne!(noisy.as_slice(), next.as_slice());
}

/// Additive noise alone: (W̃ − W) / max|w| of the output over every analog weight has mean
/// 0 and standard deviation σ_a = 0.05; proportional noise alone: (W̃ − W) / W has standard
/// deviation σ_p = 0.2 (tolerance 3 %, about 18,000 weights, seed 7, step 3). The same step
/// draws the same noise, the next one other noise. Drop-out alone (p = 0.1) zeroes a
/// fraction p (± 4 standard errors).
#[test]
fn injected_noise_and_dropout_have_the_configured_statistics() {
    let (_, params, index) = tiny();
    // (mean, std, count) of the noise over every analog weight, divided by `unit(w, max)`.
    let statistics = |text: &str, unit: fn(f64, f64) -> f64| {
        let chip = HardwareAware::new(&hardware(text), &params, &index, 7).unwrap();
        let step = chip.perturb(&params, 3);
        let (mut sum, mut squares, mut n) = (0.0f64, 0.0f64, 0usize);
        for i in 0..params.len() {
            let Some(noisy) = step.weight(i) else {
                continue;
            };
            let inputs = params.tensors[i].shape[1];
            for (row, noisy_row) in params.get(i).chunks(inputs).zip(noisy.chunks(inputs)) {
                let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
                for (w, v) in row.iter().zip(noisy_row) {
                    let e = (*v as f64 - *w as f64) / unit(*w as f64, max);
                    sum += e;
                    squares += e * e;
                    n += 1;
                }
            }
        }
        let mean = sum / n as f64;
        (mean, (squares / n as f64 - mean * mean).sqrt(), n)
    };
    let additive = "preset = \"isaac-32nm\"\n[training]\nweight_noise = 0.05\n\
                    weight_noise_proportional = 0.0\n";
    let (mean, std, n) = statistics(additive, |_, max| max);
    eprintln!("{n} weights: additive noise mean {mean:.5}, std {std:.5} (σ_a 0.05)");
    assert!(mean.abs() < 4.0 * 0.05 / (n as f64).sqrt(), "mean {mean}");
    assert!((std / 0.05 - 1.0).abs() < 0.03, "std {std}");
    let proportional = "preset = \"isaac-32nm\"\n[training]\nweight_noise = 0.0\n\
                        weight_noise_proportional = 0.2\n";
    let (_, std, _) = statistics(proportional, |w, _| w);
    eprintln!("proportional noise std {std:.5} (σ_p 0.2)");
    assert!((std / 0.2 - 1.0).abs() < 0.03, "std {std}");

    let chip = HardwareAware::new(&hardware(additive), &params, &index, 7).unwrap();
    let step = chip.perturb(&params, 3);
    let first = params
        .index("bert.encoder.layer.0.attention.self.query.weight")
        .unwrap();
    let again = chip.perturb(&params, 3);
    assert_eq!(
        step.weight(first),
        again.weight(first),
        "same step, same noise"
    );
    assert_ne!(step.weight(first), chip.perturb(&params, 4).weight(first));

    let text = "preset = \"isaac-32nm\"\n[training]\nweight_noise = 0.0\n\
                weight_noise_proportional = 0.0\nstuck_at_dropout = 0.1\n";
    let chip = HardwareAware::new(&hardware(text), &params, &index, 7).unwrap();
    let step = chip.perturb(&params, 0);
    let (mut zeros, mut n) = (0usize, 0usize);
    for i in 0..params.len() {
        if let Some(w) = step.weight(i) {
            zeros += w.iter().filter(|&&v| v == 0.0).count();
            n += w.len();
        }
    }
    let fraction = zeros as f64 / n as f64;
    let se = (0.1 * 0.9 / n as f64).sqrt();
    assert!((fraction - 0.1).abs() < 4.0 * se, "{zeros} of {n} zeroed");
}

/// Straight-through: without quantizers, a noisy step's gradients are exactly those of the
/// digital model whose weights are the noisy ones (the input gradient flows through W̃, and
/// dW = dYᵀ·X is what the noise-free W receives). Relative tolerance 1e-6 per tensor.
#[test]
fn the_noisy_step_differentiates_the_noisy_weights() {
    let (config, params, index) = tiny();
    let text = "preset = \"isaac-32nm\"\n[training]\nweight_noise = 0.1\nweight_noise_proportional = 0.1\ninput_bits = 0\n\
                output_bits = 0\nclip_outputs = false\n";
    let chip = HardwareAware::new(&hardware(text), &params, &index, 5).unwrap();
    let step = chip.perturb(&params, 2);
    let mut noisy = params.clone();
    for i in 0..params.len() {
        if let Some(w) = step.weight(i) {
            noisy.get_mut(i).copy_from_slice(w);
        }
    }
    let mut batch = PackedBatch::default();
    batch.push(&[2, 10, 11, 12, 3], &[0; 5]);
    batch.push(&[2, 13, 14, 3], &[0; 4]);
    let targets = Targets::Classes(vec![1, 0]);
    let gradients = |model: TrainBert| {
        let forward = model.forward(&batch, None);
        let (_, d_logits) = loss(&forward.logits, &targets);
        let mut grads = params.zeros_like();
        model.backward(&forward.tape, &d_logits, &mut grads, true);
        grads
    };
    let on_chip = gradients(TrainBert {
        chip: Some(&step),
        ..TrainBert::new(&params, &index, &config)
    });
    let digital = gradients(TrainBert::new(&noisy, &index, &config));
    let clean = gradients(TrainBert::new(&params, &index, &config));
    let distance = |a: &[f32], b: &[f32]| {
        let d: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum();
        let n: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
        (d / n.max(1e-30)).sqrt()
    };
    let mut moved = 0.0f64;
    for (i, t) in on_chip.tensors.iter().enumerate() {
        let error = distance(&t.value, digital.get(i));
        assert!(error <= 1e-6, "{}: relative difference {error:e}", t.name);
        moved = moved.max(distance(clean.get(i), digital.get(i)));
    }
    assert!(
        moved > 1e-3,
        "the noise must change the gradients ({moved:e})"
    );
}

// ---- `crossbert finetune --hardware` end to end on the tiny checkpoints ----

fn finetune(base: &str, task: &str, hardware: &Path, out: &Path, threads: &str) -> String {
    common::stdout_of(
        common::finetune_command(&format!("gradients/{base}"), task, out)
            .arg("--hardware")
            .arg(hardware)
            .env("RAYON_NUM_THREADS", threads),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A chip that injects nothing (ideal hardware, no noise, no quantizers) trains the same
/// checkpoint, byte for byte, as digital training with the same seed.
#[test]
fn a_chip_without_effects_trains_exactly_as_digital_training() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = write(
        dir.path(),
        "quiet.toml",
        "preset = \"ideal\"\n[training]\nweight_noise = 0.0\nweight_noise_proportional = 0.0\n\
         input_bits = 0\noutput_bits = 0\n",
    );
    let (chip, digital) = (dir.path().join("chip"), dir.path().join("digital"));
    finetune("tiny-gelu", "sst2", &quiet, &chip, "2");
    common::stdout_of(&mut common::finetune_command(
        "gradients/tiny-gelu",
        "sst2",
        &digital,
    ));
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(read(&chip) == read(&digital), "checkpoints differ");
}

/// Measured noise, input and output quantizers, clipping and drop-out on: the same bytes
/// with 1 and 2 threads; `training.json` records what each analog linear was trained with.
#[test]
fn hardware_aware_finetune_is_identical_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let hw = write(
        dir.path(),
        "varied.toml",
        "preset = \"isaac-32nm\"\n[device]\nprogramming = { model = \"relative\", sigma = 0.3 }\n\
         [training]\nstuck_at_dropout = 0.01\nweight_clip_sigmas = 3.0\noutput_bits = 8\n\
         clip_outputs = true\n",
    );
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let stdout = finetune("tiny-regression", "stsb", &hw, &one, "1");
    assert!(
        stdout.contains("hardware-aware training on isaac-32nm: 12 analog linears"),
        "{stdout}"
    );
    finetune("tiny-regression", "stsb", &hw, &two, "2");
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(
        read(&one) == read(&two),
        "checkpoints differ between 1 and 2 threads"
    );
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(one.join("training.json")).unwrap()).unwrap();
    let linears = log["hardware"]["linears"].as_array().unwrap();
    assert_eq!(linears.len(), 12);
    assert_eq!(linears[0]["name"], "0.query");
    let rms = linears[0]["measured"]["rms"].as_f64().unwrap();
    assert!(
        rms > 0.01,
        "30 % variation reads back with an RMS error of {rms}"
    );
    let proportional = linears[0]["weight_noise_proportional"].as_f64().unwrap();
    assert!(proportional > 0.1, "{}", linears[0]);
    assert_eq!(log["hardware"]["training"]["stuck_at_dropout"], 0.01);
    let converters = linears[0]["measured_output"]["rms"].as_f64().unwrap();
    assert!(converters > 0.0, "{}", linears[0]);
}

#[test]
fn finetune_rejects_unknown_presets_and_impossible_training_choices() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.toml",
        "preset = \"isaac-32nm\"\n[training]\noutput_bits = 1\n",
    );
    let run = |flag: &str, value: &std::ffi::OsStr| {
        let output =
            common::finetune_command("gradients/tiny-gelu", "sst2", &dir.path().join("out"))
                .arg(flag)
                .arg(value)
                .output()
                .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run("--preset", "isaac".as_ref());
    assert!(
        stderr.contains("unknown hardware preset \"isaac\""),
        "{stderr}"
    );
    let stderr = run("--hardware", bad.as_os_str());
    assert!(
        stderr.contains("training.output_bits: expected 0 (off) or 2–24 bits, found 1"),
        "{stderr}"
    );
}

// ---- chip in the loop (`[training] chip_in_loop = true`) ----

/// The weight tensor of the analog linear `<layer>.<kind>` of the tiny checkpoint.
fn linear_of(index: &BertIndex, name: &str) -> crossbert::train::params::LinearIndex {
    let (layer, kind) = name.split_once('.').unwrap();
    let layer = &index.layers[layer.parse::<usize>().unwrap()];
    match kind {
        "query" => layer.query,
        "key" => layer.key,
        "value" => layer.value,
        "attention_output" => layer.attention_output,
        "ffn_in" => layer.intermediate,
        "ffn_out" => layer.output,
        other => panic!("unexpected linear kind {other}"),
    }
}

/// Right after programming (W = W_k), a training step's analog output is exactly what the
/// analog backend computes on evaluation chip `training_chip_seed(seed, 0)` for the same
/// tokens (same read ids): 30 % programming variation, 2 % read noise, 6-bit ADCs, ranges
/// that need no calibration so that both sides program and read the same chip. Tolerance
/// 1e-5 of the output's max (float rounding of W·x + (chip − W·x)); the chip's error itself
/// must be far larger.
#[test]
fn the_chip_in_the_loop_outputs_what_the_evaluation_chip_outputs() {
    use crossbert::backend::AnalogModel;
    use crossbert::model::{BatchId, LinearOp, Matrix};
    use crossbert::train::chip_in_loop::training_chip_seed;

    let (config, params, index) = tiny();
    let text = "preset = \"isaac-32nm\"\n\
                [mapping]\ninput_scale = \"dynamic\"\nadc = { range = \"full_scale\", adc_bits = 6 }\n\
                [device]\nprogramming = { model = \"relative\", sigma = 0.3 }\n\
                read_noise = { model = \"relative\", sigma = 0.02 }\n\
                [training]\nchip_in_loop = true\n";
    let hw = hardware(text);
    let seed = 4;
    let mut chip = HardwareAware::new(&hw, &params, &index, seed).unwrap();
    let model = TrainBert::new(&params, &index, &config);
    chip.program_training_chip(&model, &sentences(8, 1), 0)
        .unwrap();
    let eval = AnalogModel::load(
        &fixture("gradients/tiny-gelu"),
        &hw,
        training_chip_seed(seed, 0),
    )
    .unwrap();
    let mut batch = PackedBatch::default();
    batch.push_example(7, &[2, 10, 11, 12, 3], &[0; 5]);
    batch.push_example(9, &[2, 13, 14, 3], &[0; 4]);
    let step = chip.perturb(&params, 0).for_batch(&batch);
    let id = BatchId {
        examples: &batch.examples,
        lengths: &batch.lengths,
    };
    assert_eq!(eval.layers().len(), 12);
    for analog in eval.layers() {
        let l = linear_of(&index, analog.name());
        let x: Vec<f32> = (0..9 * l.in_features)
            .map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * 0.7)
            .collect();
        let x = Matrix::from_vec(9, l.in_features, x);
        let bias = params.get(l.bias);
        let trained = step.linear(l.weight, &x, bias).unwrap();
        let evaluated = analog.forward(&x, id);
        let digital = linear_forward(&x, params.get(l.weight), bias);
        let scale = evaluated
            .as_slice()
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()));
        let gap = |a: &Matrix, b: &Matrix| {
            a.as_slice()
                .iter()
                .zip(b.as_slice())
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
                / scale
        };
        let (error, chip_error) = (gap(&trained, &evaluated), gap(&digital, &evaluated));
        assert!(error < 1e-5, "{}: {error:e} of max|y|", analog.name());
        assert!(
            chip_error > 1e-2,
            "{}: the chip's error {chip_error:e}",
            analog.name()
        );
    }
}

/// The values of every tensor of the checkpoint in `dir` (the tiny checkpoints' layout).
fn tensors(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let config = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let weights = Checkpoint::open(dir).unwrap();
    let (params, _) = Params::load(&weights, &config, 2, true, 0).unwrap();
    params
        .tensors
        .into_iter()
        .map(|t| (t.name, t.value))
        .collect()
}

/// The largest difference between two checkpoints, relative to each tensor's max|value|,
/// over the tensors `compared` selects by name.
fn checkpoint_gap(a: &Path, b: &Path, compared: impl Fn(&str) -> bool) -> f32 {
    let (a, b) = (tensors(a), tensors(b));
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .filter(|((name, _), _)| compared(name))
        .map(|((name, x), (other, y))| {
            assert_eq!(name, other);
            let scale = y.iter().fold(1e-12f32, |m, v| m.max(v.abs()));
            x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs())) / scale
        })
        .fold(0f32, f32::max)
}

/// On the ideal chip (no quantization, ideal converters and devices) the chip's error is
/// float rounding: training with the chip in the loop, reprogrammed every 3 steps, ends
/// within 1e-5 of each tensor's max|value| of digital training with the same seed (measured
/// about 3e-7). The key biases are left out: their exact gradient is 0 (a key bias shifts
/// every score of a query by the same amount, which softmax ignores), so AdamW turns the
/// rounding in their gradient into steps of the learning rate's size.
#[test]
fn chip_in_the_loop_on_an_ideal_chip_trains_as_digital_training() {
    let dir = tempfile::tempdir().unwrap();
    let ideal = write(
        dir.path(),
        "ideal.toml",
        "preset = \"ideal\"\n[training]\nchip_in_loop = true\nreprogram_every = 3\n",
    );
    let (chip, digital) = (dir.path().join("chip"), dir.path().join("digital"));
    let stdout = finetune("tiny-gelu", "sst2", &ideal, &chip, "2");
    assert!(stdout.contains("reprogrammed every 3 steps"), "{stdout}");
    common::stdout_of(&mut common::finetune_command(
        "gradients/tiny-gelu",
        "sst2",
        &digital,
    ));
    let gap = checkpoint_gap(&chip, &digital, |name| {
        !name.ends_with("attention.self.key.bias")
    });
    eprintln!("ideal chip in the loop vs digital: {gap:e} of max|value|");
    assert!(gap < 1e-5, "{gap:e}");
}

/// A noisy chip in the loop (30 % variation, calibrated ranges, several training chip
/// instances): the same bytes with 1 and 2 threads, and a checkpoint far from digital
/// training's.
#[test]
fn chip_in_the_loop_finetune_is_identical_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let hw = write(
        dir.path(),
        "varied.toml",
        "preset = \"isaac-32nm\"\n[device]\nprogramming = { model = \"relative\", sigma = 0.3 }\n\
         [training]\nchip_in_loop = true\nreprogram_every = 3\n",
    );
    let (one, two, digital) = (
        dir.path().join("one"),
        dir.path().join("two"),
        dir.path().join("digital"),
    );
    finetune("tiny-gelu", "sst2", &hw, &one, "1");
    finetune("tiny-gelu", "sst2", &hw, &two, "2");
    let read = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(
        read(&one) == read(&two),
        "checkpoints differ between 1 and 2 threads"
    );
    common::stdout_of(&mut common::finetune_command(
        "gradients/tiny-gelu",
        "sst2",
        &digital,
    ));
    let gap = checkpoint_gap(&one, &digital, |_| true);
    assert!(gap > 1e-3, "the chip must change the training ({gap:e})");
}

/// `chip_in_loop_weights = false` measures the chip's error against its read-back weights:
/// with ideal converters and 24-bit inputs the chip adds nothing to its programmed weights,
/// so the output is the digital one of the current weights (within 1e-5 of max|y|), while
/// with the weights in the loop it is the programmed weights' (30 % variation: far from it).
#[test]
fn only_the_converters_error_is_in_the_loop_without_the_weights() {
    use crossbert::model::Matrix;

    let (config, params, index) = tiny();
    let chip_with = |weights: bool| {
        let text = format!(
            "preset = \"isaac-32nm\"\n\
             [mapping]\ninput_bits = 24\ninput_scale = \"dynamic\"\nadc = {{ ideal = true }}\n\
             [device]\nprogramming = {{ model = \"relative\", sigma = 0.3 }}\n\
             [training]\nchip_in_loop = true\nchip_in_loop_weights = {weights}\n\
             weight_noise = 0.0\nweight_noise_proportional = 0.0\n"
        );
        let mut chip = HardwareAware::new(&hardware(&text), &params, &index, 2).unwrap();
        let model = TrainBert::new(&params, &index, &config);
        chip.program_training_chip(&model, &sentences(4, 1), 0)
            .unwrap();
        chip
    };
    let (converters, whole) = (chip_with(false), chip_with(true));
    let (converters, whole) = (converters.perturb(&params, 0), whole.perturb(&params, 0));
    for name in ["0.query", "1.ffn_in", "1.ffn_out"] {
        let l = linear_of(&index, name);
        let x: Vec<f32> = (0..6 * l.in_features)
            .map(|i| ((i * 29 % 97) as f32 / 48.0 - 1.0) * 0.5)
            .collect();
        let x = Matrix::from_vec(6, l.in_features, x);
        let bias = params.get(l.bias);
        let digital = linear_forward(&x, params.get(l.weight), bias);
        let scale = digital.as_slice().iter().fold(0f32, |m, v| m.max(v.abs()));
        let gap = |y: Matrix| {
            y.as_slice()
                .iter()
                .zip(digital.as_slice())
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
                / scale
        };
        let only_converters = gap(converters.linear(l.weight, &x, bias).unwrap());
        let with_weights = gap(whole.linear(l.weight, &x, bias).unwrap());
        assert!(only_converters < 1e-5, "{name}: {only_converters:e}");
        assert!(with_weights > 1e-2, "{name}: {with_weights:e}");
    }
}
