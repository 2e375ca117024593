//! `crossbert bench --scale` on a tiny synthesized architecture: one row per preset with
//! consistent figures, the checkpoint kept in the cache, and clear errors for bad options.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn crossbert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(args)
        .output()
        .expect("running crossbert")
}

fn tiny_config(dir: &Path) -> String {
    let path = dir.join("tiny.json");
    std::fs::write(
        &path,
        r#"{"vocab_size": 90, "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 32}"#,
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn scale_bench_reports_every_preset_of_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path());
    let cache = dir.path().join("cache");
    let out = crossbert(&[
        "bench",
        "--scale",
        "--scale-config",
        &config,
        "--presets",
        "isaac-32nm,one-shot",
        "--sequences",
        "3",
        "--seq-len",
        "12",
        "--scale-batch",
        "2",
        "--calibration-sequences",
        "2",
        "--cache",
        cache.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["scale"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(report["evals"].as_array().unwrap().len(), 0);
    for (row, (preset, fidelity)) in rows
        .iter()
        .zip([("isaac-32nm", "bit_sliced"), ("one-shot", "one_shot")])
    {
        assert_eq!(row["model"], "config-tiny");
        assert_eq!(row["preset"], preset);
        assert_eq!(row["fidelity"], fidelity);
        assert_eq!(
            (row["layers"].as_u64(), row["hidden"].as_u64()),
            (Some(2), Some(32))
        );
        assert_eq!(
            (row["sequences"].as_u64(), row["seq_len"].as_u64()),
            (Some(3), Some(12))
        );
        let f = |key: &str| row[key].as_f64().unwrap();
        assert!(f("run_seconds") > 0.0 && f("program_seconds") > 0.0);
        assert!((f("seconds_per_sequence") - f("run_seconds") / 3.0).abs() < 1e-12);
        assert!(f("run_cpu_seconds") >= 0.0);
        // A child process that loads a 2-layer model peaks well above 1 MiB and below 1 GiB.
        assert!(f("peak_gib") > 1.0 / 1024.0 && f("peak_gib") < 1.0, "{row}");
        // 2 layers × (4·32·32 + 2·32·64) weights; isaac-32nm keeps ideal cells as 2 B per
        // weight plus per-array scales, one-shot as one byte per cell pair member, padded.
        let weights = 2.0 * (4.0 * 32.0 * 32.0 + 2.0 * 32.0 * 64.0);
        let per_weight = f("arrays_gib") * (1u64 << 30) as f64 / weights;
        assert!((2.0..64.0).contains(&per_weight), "{per_weight} B/weight");
    }
    // The synthesized checkpoint stays in the cache for the next run.
    assert!(cache.join("config-tiny").join("config.json").exists());

    // The table form names its columns.
    let text = crossbert(&[
        "bench",
        "--scale",
        "--scale-config",
        &config,
        "--presets",
        "one-shot",
        "--sequences",
        "1",
        "--seq-len",
        "8",
        "--calibration-sequences",
        "1",
        "--cache",
        cache.to_str().unwrap(),
    ]);
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("peak GiB") && stdout.contains("config-tiny"),
        "{stdout}"
    );
}

#[test]
fn bad_bench_options_are_errors_that_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path());
    // `bench --scale` on the tiny model with one option changed.
    let scale = |flag: &'static str, value: &'static str| {
        vec!["bench", "--scale", "--scale-config", &config, flag, value]
    };
    let cases: [(Vec<&str>, &str); 5] = [
        (
            scale("--sequences", "1000000000"),
            "--sequences: expected at most 100000 sequences, found 1000000000",
        ),
        (
            scale("--sequences", "0"),
            "'--sequences <SEQUENCES>': expected a whole number of at least 1, found 0",
        ),
        (scale("--presets", "no-such-chip"), "no-such-chip"),
        (
            scale("--seq-len", "64"),
            "--seq-len: expected at most the model's 32 positions, found 64",
        ),
        (vec!["bench"], "expected --model DIR and --data DIR"),
    ];
    for (args, message) in cases {
        let out = crossbert(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
