//! `crossbert summarize FILE.csv [--out summary.csv]`: seed statistics per point and the
//! accuracy–energy Pareto front.
use crate::experiment::results::write_atomically;
use crate::experiment::{summarize, ResultsTable};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SummarizeArgs {
    /// Results CSV written by `crossbert sweep` or `crossbert merge`.
    pub file: PathBuf,
    /// Summary CSV; default: standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: SummarizeArgs) -> anyhow::Result<()> {
    let table = ResultsTable::read(&args.file)?;
    let (header, rows) = summarize(&table)?;
    match &args.out {
        Some(out) => write_atomically(out, &header, &rows),
        None => {
            let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
            writer.write_record(&header)?;
            for row in &rows {
                writer.write_record(row)?;
            }
            writer
                .flush()
                .context("writing the summary to standard output")
        }
    }
}
