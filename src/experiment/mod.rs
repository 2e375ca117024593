//! # Experiment drivers: declarative sweeps to a tidy results CSV
//!
//! A researcher's daily question is "sweep this hardware setting over these tasks and chip
//! instances, and show me accuracy against energy". This module is the machinery behind
//! `crossbert sweep`, `merge`, `summarize` and `plot`:
//!
//! 1. [`spec`]: the experiment spec (TOML) names models, GLUE tasks, a base hardware
//!    configuration, a `[grid]` of dotted hardware keys to sweep, an optional fault-injection
//!    [`scope`], and the seeds (chip instances) per point.
//! 2. [`grid`]: the grid expands to hardware points; each point is the base hardware table
//!    with dotted overrides applied. Every override is checked against the base table
//!    (key exists, type matches) before any work starts.
//! 3. [`plan`]: the work list, one item per (model, task, point, seed), in a fixed order;
//!    [`shard`] cuts a deterministic slice of it for one machine of a job array.
//! 4. [`evaluator`]: the small trait the BERT backend implements: run one item, return the
//!    metric, energy, latency and area. Digital baselines are computed once per
//!    (model, task) by the [`runner`] and cached.
//! 5. [`results`]: the tidy CSV (one row per item), appended, flushed and fsync'd row by
//!    row, so that a killed run resumes with nothing lost and nothing duplicated.
//! 6. [`merge`] joins shard files; [`summarize`](mod@summarize) groups seeds per point (mean, std, 95 %
//!    Student-t interval) and marks the accuracy–energy Pareto front; [`plot`] draws it.
//!
//! The library never prints results to stdout; progress goes to stderr ([`progress`]).

pub mod chip;
pub mod evaluator;
pub mod grid;
pub mod hash;
pub mod merge;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod results;
pub mod runner;
pub mod scope;
pub mod shard;
pub mod spec;
pub mod summarize;
pub mod summary_table;

pub use evaluator::{Baseline, Evaluation, Evaluator, Job, TaskData};
pub use grid::{Axis, HardwarePoint};
pub use merge::{merge_results, MergeReport};
pub use plan::{SweepPlan, WorkItem};
pub use results::ResultsTable;
pub use runner::{check_points, run_sweep, SweepOptions, SweepOutcome};
pub use scope::{Scope, ScopeTarget};
pub use shard::Shard;
pub use spec::{Seeds, SweepSpec};
pub use summarize::summarize;
pub use summary_table::summary_table;
