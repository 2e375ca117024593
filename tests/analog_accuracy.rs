//! The model must respond to the hardware: `isaac-32nm` on minilm-sst2 (SST-2 dev, all 872
//! rows, chip seeds 0–4) stays within 1.5 accuracy points of digital on average, and with
//! 30 % relative programming variation (σ = 0.3·G, NeuroSim's multiplicative Gaussian) it
//! falls clearly below that bound (by more than 1.5 points more; chip seeds 0–2).
//!
//! Ignored by the everyday `cargo test` (each seed is a full bit-sliced SST-2 dev run);
//! `.ci/run` runs it on its own in release mode, about 16 min on 2 idle cores (measured:
//! 1.5 min per isaac-32nm seed, 2.7 min per seed with varied devices):
//! `cargo test --release --test analog_accuracy -- --ignored --nocapture`.

mod common;

use crossbar::device::ProgrammingVariation;
use crossbert::backend::AnalogModel;
use crossbert::glue::evaluate::tokenize_examples;
use crossbert::glue::{self, LabelMap, Split, Task};
use crossbert::hardware::HardwareConfig;
use crossbert::model::{digital_linear, load_classifier, SequenceClassifier};
use crossbert::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};
use std::path::Path;

/// Mean SST-2 dev accuracy over `seeds` chip instances of `hw`, and the digital accuracy.
fn accuracy(shared: &Path, hw: &HardwareConfig, seeds: std::ops::Range<u64>) -> (f64, f64) {
    let dir = shared.join("models/minilm-sst2");
    let (config, digital) = load_classifier(&dir, &digital_linear).unwrap();
    let tokenizer = BertTokenizer::from_dir(&dir, DEFAULT_MAX_LEN).unwrap();
    let labels = LabelMap::for_checkpoint(Task::Sst2, &config).unwrap();
    let data = shared.join("glue");
    let dev = glue::read_split(&data, Task::Sst2, Split::Dev, &labels).unwrap();
    let mut train = glue::read_split(&data, Task::Sst2, Split::Train, &labels).unwrap();
    train.truncate(hw.calibration.examples);
    let calibration = tokenize_examples(&tokenizer, &train).unwrap();
    let run = |model: &dyn SequenceClassifier| {
        let r = glue::evaluate(
            model,
            config.problem_type(),
            &tokenizer,
            Task::Sst2,
            Split::Dev,
            dev.clone(),
            32,
            None,
        )
        .unwrap();
        r.metrics[0].1
    };
    let digital_acc = run(&digital);
    let n = seeds.end - seeds.start;
    let mean = seeds
        .map(|seed| {
            let chip = AnalogModel::load(&dir, hw, seed).unwrap();
            chip.calibrate(&calibration).unwrap();
            let acc = run(&chip.model);
            chip.check().unwrap();
            println!("seed {seed}: accuracy {acc:.4} (digital {digital_acc:.4})");
            acc
        })
        .sum::<f64>()
        / n as f64;
    (mean, digital_acc)
}

#[test]
#[ignore = "8 full bit-sliced SST-2 dev runs: about 16 min on 2 cores in release mode (run by .ci/run)"]
fn isaac_within_1_5_points_and_30_percent_variation_clearly_below() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let isaac = HardwareConfig::preset("isaac-32nm").unwrap();
    let (mean, digital) = accuracy(&shared, &isaac, 0..5);
    println!("isaac-32nm: mean {mean:.4}, digital {digital:.4}");
    assert!(
        digital - mean <= 0.015,
        "isaac-32nm mean accuracy {mean:.4} is more than 1.5 points below digital {digital:.4}"
    );
    let mut varied = isaac;
    varied.device.programming = ProgrammingVariation::Relative { sigma: 0.3 };
    let (mean30, _) = accuracy(&shared, &varied, 0..3);
    println!("isaac-32nm with 30 % variation: mean {mean30:.4}");
    assert!(
        digital - mean30 > 0.03,
        "30 % variation: mean accuracy {mean30:.4} is not clearly below digital {digital:.4}"
    );
}
