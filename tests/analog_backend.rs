//! The analog backend against the digital engine and against closed-form counts.
//!
//! * `ideal` hardware reproduces the digital logits of every shared checkpoint (first 16
//!   dev rows of each task, to keep CI short) to 1e-4 relative against the float engine, at
//!   both fidelity levels (24-bit weights and inputs, ideal converters and devices);
//! * the events one encoder linear produces equal the closed form written here from the
//!   ISAAC geometry, and its ADC energy equals conversions × 1.67 pJ;
//! * `--out` files of the binary are byte-identical for RAYON_NUM_THREADS=1 and 2.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crossbert::backend::AnalogModel;
use crossbert::glue::evaluate::{predict_logits, tokenize_examples};
use crossbert::glue::{self, LabelMap, Split, Task};
use crossbert::hardware::{HardwareConfig, LinearPattern};
use crossbert::model::{digital_linear, load_classifier, PackedBatch, SequenceClassifier};
use crossbert::tokenize::{BertTokenizer, Encoded, DEFAULT_MAX_LEN};
use mapping::Fidelity;

/// The task a shared checkpoint was fine-tuned on (from its reference metrics).
fn task_of(dir: &Path) -> Task {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference/metrics.json")).unwrap())
            .unwrap();
    Task::parse(m["task"].as_str().unwrap()).unwrap()
}

/// The first `n` examples of a split, tokenized.
fn encoded(shared: &Path, dir: &Path, task: Task, split: Split, n: usize) -> Vec<Encoded> {
    let (config, _) = load_classifier(dir, &digital_linear).unwrap();
    let labels = LabelMap::for_checkpoint(task, &config).unwrap();
    let mut examples = glue::read_split(&shared.join("glue"), task, split, &labels).unwrap();
    examples.truncate(n);
    let tokenizer = BertTokenizer::from_dir(dir, DEFAULT_MAX_LEN).unwrap();
    tokenize_examples(&tokenizer, &examples).unwrap()
}

#[test]
fn ideal_hardware_reproduces_digital_logits_at_both_fidelities() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    for dir in common::minilm_checkpoints(&shared) {
        let task = task_of(&dir);
        let dev = encoded(&shared, &dir, task, Split::Dev, 16);
        let (_, digital) = load_classifier(&dir, &digital_linear).unwrap();
        let expected = predict_logits(&digital, &dev, 8).unwrap();
        let run = |hw: &HardwareConfig| {
            let chip = AnalogModel::load(&dir, hw, 7).unwrap();
            let got = predict_logits(&chip.model, &dev, 8).unwrap();
            chip.check().unwrap();
            common::max_relative_error(&got, &expected)
        };
        let mut ideal = HardwareConfig::preset("ideal").unwrap();
        for fidelity in [Fidelity::BitSliced, Fidelity::OneShot] {
            ideal.mapping.fidelity = fidelity;
            let err = run(&ideal);
            println!(
                "{} {} ideal: max relative logit error {err:e}",
                dir.display(),
                fidelity.name()
            );
            assert!(
                err <= 1e-4,
                "{}: {} ideal logits differ by {err:e} relative (bound 1e-4)",
                dir.display(),
                fidelity.name()
            );
        }
    }
}

#[test]
fn one_layer_events_and_adc_energy_match_the_closed_form() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("models/minilm-sst2");
    let mut hw = HardwareConfig::preset("isaac-32nm").unwrap();
    hw.layers.analog = vec![LinearPattern::try_from("0.query".to_string()).unwrap()];
    let chip = AnalogModel::load(&dir, &hw, 1).unwrap();
    let train = encoded(&shared, &dir, Task::Sst2, Split::Train, 8);
    chip.calibrate(&train).unwrap();
    let dev = encoded(&shared, &dir, Task::Sst2, Split::Dev, 5);
    let mut batch = PackedBatch::default();
    for e in &dev {
        batch.push(&e.input_ids, &e.token_type_ids);
    }
    chip.model.forward(&batch).unwrap();
    let measured = chip.take_measured();
    assert_eq!(measured.len(), 1);
    let (name, m) = &measured[0];
    assert_eq!(name, "0.query");
    let t = batch.num_tokens() as u64;
    assert_eq!(m.tokens, t);

    // ISAAC geometry for a 384 × 384 matrix: 8-bit weights, differential → 7 magnitude
    // bits on 2-bit cells = 4 slices; 2 × 4 = 8 columns per output, 16 outputs per
    // 128-column array → 24 column tiles; 384 / 128 = 3 row tiles; 72 arrays, all 128 × 128
    // cells in use. 8-bit inputs on 1-bit DACs: 8 cycles.
    let (h, cycles, slices, row_tiles, arrays, side) = (384u64, 8u64, 4u64, 3u64, 72u64, 128u64);
    let e = &m.events;
    assert_eq!(
        e.adc_conversions.get(&8),
        Some(&(t * cycles * arrays * side))
    );
    assert_eq!(
        e.dac_drives,
        BTreeMap::from([(1, t * cycles * arrays * side)])
    );
    assert_eq!(e.cell_reads, t * cycles * arrays * side * side);
    assert_eq!(e.sample_holds, t * cycles * arrays * side);
    assert_eq!(
        e.shift_adds,
        t * (cycles - 1) * arrays * side + t * h * row_tiles * (2 * slices - 1)
    );
    assert_eq!(e.adder_tree_ops, t * h * (row_tiles - 1));
    assert_eq!(e.buffer_bits, t * (h * 8 + h * 32));

    // The cost roll-up prices the same counts: ADC energy = conversions × 1.67 pJ (ISAAC
    // 8-bit ADC, DESIGN.md §4) for one "inference" of t tokens.
    let cost = chip.cost(&[t as usize]).unwrap();
    let adc = (t * cycles * arrays * side) as f64 * 1.67;
    assert!(
        (cost.energy_pj.adc_pj - adc).abs() <= 1e-9 * adc,
        "{} vs {adc}",
        cost.energy_pj.adc_pj
    );
    let sum: f64 = cost.energy_pj.components().iter().map(|(_, pj)| pj).sum();
    assert_eq!(sum, cost.energy_pj.total_pj());
    assert!(cost.latency_ns > 0.0 && cost.area_mm2.total_mm2() > 0.0);
}

#[test]
fn out_files_identical_on_one_and_two_threads() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = |threads: &str| {
        let out = tmp.path().join(format!("logits-{threads}.tsv"));
        let status = Command::new(env!("CARGO_BIN_EXE_crossbert"))
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "eval",
                "--task",
                "sst2",
                "--preset",
                "isaac-32nm",
                "--seed",
                "3",
            ])
            .args(["--limit", "12", "--batch-size", "4", "--json"])
            .arg("--model")
            .arg(shared.join("models/minilm-sst2"))
            .arg("--data")
            .arg(shared.join("glue"))
            .arg("--out")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(out).unwrap()
    };
    let one = run("1");
    assert!(!one.is_empty());
    assert!(one == run("2"), "--out differs between 1 and 2 threads");
}

/// The periphery is what runs: the default (float) periphery gives the digital engine's
/// logits bit for bit, and each fixed-point choice (base-2 softmax, integer LayerNorm,
/// I-BERT integer GELU) changes them. Fixed-point softmax + LayerNorm together stay within
/// 0.05 of the row's largest logit on 8 SST-2 dev rows (measured about 6e-3; a loose sanity
/// bound, each approximation's own bound is tested in tests/periphery.rs). The I-BERT GELU
/// moves MiniLM's logits much more (measured 0.57 relative): printed, not bounded here.
#[test]
fn periphery_choices_reach_the_forward_pass() {
    use crossbert::periphery::{
        Base2Exp, FixedLayerNorm, Gelu, IntGelu, LayerNorm, PeripheryConfig, Softmax,
    };
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("models/minilm-sst2");
    let dev = encoded(&shared, &dir, Task::Sst2, Split::Dev, 8);
    let (_, digital) = load_classifier(&dir, &digital_linear).unwrap();
    let expected = predict_logits(&digital, &dev, 4).unwrap();
    let error_with = |p: &PeripheryConfig| {
        let (_, mut model) = load_classifier(&dir, &digital_linear).unwrap();
        model.set_periphery(p);
        let got = predict_logits(&model, &dev, 4).unwrap();
        common::max_relative_error(&got, &expected)
    };
    assert_eq!(error_with(&PeripheryConfig::default()), 0.0);
    let softmax = Softmax::Base2Shift(Base2Exp::default());
    let layernorm = LayerNorm::FixedPoint(FixedLayerNorm::default());
    let singles = [
        PeripheryConfig {
            softmax: softmax.clone(),
            ..Default::default()
        },
        PeripheryConfig {
            layernorm: layernorm.clone(),
            ..Default::default()
        },
        PeripheryConfig {
            gelu: Gelu::IntPoly(IntGelu::default()),
            ..Default::default()
        },
    ];
    for p in &singles {
        let err = error_with(p);
        println!("{p:?}: max relative logit error {err:e}");
        assert!(err > 0.0, "{p:?} left the logits unchanged");
    }
    let both = PeripheryConfig {
        softmax,
        layernorm,
        ..Default::default()
    };
    let err = error_with(&both);
    println!("fixed-point softmax and LayerNorm: max relative logit error {err:e}");
    assert!(
        err < 0.05,
        "fixed-point softmax and LayerNorm moved logits by {err:e} relative"
    );
}
