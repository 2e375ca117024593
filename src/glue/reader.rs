//! Reading GLUE's TSV files the way GLUE does: split on tabs, no quote handling (several
//! files contain unbalanced `"`), a UTF-8 byte-order mark tolerated at the start (MRPC has
//! one), a missing final newline tolerated (CoLA's dev file has none).
//!
//! Gold labels are mapped to the checkpoint's class indices through its `id2label`, so a
//! checkpoint that names its classes "entailment"/"not_entailment" and one that names them
//! "0"/"1" both score correctly. Every malformed row is an error naming file and line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::tasks::{Layout, Split, Task};
use crate::model::{ModelConfig, ProblemType};

/// A GLUE file that cannot be read as the task's format.
#[derive(Debug, thiserror::Error)]
pub enum GlueError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Row {
        path: String,
        line: usize,
        message: String,
    },
    #[error("task {task}: {message}")]
    Checkpoint { task: Task, message: String },
}

/// The gold answer of one example, in the checkpoint's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gold {
    /// Class index into the checkpoint's logits.
    Class(usize),
    /// Real-valued score (STS-B).
    Score(f32),
}

impl Gold {
    /// The class, for a classification label.
    pub fn class(self) -> Option<usize> {
        match self {
            Gold::Class(c) => Some(c),
            Gold::Score(_) => None,
        }
    }

    /// The score, for a regression label.
    pub fn score(self) -> Option<f32> {
        match self {
            Gold::Score(s) => Some(s),
            Gold::Class(_) => None,
        }
    }
}

/// One labelled example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Position among the file's examples, from 0 (the `index` column of outputs).
    pub index: usize,
    /// 1-based line number in the file.
    pub line: usize,
    pub text_a: String,
    pub text_b: Option<String>,
    pub gold: Gold,
}

/// How the label strings of a task's file become class indices of a checkpoint.
#[derive(Debug, Clone)]
pub enum LabelMap {
    Classes(HashMap<String, usize>),
    Regression,
}

impl LabelMap {
    /// The task's labels in GLUE's standard order (`Task::label_names`), or a score.
    pub fn standard(task: Task) -> Self {
        if task.is_regression() {
            return LabelMap::Regression;
        }
        let names = task.label_names().iter().enumerate();
        LabelMap::Classes(names.map(|(i, s)| (s.to_string(), i)).collect())
    }

    /// The checkpoint's `id2label` inverted. A checkpoint that only carries Hugging Face's
    /// placeholder names (`LABEL_0`, …) is taken to use GLUE's standard label order.
    pub fn for_checkpoint(task: Task, config: &ModelConfig) -> Result<Self, GlueError> {
        let n = config.num_labels();
        let problem = config.problem_type();
        let err = |message: String| GlueError::Checkpoint { task, message };
        if task.is_regression() {
            return match problem {
                ProblemType::Regression => Ok(LabelMap::Regression),
                _ => Err(err(format!(
                    "expected a regression checkpoint (num_labels 1), found {n} labels"
                ))),
            };
        }
        if problem == ProblemType::Regression {
            return Err(err(
                "expected a classification checkpoint, found a regression one".into(),
            ));
        }
        let names: Vec<String> = (0..n).map(|i| config.label_name(i)).collect();
        let placeholders = names
            .iter()
            .enumerate()
            .all(|(i, s)| *s == format!("LABEL_{i}"));
        let names: Vec<String> = if placeholders {
            let standard = task.label_names();
            if standard.len() != n {
                return Err(err(format!(
                    "expected {} labels ({}), the checkpoint has {n}",
                    standard.len(),
                    standard.join(", ")
                )));
            }
            standard.iter().map(|s| s.to_string()).collect()
        } else {
            names
        };
        Ok(LabelMap::Classes(
            names.into_iter().enumerate().map(|(i, s)| (s, i)).collect(),
        ))
    }

    fn map(&self, raw: &str) -> Result<Gold, String> {
        match self {
            LabelMap::Regression => match raw.trim().parse::<f32>() {
                Ok(v) if v.is_finite() => Ok(Gold::Score(v)),
                _ => Err(format!("label `{raw}`: expected a real-valued score")),
            },
            LabelMap::Classes(map) => {
                map.get(raw.trim()).map(|&i| Gold::Class(i)).ok_or_else(|| {
                    let mut known: Vec<&String> = map.keys().collect();
                    known.sort();
                    format!("label `{raw}`: expected one of {known:?} (the checkpoint's id2label)")
                })
            }
        }
    }
}

/// Path of a task's split inside a GLUE data directory.
pub fn split_path(data_dir: &Path, task: Task, split: Split) -> PathBuf {
    data_dir.join(task.folder()).join(task.file_name(split))
}

/// Reads every example of `data_dir/<task folder>/<split file>`.
pub fn read_split(
    data_dir: &Path,
    task: Task,
    split: Split,
    labels: &LabelMap,
) -> Result<Vec<Example>, GlueError> {
    let path = split_path(data_dir, task, split);
    let text = std::fs::read_to_string(&path).map_err(|source| GlueError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_tsv(
        &text,
        &path.display().to_string(),
        task.layout(split),
        labels,
    )
}

/// Parses TSV text of the given layout; `origin` names the file in errors.
pub fn parse_tsv(
    text: &str,
    origin: &str,
    layout: Layout,
    labels: &LabelMap,
) -> Result<Vec<Example>, GlueError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let body = text.strip_suffix('\n').unwrap_or(text);
    let row_error = |line: usize, message: String| GlueError::Row {
        path: origin.to_string(),
        line,
        message,
    };
    if body.trim().is_empty() {
        return Err(row_error(
            1,
            "file is empty: expected tab-separated rows of examples".into(),
        ));
    }
    let mut examples = Vec::new();
    for (i, raw_line) in body.split('\n').enumerate() {
        let line = i + 1;
        let fields: Vec<&str> = raw_line
            .strip_suffix('\r')
            .unwrap_or(raw_line)
            .split('\t')
            .collect();
        if fields.len() != layout.columns {
            return Err(row_error(
                line,
                format!(
                    "expected {} tab-separated columns, found {}",
                    layout.columns,
                    fields.len()
                ),
            ));
        }
        if layout.header && line == 1 {
            continue;
        }
        let gold = labels
            .map(fields[layout.label])
            .map_err(|m| row_error(line, m))?;
        examples.push(Example {
            index: examples.len(),
            line,
            text_a: fields[layout.text_a].to_string(),
            text_b: layout.text_b.map(|c| fields[c].to_string()),
            gold,
        });
    }
    if examples.is_empty() {
        return Err(row_error(
            1,
            "expected at least one example after the header, found none".into(),
        ));
    }
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary() -> LabelMap {
        LabelMap::Classes([("0".to_string(), 0), ("1".to_string(), 1)].into())
    }

    #[test]
    fn mrpc_header_with_bom_and_quotes_kept_verbatim() {
        let text = "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\t\"He said\tShe said \"\n";
        let ex = parse_tsv(
            text,
            "MRPC/dev.tsv",
            Task::Mrpc.layout(Split::Dev),
            &binary(),
        )
        .unwrap();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].text_a, "\"He said");
        assert_eq!(ex[0].text_b.as_deref(), Some("She said \""));
        assert_eq!(ex[0].gold, Gold::Class(1));
        assert_eq!(ex[0].line, 2);
    }

    #[test]
    fn cola_has_no_header_and_may_lack_the_final_newline() {
        let text = "gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\nclc95\t0\t*\tOf whom are you thinking?";
        let ex = parse_tsv(
            text,
            "CoLA/dev.tsv",
            Task::Cola.layout(Split::Dev),
            &binary(),
        )
        .unwrap();
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[1].text_a, "Of whom are you thinking?");
        assert_eq!(ex[1].gold, Gold::Class(0));
        assert_eq!((ex[1].index, ex[1].line), (1, 2));
    }

    #[test]
    fn ragged_row_and_bad_label_name_file_and_line() {
        let layout = Task::Sst2.layout(Split::Dev);
        let err = parse_tsv(
            "sentence\tlabel\ngood .\t1\nbad\n",
            "SST-2/dev.tsv",
            layout,
            &binary(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SST-2/dev.tsv:3: expected 2 tab-separated columns, found 1"
        );
        let err = parse_tsv(
            "sentence\tlabel\nok\t2\n",
            "SST-2/dev.tsv",
            layout,
            &binary(),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("SST-2/dev.tsv:2: label `2`"),
            "{err}"
        );
        let err = parse_tsv("s\n", "x.tsv", layout, &binary()).unwrap_err();
        assert!(err.to_string().starts_with("x.tsv:1: expected 2"), "{err}");
    }

    #[test]
    fn regression_labels_and_named_classes() {
        let layout = Task::Stsb.layout(Split::Dev);
        let header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n";
        let row = "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man.\tA person.\t4.25\n";
        let ex = parse_tsv(
            &format!("{header}{row}"),
            "s",
            layout,
            &LabelMap::Regression,
        )
        .unwrap();
        assert_eq!(ex[0].gold, Gold::Score(4.25));
        let bad = row.replace("4.25", "high");
        assert!(parse_tsv(
            &format!("{header}{bad}"),
            "s",
            layout,
            &LabelMap::Regression
        )
        .is_err());

        let config = ModelConfig::from_json(
            r#"{"id2label": {"0": "not_entailment", "1": "entailment"}}"#,
            "c",
        )
        .unwrap();
        let map = LabelMap::for_checkpoint(Task::Rte, &config).unwrap();
        let text = "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n";
        let ex = parse_tsv(text, "r", Task::Rte.layout(Split::Dev), &map).unwrap();
        assert_eq!(ex[0].gold, Gold::Class(1));
        // Placeholder names fall back to GLUE's order: entailment = 0.
        let config = ModelConfig::from_json("{}", "c").unwrap();
        let map = LabelMap::for_checkpoint(Task::Rte, &config).unwrap();
        let ex = parse_tsv(text, "r", Task::Rte.layout(Split::Dev), &map).unwrap();
        assert_eq!(ex[0].gold, Gold::Class(0));
        assert!(LabelMap::for_checkpoint(Task::Stsb, &config).is_err());
    }
}
