//! Runs a sweep plan through an evaluator into a results file.
//!
//! Order of work: when resuming, read the finished keys (repairing a torn last line);
//! compute the digital baselines of every (model, task) still needed, once each, so that a
//! wrong model or data path fails before a new results file exists; create the file if
//! new; then evaluate the remaining items of this shard on a pool of `threads` workers,
//! appending each row as it finishes. An evaluation error stops the run after the rows in
//! flight; every row already written stays valid and `--resume` continues from there.
use super::evaluator::{Baseline, Evaluation, Evaluator, Job};
use super::plan::{SweepPlan, WorkItem};
use super::progress::Progress;
use super::results::{self, ResultsWriter};
use super::shard::Shard;
use anyhow::{bail, Context};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Results CSV.
    pub out: PathBuf,
    /// Continue `out` if it exists (skip finished rows); otherwise `out` must not exist.
    pub resume: bool,
    pub shard: Shard,
    /// Worker threads evaluating rows in parallel (>= 1).
    pub threads: usize,
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Rows in this shard.
    pub planned: usize,
    /// Rows found finished in the file and skipped.
    pub skipped: usize,
    /// Rows evaluated and written by this run.
    pub ran: usize,
}

/// Runs (or resumes) the shard `options.shard` of `plan` into `options.out`.
pub fn run_sweep(
    plan: &SweepPlan,
    evaluator: &dyn Evaluator,
    options: &SweepOptions,
) -> anyhow::Result<SweepOutcome> {
    if options.threads == 0 {
        bail!("--threads: expected at least 1, found 0");
    }
    let components = evaluator.energy_components();
    let extras = evaluator.extra_columns();
    let header = results::header(&plan.key_columns(), &components, &extras)?;
    let work: Vec<WorkItem> = plan
        .work()
        .into_iter()
        .filter(|item| options.shard.contains(item.position))
        .collect();

    let resuming = options.resume && options.out.exists();
    if !options.resume && options.out.exists() {
        bail!(
            "{} already exists: pass --resume to continue it, or choose another --out",
            options.out.display()
        );
    }
    let (resumed, finished) = if resuming {
        let (writer, rows) = ResultsWriter::resume(&options.out, &header)?;
        (Some(writer), rows)
    } else {
        (None, Vec::new())
    };
    check_points(plan, evaluator, &work)?;
    evaluator.check_inputs(plan)?;
    let remaining = unfinished(plan, &work, &finished, options)?;
    // Baselines load every model and dataset: a wrong path fails here, before a new
    // results file exists.
    let baselines = baselines(plan, evaluator, &remaining)?;
    let writer = match resumed {
        Some(writer) => writer,
        None => ResultsWriter::create(&options.out, &header)?,
    };

    let state = Mutex::new((writer, Progress::new(work.len(), finished.len())));
    let run_one = |item: &WorkItem| -> anyhow::Result<()> {
        let started = Instant::now();
        let hardware = plan.hardware(item);
        let scope = plan.scope(item);
        let job = Job {
            model: &plan.spec.models[item.model],
            task: &plan.tasks[item.task],
            hardware: &hardware,
            scope: &scope,
            seed: item.seed,
        };
        let key = plan.key(item);
        let label = describe(&plan.key_columns(), &key);
        let evaluation = evaluator
            .evaluate(&job)
            .with_context(|| format!("evaluating {label}"))?;
        let baseline = &baselines[&(item.model, item.task)];
        check_evaluation(&evaluation, baseline, &components, &extras)
            .with_context(|| format!("evaluator result for {label}"))?;
        let mut row = key;
        row.extend(result_fields(&evaluation, baseline, &components, &extras));
        row.push(format!("{:.3}", started.elapsed().as_secs_f64()));
        row.push(env!("CARGO_PKG_VERSION").to_string());
        row.push(plan.config_hash(item, &hardware));
        row.push(options.shard.to_string());
        let mut guard = state.lock().unwrap_or_else(|poison| poison.into_inner());
        guard.0.append(&row)?;
        guard.1.row_done(&format!(
            "{label}: {} {:.4}",
            evaluation.metric, evaluation.value
        ));
        Ok(())
    };
    let result = if options.threads == 1 {
        remaining.iter().try_for_each(run_one)
    } else {
        rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads)
            .build()?
            .install(|| remaining.par_iter().try_for_each(run_one))
    };
    state
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .1
        .finish();
    result?;
    Ok(SweepOutcome {
        planned: work.len(),
        skipped: finished.len(),
        ran: remaining.len(),
    })
}

/// The shard's items not yet in the file; fails on a row that belongs to no item.
fn unfinished(
    plan: &SweepPlan,
    work: &[WorkItem],
    finished: &[results::Row],
    options: &SweepOptions,
) -> anyhow::Result<Vec<WorkItem>> {
    let key_len = plan.key_columns().len();
    let planned: HashSet<Vec<String>> = work.iter().map(|item| plan.key(item)).collect();
    let mut done = HashSet::new();
    for row in finished {
        let key = row.fields[..key_len].to_vec();
        if !planned.contains(&key) {
            bail!(
                "cannot resume into {}: line {} ({}) is not part of this sweep's shard {}; \
                 was the file written by another spec or shard?",
                options.out.display(),
                row.line,
                key.join(", "),
                options.shard
            );
        }
        done.insert(key);
    }
    Ok(work
        .iter()
        .filter(|item| !done.contains(&plan.key(item)))
        .copied()
        .collect())
}

/// Every point of `items` is a valid configuration: a value the grid makes impossible fails
/// here, naming the point, before the results file or any baseline exists.
pub fn check_points(
    plan: &SweepPlan,
    evaluator: &dyn Evaluator,
    items: &[WorkItem],
) -> anyhow::Result<()> {
    let mut checked = std::collections::HashSet::new();
    for item in items.iter().filter(|item| checked.insert(item.point)) {
        let label = describe(&plan.key_columns(), &plan.key(item));
        evaluator
            .check_point(&plan.hardware(item), &plan.scope(item))
            .with_context(|| format!("invalid point {label}"))?;
    }
    Ok(())
}

/// Digital baselines of every (model, task) pair that `items` need, computed once each.
fn baselines(
    plan: &SweepPlan,
    evaluator: &dyn Evaluator,
    items: &[WorkItem],
) -> anyhow::Result<HashMap<(usize, usize), Baseline>> {
    let mut cache = HashMap::new();
    for item in items {
        let pair = (item.model, item.task);
        if cache.contains_key(&pair) {
            continue;
        }
        let model = &plan.spec.models[item.model];
        let task = &plan.tasks[item.task];
        let baseline = evaluator
            .digital_baseline(model, task)
            .with_context(|| format!("digital baseline of {model} on {}", task.name))?;
        cache.insert(pair, baseline);
    }
    Ok(cache)
}

/// Checks that the evaluation reports exactly the declared columns and the baseline's metric.
fn check_evaluation(
    evaluation: &Evaluation,
    baseline: &Baseline,
    components: &[String],
    extras: &[String],
) -> anyhow::Result<()> {
    if evaluation.metric != baseline.metric {
        bail!(
            "metric {:?} differs from the digital baseline's {:?}",
            evaluation.metric,
            baseline.metric
        );
    }
    let reported: Vec<&String> = evaluation.energy_components_pj.keys().collect();
    let mut declared: Vec<&String> = components.iter().collect();
    declared.sort();
    if reported != declared {
        bail!("energy components {reported:?} differ from the declared {declared:?}");
    }
    let reported: Vec<&String> = evaluation.extra.keys().collect();
    let mut declared: Vec<&String> = extras.iter().collect();
    declared.sort();
    if reported != declared {
        bail!("extra columns {reported:?} differ from the declared {declared:?}");
    }
    Ok(())
}

/// Result columns from `metric` to the evaluator extras, in header order.
fn result_fields(
    evaluation: &Evaluation,
    baseline: &Baseline,
    components: &[String],
    extras: &[String],
) -> Vec<String> {
    let mut fields = vec![
        evaluation.metric.clone(),
        evaluation.value.to_string(),
        baseline.value.to_string(),
        (evaluation.value - baseline.value).to_string(),
        evaluation.energy_pj_per_inference.to_string(),
    ];
    fields.extend(
        components
            .iter()
            .map(|c| evaluation.energy_components_pj[c].to_string()),
    );
    fields.extend([
        evaluation.latency_ns.to_string(),
        evaluation.area_mm2.to_string(),
        evaluation.arrays.to_string(),
    ]);
    fields.extend(extras.iter().map(|e| evaluation.extra[e].clone()));
    fields
}

/// `task=sst2 adc.bits=4 scope=all seed=1`: the key columns that tell rows apart.
fn describe(columns: &[String], key: &[String]) -> String {
    columns
        .iter()
        .zip(key)
        .filter(|(c, v)| !v.is_empty() && c.as_str() != "split" && c.as_str() != "model")
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
