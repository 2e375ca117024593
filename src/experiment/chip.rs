//! The sweep's evaluator: BERT on the emulated chip ([`crate::backend`]), one job a chip
//! instance.
//!
//! A fault-injection or mixed-precision job (a [`Scope`] with keys) keeps the base
//! hardware's values of the scoped keys everywhere and applies the point's values only to
//! the linears of the scope's target, as a `[[layers.overrides]]` entry of the hardware
//! description. Device and mapping settings (`device.…`, `mapping.…`) can be scoped, since
//! they are the sections a layer override sets.

use super::evaluator::{Baseline, Evaluation, Evaluator, Job, TaskData};
use super::scope::{Scope, ScopeTarget};
use super::SweepPlan;
use crate::backend::GlueRun;
use crate::energy::{AreaBreakdown, EnergyBreakdown};
use crate::glue::{evaluate::DEFAULT_BATCH_SIZE, reader::split_path, Split, Task};
use crate::hardware::{HardwareConfig, OVERRIDABLE_SECTIONS};
use crate::tokenize::DEFAULT_MAX_LEN;
use anyhow::{bail, Context};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Runs each job as one chip instance of the BERT backend.
pub struct ChipEvaluator {
    /// The sweep's base hardware (scoped keys keep these values outside their target).
    base: toml::Table,
    /// Each (model, task) opened once per sweep run: its checkpoint, examples and
    /// tokenized calibration set serve every job on it.
    runs: Mutex<HashMap<(String, String), Arc<GlueRun>>>,
}

impl ChipEvaluator {
    pub fn new(base: toml::Table) -> Self {
        Self {
            base,
            runs: Mutex::new(HashMap::new()),
        }
    }

    fn run(&self, model: &str, task: &TaskData) -> anyhow::Result<Arc<GlueRun>> {
        let key = (model.to_string(), format!("{task:?}"));
        if let Some(run) = self.runs.lock().expect("not poisoned").get(&key) {
            return Ok(run.clone());
        }
        let name = Task::parse(&task.name).map_err(anyhow::Error::msg)?;
        let split = Split::parse(&task.split).map_err(anyhow::Error::msg)?;
        let limit = task.limit.map(|l| l as usize);
        let run = Arc::new(GlueRun::open(
            Path::new(model),
            &task.data_dir,
            name,
            split,
            limit,
            DEFAULT_MAX_LEN,
            DEFAULT_BATCH_SIZE,
        )?);
        // Two jobs opening the same run at once both succeed; the first one kept is shared.
        let mut runs = self.runs.lock().expect("not poisoned");
        Ok(runs.entry(key).or_insert(run).clone())
    }
}

impl ChipEvaluator {
    /// The validated hardware of a point under its scope.
    fn hardware(&self, point: &toml::Table, scope: &Scope) -> anyhow::Result<HardwareConfig> {
        let table = scoped_hardware(point, &self.base, scope)?;
        Ok(HardwareConfig::from_table(table, "sweep point")?)
    }
}

impl Evaluator for ChipEvaluator {
    fn check_inputs(&self, plan: &SweepPlan) -> anyhow::Result<()> {
        check_paths(plan)
    }

    fn energy_components(&self) -> Vec<String> {
        EnergyBreakdown::default()
            .components()
            .iter()
            .map(|(name, _)| name.to_string())
            .collect()
    }

    fn extra_columns(&self) -> Vec<String> {
        let area = AreaBreakdown::default()
            .components()
            .map(|(c, _)| format!("area_{c}_mm2"));
        [
            "energy_pj_per_token",
            "tokens_per_inference",
            "throughput_inferences_per_s",
            "tops_per_w",
        ]
        .map(String::from)
        .into_iter()
        .chain(area)
        .collect()
    }

    fn digital_baseline(&self, model: &str, task: &TaskData) -> anyhow::Result<Baseline> {
        let result = self.run(model, task)?.digital()?;
        let (metric, value) = result.metrics[0];
        Ok(Baseline {
            metric: metric.name().to_string(),
            value,
        })
    }

    fn check_point(&self, hardware: &toml::Table, scope: &Scope) -> anyhow::Result<()> {
        self.hardware(hardware, scope).map(|_| ())
    }

    fn evaluate(&self, job: &Job<'_>) -> anyhow::Result<Evaluation> {
        let hardware = self.hardware(job.hardware, job.scope)?;
        let run = self.run(job.model, job.task)?;
        let (result, cost) = run.on_chip(&hardware, job.seed)?;
        let (metric, value) = result.metrics[0];
        let mut extra = BTreeMap::new();
        extra.insert(
            "energy_pj_per_token".into(),
            cost.energy_per_token_pj.total_pj().to_string(),
        );
        extra.insert(
            "tokens_per_inference".into(),
            cost.tokens_per_inference.to_string(),
        );
        extra.insert(
            "throughput_inferences_per_s".into(),
            cost.throughput_inferences_per_s.to_string(),
        );
        extra.insert("tops_per_w".into(), cost.tops_per_w.to_string());
        for (component, mm2) in cost.area_mm2.components() {
            extra.insert(format!("area_{component}_mm2"), mm2.to_string());
        }
        Ok(Evaluation {
            metric: metric.name().to_string(),
            value,
            energy_pj_per_inference: cost.energy_pj.total_pj(),
            energy_components_pj: cost
                .energy_pj
                .components()
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            latency_ns: cost.latency_ns,
            area_mm2: cost.area_mm2.total_mm2(),
            arrays: cost.arrays,
            extra,
        })
    }
}

/// The hardware table of a job: `point` (base + the point's overrides) with the scoped keys
/// moved from the whole chip into a layer override for `scope.target` (its `device` and/or
/// `mapping` table, holding only the scoped keys: the override merges them over the
/// point's sections, whose scoped keys are back at the base's values).
pub fn scoped_hardware(
    point: &toml::Table,
    base: &toml::Table,
    scope: &Scope,
) -> anyhow::Result<toml::Table> {
    if scope.keys.is_empty() || scope.target == ScopeTarget::All {
        return Ok(point.clone());
    }
    let mut table = point.clone();
    let mut entry = toml::Table::new();
    entry.insert("target".into(), scope.target.to_string().into());
    for key in &scope.keys {
        let overridable = key
            .split_once('.')
            .is_some_and(|(section, _)| OVERRIDABLE_SECTIONS.contains(&section));
        if !overridable {
            bail!(
                "scope.keys: expected device or mapping settings (`device.…`, `mapping.…`: \
                 what a layer override sets), found {key:?}"
            );
        }
        let value = get(point, key).with_context(|| format!("scope key {key}"))?;
        let base_value = get(base, key).with_context(|| format!("scope key {key}"))?;
        set(&mut table, key, base_value.clone());
        set(&mut entry, key, value.clone());
    }
    let layers = table
        .entry("layers")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .context("hardware `layers` is not a table")?;
    let overrides = layers
        .entry("overrides")
        .or_insert_with(|| toml::Value::Array(Vec::new()))
        .as_array_mut()
        .context("hardware `layers.overrides` is not an array")?;
    overrides.push(entry.into());
    Ok(table)
}

fn get<'a>(table: &'a toml::Table, key: &str) -> anyhow::Result<&'a toml::Value> {
    let mut value = None;
    let mut cursor = table;
    for segment in key.split('.') {
        let v = cursor
            .get(segment)
            .with_context(|| format!("no key `{segment}`"))?;
        value = Some(v);
        if let Some(t) = v.as_table() {
            cursor = t;
        }
    }
    value.context("empty key")
}

fn set(table: &mut toml::Table, key: &str, value: toml::Value) {
    let segments: Vec<&str> = key.split('.').collect();
    let (leaf, parents) = segments.split_last().expect("split yields one segment");
    let mut cursor = table;
    for segment in parents {
        cursor = cursor
            .entry(segment.to_string())
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .expect("hardware tables nest tables");
    }
    cursor.insert(leaf.to_string(), value);
}

/// Every model folder has a `config.json` and every task's split file exists; relative
/// paths are taken from the current folder, which the error names.
fn check_paths(plan: &SweepPlan) -> anyhow::Result<()> {
    let here =
        || std::env::current_dir().map_or("the current folder".into(), |d| d.display().to_string());
    for model in &plan.spec.models {
        let config = Path::new(model).join("config.json");
        if !config.is_file() {
            anyhow::bail!(
                "models: expected a checkpoint folder with config.json, found no {} (relative paths are taken from {})",
                config.display(),
                here()
            );
        }
    }
    for task in &plan.tasks {
        let parsed = Task::parse(&task.name).map_err(anyhow::Error::msg)?;
        let split = Split::parse(&task.split).map_err(anyhow::Error::msg)?;
        let file = split_path(&task.data_dir, parsed, split);
        if !file.is_file() {
            anyhow::bail!(
                "data_dir: expected the {} {} file {}, found none (relative paths are taken from {})",
                task.name,
                task.split,
                file.display(),
                here()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{HardwareConfig, LinearKind, LinearName};

    #[test]
    fn scoped_keys_apply_only_inside_the_target() {
        let base = HardwareConfig::base_table("isaac-32nm").unwrap();
        let mut point = base.clone();
        set(&mut point, "device.stuck_at.rate_g_max", 0.05.into());
        set(&mut point, "mapping.adc.adc_bits", 6.into());
        let scope = Scope {
            target: ScopeTarget::parse("3.ffn_out", "test").unwrap(),
            keys: vec!["device.stuck_at.rate_g_max".into()],
        };
        let table = scoped_hardware(&point, &base, &scope).unwrap();
        let hw = HardwareConfig::from_table(table, "job").unwrap();
        assert_eq!(hw.device.stuck_at.rate_g_max, 0.0);
        assert_eq!(hw.mapping.adc.adc_bits, 6, "unscoped keys stay global");
        let inside = LinearName::encoder(3, LinearKind::Output);
        let outside = LinearName::encoder(2, LinearKind::Output);
        assert_eq!(hw.device_for(&inside).stuck_at.rate_g_max, 0.05);
        assert_eq!(hw.device_for(&outside).stuck_at.rate_g_max, 0.0);

        // what no layer override sets cannot be scoped
        let bad = Scope {
            target: scope.target,
            keys: vec!["chip.schedule".into()],
        };
        let err = scoped_hardware(&point, &base, &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scope.keys") && err.contains("chip.schedule"),
            "{err}"
        );
    }

    #[test]
    fn scoped_mapping_keys_become_a_mapping_override() {
        let base = HardwareConfig::base_table("isaac-32nm").unwrap();
        let mut point = base.clone();
        set(&mut point, "mapping.adc.adc_bits", 5.into());
        set(&mut point, "mapping.input_bits", 6.into());
        set(&mut point, "device.stuck_at.rate_g_max", 0.05.into());
        let scope = Scope {
            target: ScopeTarget::parse("*.ffn_in", "test").unwrap(),
            keys: vec![
                "mapping.adc.adc_bits".into(),
                "device.stuck_at.rate_g_max".into(),
            ],
        };
        let table = scoped_hardware(&point, &base, &scope).unwrap();
        let hw = HardwareConfig::from_table(table, "job").unwrap();
        let inside = LinearName::encoder(4, LinearKind::Intermediate);
        let outside = LinearName::encoder(4, LinearKind::Output);
        assert_eq!(
            hw.mapping.adc.adc_bits, 8,
            "the base value outside the target"
        );
        assert_eq!(hw.mapping_for(&outside).adc.adc_bits, 8);
        assert_eq!(hw.mapping_for(&inside).adc.adc_bits, 5);
        // the unscoped key is the point's everywhere, inside the target too
        assert_eq!(hw.mapping.input_bits, 6);
        assert_eq!(hw.mapping_for(&inside).input_bits, 6);
        // a device key scoped with it lands in the same override
        assert_eq!(hw.layers.overrides.len(), 1);
        assert_eq!(hw.device_for(&inside).stuck_at.rate_g_max, 0.05);
        assert_eq!(hw.device_for(&outside).stuck_at.rate_g_max, 0.0);
    }
}
