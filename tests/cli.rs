//! The `crossbert eval` command as a user runs it: JSON keys, the `--out` file, and errors
//! that name what was wrong.

mod common;

use std::process::Command;

fn crossbert() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crossbert"))
}

#[test]
fn eval_json_and_predictions_file() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("predictions.tsv");
    let model = shared.join("models/minilm-mrpc");
    let output = crossbert()
        .args([
            "eval", "--task", "mrpc", "--limit", "16", "--json", "--model",
        ])
        .arg(&model)
        .arg("--data")
        .arg(shared.join("glue"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["task"], "mrpc");
    assert_eq!(report["split"], "dev");
    assert_eq!(report["rows"], 16);
    assert_eq!(report["metric"], "f1");
    assert_eq!(report["value"], report["metrics"]["f1"]);
    assert!(report["metrics"]["accuracy"].is_f64() && report["seconds"].is_f64());

    let written = std::fs::read_to_string(&out).unwrap();
    let reference = std::fs::read_to_string(model.join("reference/dev_logits.tsv")).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), 17);
    assert_eq!(
        lines[0],
        reference.lines().next().unwrap(),
        "same header as the reference"
    );
    for (ours, theirs) in lines[1..].iter().zip(reference.lines().skip(1)) {
        let a: Vec<&str> = ours.split('\t').collect();
        let b: Vec<&str> = theirs.split('\t').collect();
        assert_eq!(
            (a[0], a[3], a[4]),
            (b[0], b[3], b[4]),
            "index, prediction, label"
        );
        for j in 1..=2 {
            let d = (a[j].parse::<f64>().unwrap() - b[j].parse::<f64>().unwrap()).abs();
            assert!(d <= 1e-3, "row {}: logit_{} off by {d}", a[0], j - 1);
        }
    }
}

#[test]
fn eval_errors_name_the_problem() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let model = shared.join("models/minilm-sst2");
    let run = |task: &str, data: &std::path::Path| {
        let output = crossbert()
            .args(["eval", "--task", task, "--model"])
            .arg(&model)
            .arg("--data")
            .arg(data)
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    let stderr = run("squad", &shared.join("glue"));
    assert!(stderr.contains("unknown task `squad`"), "{stderr}");
    let stderr = run("stsb", &shared.join("glue"));
    assert!(stderr.contains("regression"), "{stderr}");

    let glue = tempfile::tempdir().unwrap();
    std::fs::create_dir(glue.path().join("SST-2")).unwrap();
    std::fs::write(
        glue.path().join("SST-2/dev.tsv"),
        "sentence\tlabel\nfine .\t1\nragged\n",
    )
    .unwrap();
    let stderr = run("sst2", glue.path());
    assert!(
        stderr.contains("dev.tsv:3: expected 2 tab-separated columns, found 1"),
        "{stderr}"
    );
}
