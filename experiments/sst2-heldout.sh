#!/usr/bin/env bash
# Held-out SST-2 train sentences for choosing a hardware-aware recipe without the dev set:
#   experiments/sst2-heldout.sh [GLUE_DIR] [OUT_DIR]   (default ../shared/glue, .cache/sst2-heldout)
# writes OUT_DIR/SST-2/dev.tsv = the header and train rows 60,000–61,999 (0-based, 2,000
# rows), which no `crossbert finetune --max-train 60000` or smaller run trains on, and
# links OUT_DIR/SST-2/train.tsv to the real train split (the chips calibrate on its first
# rows). A spec with `data_dir = OUT_DIR` then evaluates the held-out rows as "dev"
# (experiments/README.md, "Choosing the recipe on held-out train sentences").
set -euo pipefail
cd "$(dirname "$0")/.."
glue=${1:-../shared/glue}
out=${2:-.cache/sst2-heldout}
train="$glue/SST-2/train.tsv"
[ -s "$train" ] || { echo "sst2-heldout: no SST-2 train split at $train" >&2; exit 1; }
rows=$(($(wc -l < "$train") - 1))
[ "$rows" -ge 62000 ] || { echo "sst2-heldout: $train has $rows rows, expected at least 62,000" >&2; exit 1; }
mkdir -p "$out/SST-2"
# file lines 60,002–62,001 are rows 60,000–61,999 after the header line
{ head -n 1 "$train"; sed -n '60002,62001p' "$train"; } > "$out/SST-2/dev.tsv"
ln -sf "$(realpath "$train")" "$out/SST-2/train.tsv"
echo "sst2-heldout: $out/SST-2/dev.tsv holds SST-2 train rows 60,000–61,999"
