//! A validated spec and its work list: one item per (model, task, point, seed).
//!
//! [`SweepPlan::new`] takes the spec and the resolved base hardware table (from a preset or
//! a hardware file; the caller resolves it, so any preset resolver plugs in) and checks the
//! grid and scope against it. After that, nothing about the spec can fail mid-run.
//!
//! The work list is ordered model, task, point, seed (seed fastest). Each item's *key* is
//! its values in the key columns of the results CSV: `model, task, split, limit`, one
//! column per swept key, `scope`, `seed`. Resume, shard and merge compare keys.
use super::evaluator::TaskData;
use super::grid::{self, cell_text, Axis, HardwarePoint};
use super::hash::config_hash;
use super::results;
use super::scope::{Scope, ScopeTarget};
use super::spec::SweepSpec;
use crate::error::ConfigError;

/// A spec checked against its base hardware, with the grid expanded.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    pub spec: SweepSpec,
    pub base: toml::Table,
    pub axes: Vec<Axis>,
    pub points: Vec<HardwarePoint>,
    pub seeds: Vec<u64>,
    pub tasks: Vec<TaskData>,
}

/// One item of the work list; fields index into the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkItem {
    /// Position in the full (unsharded) work list.
    pub position: usize,
    pub model: usize,
    pub task: usize,
    pub point: usize,
    pub seed: u64,
}

impl SweepPlan {
    /// Expands and validates the grid of `spec` against `base`.
    pub fn new(spec: SweepSpec, base: toml::Table) -> Result<Self, ConfigError> {
        let axes = grid::parse_grid(&spec.grid)?;
        grid::validate_axes(&base, &axes)?;
        for axis in &axes {
            if results::RESERVED_COLUMNS.contains(&axis.key.as_str()) {
                return Err(ConfigError::new(
                    format!("grid.{}", axis.key),
                    "a hardware key that is not a reserved results column",
                    &axis.key,
                ));
            }
        }
        for (i, key) in spec.scope_keys().iter().enumerate() {
            if !axes.iter().any(|a| &a.key == key) {
                let swept: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
                return Err(ConfigError::new(
                    format!("scope.keys[{i}]"),
                    format!("one of the swept grid keys ({})", swept.join(", ")),
                    format!("{key:?}"),
                ));
            }
        }
        let points = grid::expand_points(&axes, &spec.scope_targets()?);
        let seeds = spec.seed_list()?;
        let tasks = spec
            .tasks
            .iter()
            .map(|name| TaskData {
                name: name.clone(),
                data_dir: spec.data_dir.clone().into(),
                split: spec.split.clone(),
                limit: spec.limit,
            })
            .collect();
        Ok(SweepPlan {
            spec,
            base,
            axes,
            points,
            seeds,
            tasks,
        })
    }

    /// The full work list in run order.
    pub fn work(&self) -> Vec<WorkItem> {
        let mut items = Vec::new();
        for (model, task) in self.spec.pairs() {
            for point in 0..self.points.len() {
                for &seed in &self.seeds {
                    items.push(WorkItem {
                        position: items.len(),
                        model,
                        task,
                        point,
                        seed,
                    });
                }
            }
        }
        items
    }

    /// Names of the key columns, in order.
    pub fn key_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = results::LEADING_KEY_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .collect();
        columns.extend(self.axes.iter().map(|a| a.key.clone()));
        columns.extend(["scope".to_string(), "seed".to_string()]);
        columns
    }

    /// The item's values in the key columns.
    pub fn key(&self, item: &WorkItem) -> Vec<String> {
        let task = &self.tasks[item.task];
        let point = &self.points[item.point];
        let mut key = vec![
            self.spec.models[item.model].clone(),
            task.name.clone(),
            task.split.clone(),
            task.limit.map_or(String::new(), |l| l.to_string()),
        ];
        key.extend(point.settings.iter().map(|(_, v)| cell_text(v)));
        key.push(point.scope.to_string());
        key.push(item.seed.to_string());
        key
    }

    /// The base hardware with the item's point applied.
    pub fn hardware(&self, item: &WorkItem) -> toml::Table {
        grid::apply_point(&self.base, &self.points[item.point])
            .expect("SweepPlan::new validated every override against the base")
    }

    /// The item's fault-injection scope.
    pub fn scope(&self, item: &WorkItem) -> Scope {
        let target = self.points[item.point].scope.clone();
        let keys = if target == ScopeTarget::All {
            Vec::new()
        } else {
            self.spec.scope_keys().to_vec()
        };
        Scope { target, keys }
    }

    /// The `config_hash` of the item (see [`crate::experiment::hash`]).
    pub fn config_hash(&self, item: &WorkItem, hardware: &toml::Table) -> String {
        let task = &self.tasks[item.task];
        let scope = self.scope(item);
        let mut job = toml::Table::new();
        job.insert("model".into(), self.spec.models[item.model].clone().into());
        job.insert("task".into(), task.name.clone().into());
        job.insert("split".into(), task.split.clone().into());
        if let Some(limit) = task.limit {
            job.insert("limit".into(), (limit as i64).into());
        }
        job.insert("scope".into(), scope.target.to_string().into());
        job.insert(
            "scope_keys".into(),
            toml::Value::Array(scope.keys.iter().map(|k| k.clone().into()).collect()),
        );
        job.insert("seed".into(), (item.seed as i64).into());
        config_hash(hardware, &job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
        models = ["m1", "m2"]
        tasks = ["sst2", "rte"]
        data_dir = "glue"
        base = "hw.toml"
        seeds = [5, 6, 7]
        [grid]
        "adc.bits" = [4, 8]
        [scope]
        keys = ["adc.bits"]
        targets = ["all", "*.value"]
    "#;

    fn base() -> toml::Table {
        "[adc]\nbits = 8\n[device]\nsigma = 0.0".parse().unwrap()
    }

    #[test]
    fn work_list_covers_every_combination_once() {
        let plan = SweepPlan::new(SweepSpec::from_toml(SPEC).unwrap(), base()).unwrap();
        let work = plan.work();
        assert_eq!(work.len(), 2 * 2 * (2 * 2) * 3);
        let mut keys: Vec<Vec<String>> = work.iter().map(|w| plan.key(w)).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), work.len());
        assert_eq!(
            plan.key_columns(),
            ["model", "task", "split", "limit", "adc.bits", "scope", "seed"]
        );
        assert_eq!(
            plan.key(&work[1]),
            ["m1", "sst2", "dev", "", "4", "all", "6"]
        );
    }

    #[test]
    fn scoped_items_carry_the_scope_keys() {
        let plan = SweepPlan::new(SweepSpec::from_toml(SPEC).unwrap(), base()).unwrap();
        let work = plan.work();
        // Targets vary fastest after the grid: point 0 is `all`, point 1 is `*.value`.
        let all = work.iter().find(|w| w.point == 0).unwrap();
        let values = work.iter().find(|w| w.point == 1).unwrap();
        assert_eq!(plan.scope(all), Scope::everywhere());
        let scope = plan.scope(values);
        assert_eq!(scope.target.to_string(), "*.value");
        assert_eq!(scope.keys, ["adc.bits"]);
        assert_eq!(plan.key(values)[5], "*.value");
    }

    #[test]
    fn scope_keys_must_be_swept() {
        let spec =
            SweepSpec::from_toml(&SPEC.replace("keys = [\"adc.bits\"]", "keys = [\"x\"]")).unwrap();
        let err = SweepPlan::new(spec, base()).unwrap_err();
        assert_eq!(err.key, "scope.keys[0]");
    }

    #[test]
    fn hashes_differ_between_items() {
        let plan = SweepPlan::new(SweepSpec::from_toml(SPEC).unwrap(), base()).unwrap();
        let work = plan.work();
        let hashes: std::collections::BTreeSet<String> = work
            .iter()
            .map(|w| plan.config_hash(w, &plan.hardware(w)))
            .collect();
        assert_eq!(hashes.len(), work.len());
    }
}
