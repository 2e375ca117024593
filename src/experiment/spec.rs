//! The experiment spec: one TOML file that says what to run.
//!
//! ```toml
//! models = ["../shared/models/minilm-sst2"]  # checkpoint directories (Hugging Face layout)
//! tasks = ["sst2"]                           # GLUE short names
//! paired = false                             # true: models[i] runs tasks[i] only
//! data_dir = "../shared/glue"                # holds one folder per task (SST-2/, CoLA/, ...)
//! split = "dev"                              # default "dev"
//! base = "isaac-32nm"                        # hardware preset name, or a hardware .toml path
//! seeds = 3                                  # chip instances per point: a count (0..n) or a list
//! limit = 200                                # optional: first N examples of each task
//! output = "results/adc.csv"                 # optional: default for `--out`
//!
//! [grid]
//! "adc.bits" = [4, 5, 6, 7, 8]
//!
//! [scope]                                    # optional, see `scope`
//! keys = ["adc.bits"]
//! targets = ["all", "*.value"]
//! ```
//!
//! Relative paths are taken from the directory the command runs in. Loading checks only
//! the spec itself; [`crate::experiment::SweepPlan::new`] checks the grid against the
//! resolved base hardware, so that every error is raised before any work starts.
use super::scope::ScopeTarget;
use crate::error::ConfigError;
use anyhow::Context;
use serde::Deserialize;
use std::path::Path;

/// GLUE tasks by their short names (as in the GLUE benchmark's own task list).
pub const GLUE_TASKS: [&str; 9] = [
    "cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli",
];

/// Data splits a GLUE task folder may hold (`<split>.tsv`).
pub const SPLITS: [&str; 4] = ["train", "dev", "dev_matched", "dev_mismatched"];

/// A parsed experiment spec (see the module docs for the file format).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Checkpoint directories; every model runs every task (unless `paired`).
    pub models: Vec<String>,
    /// GLUE short names, see [`GLUE_TASKS`].
    pub tasks: Vec<String>,
    /// `true`: `models[i]` runs `tasks[i]` only (fine-tuned checkpoints, one per task); the
    /// two lists then have the same length. Default `false`: every model runs every task.
    #[serde(default)]
    pub paired: bool,
    /// Folder holding the GLUE task folders.
    pub data_dir: String,
    /// Which split to evaluate; default `dev`.
    #[serde(default = "default_split")]
    pub split: String,
    /// Hardware preset name, or a path to a hardware TOML file.
    pub base: String,
    /// Swept hardware keys (see [`crate::experiment::grid`]); empty means the base only.
    #[serde(default)]
    pub grid: toml::Table,
    /// Optional fault-injection scope (see [`crate::experiment::scope`]).
    #[serde(default)]
    pub scope: Option<ScopeSpec>,
    /// Chip instances per point.
    pub seeds: Seeds,
    /// Evaluate only the first `limit` examples of each task; default: all.
    #[serde(default)]
    pub limit: Option<u64>,
    /// Default output CSV when `--out` is not given.
    #[serde(default)]
    pub output: Option<String>,
}

fn default_split() -> String {
    "dev".to_string()
}

/// The `[scope]` table: which grid keys are restricted, and the targets to step through.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSpec {
    pub keys: Vec<String>,
    pub targets: Vec<String>,
}

/// `seeds = 5` (seeds 0..5) or `seeds = [1, 7, 42]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "a seed count (e.g. 5) or a list of non-negative integer seeds (e.g. [1, 7, 42])"
)]
pub enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

impl SweepSpec {
    /// Reads and checks a spec file; errors name the file and the key.
    pub fn from_path(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read spec {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("invalid spec {}", path.display()))
    }

    /// Parses and checks spec text (everything that does not need the base hardware).
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let spec: SweepSpec = toml::from_str(text)?;
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.models.is_empty() {
            return Err(ConfigError::new("models", "at least one model", "[]"));
        }
        if self.tasks.is_empty() {
            return Err(ConfigError::new("tasks", "at least one GLUE task", "[]"));
        }
        for (i, task) in self.tasks.iter().enumerate() {
            if !GLUE_TASKS.contains(&task.as_str()) {
                return Err(ConfigError::new(
                    format!("tasks[{i}]"),
                    format!("a GLUE task, one of {}", GLUE_TASKS.join(", ")),
                    format!("{task:?}"),
                ));
            }
        }
        if !SPLITS.contains(&self.split.as_str()) {
            return Err(ConfigError::new(
                "split",
                format!("one of {}", SPLITS.join(", ")),
                format!("{:?}", self.split),
            ));
        }
        if self.limit == Some(0) {
            return Err(ConfigError::new("limit", "at least 1 example", 0));
        }
        self.seed_list()?;
        self.scope_targets()?;
        if !self.paired {
            check_unique("models", &self.models)?;
            return check_unique("tasks", &self.tasks);
        }
        if self.models.len() != self.tasks.len() {
            return Err(ConfigError::new(
                "tasks",
                format!(
                    "one task per model with paired = true ({} models)",
                    self.models.len()
                ),
                format!("{} tasks", self.tasks.len()),
            ));
        }
        let pairs: Vec<String> = self
            .pairs()
            .map(|(m, t)| format!("{} on {}", self.models[m], self.tasks[t]))
            .collect();
        check_unique("models", &pairs)
    }

    /// The (model, task) index pairs the spec runs, in run order.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let tasks = self.tasks.len();
        (0..self.models.len())
            .flat_map(move |m| (0..tasks).map(move |t| (m, t)))
            .filter(|&(m, t)| !self.paired || m == t)
    }

    /// The seeds in run order.
    pub fn seed_list(&self) -> Result<Vec<u64>, ConfigError> {
        let seeds: Vec<u64> = match &self.seeds {
            Seeds::Count(0) => return Err(ConfigError::new("seeds", "a count >= 1", 0)),
            Seeds::Count(n) => (0..*n).collect(),
            Seeds::List(list) if list.is_empty() => {
                return Err(ConfigError::new("seeds", "a non-empty list", "[]"))
            }
            Seeds::List(list) => list.clone(),
        };
        let texts: Vec<String> = seeds.iter().map(u64::to_string).collect();
        check_unique("seeds", &texts)?;
        Ok(seeds)
    }

    /// The scope targets in sweep order (`[all]` without a `[scope]` table).
    pub fn scope_targets(&self) -> Result<Vec<ScopeTarget>, ConfigError> {
        let Some(scope) = &self.scope else {
            return Ok(vec![ScopeTarget::All]);
        };
        if scope.targets.is_empty() {
            return Err(ConfigError::new("scope.targets", "a non-empty list", "[]"));
        }
        let targets = scope
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| ScopeTarget::parse(t, &format!("scope.targets[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let texts: Vec<String> = targets.iter().map(ToString::to_string).collect();
        check_unique("scope.targets", &texts)?;
        Ok(targets)
    }

    /// The grid keys restricted by the scope (empty without a `[scope]` table).
    pub fn scope_keys(&self) -> &[String] {
        self.scope.as_ref().map_or(&[], |s| &s.keys)
    }
}

fn check_unique(key: &str, items: &[String]) -> Result<(), ConfigError> {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(ConfigError::new(
                format!("{key}[{i}]"),
                "each entry once",
                format!("{item:?} repeated"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        models = ["m"]
        tasks = ["sst2"]
        data_dir = "glue"
        base = "hw.toml"
        seeds = 2
    "#;

    fn config_error(text: &str) -> ConfigError {
        let err = SweepSpec::from_toml(text).unwrap_err();
        err.downcast::<ConfigError>()
            .unwrap_or_else(|e| panic!("not a ConfigError: {e:#}"))
    }

    #[test]
    fn minimal_spec_has_defaults() {
        let spec = SweepSpec::from_toml(MINIMAL).unwrap();
        assert_eq!(spec.split, "dev");
        assert_eq!(spec.seed_list().unwrap(), [0, 1]);
        assert_eq!(spec.scope_targets().unwrap(), [ScopeTarget::All]);
    }

    #[test]
    fn paired_runs_model_i_on_task_i_only() {
        let two = MINIMAL
            .replace(r#"["m"]"#, r#"["a", "b"]"#)
            .replace(r#"["sst2"]"#, r#"["sst2", "mrpc"]"#);
        let crossed = SweepSpec::from_toml(&two).unwrap();
        assert_eq!(crossed.pairs().count(), 4);
        let paired = SweepSpec::from_toml(&format!("paired = true\n{two}")).unwrap();
        assert_eq!(paired.pairs().collect::<Vec<_>>(), [(0, 0), (1, 1)]);
        let err = config_error(&format!(
            "paired = true\n{}",
            two.replace(r#"["sst2", "mrpc"]"#, r#"["sst2"]"#)
        ));
        assert_eq!((err.key.as_str(), err.found.as_str()), ("tasks", "1 tasks"));
        // Paired, the same task may serve two checkpoints, but a pair may not repeat.
        let same_task = two.replace(r#"["sst2", "mrpc"]"#, r#"["sst2", "sst2"]"#);
        assert!(SweepSpec::from_toml(&format!("paired = true\n{same_task}")).is_ok());
        let repeated = same_task.replace(r#"["a", "b"]"#, r#"["a", "a"]"#);
        assert_eq!(
            config_error(&format!("paired = true\n{repeated}")).key,
            "models[1]"
        );
    }

    #[test]
    fn unknown_task_is_named() {
        let err = config_error(&MINIMAL.replace("\"sst2\"", "\"sst2\", \"sst5\""));
        assert_eq!(err.key, "tasks[1]");
        assert!(err.found.contains("sst5"));
    }

    #[test]
    fn empty_and_repeated_lists_are_rejected() {
        assert_eq!(
            config_error(&MINIMAL.replace("[\"m\"]", "[]")).key,
            "models"
        );
        assert_eq!(
            config_error(&MINIMAL.replace("seeds = 2", "seeds = 0")).key,
            "seeds"
        );
        assert_eq!(
            config_error(&MINIMAL.replace("seeds = 2", "seeds = []")).key,
            "seeds"
        );
        assert_eq!(
            config_error(&MINIMAL.replace("seeds = 2", "seeds = [3, 3]")).key,
            "seeds[1]"
        );
        let scoped = format!("{MINIMAL}\n[scope]\nkeys = []\ntargets = [\"3.mlp\"]");
        assert_eq!(config_error(&scoped).key, "scope.targets[0]");
    }

    #[test]
    fn malformed_seeds_say_what_is_expected() {
        let err =
            SweepSpec::from_toml(&MINIMAL.replace("seeds = 2", "seeds = \"three\"")).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("a seed count") && text.contains("line"),
            "{text}"
        );
    }

    #[test]
    fn unknown_spec_field_is_named() {
        let err = SweepSpec::from_toml(&format!("{MINIMAL}\nseed = 3")).unwrap_err();
        assert!(format!("{err:#}").contains("seed"), "{err:#}");
    }
}
