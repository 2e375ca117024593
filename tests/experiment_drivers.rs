//! Integration tests of the experiment drivers: sweeps through a synthetic evaluator, real
//! process kills and resume, torn-line repair, shard + merge, summarize and plot.
//!
//! The synthetic evaluator stands in for the analog BERT backend: its numbers are simple
//! deterministic functions of the hardware point and the seed, so every row is
//! reproducible and any lost, duplicated or altered row shows.
mod common;

use crossbert::experiment::{
    merge_results, run_sweep, Baseline, Evaluation, Evaluator, Job, ResultsTable, Shard,
    SweepOptions, SweepPlan, SweepSpec, TaskData,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Base hardware of the tests: two swept settings and one fixed one.
const HARDWARE: &str = "[adc]\nbits = 8\n[device]\nsigma = 0.0\nfidelity = \"bit-sliced\"\n";

/// A real hardware description with the same two swept parameters.
const REAL_HARDWARE: &str =
    "[mapping]\nadc = { adc_bits = 8 }\n[device]\nprogramming = { model = \"relative\", sigma = 0.0 }\n";

/// 2 tasks × 3 ADC resolutions × 3 variation levels × 3 seeds = 54 rows.
fn spec_text(dir: &Path) -> String {
    format!(
        r#"
models = ["tiny-bert"]
tasks = ["sst2", "rte"]
data_dir = "glue"
base = "{}"
seeds = 3
[grid]
"adc.bits" = [4, 6, 8]
"device.sigma" = {{ start = 0.0, stop = 0.1, step = 0.05 }}
"#,
        dir.join("hw.toml").display()
    )
}
const ROWS: usize = 54;

/// Writes the base hardware and the spec into `dir`, returns the plan.
fn setup(dir: &Path) -> SweepPlan {
    std::fs::write(dir.join("hw.toml"), HARDWARE).unwrap();
    std::fs::write(dir.join("spec.toml"), spec_text(dir)).unwrap();
    plan_from(dir)
}

fn plan_from(dir: &Path) -> SweepPlan {
    let spec = SweepSpec::from_path(&dir.join("spec.toml")).unwrap();
    let base = std::fs::read_to_string(dir.join("hw.toml"))
        .unwrap()
        .parse()
        .unwrap();
    SweepPlan::new(spec, base).unwrap()
}

/// Deterministic stand-in for the analog backend.
struct Synthetic {
    delay: Duration,
    baseline_calls: AtomicUsize,
}

impl Synthetic {
    fn new(delay_ms: u64) -> Self {
        Synthetic {
            delay: Duration::from_millis(delay_ms),
            baseline_calls: AtomicUsize::new(0),
        }
    }
}

impl Evaluator for Synthetic {
    fn energy_components(&self) -> Vec<String> {
        vec!["adc".into(), "array".into()]
    }

    fn extra_columns(&self) -> Vec<String> {
        vec!["fidelity".into()]
    }

    fn digital_baseline(&self, _model: &str, task: &TaskData) -> anyhow::Result<Baseline> {
        self.baseline_calls.fetch_add(1, Ordering::SeqCst);
        let value = if task.name == "sst2" { 0.9 } else { 0.7 };
        Ok(Baseline {
            metric: "accuracy".into(),
            value,
        })
    }

    fn evaluate(&self, job: &Job<'_>) -> anyhow::Result<Evaluation> {
        std::thread::sleep(self.delay);
        let bits = job.hardware["adc"]["bits"].as_integer().unwrap() as f64;
        let sigma = job.hardware["device"]["sigma"].as_float().unwrap();
        let jitter = ((job.seed * 7919 + bits as u64 * 31) % 17) as f64 / 1700.0;
        let adc = 1.67 * 2f64.powf(bits - 8.0) * 1000.0;
        let array = 250.0;
        let mut components = BTreeMap::new();
        components.insert("adc".to_string(), adc);
        components.insert("array".to_string(), array);
        let mut extra = BTreeMap::new();
        extra.insert(
            "fidelity".to_string(),
            job.hardware["device"]["fidelity"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        Ok(Evaluation {
            metric: "accuracy".into(),
            value: 0.9 - 0.02 * (8.0 - bits) - sigma + jitter,
            energy_pj_per_inference: adc + array,
            energy_components_pj: components,
            latency_ns: 100.0 * bits,
            area_mm2: 1.5,
            arrays: 96,
            extra,
        })
    }
}

fn options(out: &Path, resume: bool, shard: Shard, threads: usize) -> SweepOptions {
    SweepOptions {
        out: out.to_path_buf(),
        resume,
        shard,
        threads,
    }
}

/// Rows of a results file without the `seconds` and `shard` columns, as CSV lines.
fn comparable_rows(path: &Path) -> Vec<String> {
    let table = ResultsTable::read(path).unwrap();
    let drop = [
        table.column("seconds").unwrap(),
        table.column("shard").unwrap(),
    ];
    table
        .rows
        .iter()
        .map(|row| {
            row.fields
                .iter()
                .enumerate()
                .filter(|(i, _)| !drop.contains(i))
                .map(|(_, f)| f.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

fn data_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.matches('\n').count().saturating_sub(1))
        .unwrap_or(0)
}

/// Env var through which the parent test hands the child its working folder.
const CHILD_DIR: &str = "CROSSBERT_TEST_SWEEP_CHILD_DIR";

/// The child process of `sigkill_then_resume_gives_every_row_exactly_once`: a slow sweep
/// (100 ms per row, 2 threads) with `--resume` semantics. Ignored in normal runs; the
/// parent starts this test binary with `--ignored --exact` and the folder in `CHILD_DIR`.
#[test]
#[ignore = "child process of the kill tests; started by them with CROSSBERT_TEST_SWEEP_CHILD_DIR"]
fn child_sweep_worker() {
    let dir = PathBuf::from(std::env::var(CHILD_DIR).expect("started by the kill tests"));
    let plan = plan_from(&dir);
    let out = dir.join("results.csv");
    run_sweep(
        &plan,
        &Synthetic::new(100),
        &options(&out, true, Shard::ALL, 2),
    )
    .unwrap();
}

fn spawn_child(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_sweep_worker", "--ignored", "--nocapture"])
        .env(CHILD_DIR, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `path` has at least `rows` data lines, then SIGKILLs the child.
fn kill_after(child: &mut std::process::Child, path: &Path, rows: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while data_lines(path) < rows {
        assert!(
            Instant::now() < deadline,
            "child wrote no {rows} rows in 60 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "child finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

#[test]
fn sigkill_then_resume_gives_every_row_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let out = dir.path().join("results.csv");

    // Three real kills in a row, each after a different number of new rows; every child
    // after the first resumes the file the previous one was killed over.
    let mut written = 0;
    for new_rows in [6, 7, 9] {
        let mut child = spawn_child(dir.path());
        kill_after(&mut child, &out, written + new_rows);
        written = data_lines(&out);
    }
    assert!(written < ROWS, "the kills must land mid-run");

    // Finish in-process (a kill may also have torn the last line: resume repairs it).
    let outcome = run_sweep(
        &plan,
        &Synthetic::new(0),
        &options(&out, true, Shard::ALL, 1),
    )
    .unwrap();
    assert_eq!(outcome.planned, ROWS);
    assert_eq!(outcome.skipped + outcome.ran, ROWS);
    assert!(outcome.skipped >= 6 + 7 + 9);

    // Exactly one header and every key exactly once, with the same rows as a clean run.
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.matches("model,task,split").count(), 1);
    let table = ResultsTable::read(&out).unwrap();
    assert_eq!(table.rows.len(), ROWS);
    table.check_unique_keys().unwrap();
    let clean = dir.path().join("clean.csv");
    run_sweep(
        &plan,
        &Synthetic::new(0),
        &options(&clean, false, Shard::ALL, 1),
    )
    .unwrap();
    assert_eq!(
        sorted(comparable_rows(&out)),
        sorted(comparable_rows(&clean))
    );
}

/// Keeps the header and the first `rows` data rows of `path`, then half of the next row,
/// as a kill in the middle of a write would leave it.
fn tear_after(path: &Path, rows: usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let next = lines[rows + 1];
    let torn = format!("{}\n{}", lines[..=rows].join("\n"), &next[..next.len() / 2]);
    std::fs::write(path, torn).unwrap();
}

#[test]
fn torn_last_line_is_cut_on_resume_and_refused_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let out = dir.path().join("results.csv");
    let shard = "0/3".parse().unwrap();
    run_sweep(&plan, &Synthetic::new(0), &options(&out, false, shard, 1)).unwrap();
    let expected = comparable_rows(&out);
    assert_eq!(expected.len(), 18);
    tear_after(&out, 14);

    // Readers (merge, summarize, plot) refuse the torn file instead of guessing.
    let err = ResultsTable::read(&out).unwrap_err();
    assert!(format!("{err:#}").contains("incomplete"), "{err:#}");

    let outcome = run_sweep(&plan, &Synthetic::new(0), &options(&out, true, shard, 1)).unwrap();
    assert_eq!((outcome.skipped, outcome.ran), (14, 4));
    assert_eq!(comparable_rows(&out), expected);
}

#[test]
fn torn_line_repair_is_reported_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let out = dir.path().join("results.csv");
    run_sweep(
        &plan,
        &Synthetic::new(0),
        &options(&out, false, Shard::ALL, 1),
    )
    .unwrap();
    tear_after(&out, 4);

    // The child resumes the torn file; kill it once it has added rows after the repair.
    let mut child = spawn_child(dir.path());
    kill_after(&mut child, &out, 6);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("repaired"), "stderr was: {stderr}");
    assert!(
        stderr.contains("incomplete last line"),
        "stderr was: {stderr}"
    );

    run_sweep(
        &plan,
        &Synthetic::new(0),
        &options(&out, true, Shard::ALL, 1),
    )
    .unwrap();
    let table = ResultsTable::read(&out).unwrap();
    table.check_unique_keys().unwrap();
    assert_eq!(table.rows.len(), ROWS);
}

/// An evaluator whose model cannot be loaded.
struct MissingModel;

impl Evaluator for MissingModel {
    fn energy_components(&self) -> Vec<String> {
        vec!["adc".into()]
    }

    fn digital_baseline(&self, model: &str, _task: &TaskData) -> anyhow::Result<Baseline> {
        anyhow::bail!("{model}: no config.json")
    }

    fn evaluate(&self, _job: &Job<'_>) -> anyhow::Result<Evaluation> {
        unreachable!("the baseline fails first")
    }
}

#[test]
fn a_failing_baseline_stops_before_the_results_file_exists() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let out = dir.path().join("results.csv");
    let err = run_sweep(&plan, &MissingModel, &options(&out, false, Shard::ALL, 1)).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("digital baseline of tiny-bert on sst2"),
        "{message}"
    );
    assert!(message.contains("no config.json"), "{message}");
    assert!(!out.exists());
}

#[test]
fn resume_refuses_a_file_with_another_header() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let out = dir.path().join("results.csv");
    std::fs::write(
        &out,
        "model,task,split,limit,adc.bits,scope,seed,metric,value\n",
    )
    .unwrap();
    let err = run_sweep(
        &plan,
        &Synthetic::new(0),
        &options(&out, true, Shard::ALL, 1),
    )
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("header differs"), "{message}");
    assert!(message.contains("device.sigma"), "{message}");
    // Untouched.
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "model,task,split,limit,adc.bits,scope,seed,metric,value\n"
    );
    // And a new run refuses to overwrite an existing file.
    let err = run_sweep(
        &plan,
        &Synthetic::new(0),
        &options(&out, false, Shard::ALL, 1),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("--resume"), "{err:#}");
}

#[test]
fn shards_merged_equal_the_unsharded_run_and_baselines_are_cached() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let whole = dir.path().join("whole.csv");
    let evaluator = Synthetic::new(0);
    run_sweep(&plan, &evaluator, &options(&whole, false, Shard::ALL, 1)).unwrap();
    // One baseline per (model, task): 1 model × 2 tasks.
    assert_eq!(evaluator.baseline_calls.load(Ordering::SeqCst), 2);

    let shards: Vec<PathBuf> = (0..3)
        .map(|i| {
            let path = dir.path().join(format!("shard{i}.csv"));
            let shard = Shard { index: i, count: 3 };
            run_sweep(&plan, &Synthetic::new(0), &options(&path, false, shard, 2)).unwrap();
            path
        })
        .collect();
    let merged = dir.path().join("merged.csv");
    let report = merge_results(&shards, &merged, Some(&plan)).unwrap();
    assert_eq!(report.rows, ROWS);
    // Same header, same rows in the same (work-list) order, byte for byte apart from
    // seconds and shard; the shards ran on 2 threads, the whole run on 1.
    assert_eq!(
        ResultsTable::read(&merged).unwrap().header,
        ResultsTable::read(&whole).unwrap().header
    );
    assert_eq!(comparable_rows(&merged), comparable_rows(&whole));

    // Missing shard: error says how many and which, and nothing is written.
    let partial_out = dir.path().join("partial.csv");
    let err = merge_results(&shards[..2], &partial_out, Some(&plan)).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("18 rows missing"), "{message}");
    assert!(!partial_out.exists());
    // Duplicated shard.
    let twice = [
        shards[0].clone(),
        shards[0].clone(),
        shards[1].clone(),
        shards[2].clone(),
    ];
    let err = merge_results(&twice, &partial_out, Some(&plan)).unwrap_err();
    assert!(
        format!("{err:#}").contains("18 rows present more than once"),
        "{err:#}"
    );
    assert!(!partial_out.exists());
}

#[test]
fn cli_rejects_invalid_specs_before_any_work() {
    // The CLI resolves the base through the real hardware description, so this test
    // writes a real one and sweeps its real keys.
    let dir = tempfile::tempdir().unwrap();
    let real = |text: String| {
        text.replace("\"adc.bits\"", "\"mapping.adc.adc_bits\"")
            .replace("\"adc.bitz\"", "\"mapping.adc.bitz\"")
            .replace("\"device.sigma\"", "\"device.programming.sigma\"")
    };
    std::fs::write(dir.path().join("hw.toml"), REAL_HARDWARE).unwrap();
    std::fs::write(dir.path().join("spec.toml"), real(spec_text(dir.path()))).unwrap();
    let cases = [
        (
            "\"adc.bits\" = [4, 6, 8]",
            "\"adc.bitz\" = [4, 6, 8]",
            "grid.mapping.adc.bitz",
        ),
        (
            "\"adc.bits\" = [4, 6, 8]",
            "\"adc.bits\" = [4, 6.5]",
            "grid.mapping.adc.adc_bits[1]",
        ),
        (
            "\"adc.bits\" = [4, 6, 8]",
            "\"adc.bits\" = []",
            "grid.mapping.adc.adc_bits",
        ),
        ("\"rte\"]", "\"rte\", \"imdb\"]", "tasks[2]"),
        ("seeds = 3", "seeds = 3\nthreads = 2", "threads"),
        // Values that parse but make a point impossible: found when the point is checked,
        // before any model is loaded (ADC energy is tabulated for 4..=10 bits).
        (
            "\"adc.bits\" = [4, 6, 8]",
            "\"adc.bits\" = [3, 8]",
            "mapping.adc.adc_bits=3",
        ),
        (
            "\"adc.bits\" = [4, 6, 8]",
            "\"adc.bits\" = [0, 8]",
            "mapping.adc.adc_bits=0",
        ),
    ];
    for (from, to, key) in cases {
        let spec = real(spec_text(dir.path()).replace(from, to));
        std::fs::write(dir.path().join("bad.toml"), spec).unwrap();
        for dry_run in [&[][..], &["--dry-run"]] {
            let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
                .args(["sweep", "bad.toml", "--out", "bad.csv"])
                .args(dry_run)
                .current_dir(dir.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{stderr}");
            assert!(stderr.contains(key), "expected {key} in: {stderr}");
            assert!(!stderr.contains("tiny-bert"), "no model loaded: {stderr}");
            assert!(!dir.path().join("bad.csv").exists());
        }
    }
    // --dry-run checks the spec and counts rows without running or writing anything.
    let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args([
            "sweep",
            "spec.toml",
            "--out",
            "ok.csv",
            "--dry-run",
            "--shard",
            "1/4",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    // The spec is valid, so the plan is printed; then the dry run finds that its model
    // and data are not there, naming the path and the folder it was looked up from.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.contains("device.programming.sigma = [0, 0.05, 0.1]"),
        "{stdout}"
    );
    assert!(stdout.contains("= 54 rows; shard 1/4: 14 rows"), "{stdout}");
    assert!(
        stderr.contains("found no tiny-bert/config.json"),
        "{stderr}"
    );
    assert!(stderr.contains("relative paths are taken from"), "{stderr}");
    assert!(!dir.path().join("ok.csv").exists());

    // A valid spec whose model does not exist fails before any work, naming the model,
    // before the results file is created.
    let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["sweep", "spec.toml", "--out", "ok.csv"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tiny-bert"), "{stderr}");
    assert!(!dir.path().join("ok.csv").exists());

    // With the model there, the missing GLUE file is named the same way.
    std::fs::create_dir(dir.path().join("tiny-bert")).unwrap();
    std::fs::write(dir.path().join("tiny-bert/config.json"), "{}").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["sweep", "spec.toml", "--dry-run"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sst2 dev file glue/SST-2/dev.tsv"),
        "{stderr}"
    );
}

/// Every study shipped in experiments/ passes `--dry-run` from the repository root, as
/// experiments/README.md runs them: its keys exist in its base hardware and every grid point
/// is a valid chip. The dry run then checks its models and data, which are there only
/// with ../shared beside the clone (and, for checkpoints under .cache/, after the command
/// the spec names: scripts/main.sh for default.toml, `crossbert finetune` for the
/// hardware-aware studies): a missing one must be reported by path, after the plan was
/// printed.
#[test]
fn shipped_specs_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut specs: Vec<PathBuf> = std::fs::read_dir(root.join("experiments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 7, "the standard studies: {specs:?}");
    for spec in specs {
        let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
            .arg("sweep")
            .arg(&spec)
            .arg("--dry-run")
            .current_dir(root)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let paths_missing = stderr.contains("relative paths are taken from");
        assert!(
            stdout.contains(" rows; shard 0/1: ") && (output.status.success() || paths_missing),
            "{}: {stdout}{stderr}",
            spec.display(),
        );
        let needs_setup = stderr.contains("found no .cache/") || !common::shared_present();
        assert!(
            !paths_missing || needs_setup,
            "{}: {stderr}",
            spec.display()
        );
    }
}

/// Every hardware file shipped under experiments/hardware/ (including those only a
/// `crossbert finetune --hardware` command names, such as the noise-scale candidates)
/// resolves to a valid chip: `crossbert hardware --show` exits 0 and prints it.
#[test]
fn shipped_hardware_files_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut folders = vec![root.join("experiments/hardware")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "toml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 15, "the shipped hardware files: {files:?}");
    for file in files {
        let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
            .args(["hardware", "--show"])
            .arg(&file)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(
            output.status.success() && output.stdout.starts_with(b"preset = "),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A results file with known numbers: point A (4 bits) three seeds, point B (8 bits) three
/// seeds, point C (6 bits) one seed.
const KNOWN: &str = "\
model,task,split,limit,adc.bits,scope,seed,metric,value,digital_value,delta,energy_pj_per_inference,latency_ns,area_mm2,arrays,seconds,version,config_hash,shard
m,sst2,dev,,4,all,0,accuracy,0.70,0.9,-0.2,50,10,1,8,0.1,0.1.0,h,0/1
m,sst2,dev,,4,all,1,accuracy,0.71,0.9,-0.19,50,10,1,8,0.1,0.1.0,h,0/1
m,sst2,dev,,4,all,2,accuracy,0.75,0.9,-0.15,50,10,1,8,0.1,0.1.0,h,0/1
m,sst2,dev,,8,all,0,accuracy,0.80,0.9,-0.1,100,20,1,8,0.1,0.1.0,h,0/1
m,sst2,dev,,8,all,1,accuracy,0.82,0.9,-0.08,100,20,1,8,0.1,0.1.0,h,0/1
m,sst2,dev,,8,all,2,accuracy,0.84,0.9,-0.06,100,20,1,8,0.1,0.1.0,h,0/1
m,sst2,dev,,6,all,0,accuracy,0.79,0.9,-0.11,120,15,1,8,0.1,0.1.0,h,0/1
";

#[test]
fn summarize_gives_hand_computed_statistics_and_front() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("known.csv"), KNOWN).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["summarize", "known.csv", "--out", "summary.csv"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let summary = ResultsTable::read(&dir.path().join("summary.csv")).unwrap();
    let get = |row: usize, column: &str| -> f64 {
        summary.rows[row].fields[summary.column(column).unwrap()]
            .parse()
            .unwrap()
    };
    assert_eq!(summary.rows.len(), 3);
    // Point A: 0.70, 0.71, 0.75 → mean 0.72, s = sqrt(0.0014/2) = 0.0264575,
    // CI half-width t(0.975, 2)·s/√3 = 4.3026527·0.0264575/1.7320508 = 0.0657241.
    let tolerance = 1e-6;
    assert!((get(0, "value_mean") - 0.72).abs() < tolerance);
    assert!((get(0, "value_std") - 0.026_457_5).abs() < tolerance);
    assert!((get(0, "value_ci95_high") - (0.72 + 0.065_724_1)).abs() < tolerance);
    assert!((get(0, "value_ci95_low") - (0.72 - 0.065_724_1)).abs() < tolerance);
    // Point B: 0.80, 0.82, 0.84 → mean 0.82, s = 0.02, half-width 0.0496828.
    assert!((get(1, "value_mean") - 0.82).abs() < tolerance);
    assert!((get(1, "value_std") - 0.02).abs() < tolerance);
    assert!((get(1, "value_ci95_high") - 0.869_682_8).abs() < tolerance);
    assert!((get(1, "delta_mean") - (-0.08)).abs() < tolerance);
    assert!((get(1, "latency_ns_mean") - 20.0).abs() < tolerance);
    assert_eq!(summary.rows[0].fields[summary.column("n").unwrap()], "3");
    // Point C: one seed, no spread.
    assert_eq!(
        summary.rows[2].fields[summary.column("value_std").unwrap()],
        ""
    );
    // Front: A (cheapest) and B (most accurate); C costs more than B and is worse.
    let pareto: Vec<&str> = summary
        .rows
        .iter()
        .map(|r| r.fields[summary.column("pareto").unwrap()].as_str())
        .collect();
    assert_eq!(pareto, ["true", "true", "false"]);

    // Without --out: the same summary as an aligned table, the swept ADC bits as a column,
    // the metric to 4 decimals with its interval, energy in µJ and the front starred.
    let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["summarize", "known.csv"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[0].contains("model = m") && lines[0].contains("task = sst2"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("adc.bits  metric    n    mean"),
        "{table}"
    );
    assert!(
        lines[2].contains("0.7200  0.6543 – 0.7857    -0.1800"),
        "{table}"
    );
    assert!(lines[2].ends_with("  0.00005000  *"), "{table}");
    assert!(
        lines[4].contains("accuracy  1  0.7900") && !lines[4].ends_with('*'),
        "{table}"
    );

    // A repeated row (a concatenation instead of a merge) is refused, naming both lines.
    let repeated = format!("{KNOWN}{}\n", KNOWN.lines().nth(2).unwrap());
    std::fs::write(dir.path().join("repeated.csv"), repeated).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args(["summarize", "repeated.csv"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("lines 3 and 9 have the same key"),
        "{stderr}"
    );
}

#[test]
fn plots_are_valid_png_and_svg_with_text() {
    let dir = tempfile::tempdir().unwrap();
    let plan = setup(dir.path());
    let out = dir.path().join("results.csv");
    run_sweep(
        &plan,
        &Synthetic::new(0),
        &options(&out, false, Shard::ALL, 2),
    )
    .unwrap();
    let figures = [
        ("energy.png", "energy_pj_per_inference", "value", "task"),
        ("energy.svg", "energy_pj_per_inference", "value", "task"),
        ("bits.png", "adc.bits", "delta", "device.sigma"),
        ("bits.svg", "adc.bits", "delta", "device.sigma"),
        ("tasks.svg", "task", "value", "adc.bits"),
        ("titled.svg", "task", "value", "adc.bits"),
    ];
    for (name, x, y, group) in figures {
        let mut plot = Command::new(env!("CARGO_BIN_EXE_crossbert"));
        plot.args(["plot", "results.csv", "--x", x, "--y", y, "--group", group]);
        if name == "titled.svg" {
            plot.args(["--title", "held-out: tiny-bert on rows 60000-61999"]);
        }
        let status = plot
            .args(["--out", &format!("figs/{name}")])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "{name}");
        let bytes = std::fs::read(dir.path().join("figs").join(name)).unwrap();
        assert!(bytes.len() > 10_000, "{name}: only {} bytes", bytes.len());
        if name.ends_with(".png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
        } else {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.starts_with("<svg"), "{name}");
            // The title names the study (the file stem), the axes say what they show in
            // words and units, and the digital model is a reference line.
            let title = if name == "titled.svg" {
                "held-out: tiny-bert on rows 60000-61999"
            } else {
                "results: tiny-bert on 2 tasks dev"
            };
            assert!(text.contains(title), "{name}: no title");
            if name == "titled.svg" {
                assert!(
                    !text.contains("2 tasks dev"),
                    "{name}: generated title kept"
                );
            }
            let y_label = if y == "value" {
                "accuracy"
            } else {
                "accuracy change vs digital"
            };
            assert!(
                text.contains(&format!("\n{y_label}\n")),
                "{name}: no y label"
            );
            assert!(text.contains("digital "), "{name}: no digital line");
            if x.starts_with("energy_") {
                assert!(
                    text.contains("energy per inference (µJ)"),
                    "{name}: no x unit"
                );
                assert!(text.contains("Pareto front"), "{name}: no front");
            }
            if x == "task" {
                // A text column: one labelled position per value.
                assert!(
                    text.contains("\nsst2\n") && text.contains("\nrte\n"),
                    "{name}"
                );
            }
        }
    }
    if let Ok(keep) = std::env::var("CROSSBERT_KEEP_FIGURES") {
        for name in ["energy.png", "bits.png"] {
            std::fs::copy(
                dir.path().join("figs").join(name),
                Path::new(&keep).join(name),
            )
            .unwrap();
        }
    }
    // An unknown column is a clear error naming the columns there are.
    let output = Command::new(env!("CARGO_BIN_EXE_crossbert"))
        .args([
            "plot",
            "results.csv",
            "--x",
            "adc.bitz",
            "--y",
            "value",
            "--out",
            "x.png",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("no column \"adc.bitz\"") && stderr.contains("adc.bits"),
        "{stderr}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// A kill can stop the file at any byte (inside the header, inside a row, between
    /// rows). Whatever the byte, a resumed run ends with exactly the rows, in the same
    /// order, of an uninterrupted run. Cases: 24 cut points drawn by proptest.
    #[test]
    fn resume_after_a_cut_at_any_byte_restores_the_file(fraction in 0.0f64..1.0) {
        let dir = tempfile::tempdir().unwrap();
        let plan = setup(dir.path());
        let out = dir.path().join("results.csv");
        let shard: Shard = "0/3".parse().unwrap();
        run_sweep(&plan, &Synthetic::new(0), &options(&out, false, shard, 1)).unwrap();
        let reference = comparable_rows(&out);
        let bytes = std::fs::read(&out).unwrap();
        let cut = (bytes.len() as f64 * fraction) as usize;
        std::fs::write(&out, &bytes[..cut]).unwrap();

        run_sweep(&plan, &Synthetic::new(0), &options(&out, true, shard, 1)).unwrap();
        proptest::prop_assert_eq!(comparable_rows(&out), reference);
    }
}
