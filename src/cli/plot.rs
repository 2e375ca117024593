//! `crossbert plot FILE.csv --x FIELD --y FIELD [--group FIELD] --out FIG.png|svg`.
use crate::experiment::plot::{plot, PlotRequest};
use crate::experiment::ResultsTable;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Results CSV written by `crossbert sweep` or `crossbert merge`.
    pub file: PathBuf,
    /// Column on the x axis; an `energy_…` column draws the accuracy–energy figure with
    /// its Pareto front.
    #[arg(long)]
    pub x: String,
    /// Column on the y axis (e.g. `value` or `delta`).
    #[arg(long)]
    pub y: String,
    /// One series per value of this column.
    #[arg(long)]
    pub group: Option<String>,
    /// Figure file; `.png` or `.svg`.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let table = ResultsTable::read(&args.file)?;
    plot(
        &table,
        &PlotRequest {
            x: args.x,
            y: args.y,
            group: args.group,
            out: args.out.clone(),
        },
    )?;
    eprintln!("plot: wrote {}", args.out.display());
    Ok(())
}
