//! The interface between the sweep machinery and whatever runs BERT on the hardware.
//!
//! The runner hands an [`Evaluator`] one [`Job`] at a time: a model, a task, the resolved
//! hardware table of one grid point, the point's fault-injection scope and the chip-instance
//! seed. The evaluator returns an [`Evaluation`]: the task metric and the energy, latency and
//! area roll-up. It must be deterministic in its inputs (the same job gives the same numbers,
//! whatever the thread count), which is what makes resumed and sharded sweeps reproducible.
use super::scope::Scope;
use super::SweepPlan;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Which data one task evaluates.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskData {
    /// GLUE short name, e.g. `sst2`.
    pub name: String,
    /// Folder holding the GLUE task folders.
    pub data_dir: PathBuf,
    /// Split name, e.g. `dev`.
    pub split: String,
    /// Only the first `limit` examples, when set.
    pub limit: Option<u64>,
}

/// One unit of work: one chip instance of one hardware point on one task.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub model: &'a str,
    pub task: &'a TaskData,
    /// The base hardware with this point's overrides applied.
    pub hardware: &'a toml::Table,
    pub scope: &'a Scope,
    /// Chip-instance seed: every random draw of this instance derives from it
    /// (through `crossbar::rng::StreamKey`).
    pub seed: u64,
}

/// The digital (float) reference result of a model on a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// Metric name, e.g. `accuracy`, `matthews_corr`, `pearson`.
    pub metric: String,
    pub value: f64,
}

/// What one job measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Same metric name as the task's [`Baseline`].
    pub metric: String,
    pub value: f64,
    /// Total energy of one inference (one example), pJ.
    pub energy_pj_per_inference: f64,
    /// The same energy split by component (keys as declared by
    /// [`Evaluator::energy_components`]), pJ per inference.
    pub energy_components_pj: BTreeMap<String, f64>,
    /// Latency of one inference, ns.
    pub latency_ns: f64,
    /// Chip area, mm².
    pub area_mm2: f64,
    /// Crossbar arrays used by the mapped model.
    pub arrays: u64,
    /// Further columns (as declared by [`Evaluator::extra_columns`]).
    pub extra: BTreeMap<String, String>,
}

/// Runs jobs. Implemented by the BERT backend; tests implement it with synthetic models.
pub trait Evaluator: Sync {
    /// Energy components reported by every evaluation; each becomes a column
    /// `energy_<name>_pj`. Declared up front so the CSV header exists before any row.
    fn energy_components(&self) -> Vec<String>;

    /// Further result columns reported by every evaluation (e.g. `fidelity`).
    fn extra_columns(&self) -> Vec<String> {
        Vec::new()
    }

    /// The digital baseline of `model` on `task`. The runner calls it once per
    /// (model, task) and caches the result.
    fn digital_baseline(&self, model: &str, task: &TaskData) -> anyhow::Result<Baseline>;

    /// Checks that a point (base + overrides, under a scope) is a valid configuration,
    /// without evaluating it. The runner checks every point before any work.
    fn check_point(&self, _hardware: &toml::Table, _scope: &Scope) -> anyhow::Result<()> {
        Ok(())
    }

    /// Checks that the plan's models and data are there, before any work (and last in a
    /// dry run, so that a batch job's submit step catches a path that does not resolve).
    fn check_inputs(&self, _plan: &SweepPlan) -> anyhow::Result<()> {
        Ok(())
    }

    /// Evaluates one job.
    fn evaluate(&self, job: &Job<'_>) -> anyhow::Result<Evaluation>;
}
