//! Helpers shared by the integration tests: where the shared checkpoints and GLUE data are.

use std::path::PathBuf;

/// `$CROSSBERT_SHARED`, else `../shared` beside the workspace; `None` (after printing why)
/// when it does not exist, so the tests that need it skip.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("CROSSBERT_SHARED") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    if dir.join("models").is_dir() && dir.join("glue").is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared not found (looked in {})", dir.display());
        None
    }
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
