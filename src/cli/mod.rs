//! Command-line interface: one module per subcommand, each with its clap `Args` and `run`.
use clap::{Parser, Subcommand};

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
pub enum Command {}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {}
}
