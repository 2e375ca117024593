//! The `crossbert` command-line tool. Each subcommand lives in its own module under `cli/`.
use clap::Parser;

fn main() {
    let cli = crossbert::cli::Cli::parse();
    if let Err(err) = crossbert::cli::run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
