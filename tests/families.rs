//! DistilBERT, RoBERTa, ALBERT and ELECTRA against transformers, on the tiny random
//! checkpoints of `tests/fixtures/families` (made by `scripts/reference/families.py`; its
//! README lists what each family does differently):
//! * the checkpoint's own tokenizer gives transformers' ids and token types;
//! * logits match transformers' float64 ones within 1e-4 absolute, each example alone and
//!   all 12 packed in one batch;
//! * every preset runs each family: `ideal` reproduces the digital logits to 1e-4
//!   relative, the others give finite logits and a cost;
//! * ALBERT's shared layer is one set of arrays that every layer uses: its measured events
//!   are those of two uses, as the cost model counts them.

use std::path::{Path, PathBuf};

use crossbert::backend::AnalogModel;
use crossbert::hardware::{HardwareConfig, LinearPattern, PRESETS};
use crossbert::model::{digital_linear, load_classifier, PackedBatch, SequenceClassifier};
use crossbert::tokenize::{BertTokenizer, Encoded};

mod common;

const FIXTURES: [&str; 5] = [
    "distilbert",
    "roberta",
    "roberta-type1",
    "albert",
    "electra",
];

/// Largest absolute logit difference allowed against transformers' float64 logits.
const TOLERANCE: f64 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/families")
        .join(name)
}

/// One reference example: its text, transformers' ids and logits.
struct Example {
    text: Vec<String>,
    encoded: Encoded,
    /// Whether transformers recorded the token types (families with a token-type table).
    has_token_types: bool,
    logits: Vec<f64>,
}

fn reference(name: &str) -> Vec<Example> {
    let path = fixture(name).join("reference.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    json["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let input_ids = ids(&e["input_ids"]);
            let types = e.get("token_type_ids");
            Example {
                text: e["text"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect(),
                encoded: Encoded {
                    token_type_ids: types.map_or(vec![0; input_ids.len()], ids),
                    input_ids,
                },
                has_token_types: types.is_some(),
                logits: e["logits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect(),
            }
        })
        .collect()
}

fn pack(examples: &[Example]) -> PackedBatch {
    let mut batch = PackedBatch::default();
    for e in examples {
        batch.push(&e.encoded.input_ids, &e.encoded.token_type_ids);
    }
    batch
}

fn max_abs_diff(model: &dyn SequenceClassifier, examples: &[Example], batch: &PackedBatch) -> f64 {
    let logits = model.forward(batch).unwrap();
    let mut worst = 0.0f64;
    for (i, e) in examples.iter().enumerate() {
        for (got, want) in logits.row(i).iter().zip(&e.logits) {
            worst = worst.max((f64::from(*got) - want).abs());
        }
    }
    worst
}

#[test]
fn tokenizers_give_the_reference_ids() {
    for name in FIXTURES {
        let tokenizer = BertTokenizer::from_dir(&fixture(name), 32).unwrap();
        for (i, e) in reference(name).iter().enumerate() {
            let text = (e.text[0].as_str(), e.text.get(1).map(String::as_str));
            let got = tokenizer.encode_batch(&[text]).unwrap().remove(0);
            assert_eq!(got.input_ids, e.encoded.input_ids, "{name} example {i}");
            if e.has_token_types {
                assert_eq!(
                    got.token_type_ids, e.encoded.token_type_ids,
                    "{name} example {i}"
                );
            }
        }
    }
}

#[test]
fn logits_match_transformers_alone_and_packed() {
    for name in FIXTURES {
        let (config, model) = load_classifier(&fixture(name), &digital_linear).unwrap();
        assert_eq!(
            config.model_type.model_type(),
            name.trim_end_matches("-type1")
        );
        let examples = reference(name);
        let alone = examples
            .iter()
            .map(|e| {
                max_abs_diff(
                    &model,
                    std::slice::from_ref(e),
                    &pack(std::slice::from_ref(e)),
                )
            })
            .fold(0.0f64, f64::max);
        let packed = max_abs_diff(&model, &examples, &pack(&examples));
        println!("{name}: max |logit − transformers| alone {alone:.2e}, packed {packed:.2e}");
        assert!(
            alone <= TOLERANCE,
            "{name}: alone {alone:e} > {TOLERANCE:e}"
        );
        assert!(
            packed <= TOLERANCE,
            "{name}: packed {packed:e} > {TOLERANCE:e}"
        );
    }
}

#[test]
fn every_preset_runs_every_family() {
    for name in FIXTURES {
        let dir = fixture(name);
        let examples = reference(name);
        let batch = pack(&examples);
        let (_, digital) = load_classifier(&dir, &digital_linear).unwrap();
        let expected = digital.forward(&batch).unwrap();
        let calibration: Vec<Encoded> = examples.iter().map(|e| e.encoded.clone()).collect();
        for (preset, _, _) in PRESETS {
            let mut hw = HardwareConfig::preset(preset).unwrap();
            hw.layers.analog = vec![LinearPattern::try_from("all".to_string()).unwrap()];
            let chip = AnalogModel::load(&dir, &hw, 3).unwrap();
            chip.calibrate(&calibration).unwrap();
            let logits = chip.model.forward(&batch).unwrap();
            chip.check().unwrap();
            assert!(
                logits.as_slice().iter().all(|v| v.is_finite()),
                "{name} on {preset}: non-finite logits"
            );
            let cost = chip.cost(&batch.lengths).unwrap();
            assert!(cost.energy_pj.total_pj() > 0.0, "{name} on {preset}");
            if *preset == "ideal" {
                let err = common::max_relative_error(&logits, &expected);
                assert!(err <= 1e-4, "{name} ideal: relative error {err:e} > 1e-4");
            }
        }
    }
}

#[test]
fn albert_programs_its_shared_layer_once_and_uses_it_in_every_layer() {
    let dir = fixture("albert");
    let mut hw = HardwareConfig::preset("isaac-32nm").unwrap();
    hw.layers.analog = vec![LinearPattern::try_from("all".to_string()).unwrap()];
    let chip = AnalogModel::load(&dir, &hw, 1).unwrap();
    // one group: the six encoder matrices once, plus projection, pooler and classifier
    assert_eq!(chip.config.num_hidden_layers, 2);
    assert_eq!(chip.layers().len(), 9);
    let examples = reference("albert");
    let calibration: Vec<Encoded> = examples.iter().map(|e| e.encoded.clone()).collect();
    chip.calibrate(&calibration).unwrap();
    let batch = pack(&examples);
    chip.model.forward(&batch).unwrap();
    let tokens = batch.num_tokens();
    for layer in chip.layers() {
        let info = layer.info().clone();
        let per_pass = if info.per_token() {
            tokens
        } else {
            batch.num_sequences()
        };
        let expected_uses = if info.name.layer.is_some() { 2 } else { 1 };
        assert_eq!(info.uses, expected_uses, "{}", info.checkpoint_name);
        let measured = layer.take_measured();
        let closed_form = layer.with_matrix(|m| m.events(per_pass * info.uses));
        assert_eq!(
            measured.tokens as usize,
            per_pass * info.uses,
            "{}",
            layer.name()
        );
        assert_eq!(measured.events, closed_form, "{}", layer.name());
    }
}

#[test]
fn a_layer_pattern_beyond_the_stored_layers_is_an_error() {
    let mut hw = HardwareConfig::preset("isaac-32nm").unwrap();
    // ALBERT's two layers share stored layer 0: `1.query` would select nothing
    hw.layers.analog = vec![LinearPattern::try_from("1.query".to_string()).unwrap()];
    let err = AnalogModel::load(&fixture("albert"), &hw, 1)
        .err()
        .expect("a pattern selecting nothing is an error")
        .to_string();
    assert!(
        err.contains("1.query") && err.contains("stored encoder layers 0 to 0"),
        "{err}"
    );
}
