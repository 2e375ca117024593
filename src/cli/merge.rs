//! `crossbert merge A.csv B.csv … --out all.csv [--spec SPEC.toml]`: join shard files.
use crate::experiment::merge_results;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard results files, in any order.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Merged results file (written only if every check passes).
    #[arg(long)]
    pub out: PathBuf,
    /// The sweep's spec: check that every row of it is present exactly once and write the
    /// rows in the spec's order.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// The `--model` overrides the sweep ran with (see `crossbert sweep --model`).
    #[arg(long = "model", value_name = "DIR")]
    pub models: Vec<PathBuf>,
    /// The `--data` override the sweep ran with.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let plan = args
        .spec
        .as_deref()
        .map(|spec| super::sweep::load_plan(spec, &args.models, args.data.as_deref()))
        .transpose()?;
    let report = merge_results(&args.inputs, &args.out, plan.as_ref())?;
    eprintln!(
        "merge: {} rows from {} files into {}{}",
        report.rows,
        report.files,
        args.out.display(),
        if plan.is_some() {
            ", every row of the spec exactly once"
        } else {
            " (no --spec: completeness not checked)"
        }
    );
    Ok(())
}
