//! SST-2 dev accuracy of a checkpoint under the chip model that hardware-aware training
//! uses (`src/train/hardware_aware.rs`), so that each of its effects can be compared with
//! what the emulated chip does to the same checkpoint (`crossbert eval --hardware`):
//!
//! ```sh
//! cargo run --release --example training_chip -- MODEL_DIR HARDWARE.toml GLUE_DIR \
//!     "weight_noise = 0; weight_noise_proportional = 0; output_bits = 8"
//! ```
//!
//! The last argument holds `[training]` fields separated by `;` (they replace the file's
//! own `[training]` table). Prints each analog linear's weight and converter noise, then
//! the accuracy under three noise draws (training steps 1000–1002, seed 1), and digitally.
//! As `finetune` does, it calibrates on the first `[calibration] examples` train examples
//! and measures the converters on as many following ones.

use std::path::Path;

use crossbert::glue::evaluate::{predictions, score, tokenize_examples};
use crossbert::glue::{self, LabelMap, Split, Task};
use crossbert::hardware::HardwareConfig;
use crossbert::model::{Checkpoint, ModelConfig};
use crossbert::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};
use crossbert::train::hardware_aware::{ChipStep, HardwareAware};
use crossbert::train::{BertIndex, Params, TrainBert};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, hardware, data, training] = args.as_slice() else {
        anyhow::bail!(
            "usage: training_chip MODEL_DIR HARDWARE.toml GLUE_DIR \"[training] fields; …\""
        );
    };
    let mut table: toml::Table = std::fs::read_to_string(hardware)?.parse()?;
    table.insert(
        "training".into(),
        training.replace(';', "\n").parse::<toml::Table>()?.into(),
    );
    let hw = HardwareConfig::from_toml_str(&toml::to_string(&table)?, hardware)?;

    let dir = Path::new(model);
    let config = ModelConfig::from_file(&dir.join("config.json"))?;
    let (params, _) = Params::load(&Checkpoint::open(dir)?, &config, 2, true, 0)?;
    let index = BertIndex::new(&params, &config);
    let tokenizer = BertTokenizer::from_dir(dir, DEFAULT_MAX_LEN)?;
    let labels = LabelMap::for_checkpoint(Task::Sst2, &config)?;
    let dev = glue::read_split(Path::new(data), Task::Sst2, Split::Dev, &labels)?;
    let mut train = glue::read_split(Path::new(data), Task::Sst2, Split::Train, &labels)?;
    train.truncate(2 * hw.calibration.examples);
    let (dev_encoded, calibration) = (
        tokenize_examples(&tokenizer, &dev)?,
        tokenize_examples(&tokenizer, &train)?,
    );

    let mut chip = HardwareAware::new(&hw, &params, &index, 1)?;
    let n = calibration.len() / 2;
    chip.measure_converters(
        &TrainBert::new(&params, &index, &config),
        &calibration[..n],
        &calibration[n..],
    )?;
    for l in &chip.linears {
        println!(
            "{:<16} weight noise {:.4} + {:.4}·u, converter noise {:.4} + {:.4}·u",
            l.name,
            l.weight_noise,
            l.weight_noise_proportional,
            l.output_noise,
            l.output_noise_proportional
        );
    }
    let accuracy = |step: Option<&ChipStep>| {
        let logits = TrainBert {
            chip: step,
            ..TrainBert::new(&params, &index, &config)
        }
        .logits(&dev_encoded);
        score(
            Task::Sst2,
            &predictions(&logits, config.problem_type()),
            &dev,
        )[0]
        .1
    };
    let draws: Vec<f64> = (1000..1003)
        .map(|step| accuracy(Some(&chip.perturb(&params, step))))
        .collect();
    let mean = draws.iter().sum::<f64>() / draws.len() as f64;
    println!(
        "{training}: accuracy {draws:.4?} (mean {mean:.4}); digital {:.4}",
        accuracy(None)
    );
    Ok(())
}
