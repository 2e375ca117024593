//! Helpers shared by the integration tests: where the shared checkpoints and GLUE data are,
//! and how far two logit matrices are apart.

use std::io::Write;
use std::path::PathBuf;

/// `$CROSSBERT_SHARED`, else `../shared` beside the workspace; `None` when it does not exist,
/// so the tests that need it skip, saying so on stderr.
///
/// The skip note goes straight to the process's stderr: libtest captures `println!` and
/// `eprintln!` of passing tests, which would turn a skip into a silent `ok`. Under CI
/// (`CI` set to anything but `false`), a missing `../shared` is a failure, not a skip.
// Each test binary compiles this module; not every one needs this helper.
#[allow(dead_code)]
pub fn shared_dir() -> Option<PathBuf> {
    let dir = shared_path();
    if shared_present() {
        return Some(dir);
    }
    let missing = format!(
        "../shared not found: expected models/ and glue/ in {} (set CROSSBERT_SHARED to move it)",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v != "false") {
        panic!("{missing}; under CI the shared checkpoints and GLUE files are required");
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(std::io::stderr(), "skipped {test}: {missing}");
    None
}

/// Where `../shared` is looked for: `$CROSSBERT_SHARED`, else beside the workspace.
fn shared_path() -> PathBuf {
    match std::env::var_os("CROSSBERT_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// Whether `../shared` is there, without the skip note (for a test that checks less
/// without it rather than skipping).
pub fn shared_present() -> bool {
    let dir = shared_path();
    dir.join("models").is_dir() && dir.join("glue").is_dir()
}

/// Every `models/minilm-*` checkpoint directory, sorted.
// Each test binary compiles this module; not every one needs this helper.
#[allow(dead_code)]
pub fn minilm_checkpoints(shared: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(shared.join("models"))
        .expect("models/ is readable")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("minilm-"))
        })
        .collect();
    dirs.sort();
    dirs
}

/// Largest |got − expected| of a row relative to the row's largest |expected|, over all rows.
/// Anything not a number (a NaN logit, a row of zeros) is an infinite error: `f32::max`
/// would silently drop a NaN, and `err < tol` would then pass.
#[allow(dead_code)]
pub fn max_relative_error(
    got: &crossbert::model::Matrix,
    expected: &crossbert::model::Matrix,
) -> f32 {
    let finite_or_infinite = |e: f32| if e.is_nan() { f32::INFINITY } else { e };
    (0..expected.rows())
        .map(|r| {
            let scale = expected.row(r).iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let err = got
                .row(r)
                .iter()
                .zip(expected.row(r))
                .fold(0.0f32, |m, (a, d)| m.max(finite_or_infinite((a - d).abs())));
            finite_or_infinite(err / scale)
        })
        .fold(0.0, f32::max)
}

/// A synthesized checkpoint (random weights, generated vocabulary, 2 labels, float32) with
/// the given `config.json` fields, written to a temporary directory.
#[allow(dead_code)]
pub fn tiny_checkpoint(config: serde_json::Value, seed: u64) -> tempfile::TempDir {
    use crossbert::synth::{synthesize, StoredDtype, SynthOptions};
    let dir = tempfile::tempdir().unwrap();
    let options = SynthOptions {
        seed,
        dtype: StoredDtype::F32,
        num_labels: 2,
        tokenizer: None,
    };
    synthesize(&config, &options, dir.path()).unwrap();
    dir
}

/// `crossbert finetune` of a checkpoint under `tests/fixtures` (e.g. `gradients/tiny-gelu`)
/// on the fixture task data: 2 epochs, lr 1e-3, batches of 8, seed 3, into `out`.
#[allow(dead_code)]
pub fn finetune_command(base: &str, task: &str, out: &std::path::Path) -> std::process::Command {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_crossbert"));
    command
        .args(["finetune", "--base"])
        .arg(fixtures.join(base))
        .args(["--task", task, "--data"])
        .arg(fixtures.join("finetune"))
        .arg("--out")
        .arg(out)
        .args([
            "--epochs",
            "2",
            "--lr",
            "1e-3",
            "--batch-size",
            "8",
            "--seed",
            "3",
        ]);
    command
}

/// Runs a command that must succeed; its stdout.
#[allow(dead_code)]
pub fn stdout_of(command: &mut std::process::Command) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
