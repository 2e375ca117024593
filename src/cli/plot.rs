//! `crossbert plot FILE.csv --x FIELD --y FIELD [--group FIELD] [--spec SPEC] [--title TEXT]
//! --out FIG.png|svg`.
use crate::experiment::plot::{plot, PlotRequest};
use crate::experiment::{ResultsTable, SweepSpec};
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
    /// The spec the results came from: the title then names its study (file stem) and
    /// base hardware.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// The figure's whole title, replacing the generated one (study, models, task, split,
    /// hardware, chips per point).
    #[arg(long)]
    pub title: Option<String>,
    /// Figure file; `.png` (print resolution) or `.svg`.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let table = ResultsTable::read(&args.file)?;
    let (study, preset) = match &args.spec {
        Some(path) => {
            let spec = SweepSpec::from_path(path)?;
            let stem =
                |p: &std::path::Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
            let base = std::path::Path::new(&spec.base);
            let preset = if spec.base.ends_with(".toml") {
                stem(base)
            } else {
                Some(spec.base.clone())
            };
            (stem(path), preset)
        }
        None => (None, None),
    };
    plot(
        &table,
        &PlotRequest {
            x: args.x,
            y: args.y,
            group: args.group,
            out: args.out.clone(),
            study,
            preset,
            title: args.title,
        },
    )?;
    eprintln!("plot: wrote {}", args.out.display());
    Ok(())
}
