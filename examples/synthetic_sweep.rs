//! The `crossbert` command line, with a synthetic evaluator behind `sweep` in place of BERT.
//!
//! A worked example of implementing [`Evaluator`], and a way to try specs, resume, sharding
//! and the Slurm script (`CROSSBERT=target/release/examples/synthetic_sweep`) before any
//! model is at hand. Its numbers are made up: the metric is 0.9 minus a pseudo-random
//! amount taken from the hash of the job's hardware and seed, and the energies are fixed.
//! Never report them. `SYNTHETIC_DELAY_MS` (default 0) makes each row take that long.
//!
//! ```sh
//! cargo run --release --example synthetic_sweep -- sweep SPEC.toml --out results.csv [--resume] [--shard I/N]
//! target/release/examples/synthetic_sweep merge ...   # every other subcommand as in crossbert
//! ```
use clap::Parser;
use crossbert::cli::sweep::run_with;
use crossbert::cli::{Cli, Command};
use crossbert::experiment::hash::fnv1a64;
use crossbert::experiment::{Baseline, Evaluation, Evaluator, Job, TaskData};
use std::collections::BTreeMap;
use std::time::Duration;

struct Synthetic {
    delay: Duration,
}

impl Evaluator for Synthetic {
    fn energy_components(&self) -> Vec<String> {
        vec!["adc".into(), "array".into()]
    }

    fn digital_baseline(&self, _model: &str, _task: &TaskData) -> anyhow::Result<Baseline> {
        Ok(Baseline {
            metric: "accuracy".into(),
            value: 0.9,
        })
    }

    fn evaluate(&self, job: &Job<'_>) -> anyhow::Result<Evaluation> {
        std::thread::sleep(self.delay);
        let text = format!("{}{}", toml::to_string(job.hardware)?, job.seed);
        let loss = (fnv1a64(text.as_bytes()) % 1000) as f64 / 10_000.0;
        let energy = BTreeMap::from([("adc".to_string(), 600.0), ("array".to_string(), 250.0)]);
        Ok(Evaluation {
            metric: "accuracy".into(),
            value: 0.9 - loss,
            energy_pj_per_inference: energy.values().sum(),
            energy_components_pj: energy,
            latency_ns: 1000.0,
            area_mm2: 1.0,
            arrays: 1,
            extra: BTreeMap::new(),
        })
    }
}

fn main() {
    let cli = Cli::parse();
    let delay_ms = std::env::var("SYNTHETIC_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let result = match cli.command {
        Command::Sweep(args) => run_with(args, |_plan| {
            Ok(Box::new(Synthetic {
                delay: Duration::from_millis(delay_ms),
            }))
        }),
        other => crossbert::cli::run(Cli { command: other }),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
