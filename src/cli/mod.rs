//! Command-line interface: one module per subcommand, each with its clap `Args` and `run`.
use clap::{Parser, Subcommand};

pub mod bench;
pub mod eval;

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
    /// Evaluate a Hugging Face checkpoint on a GLUE task's split.
    Eval(eval::EvalArgs),
    /// Measure the digital engine's speed and memory on a GLUE split.
    Bench(bench::BenchArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Eval(args) => eval::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
