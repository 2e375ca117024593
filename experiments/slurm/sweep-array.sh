#!/usr/bin/env bash
# Run a crossbert sweep as a Slurm job array, then merge the shards.
#
#   experiments/slurm/sweep-array.sh SPEC.toml OUTDIR NTASKS
#
# run on a login node, submits two jobs:
#   1. an array job `--array=0-(NTASKS-1)`; task k (k = SLURM_ARRAY_TASK_ID) runs
#        crossbert sweep SPEC.toml --shard k/NTASKS --resume --out OUTDIR/shard-k-of-NTASKS.csv
#      (see `crossbert::experiment::shard` for which rows shard k holds);
#   2. a merge job that starts when every task has succeeded (afterok) and runs
#        crossbert merge OUTDIR/shard-*-of-NTASKS.csv --spec SPEC.toml --out OUTDIR/results.csv
#      which writes results.csv only if every row of the spec is there exactly once.
# NTASKS is passed to every task rather than read from SLURM_ARRAY_TASK_COUNT so that one
# failed, killed or timed-out task k can be resubmitted alone; `--resume` continues its file:
#   sbatch --array=k experiments/slurm/sweep-array.sh SPEC.toml OUTDIR NTASKS
# The first merge job then never starts (its dependency failed): `scancel` it and run
#   sbatch --dependency=afterok:<new job id> experiments/slurm/sweep-array.sh --merge SPEC.toml OUTDIR NTASKS
#
# Environment:
#   CROSSBERT    the crossbert binary (default: `crossbert` on PATH)
#   THREADS      rows evaluated in parallel per task (default: SLURM_CPUS_PER_TASK, else 1)
#   SBATCH_EXTRA extra sbatch options for both jobs, e.g. "--partition=cpu --time=04:00:00"
#
# Relative paths are taken from the submission directory (Slurm starts jobs there).
#SBATCH --job-name=crossbert-sweep
set -euo pipefail

crossbert=${CROSSBERT:-crossbert}
usage="usage: $0 SPEC.toml OUTDIR NTASKS  (or: $0 --merge SPEC.toml OUTDIR NTASKS)"

if [[ "${1:-}" == "--merge" ]]; then
    role=merge
    shift
elif [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    role=shard
else
    role=submit
fi
spec=${1:?$usage}
outdir=${2:?$usage}

case $role in
submit)
    ntasks=${3:?$usage}
    [[ "$ntasks" =~ ^[1-9][0-9]*$ ]] || { echo "NTASKS: expected a positive integer, found '$ntasks'" >&2; exit 2; }
    [[ -f "$spec" ]] || { echo "SPEC: no such file '$spec'" >&2; exit 2; }
    mkdir -p "$outdir"
    script=$(realpath "$0")
    # shellcheck disable=SC2086  # SBATCH_EXTRA is a list of options
    array_id=$(sbatch --parsable ${SBATCH_EXTRA:-} --array="0-$((ntasks - 1))" \
        --output="$outdir/shard-%a.log" --open-mode=append "$script" "$spec" "$outdir" "$ntasks")
    array_id=${array_id%%;*}
    # shellcheck disable=SC2086
    merge_id=$(sbatch --parsable ${SBATCH_EXTRA:-} --dependency="afterok:$array_id" \
        --job-name=crossbert-merge --output="$outdir/merge.log" \
        "$script" --merge "$spec" "$outdir" "$ntasks")
    echo "submitted sweep array $array_id ($ntasks tasks) and merge job ${merge_id%%;*}"
    echo "results: $outdir/results.csv once the merge job has finished (log: $outdir/merge.log)"
    ;;
shard)
    index=$SLURM_ARRAY_TASK_ID
    count=${3:?$usage}
    if ((index >= count)); then
        echo "array task $index is outside 0..$((count - 1)) (NTASKS=$count)" >&2
        exit 2
    fi
    threads=${THREADS:-${SLURM_CPUS_PER_TASK:-1}}
    echo "shard $index/$count on $(hostname) with $threads threads"
    exec "$crossbert" sweep "$spec" --shard "$index/$count" --resume --threads "$threads" \
        --out "$outdir/shard-$index-of-$count.csv"
    ;;
merge)
    ntasks=${3:?$usage}
    files=()
    for ((i = 0; i < ntasks; i++)); do
        files+=("$outdir/shard-$i-of-$ntasks.csv")
    done
    exec "$crossbert" merge "${files[@]}" --spec "$spec" --out "$outdir/results.csv"
    ;;
esac
