#!/usr/bin/env bash
# Queue of aihwkit peer runs; one queue is one process at a time on one thread.
# Usage: scripts/peers/run_all.sh sst2|mrpc   (run both queues in parallel at most)
# Env: VENV (default /work/venv-aihwkit), SHARED (default /work/shared), OUT (CSV path).
set -euo pipefail
queue="${1:?usage: run_all.sh sst2|mrpc}"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
VENV="${VENV:-/work/venv-aihwkit}"
SHARED="${SHARED:-/work/shared}"
OUT="${OUT:-$repo/experiments/results/peers/aihwkit.csv}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
run() { "$VENV/bin/python" "$here/aihwkit_glue.py" --glue "$SHARED/glue" --out "$OUT" --threads 1 "$@"; }
times=1,3600,86400,31536000
case "$queue" in
  sst2)
    m="$SHARED/models/minilm-sst2"
    run --model "$m" --task sst2 --setting digital --seeds 0
    run --model "$m" --task sst2 --setting analog-perfect --seeds 0
    run --model "$m" --task sst2 --setting ideal-8bit --seeds 0
    run --model "$m" --task sst2 --setting reram-cmo-0p2 --seeds 0,1,2 --times "$times"
    run --model "$m" --task sst2 --setting pcm --seeds 0,1,2 --times "$times"
    ;;
  mrpc)
    m="$SHARED/models/minilm-mrpc"
    run --model "$m" --task mrpc --setting digital --seeds 0
    run --model "$m" --task mrpc --setting digital --seeds 0 --limit 200
    run --model "$m" --task mrpc --setting ideal-8bit --seeds 0 --limit 200
    run --model "$m" --task mrpc --setting reram-cmo-0p2 --seeds 0,1,2 --times "$times" --limit 200
    run --model "$m" --task mrpc --setting pcm --seeds 0,1,2 --times "$times" --limit 200
    ;;
  *) echo "unknown queue $queue" >&2; exit 2 ;;
esac
echo "queue $queue done"
