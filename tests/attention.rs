//! The attention products at their configured precision and on write-enabled crossbars.
//!
//! * int8 attention: minilm-sst2 logits (first 16 dev rows, when ../shared exists) stay
//!   within a stated bound of fp32 attention; its attention operation counts and energy
//!   equal the closed form written here;
//! * crossbar attention on ideal hardware reproduces digital attention to 1e-4 relative on
//!   a tiny synthesized BERT whose weights are large enough to make attention peaked;
//! * cell and row writes per inference equal the closed form for the ISAAC geometry;
//! * write noise changes the logits, and 1 and 2 threads give identical logits;
//! * impossible `[attention]` values are errors naming the key.

mod common;

use std::path::Path;

use crossbar::rng::StreamKey;
use crossbert::backend::attention::head_cost;
use crossbert::backend::{AnalogModel, AttentionMeasured};
use crossbert::draws::Draw;
use crossbert::glue::evaluate::{predict_logits, tokenize_examples};
use crossbert::glue::{self, LabelMap, Split, Task};
use crossbert::hardware::{AttentionMode, HardwareConfig};
use crossbert::model::{digital_linear, load_classifier, Matrix, PackedBatch, SequenceClassifier};
use crossbert::periphery::{AttentionPrecision, OpCounts, PeripheryConfig};
use crossbert::synth::{synthesize, tensor_layout, write_safetensors, StoredDtype, SynthOptions};
use crossbert::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};
use rand_distr::{Distribution, Normal};
use safetensors::tensor::{Dtype, TensorView};

const HIDDEN: usize = 16;
const HEADS: usize = 2;
const LAYERS: usize = 2;
const HEAD_SIZE: usize = HIDDEN / HEADS;

/// A tiny BERT (hidden 16, 2 heads, 2 layers) with weights and embeddings drawn from
/// N(0, 0.3²) instead of Hugging Face's N(0, 0.02²): its attention is peaked (scores of a
/// few units), so a wrong score product shows in the logits.
fn tiny_bert() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({"vocab_size": 150, "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "intermediate_size": 32,
        "max_position_embeddings": 160});
    let options = SynthOptions {
        seed: 3,
        dtype: StoredDtype::F32,
        num_labels: 2,
        tokenizer: None,
    };
    synthesize(&config, &options, dir.path()).unwrap();
    let (bert_config, _) = load_classifier(dir.path(), &digital_linear).unwrap();
    let normal = Normal::new(0.0f32, 0.3).unwrap();
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = tensor_layout(&bert_config, 2)
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut rng = StreamKey::new(11, i as u32, 0, Draw::SyntheticWeights.into()).rng();
            let values: Vec<f32> = (0..spec.elements())
                .map(|_| {
                    let z = normal.sample(&mut rng);
                    if spec.name.ends_with("LayerNorm.weight") {
                        1.0 + z
                    } else {
                        z
                    }
                })
                .collect();
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (spec.name, spec.shape, bytes)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap();
            (name.clone(), view)
        })
        .collect();
    write_safetensors(&dir.path().join("model.safetensors"), views).unwrap();
    dir
}

/// Sequences of the given lengths with deterministic token ids, examples `first`, `first`
/// + 1, ….
fn batch(lengths: &[usize], first: u64) -> PackedBatch {
    let mut b = PackedBatch::default();
    for (s, &len) in lengths.iter().enumerate() {
        let ids: Vec<u32> = (0..len)
            .map(|i| ((i * 37 + s * 11 + 5) % 150) as u32)
            .collect();
        b.push_example(first + s as u64, &ids, &vec![0; len]);
    }
    b
}

/// `preset` with attention on crossbars and the given TOML lines added to `[attention]`.
fn crossbar_hardware(preset: &str, attention: &str) -> HardwareConfig {
    let text = format!("preset = \"{preset}\"\n[attention]\nmode = \"crossbar\"\n{attention}");
    HardwareConfig::from_toml_str(&text, "test.toml").unwrap()
}

/// The isaac-32nm mapping with ranges that need no calibration pass (counts only).
fn isaac_uncalibrated(attention: &str) -> HardwareConfig {
    let mut hw = crossbar_hardware("isaac-32nm", attention);
    hw.mapping.input_scale = mapping::InputScale::Dynamic;
    hw.mapping.adc.range = crossbar::AdcRange::FullScale;
    hw
}

#[test]
fn int8_attention_stays_near_fp32_on_minilm_sst2() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("models/minilm-sst2");
    let (config, float) = load_classifier(&dir, &digital_linear).unwrap();
    let (_, mut int8) = load_classifier(&dir, &digital_linear).unwrap();
    int8.set_periphery(&PeripheryConfig {
        attention: AttentionPrecision::Int8,
        ..Default::default()
    });
    let labels = LabelMap::for_checkpoint(Task::Sst2, &config).unwrap();
    let mut dev = glue::read_split(&shared.join("glue"), Task::Sst2, Split::Dev, &labels).unwrap();
    dev.truncate(16);
    let tokenizer = BertTokenizer::from_dir(&dir, DEFAULT_MAX_LEN).unwrap();
    let encoded = tokenize_examples(&tokenizer, &dev).unwrap();
    let expected = predict_logits(&float, &encoded, 8).unwrap();
    let got = predict_logits(&int8, &encoded, 8).unwrap();
    // Bound: per-tensor int8 operands carry a rounding error of up to 1/254 of their
    // largest entry each (probabilities below 1/254 of the row's largest become 0); through
    // 6 layers of two products that compounds to about a percent of the logit scale. The
    // stated bound is 5 % of the largest |logit| of the 16 rows, for every logit (relative
    // to its own row it would be ill-conditioned for rows whose logits are near 0); the
    // predicted class must agree wherever fp32's margin exceeds twice the bound; and the
    // result must differ from fp32 (int8 really ran).
    let scale = expected
        .as_slice()
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = got
        .as_slice()
        .iter()
        .zip(expected.as_slice())
        .fold(0.0f32, |m, (a, f)| m.max((a - f).abs()));
    println!(
        "minilm-sst2 int8 attention: max |Δlogit| {worst:e} = {:e} of the logit scale {scale}",
        worst / scale
    );
    let bound = 0.05 * scale;
    assert!(worst < bound, "int8 attention moved a logit by {worst}");
    assert!(worst > 0.0, "int8 attention gave exactly the fp32 logits");
    for r in 0..expected.rows() {
        let (f, i) = (expected.row(r), got.row(r));
        if (f[0] - f[1]).abs() > 2.0 * bound {
            assert_eq!(f[0] > f[1], i[0] > i[1], "row {r}: {i:?} vs fp32 {f:?}");
        }
    }
}

/// Ops of one (m × k)·(k × n) int8 product, written out: each operand enters int8 with a
/// max search (compare per value), one reciprocal (fp32 divide) and a multiply per value;
/// m·n·k int8 multiplies; m·n·(k − 1) int32 adds; one fp32 multiply for the product of the
/// scales and one per output to rescale.
fn int8_product(m: u64, n: u64, k: u64) -> OpCounts {
    OpCounts {
        compare: m * k + k * n,
        fp32_div: 2,
        fp32_mult: m * k + k * n + 1 + m * n,
        int8_mult: m * n * k,
        int32_add: m * n * (k - 1),
        ..Default::default()
    }
}

#[test]
fn int8_attention_counts_and_energy_equal_the_closed_form() {
    let dir = tiny_bert();
    let mut hw = HardwareConfig::preset("ideal").unwrap();
    hw.periphery.attention = AttentionPrecision::Int8;
    let chip = AnalogModel::load(dir.path(), &hw, 1).unwrap();
    let lengths = [5usize, 12, 31];
    let cost = chip.cost(&lengths).unwrap();
    let mut expected = OpCounts::default();
    for &l in &lengths {
        let (l, d) = (l as u64, HEAD_SIZE as u64);
        let per_head = int8_product(l, l, d) + int8_product(l, d, l);
        expected += per_head * (HEADS * LAYERS) as u64;
    }
    assert_eq!(cost.events_total.attention, expected);
    // Horowitz (ISSCC 2014) prices of the isaac-32nm table, pJ.
    let pj = expected.compare as f64 * 0.1
        + expected.fp32_div as f64 * 20.3
        + expected.fp32_mult as f64 * 3.7
        + expected.int8_mult as f64 * 0.2
        + expected.int32_add as f64 * 0.1;
    let got = cost.energy_pj.attention_pj * lengths.len() as f64;
    assert!((got - pj).abs() <= 1e-9 * pj, "{got} vs {pj}");

    // The forward pass runs int8: logits move, but stay close to fp32 attention.
    let float =
        AnalogModel::load(dir.path(), &HardwareConfig::preset("ideal").unwrap(), 1).unwrap();
    let b = batch(&lengths, 0);
    let (a, f) = (
        chip.model.forward(&b).unwrap(),
        float.model.forward(&b).unwrap(),
    );
    let err = common::max_relative_error(&a, &f);
    assert!(err > 0.0 && err < 0.05, "int8 vs fp32 attention: {err}");
}

#[test]
fn ideal_crossbar_attention_reproduces_digital_attention() {
    let dir = tiny_bert();
    let b = batch(&[3, 9, 17, 40], 0);
    let (_, digital) = load_classifier(dir.path(), &digital_linear).unwrap();
    let expected = digital.forward(&b).unwrap();
    let hw = crossbar_hardware("ideal", "");
    assert_eq!(hw.attention.mode, AttentionMode::Crossbar);
    let chip = AnalogModel::load(dir.path(), &hw, 5).unwrap();
    let got = chip.model.forward(&b).unwrap();
    chip.check().unwrap();
    let err = common::max_relative_error(&got, &expected);
    println!("ideal crossbar attention: max relative logit error {err:e}");
    assert!(err < 1e-4, "{err}");
    // The products really went through the arrays.
    let written: u64 = chip
        .crossbar_attention()
        .iter()
        .map(|a| a.take_measured().cell_writes)
        .sum();
    assert!(written > 0);
}

/// Cells and rows one head of one layer writes for a sequence of `l` tokens on isaac-32nm:
/// 8-bit weights on four 2-bit cells, each on a differential pair (8 columns per weight),
/// 128×128 arrays (16 outputs per column tile), head size d = 8.
/// K_h: out = l, in = d: 8·d·l cells; d rows in each of ⌈l/16⌉ column tiles.
/// V_hᵀ: out = d, in = l: 8·d·l cells; one column tile (64 columns), l rows in all.
fn isaac_head_writes(l: u64) -> (u64, u64) {
    let d = HEAD_SIZE as u64;
    (16 * d * l, d * l.div_ceil(16) + l)
}

#[test]
fn write_counts_per_inference_equal_the_closed_form() {
    let dir = tiny_bert();
    let hw = isaac_uncalibrated("");
    let chip = AnalogModel::load(dir.path(), &hw, 2).unwrap();
    let lengths = [5usize, 17, 140];
    let (mut cells, mut rows) = (0, 0);
    for &l in &lengths {
        let (c, r) = isaac_head_writes(l as u64);
        cells += c * (HEADS * LAYERS) as u64;
        rows += r * (HEADS * LAYERS) as u64;
    }
    // measured by the forward pass
    chip.model.forward(&batch(&lengths, 0)).unwrap();
    chip.check().unwrap();
    let measured = chip
        .crossbar_attention()
        .iter()
        .map(|a| a.take_measured())
        .fold(AttentionMeasured::default(), |mut sum, m| {
            sum.events += m.events;
            sum.cell_writes += m.cell_writes;
            sum.row_writes += m.row_writes;
            sum
        });
    assert_eq!((measured.cell_writes, measured.row_writes), (cells, rows));
    // the MVMs' tile events equal the closed form the cost roll-up prices
    let mut closed = crossbar::EventCounts::default();
    for &l in &lengths {
        closed += head_cost(&hw.mapping, l, HEAD_SIZE)
            .unwrap()
            .events
            .scaled((HEADS * LAYERS) as u64);
    }
    assert_eq!(measured.events, closed);
    // and by the cost roll-up
    let cost = chip.cost(&lengths).unwrap();
    let n = lengths.len() as f64;
    let a = cost
        .attention
        .as_ref()
        .expect("crossbar attention is costed");
    assert_eq!(cost.events_total.cell_writes, cells);
    assert_eq!(a.cell_writes_per_inference, cells as f64 / n);
    assert_eq!(a.row_writes_per_inference, rows as f64 / n);
    // 3 pJ per cell write (Yang et al. 2013, isaac-32nm table)
    assert!((cost.energy_pj.write_pj - 3.0 * cells as f64 / n).abs() < 1e-6);
    // one array set rewritten by both layers: 2 writes per cell, 10^12 cycles endurance
    assert_eq!(a.writes_per_cell_per_inference, LAYERS as u64);
    assert_eq!(a.inferences_to_endurance, 1e12 / LAYERS as f64);
    assert_eq!(cost.energy_pj.attention_pj, 0.0, "no digital attention ops");

    let own_sets = isaac_uncalibrated("reuse_across_layers = false\nendurance_cycles = 1e6");
    let chip = AnalogModel::load(dir.path(), &own_sets, 2).unwrap();
    let b = chip.cost(&lengths).unwrap().attention.unwrap();
    assert_eq!(b.writes_per_cell_per_inference, 1);
    assert_eq!(b.inferences_to_endurance, 1e6);
    assert_eq!(b.arrays, a.arrays * LAYERS as u64);
}

fn logits_on(dir: &Path, hw: &HardwareConfig, seed: u64, b: &PackedBatch) -> Matrix {
    let chip = AnalogModel::load(dir, hw, seed).unwrap();
    let logits = chip.model.forward(b).unwrap();
    chip.check().unwrap();
    logits
}

#[test]
fn write_noise_changes_logits_and_threads_do_not() {
    let dir = tiny_bert();
    let b = batch(&[4, 11, 23, 7, 30], 100);
    let quiet = logits_on(dir.path(), &crossbar_hardware("ideal", ""), 9, &b);
    let noisy_hw = crossbar_hardware(
        "ideal",
        "write_noise = { model = \"relative\", sigma = 0.1 }",
    );
    let noisy = logits_on(dir.path(), &noisy_hw, 9, &b);
    // 10 % conductance spread on every written cell: far above the 1e-4 of ideal arrays.
    let err = common::max_relative_error(&noisy, &quiet);
    println!("write noise σ = 0.1: max relative logit change {err:e}");
    assert!(err > 1e-3, "{err}");
    // each inference draws afresh: the same sequences as other examples differ
    let other = logits_on(dir.path(), &noisy_hw, 9, &batch(&[4, 11, 23, 7, 30], 200));
    assert_ne!(noisy.as_slice(), other.as_slice());

    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| logits_on(dir.path(), &noisy_hw, 9, &b))
    };
    assert_eq!(run(1).as_slice(), run(2).as_slice());
    assert_eq!(run(1).as_slice(), noisy.as_slice());
}

#[test]
fn impossible_attention_values_name_the_key() {
    let cases = [
        (
            "[attention]\nmode = \"crossbar\"\nwrite_noise = { model = \"relative\", sigma = -0.1 }",
            "attention.write_noise.sigma",
        ),
        ("[attention]\nendurance_cycles = 0", "attention.endurance_cycles"),
        ("[attention]\nmode = \"optical\"", "attention.mode"),
        ("[attention]\nwrites = 3", "writes"),
        (
            "[periphery]\nattention = \"int8\"\n[attention]\nmode = \"crossbar\"",
            "periphery.attention",
        ),
    ];
    for (text, key) in cases {
        let text = format!("preset = \"isaac-32nm\"\n{text}");
        let err = HardwareConfig::from_toml_str(&text, "bad.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(key) && err.contains("bad.toml"),
            "{key}: {err}"
        );
    }
}
