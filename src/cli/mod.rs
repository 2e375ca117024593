//! Command-line interface: one module per subcommand, each with its clap `Args` and `run`.
use clap::{Parser, Subcommand};

pub mod bench;
pub mod chip;
pub mod eval;
pub mod finetune;
pub mod finetune_head;
pub mod hardware;
pub mod map;
mod map_shared;
pub mod merge;
pub mod plot;
pub mod summarize;
pub mod sweep;
pub mod synth;

/// Clap value parser for counts that must be at least 1 (batch sizes, limits, threads, …):
/// a zero would otherwise be accepted and quietly mean something else.
pub(crate) fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("expected a whole number of at least 1, found 0".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("expected a whole number of at least 1 ({e})")),
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "crossbert",
    version,
    about = "BERT on emulated ReRAM crossbar hardware"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the shipped hardware presets.
    Presets(hardware::PresetsArgs),
    /// Print the fully resolved hardware configuration of a file (--show FILE) or preset (--preset NAME).
    Hardware(hardware::HardwareArgs),
    /// A hardware description's whole chip at peak: power, area, throughput, efficiency.
    Chip(chip::ChipPeakArgs),
    /// Evaluate a Hugging Face checkpoint on a GLUE task's split.
    Eval(eval::EvalArgs),
    /// Show how a checkpoint's linear layers map onto a chip and what one inference spends.
    Map(map::MapArgs),
    /// Measure the digital engine's speed and memory on a GLUE split.
    Bench(bench::BenchArgs),
    /// Run an experiment spec (a hardware sweep) into a results CSV.
    Sweep(sweep::SweepArgs),
    /// Join the results files of a sharded sweep, checking nothing is missing or duplicated.
    Merge(merge::MergeArgs),
    /// Mean, std and 95 % interval over seeds per hardware point, and the Pareto front.
    Summarize(summarize::SummarizeArgs),
    /// Draw a figure (PNG or SVG) from a results CSV.
    Plot(plot::PlotArgs),
    /// Write a BERT checkpoint with random weights (any size) in the Hugging Face layout.
    SynthCheckpoint(synth::SynthArgs),
    /// Fine-tune every weight of a checkpoint on a GLUE task; write a Hugging Face checkpoint.
    Finetune(finetune::FinetuneArgs),
    /// Train a linear task head on a frozen encoder's pooled features; write a checkpoint.
    FinetuneHead(finetune_head::FinetuneHeadArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Presets(args) => hardware::run_presets(args),
        Command::Hardware(args) => hardware::run_hardware(args),
        Command::Chip(args) => chip::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Map(args) => map::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Summarize(args) => summarize::run(args),
        Command::Plot(args) => plot::run(args),
        Command::SynthCheckpoint(args) => synth::run(args),
        Command::Finetune(args) => finetune::run(args),
        Command::FinetuneHead(args) => finetune_head::run(args),
    }
}
