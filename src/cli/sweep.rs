//! `crossbert sweep SPEC.toml`: run (or resume, or one shard of) an experiment spec.
use crate::experiment::chip::ChipEvaluator;
use crate::experiment::grid::cell_text;
use crate::experiment::{
    check_points, run_sweep, Evaluator, Shard, SweepOptions, SweepOutcome, SweepPlan, SweepSpec,
};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Experiment spec (TOML); see `crossbert::experiment::spec` for the format.
    pub spec: PathBuf,
    /// Results CSV; default: the spec's `output`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an existing results file: skip finished rows, repair a torn last line.
    #[arg(long)]
    pub resume: bool,
    /// Run only shard I of N (0-based), e.g. `--shard 2/8`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Rows evaluated in parallel.
    #[arg(long, value_parser = super::at_least_one, default_value_t = 1)]
    pub threads: usize,
    /// Run on these checkpoints instead of the spec's `models` (repeat for several), e.g.
    /// the one `scripts/main.sh` fine-tunes, so a spec written for `../shared` runs on a
    /// fresh clone.
    #[arg(long = "model", value_name = "DIR")]
    pub models: Vec<PathBuf>,
    /// Read the GLUE task folders from here instead of the spec's `data_dir`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Check the spec, print the grid and the number of rows, then check that its models
    /// and data files exist; run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    run_with(args, evaluator)
}

/// Runs a sweep with the evaluator that `make_evaluator` builds for the validated plan
/// (the spec is fully checked first, so a bad spec fails before any model is loaded).
pub fn run_with(
    args: SweepArgs,
    make_evaluator: impl FnOnce(&SweepPlan) -> anyhow::Result<Box<dyn Evaluator>>,
) -> anyhow::Result<()> {
    run_reporting(args, make_evaluator).map(|_| ())
}

/// What a (not dry) sweep run did and where its rows are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepRun {
    pub outcome: SweepOutcome,
    pub out: PathBuf,
    pub shard: Shard,
}

/// As [`run_with`], returning what the run did (`None` for a dry run); used by the Python
/// package's `crossbert.sweep`.
pub fn run_reporting(
    args: SweepArgs,
    make_evaluator: impl FnOnce(&SweepPlan) -> anyhow::Result<Box<dyn Evaluator>>,
) -> anyhow::Result<Option<SweepRun>> {
    let plan = load_plan(&args.spec, &args.models, args.data.as_deref())?;
    let shard = args.shard.unwrap_or(Shard::ALL);
    let evaluator = make_evaluator(&plan)?;
    if args.dry_run {
        check_points(&plan, evaluator.as_ref(), &plan.work())?;
        print_plan(&plan, shard);
        return evaluator.check_inputs(&plan).map(|()| None);
    }
    let out = match (&args.out, &plan.spec.output) {
        (Some(out), _) => out.clone(),
        (None, Some(output)) => PathBuf::from(output),
        (None, None) => anyhow::bail!(
            "{}: no output file: pass --out FILE.csv or set `output` in the spec",
            args.spec.display()
        ),
    };
    let options = SweepOptions {
        out,
        resume: args.resume,
        shard,
        threads: args.threads,
    };
    let outcome = run_sweep(&plan, evaluator.as_ref(), &options)?;
    eprintln!(
        "sweep: {} rows in shard {}: {} already done, {} run now; results in {}",
        outcome.planned,
        options.shard,
        outcome.skipped,
        outcome.ran,
        options.out.display()
    );
    Ok(Some(SweepRun {
        outcome,
        out: options.out,
        shard,
    }))
}

/// Prints the grid and the row counts of a validated plan to stdout.
fn print_plan(plan: &SweepPlan, shard: Shard) {
    for axis in &plan.axes {
        let values: Vec<String> = axis.values.iter().map(cell_text).collect();
        println!("{} = [{}]", axis.key, values.join(", "));
    }
    let work = plan.work();
    let runs = if plan.spec.paired {
        format!("{} model/task pairs", plan.spec.pairs().count())
    } else {
        format!(
            "{} models x {} tasks",
            plan.spec.models.len(),
            plan.tasks.len()
        )
    };
    println!(
        "{runs} x {} points x {} seeds = {} rows; shard {shard}: {} rows",
        plan.points.len(),
        plan.seeds.len(),
        work.len(),
        work.iter().filter(|w| shard.contains(w.position)).count()
    );
}

/// Reads a spec and validates it against its resolved base hardware; non-empty `models` and a `data` folder replace the spec's own.
pub fn load_plan(
    spec_path: &Path,
    models: &[PathBuf],
    data: Option<&Path>,
) -> anyhow::Result<SweepPlan> {
    let mut spec = SweepSpec::from_path(spec_path)?;
    if !models.is_empty() {
        spec.models = models.iter().map(|m| m.display().to_string()).collect();
    }
    if let Some(data) = data {
        spec.data_dir = data.display().to_string();
    }
    let base = base_hardware(&spec.base)
        .with_context(|| format!("{}: key `base`", spec_path.display()))?;
    SweepPlan::new(spec, base).with_context(|| format!("invalid spec {}", spec_path.display()))
}

/// The base hardware table named by a spec's `base`: a preset name or a hardware TOML file
/// (resolved over its own preset), before the grid's overrides.
pub fn base_hardware(base: &str) -> anyhow::Result<toml::Table> {
    Ok(crate::hardware::HardwareConfig::base_table(base)?)
}

/// The evaluator that runs BERT on the emulated hardware.
pub fn evaluator(plan: &SweepPlan) -> anyhow::Result<Box<dyn Evaluator>> {
    Ok(Box::new(ChipEvaluator::new(plan.base.clone())))
}
