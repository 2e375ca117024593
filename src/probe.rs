//! A linear probe: a task head trained on a frozen BERT encoder.
//!
//! The README's main job needs a GLUE classifier on a fresh clone, where only the base
//! encoder (no fine-tuned checkpoint) can be fetched. Fine-tuning the whole encoder is far
//! beyond two CPU cores, so crossbert trains only the classifier, on fixed features:
//!
//! 1. **Features**: the pooled output `tanh(W_p·h_[CLS] + b_p)` of the base encoder, computed
//!    by the digital engine for every training sentence ([`pooled_features`]). This is
//!    exactly the vector `BertForSequenceClassification`'s classifier reads, so the trained
//!    head drops into a normal checkpoint.
//! 2. **Classifier**: multinomial logistic regression with an L2 penalty
//!    ([`train_logistic`]), minimised by full-batch accelerated gradient descent; or, for a
//!    regression task (STS-B), ridge regression solved in closed form ([`train_ridge`]).
//!    Both start from zero and visit the data in a fixed order, so the result is a function
//!    of the data alone.
//! 3. **Checkpoint**: the base tensors under their `bert.` names plus `classifier.weight`
//!    and `classifier.bias`, and a `config.json` with the task's labels
//!    ([`write_probe_checkpoint`]).
//!
//! The optimiser: the mean cross-entropy plus `l2/2·‖W‖²` (bias not penalised) is convex
//! and L-smooth with L ≤ ½·mean‖x̃‖² + l2, where x̃ is a feature vector with a 1 appended
//! (the softmax Hessian is bounded by ½·I, and mean‖x̃‖² = trace of the feature Gram matrix
//! bounds its largest eigenvalue). With step 1/L a plain gradient step never raises the
//! loss; Nesterov momentum speeds it up, and whenever a momentum step would raise the loss
//! it is replaced by a plain gradient step from the last iterate and the momentum restarts.
//! The recorded loss therefore never increases.

use std::path::Path;

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::glue::evaluate::{length_buckets, tokenize_examples};
use crate::glue::{Example, Task};
use crate::model::encoder::EncoderModel;
use crate::model::{Checkpoint, Matrix, ModelConfig, PackedBatch};
use crate::synth::{copy_tokenizer, tensor_layout, write_text};
use crate::tokenize::BertTokenizer;
use crate::train::params::{Params, Tensor};

/// The pooled output of `model` for every example, one row each, in input order.
pub fn pooled_features(
    model: &EncoderModel,
    tokenizer: &BertTokenizer,
    examples: &[Example],
    batch_size: usize,
) -> anyhow::Result<Matrix> {
    let encoded = tokenize_examples(tokenizer, examples)?;
    let buckets = length_buckets(&encoded, batch_size);
    let pooled: Vec<Matrix> = buckets
        .par_iter()
        .map(|bucket| {
            let mut batch = PackedBatch::default();
            for &i in bucket {
                batch.push(&encoded[i].input_ids, &encoded[i].token_type_ids);
            }
            model.pooled(&batch)
        })
        .collect::<Result<_, _>>()?;
    let width = pooled.first().map_or(0, Matrix::cols);
    let mut features = Matrix::zeros(examples.len(), width);
    for (bucket, out) in buckets.iter().zip(&pooled) {
        for (row, &i) in bucket.iter().enumerate() {
            features.row_mut(i).copy_from_slice(out.row(row));
        }
    }
    Ok(features)
}

/// A linear head `logits = W·x + b` (`W` is `outputs × features`, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub outputs: usize,
    pub features: usize,
    pub weight: Vec<f64>,
    pub bias: Vec<f64>,
}

impl Probe {
    fn zeros(outputs: usize, features: usize) -> Self {
        Self {
            outputs,
            features,
            weight: vec![0.0; outputs * features],
            bias: vec![0.0; outputs],
        }
    }

    /// Logits of one feature row.
    pub fn logits(&self, x: &[f32]) -> Vec<f64> {
        (0..self.outputs)
            .map(|k| {
                let w = &self.weight[k * self.features..(k + 1) * self.features];
                self.bias[k] + w.iter().zip(x).map(|(w, &x)| w * x as f64).sum::<f64>()
            })
            .collect()
    }

    /// Argmax class of each row of `x` (first maximum on ties).
    pub fn classify(&self, x: &Matrix) -> Vec<usize> {
        (0..x.rows())
            .map(|r| {
                let z = self.logits(x.row(r));
                (0..z.len()).fold(0, |best, k| if z[k] > z[best] { k } else { best })
            })
            .collect()
    }
}

/// Settings of [`train_logistic`].
#[derive(Debug, Clone, Copy)]
pub struct LogisticOptions {
    /// L2 penalty on the weights (not the bias), added to the *mean* cross-entropy.
    pub l2: f64,
    /// Maximum number of gradient steps.
    pub iterations: usize,
    /// Stop when the gradient's Euclidean norm falls below this.
    pub tolerance: f64,
}

impl Default for LogisticOptions {
    /// `l2` 1e-3: a light penalty that keeps the problem strongly convex (so the optimum is
    /// unique even on separable data); 1000 steps; tolerance 1e-6. Chosen a priori, not
    /// tuned on any dev set.
    fn default() -> Self {
        Self {
            l2: 1e-3,
            iterations: 1000,
            tolerance: 1e-6,
        }
    }
}

/// Why a probe cannot be trained.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("expected {expected} labels (one per feature row), found {found}")]
    LabelCount { expected: usize, found: usize },
    #[error("row {row}: expected a class index below {classes}, found {found}")]
    LabelRange {
        row: usize,
        classes: usize,
        found: usize,
    },
    #[error("expected at least one training example, found none")]
    Empty,
    #[error("ridge regression: the regularised normal equations are singular (l2 = {l2})")]
    Singular { l2: f64 },
}

/// Mean cross-entropy of `probe` on `(x, y)` plus the L2 term, and its gradient.
fn loss_and_gradient(probe: &Probe, x: &Matrix, y: &[usize], l2: f64) -> (f64, Probe) {
    let (k, d, n) = (probe.outputs, probe.features, x.rows() as f64);
    let mut grad = Probe::zeros(k, d);
    let mut loss = 0.0;
    for (r, &label) in y.iter().enumerate() {
        let row = x.row(r);
        let z = probe.logits(row);
        let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        loss += total.ln() + max - z[label];
        for (c, e) in exp.iter().enumerate() {
            let delta = e / total - if c == label { 1.0 } else { 0.0 };
            grad.bias[c] += delta / n;
            let g = &mut grad.weight[c * d..(c + 1) * d];
            g.iter_mut()
                .zip(row)
                .for_each(|(g, &x)| *g += delta * x as f64 / n);
        }
    }
    let penalty: f64 = probe.weight.iter().map(|w| w * w).sum::<f64>() * l2 / 2.0;
    grad.weight
        .iter_mut()
        .zip(&probe.weight)
        .for_each(|(g, w)| *g += l2 * w);
    (loss / n + penalty, grad)
}

/// `a + s·b`, element-wise over weights and biases.
fn axpy(a: &Probe, s: f64, b: &Probe) -> Probe {
    let mix = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(p, q)| p + s * q).collect();
    Probe {
        weight: mix(&a.weight, &b.weight),
        bias: mix(&a.bias, &b.bias),
        ..a.clone()
    }
}

fn norm(p: &Probe) -> f64 {
    p.weight
        .iter()
        .chain(&p.bias)
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
}

fn check_labels(x: &Matrix, y: &[usize], classes: usize) -> Result<(), ProbeError> {
    if y.len() != x.rows() {
        return Err(ProbeError::LabelCount {
            expected: x.rows(),
            found: y.len(),
        });
    }
    if y.is_empty() {
        return Err(ProbeError::Empty);
    }
    match y.iter().position(|&c| c >= classes) {
        Some(row) => Err(ProbeError::LabelRange {
            row,
            classes,
            found: y[row],
        }),
        None => Ok(()),
    }
}

/// Trains multinomial logistic regression on features `x` (one row per example) and class
/// indices `y`. Returns the probe and the loss before each accepted step and after the
/// last (non-increasing; see the module docs).
pub fn train_logistic(
    x: &Matrix,
    y: &[usize],
    classes: usize,
    options: &LogisticOptions,
) -> Result<(Probe, Vec<f64>), ProbeError> {
    check_labels(x, y, classes)?;
    let d = x.cols();
    let mean_sq_norm = (0..x.rows())
        .map(|r| 1.0 + x.row(r).iter().map(|&v| (v as f64).powi(2)).sum::<f64>())
        .sum::<f64>()
        / x.rows() as f64;
    let step = 1.0 / (0.5 * mean_sq_norm + options.l2);

    let mut current = Probe::zeros(classes, d);
    let (mut loss, mut grad) = loss_and_gradient(&current, x, y, options.l2);
    let mut losses = vec![loss];
    let mut previous = current.clone();
    let mut momentum_steps = 0usize;
    for _ in 0..options.iterations {
        if norm(&grad) < options.tolerance {
            break;
        }
        // Nesterov look-ahead point: current + (t-1)/(t+2)·(current - previous).
        let beta = momentum_steps as f64 / (momentum_steps as f64 + 3.0);
        let velocity = axpy(&current, -1.0, &previous);
        let lookahead = axpy(&current, beta, &velocity);
        let (_, lookahead_grad) = loss_and_gradient(&lookahead, x, y, options.l2);
        let candidate = axpy(&lookahead, -step, &lookahead_grad);
        let (candidate_loss, candidate_grad) = loss_and_gradient(&candidate, x, y, options.l2);
        previous = current.clone();
        if candidate_loss <= loss {
            (current, loss, grad) = (candidate, candidate_loss, candidate_grad);
            momentum_steps += 1;
        } else {
            // Momentum overshot: restart it with a plain gradient step, which cannot
            // raise the loss at step 1/L.
            current = axpy(&current, -step, &grad);
            (loss, grad) = loss_and_gradient(&current, x, y, options.l2);
            momentum_steps = 0;
            previous = current.clone();
        }
        losses.push(loss);
    }
    Ok((current, losses))
}

/// Ridge regression of targets `y` on features `x`: minimises mean squared error plus
/// `l2·‖w‖²` (bias not penalised) by solving the centred normal equations.
pub fn train_ridge(x: &Matrix, y: &[f32], l2: f64) -> Result<Probe, ProbeError> {
    if y.len() != x.rows() {
        return Err(ProbeError::LabelCount {
            expected: x.rows(),
            found: y.len(),
        });
    }
    if y.is_empty() {
        return Err(ProbeError::Empty);
    }
    let (n, d) = (x.rows(), x.cols());
    let mean_x: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|r| x.row(r)[j] as f64).sum::<f64>() / n as f64)
        .collect();
    let mean_y = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let centred = nalgebra::DMatrix::from_fn(n, d, |r, j| x.row(r)[j] as f64 - mean_x[j]);
    let target = nalgebra::DVector::from_fn(n, |r, _| y[r] as f64 - mean_y);
    let gram = centred.transpose() * &centred / n as f64 + nalgebra::DMatrix::identity(d, d) * l2;
    let rhs = centred.transpose() * target / n as f64;
    let w = gram
        .cholesky()
        .ok_or(ProbeError::Singular { l2 })?
        .solve(&rhs);
    let bias = mean_y - w.iter().zip(&mean_x).map(|(w, m)| w * m).sum::<f64>();
    Ok(Probe {
        outputs: 1,
        features: d,
        weight: w.iter().copied().collect(),
        bias: vec![bias],
    })
}

/// The base `config.json` turned into a classifier's: architecture, labels, problem type
/// and task name as Hugging Face writes them.
pub fn probe_config(base: &Value, task: Task, outputs: usize) -> anyhow::Result<Value> {
    let mut config = base.clone();
    let object = config
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("base config.json: expected a JSON object"))?;
    let names: Vec<String> = if task.is_regression() {
        vec!["LABEL_0".into()]
    } else {
        task.label_names().iter().map(|s| s.to_string()).collect()
    };
    let id2label: serde_json::Map<String, Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (i.to_string(), json!(n)))
        .collect();
    let label2id: serde_json::Map<String, Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), json!(i)))
        .collect();
    let problem = if task.is_regression() {
        "regression"
    } else {
        "single_label_classification"
    };
    object.insert(
        "architectures".into(),
        json!(["BertForSequenceClassification"]),
    );
    object.insert("num_labels".into(), json!(outputs));
    object.insert("id2label".into(), Value::Object(id2label));
    object.insert("label2id".into(), Value::Object(label2id));
    object.insert("problem_type".into(), json!(problem));
    object.insert("finetuning_task".into(), json!(task.name()));
    Ok(config)
}

/// Writes a `BertForSequenceClassification` checkpoint into `out`: the encoder tensors of
/// `weights` under their `bert.` names (as float32), the probe as the classifier, the
/// config from [`probe_config`], and the tokenizer files of `base_dir`.
pub fn write_probe_checkpoint(
    base_dir: &Path,
    base_config: &Value,
    weights: &Checkpoint,
    probe: &Probe,
    task: Task,
    out: &Path,
) -> anyhow::Result<()> {
    let config_value = probe_config(base_config, task, probe.outputs)?;
    let text = serde_json::to_string_pretty(&config_value)?;
    let config = ModelConfig::from_json(&text, "probe config.json")?;
    let mut tensors = Vec::new();
    for spec in tensor_layout(&config, probe.outputs) {
        let value: Vec<f32> = match spec.name.as_str() {
            "classifier.weight" => probe.weight.iter().map(|&v| v as f32).collect(),
            "classifier.bias" => probe.bias.iter().map(|&v| v as f32).collect(),
            name => weights.tensor(name, &spec.shape)?,
        };
        tensors.push(Tensor {
            name: spec.name,
            shape: spec.shape,
            value,
        });
    }
    std::fs::create_dir_all(out)?;
    Params { tensors }.write_safetensors(&out.join(crate::model::checkpoint::SINGLE_FILE))?;
    write_text(&out.join("config.json"), &text)?;
    copy_tokenizer(base_dir, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_recovers_an_exact_linear_map() {
        // y = 2·x0 − x1 + 0.5, no noise: with a tiny l2 the solution is that map.
        let rows: Vec<[f32; 2]> = (0..20)
            .map(|i| [(i % 5) as f32, (i / 5) as f32 * 0.7])
            .collect();
        let x = Matrix::from_vec(20, 2, rows.iter().flatten().copied().collect());
        let y: Vec<f32> = rows.iter().map(|r| 2.0 * r[0] - r[1] + 0.5).collect();
        let p = train_ridge(&x, &y, 1e-9).unwrap();
        assert!((p.weight[0] - 2.0).abs() < 1e-5, "{p:?}");
        assert!((p.weight[1] + 1.0).abs() < 1e-5, "{p:?}");
        assert!((p.bias[0] - 0.5).abs() < 1e-5, "{p:?}");
    }

    #[test]
    fn label_errors_say_what_was_expected() {
        let x = Matrix::zeros(2, 3);
        let err = train_logistic(&x, &[0, 5], 2, &LogisticOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row 1: expected a class index below 2, found 5"
        );
        let err = train_logistic(&x, &[0], 2, &LogisticOptions::default()).unwrap_err();
        assert!(err.to_string().contains("expected 2 labels"), "{err}");
    }
}
