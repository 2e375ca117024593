//! The nine GLUE tasks: where their files are, which columns hold the text and the label,
//! and which metrics GLUE reports for them.
//!
//! Column positions follow the official TSV files written by GLUE's
//! `download_glue_data.py` (0-based; the label is the last column everywhere except CoLA and
//! MRPC). Only the labelled splits (train, dev) are read; GLUE's test files have no labels.

use std::fmt;

/// A GLUE task, named as on the command line (`cola`, `sst2`, …, `mnli-mm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    Cola,
    Sst2,
    Mrpc,
    Stsb,
    Qqp,
    /// MNLI, matched dev set.
    Mnli,
    /// MNLI, mismatched dev set (same training data as `Mnli`).
    MnliMm,
    Qnli,
    Rte,
    Wnli,
}

/// A GLUE metric, named as in the reference `metrics.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Accuracy,
    F1,
    /// Matthews correlation coefficient.
    Mcc,
    Pearson,
    Spearman,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::F1 => "f1",
            Metric::Mcc => "mcc",
            Metric::Pearson => "pearson",
            Metric::Spearman => "spearman",
        }
    }
}

/// Where the fields of one example are in a row of a task's TSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Whether the first line is a header (every task but CoLA).
    pub header: bool,
    /// Number of tab-separated fields of every row.
    pub columns: usize,
    pub text_a: usize,
    pub text_b: Option<usize>,
    pub label: usize,
}

/// The splits that carry labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Dev,
}

impl Split {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "train" => Ok(Split::Train),
            "dev" | "validation" => Ok(Split::Dev),
            "test" => {
                Err("split `test`: GLUE's test files have no labels; expected train or dev".into())
            }
            other => Err(format!("unknown split `{other}`: expected train or dev")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
        }
    }
}

pub const ALL_TASKS: [Task; 10] = [
    Task::Cola,
    Task::Sst2,
    Task::Mrpc,
    Task::Stsb,
    Task::Qqp,
    Task::Mnli,
    Task::MnliMm,
    Task::Qnli,
    Task::Rte,
    Task::Wnli,
];

impl Task {
    /// Parses a task's short lower-case name.
    pub fn parse(name: &str) -> Result<Self, String> {
        ALL_TASKS
            .iter()
            .copied()
            .find(|t| t.name() == name.to_ascii_lowercase())
            .ok_or_else(|| {
                let names: Vec<&str> = ALL_TASKS.iter().map(|t| t.name()).collect();
                format!(
                    "unknown task `{name}`: expected one of {}",
                    names.join(", ")
                )
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Task::Cola => "cola",
            Task::Sst2 => "sst2",
            Task::Mrpc => "mrpc",
            Task::Stsb => "stsb",
            Task::Qqp => "qqp",
            Task::Mnli => "mnli",
            Task::MnliMm => "mnli-mm",
            Task::Qnli => "qnli",
            Task::Rte => "rte",
            Task::Wnli => "wnli",
        }
    }

    /// The folder of the task inside GLUE's data directory.
    pub fn folder(self) -> &'static str {
        match self {
            Task::Cola => "CoLA",
            Task::Sst2 => "SST-2",
            Task::Mrpc => "MRPC",
            Task::Stsb => "STS-B",
            Task::Qqp => "QQP",
            Task::Mnli | Task::MnliMm => "MNLI",
            Task::Qnli => "QNLI",
            Task::Rte => "RTE",
            Task::Wnli => "WNLI",
        }
    }

    /// File name of a split inside the task's folder.
    pub fn file_name(self, split: Split) -> &'static str {
        match (self, split) {
            (_, Split::Train) => "train.tsv",
            (Task::Mnli, Split::Dev) => "dev_matched.tsv",
            (Task::MnliMm, Split::Dev) => "dev_mismatched.tsv",
            (_, Split::Dev) => "dev.tsv",
        }
    }

    /// Column layout of a split's file.
    pub fn layout(self, split: Split) -> Layout {
        let l = |header, columns, text_a, text_b, label| Layout {
            header,
            columns,
            text_a,
            text_b,
            label,
        };
        match self {
            // source, label, original judgement, sentence
            Task::Cola => l(false, 4, 3, None, 1),
            // sentence, label
            Task::Sst2 => l(true, 2, 0, None, 1),
            // Quality, #1 ID, #2 ID, #1 String, #2 String
            Task::Mrpc => l(true, 5, 3, Some(4), 0),
            // index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score
            Task::Stsb => l(true, 10, 7, Some(8), 9),
            // id, qid1, qid2, question1, question2, is_duplicate
            Task::Qqp => l(true, 6, 3, Some(4), 5),
            // index, promptID, pairID, genre, 4 parses, sentence1, sentence2, then one
            // annotator label (train) or five (dev), then gold_label
            Task::Mnli | Task::MnliMm => {
                let columns = if split == Split::Train { 12 } else { 16 };
                l(true, columns, 8, Some(9), columns - 1)
            }
            // index, question/sentence1, sentence/sentence2, label
            Task::Qnli | Task::Rte | Task::Wnli => l(true, 4, 1, Some(2), 3),
        }
    }

    /// Whether the label is a real-valued score (STS-B) rather than a class.
    pub fn is_regression(self) -> bool {
        self == Task::Stsb
    }

    /// GLUE's label names in the order of the standard label lists (used when a checkpoint
    /// carries Hugging Face's placeholder names `LABEL_0`, `LABEL_1`, …).
    pub fn label_names(self) -> &'static [&'static str] {
        match self {
            Task::Cola | Task::Sst2 | Task::Mrpc | Task::Qqp | Task::Wnli => &["0", "1"],
            Task::Mnli | Task::MnliMm => &["entailment", "neutral", "contradiction"],
            Task::Qnli | Task::Rte => &["entailment", "not_entailment"],
            Task::Stsb => &[],
        }
    }

    /// Every metric GLUE reports for the task; the first is the main one.
    pub fn metrics(self) -> &'static [Metric] {
        match self {
            Task::Cola => &[Metric::Mcc, Metric::Accuracy],
            Task::Mrpc | Task::Qqp => &[Metric::F1, Metric::Accuracy],
            Task::Stsb => &[Metric::Pearson, Metric::Spearman],
            _ => &[Metric::Accuracy],
        }
    }

    pub fn main_metric(self) -> Metric {
        self.metrics()[0]
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for t in ALL_TASKS {
            assert_eq!(Task::parse(t.name()).unwrap(), t);
        }
        assert!(Task::parse("squad").unwrap_err().contains("mnli-mm"));
        assert!(Split::parse("test").is_err());
    }

    #[test]
    fn layouts_point_inside_the_row() {
        for t in ALL_TASKS {
            for s in [Split::Train, Split::Dev] {
                let l = t.layout(s);
                let max = l.text_a.max(l.text_b.unwrap_or(0)).max(l.label);
                assert!(max < l.columns, "{t} {s:?}");
            }
        }
    }
}
