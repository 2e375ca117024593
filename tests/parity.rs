//! Parity of the digital engine with the reference PyTorch outputs shipped with every
//! `minilm-*` checkpoint: logits within 1e-3 absolute on the full dev split, and every
//! metric of `reference/metrics.json` reproduced (at most one prediction may flip on a
//! near-tie; the test prints which).

mod common;

use std::path::Path;

use crossbert::glue::{self, evaluate, LabelMap, Metric, Prediction, Split, Task};
use crossbert::model::{digital_linear, load_classifier};
use crossbert::tokenize::{BertTokenizer, DEFAULT_MAX_LEN};

/// The reference file: logits per row and the reference prediction column.
struct Reference {
    logits: Vec<Vec<f64>>,
    predictions: Vec<String>,
}

fn read_reference(path: &Path) -> Reference {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let n_logits = header.iter().filter(|h| h.starts_with("logit_")).count();
    let mut reference = Reference {
        logits: Vec::new(),
        predictions: Vec::new(),
    };
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            f[0].parse::<usize>().unwrap(),
            i,
            "{}: rows in index order",
            path.display()
        );
        reference
            .logits
            .push(f[1..=n_logits].iter().map(|v| v.parse().unwrap()).collect());
        reference.predictions.push(f[n_logits + 1].to_string());
    }
    reference
}

fn metric_named(name: &str) -> Metric {
    match name {
        "accuracy" => Metric::Accuracy,
        "f1" => Metric::F1,
        "mcc" => Metric::Mcc,
        "pearson" => Metric::Pearson,
        "spearman" => Metric::Spearman,
        other => panic!("reference metric {other} unknown to crossbert"),
    }
}

fn check_checkpoint(dir: &Path, glue_dir: &Path) {
    let reference_metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference/metrics.json")).unwrap())
            .unwrap();
    let task = Task::parse(reference_metrics["task"].as_str().unwrap()).unwrap();
    let (config, model) = load_classifier(dir, &digital_linear).unwrap();
    let tokenizer = BertTokenizer::from_dir(dir, DEFAULT_MAX_LEN).unwrap();
    let labels = LabelMap::for_checkpoint(task, &config).unwrap();
    let examples = glue::read_split(glue_dir, task, Split::Dev, &labels).unwrap();
    let reference = read_reference(&dir.join("reference/dev_logits.tsv"));
    assert_eq!(examples.len(), reference.logits.len(), "{task}: dev rows");

    let result = evaluate(
        &model,
        config.problem_type(),
        &tokenizer,
        task,
        Split::Dev,
        examples,
        32,
        None,
    )
    .unwrap();

    // Logits: the reference file rounds to 6 decimals, far below the 1e-3 tolerance.
    let mut worst = (0.0f64, 0usize);
    for (r, want) in reference.logits.iter().enumerate() {
        for (got, want) in result.logits.row(r).iter().zip(want) {
            let d = (*got as f64 - want).abs();
            if d > worst.0 {
                worst = (d, r);
            }
        }
    }
    println!(
        "{task}: max |logit − reference| = {:.2e} (row {})",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= 1e-3,
        "{task}: logit of row {} differs by {:.3e}",
        worst.1,
        worst.0
    );

    // Predictions: classes must agree except at most one near-tie.
    let flipped: Vec<usize> = result
        .predictions
        .iter()
        .zip(&reference.predictions)
        .enumerate()
        .filter_map(|(i, (p, want))| match p {
            Prediction::Class(c) => (c.to_string() != *want).then_some(i),
            Prediction::Score(_) => None,
        })
        .collect();
    for &i in &flipped {
        println!(
            "{task}: prediction of dev example {i} flipped (logits {:?} vs reference {:?})",
            result.logits.row(i),
            reference.logits[i]
        );
    }
    assert!(
        flipped.len() <= 1,
        "{task}: {} predictions differ: {flipped:?}",
        flipped.len()
    );

    for (name, want) in reference_metrics["metrics"].as_object().unwrap() {
        let want = want.as_f64().unwrap();
        let metric = metric_named(name);
        let got = result.metrics.iter().find(|(m, _)| *m == metric).unwrap().1;
        println!("{task}: {name} {got:.6} (reference {want:.6})");
        // Same predictions give the same classification metric up to summation order;
        // regression metrics move by O(1e-6) with logits within 1e-3 of each other.
        let tolerance = if task.is_regression() { 1e-4 } else { 1e-9 };
        if flipped.is_empty() {
            assert!(
                (got - want).abs() <= tolerance,
                "{task}: {name} {got} vs {want}"
            );
        } else {
            let one_flip = 1.0 / result.examples.len() as f64;
            assert!(
                (got - want).abs() <= 4.0 * one_flip,
                "{task}: {name} {got} vs {want} with one flip"
            );
        }
    }
}

#[test]
fn every_shared_checkpoint_reproduces_its_reference_outputs() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let checkpoints = common::minilm_checkpoints(&shared);
    assert!(
        !checkpoints.is_empty(),
        "no minilm-* checkpoint in {}",
        shared.display()
    );
    for dir in checkpoints {
        check_checkpoint(&dir, &shared.join("glue"));
    }
}
