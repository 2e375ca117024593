//! `crossbert summarize FILE.csv [--csv | --out summary.csv]`: seed statistics per point
//! and the accuracy–energy Pareto front, as an aligned table or as CSV.
use crate::experiment::results::write_atomically;
use crate::experiment::{summarize, summary_table, ResultsTable};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SummarizeArgs {
    /// Results CSV written by `crossbert sweep` or `crossbert merge`.
    pub file: PathBuf,
    /// Write the full summary CSV (every column, full precision) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the full summary CSV on standard output instead of the table.
    #[arg(long, conflicts_with = "out")]
    pub csv: bool,
}

pub fn run(args: SummarizeArgs) -> anyhow::Result<()> {
    let table = ResultsTable::read(&args.file)?;
    let (header, rows) = summarize(&table)?;
    if let Some(out) = &args.out {
        return write_atomically(out, &header, &rows);
    }
    let mut stdout = std::io::stdout().lock();
    if !args.csv {
        return stdout
            .write_all(summary_table(&header, &rows).as_bytes())
            .context("writing the summary to standard output");
    }
    let mut writer = csv::Writer::from_writer(stdout);
    writer.write_record(&header)?;
    for row in &rows {
        writer.write_record(row)?;
    }
    writer
        .flush()
        .context("writing the summary to standard output")
}
