//! Running a model over a GLUE split: tokenize, batch by length, predict, score.
//!
//! Examples are sorted by token count (stable, so ties keep file order) and cut into
//! batches of `batch_size`; batches run in parallel on rayon's pool and their logits are put
//! back in file order. Each example's logits depend only on its own tokens (sequences are
//! packed, not padded: see [`crate::model::batch`]), never on the batch it landed in or the
//! thread that ran it, so results are identical for any number of threads.

use std::time::Instant;

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::metrics;
use super::reader::{Example, Gold};
use super::tasks::{Metric, Split, Task};
use crate::model::{InputError, Matrix, PackedBatch, ProblemType, SequenceClassifier};
use crate::tokenize::{BertTokenizer, Encoded, TokenizeError};

/// Default number of sequences per batch.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Tokenizes the examples (sentence pairs where the task has two texts).
pub fn tokenize_examples(
    tokenizer: &BertTokenizer,
    examples: &[Example],
) -> Result<Vec<Encoded>, TokenizeError> {
    let inputs: Vec<(&str, Option<&str>)> = examples
        .iter()
        .map(|e| (e.text_a.as_str(), e.text_b.as_deref()))
        .collect();
    tokenizer.encode_batch(&inputs)
}

/// Groups example indices into batches of similar length.
pub fn length_buckets(encoded: &[Encoded], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| encoded[i].input_ids.len());
    order
        .chunks(batch_size.max(1))
        .map(|c| c.to_vec())
        .collect()
}

/// Logits of every encoded example, one row each, in input order.
pub fn predict_logits(
    model: &dyn SequenceClassifier,
    encoded: &[Encoded],
    batch_size: usize,
) -> Result<Matrix, InputError> {
    predict_logits_with(model, encoded, batch_size, None)
}

/// [`predict_logits`], advancing `progress` by each batch's sequences as it finishes.
pub fn predict_logits_with(
    model: &dyn SequenceClassifier,
    encoded: &[Encoded],
    batch_size: usize,
    progress: Option<&ProgressBar>,
) -> Result<Matrix, InputError> {
    let buckets = length_buckets(encoded, batch_size);
    let results: Vec<Matrix> = buckets
        .par_iter()
        .map(|bucket| {
            let mut batch = PackedBatch::default();
            for &i in bucket {
                batch.push_example(i as u64, &encoded[i].input_ids, &encoded[i].token_type_ids);
            }
            let logits = model.forward(&batch);
            if let Some(bar) = progress {
                bar.inc(bucket.len() as u64);
            }
            logits
        })
        .collect::<Result<_, _>>()?;
    let mut logits = Matrix::zeros(encoded.len(), model.num_labels());
    for (bucket, out) in buckets.iter().zip(&results) {
        for (row, &i) in bucket.iter().enumerate() {
            logits.row_mut(i).copy_from_slice(out.row(row));
        }
    }
    Ok(logits)
}

/// The model's answer for one example: a class index or a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prediction {
    Class(usize),
    Score(f32),
}

/// Argmax (first maximum on ties, as `torch.argmax`) or the single regression output.
pub fn predictions(logits: &Matrix, problem: ProblemType) -> Vec<Prediction> {
    (0..logits.rows())
        .map(|r| {
            let row = logits.row(r);
            if problem == ProblemType::Regression {
                return Prediction::Score(row[0]);
            }
            let best = row
                .iter()
                .enumerate()
                .fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
            Prediction::Class(best)
        })
        .collect()
}

/// Every metric of the task, in the task's order (main metric first).
pub fn score(task: Task, predicted: &[Prediction], examples: &[Example]) -> Vec<(Metric, f64)> {
    let classes = |f: fn(&Prediction) -> Option<usize>, g: fn(&Gold) -> Option<usize>| {
        let p: Vec<usize> = predicted.iter().filter_map(f).collect();
        let t: Vec<usize> = examples.iter().filter_map(|e| g(&e.gold)).collect();
        (p, t)
    };
    let (pc, gc) = classes(
        |p| match p {
            Prediction::Class(c) => Some(*c),
            Prediction::Score(_) => None,
        },
        |g| g.class(),
    );
    let ps: Vec<f64> = predicted
        .iter()
        .filter_map(|p| match p {
            Prediction::Score(s) => Some(*s as f64),
            Prediction::Class(_) => None,
        })
        .collect();
    let gs: Vec<f64> = examples
        .iter()
        .filter_map(|e| e.gold.score().map(f64::from))
        .collect();
    task.metrics()
        .iter()
        .map(|&m| {
            let value = match m {
                Metric::Accuracy => metrics::accuracy(&pc, &gc),
                Metric::F1 => metrics::f1(&pc, &gc),
                Metric::Mcc => metrics::matthews(&pc, &gc),
                Metric::Pearson => metrics::pearson(&ps, &gs),
                Metric::Spearman => metrics::spearman(&ps, &gs),
            };
            (m, value)
        })
        .collect()
}

/// The result of evaluating a model on one split.
pub struct Evaluation {
    pub task: Task,
    pub split: Split,
    pub examples: Vec<Example>,
    pub logits: Matrix,
    pub predictions: Vec<Prediction>,
    pub metrics: Vec<(Metric, f64)>,
    /// Wall time of tokenization, inference and scoring (not model loading).
    pub seconds: f64,
}

/// Tokenizes, predicts and scores `examples`; `progress`, if given, counts the sequences.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    model: &dyn SequenceClassifier,
    problem: ProblemType,
    tokenizer: &BertTokenizer,
    task: Task,
    split: Split,
    examples: Vec<Example>,
    batch_size: usize,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<Evaluation> {
    let start = Instant::now();
    let encoded = tokenize_examples(tokenizer, &examples)?;
    let logits = predict_logits_with(model, &encoded, batch_size, progress)?;
    let predictions = predictions(&logits, problem);
    let metrics = score(task, &predictions, &examples);
    Ok(Evaluation {
        task,
        split,
        examples,
        logits,
        predictions,
        metrics,
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl Evaluation {
    /// One TSV row per example with the header of the reference `dev_logits.tsv`:
    /// `index, logit_0…, prediction, label`.
    pub fn to_tsv(&self) -> String {
        let mut out = String::from("index");
        for j in 0..self.logits.cols() {
            out.push_str(&format!("\tlogit_{j}"));
        }
        out.push_str("\tprediction\tlabel\n");
        for (r, example) in self.examples.iter().enumerate() {
            out.push_str(&example.index.to_string());
            for v in self.logits.row(r) {
                out.push_str(&format!("\t{v:.6}"));
            }
            match self.predictions[r] {
                Prediction::Class(c) => out.push_str(&format!("\t{c}")),
                Prediction::Score(s) => out.push_str(&format!("\t{s}")),
            }
            match example.gold {
                Gold::Class(c) => out.push_str(&format!("\t{c}\n")),
                Gold::Score(s) => out.push_str(&format!("\t{s}\n")),
            }
        }
        out
    }
}
