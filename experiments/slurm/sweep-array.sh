#!/usr/bin/env bash
# Run a crossbert sweep as a Slurm job array, then merge the shards.
#
#   experiments/slurm/sweep-array.sh SPEC.toml OUTDIR NTASKS      # on a login node: submit
#   experiments/slurm/sweep-array.sh --resubmit OUTDIR K[,K...]   # rerun failed tasks
#
# Submitting checks everything a task will need before anything is queued: the crossbert
# binary (CROSSBERT, else `crossbert` on PATH) is resolved to an absolute path and must run;
# `crossbert sweep SPEC --dry-run` must pass in the submit folder, which checks the spec and
# that its models and data files exist (relative paths in the spec are taken from the folder
# you submit from, and every job is started there with --chdir). Then it submits two jobs:
#   1. an array job `--array=0-(NTASKS-1)`; task k runs
#        crossbert sweep SPEC --shard k/NTASKS --resume --out OUTDIR/shard-k-of-NTASKS.csv
#      (see `crossbert::experiment::shard` for which rows shard k holds), log OUTDIR/shard-k.log;
#   2. a merge job that starts when every task has succeeded (afterok) and runs
#        crossbert merge OUTDIR/shard-*-of-NTASKS.csv --spec SPEC --out OUTDIR/results.csv
#      which writes results.csv only if every row of the spec is there exactly once.
# The jobs get the binary, spec, folders and thread count as arguments, not through the
# environment, so sites that submit with --export=NONE work too.
#
# A failed, killed or timed-out task k leaves the merge job waiting on a dependency that can
# never be satisfied. `--resubmit OUTDIR k` cancels that merge job, resubmits task k with the
# same sbatch options as the first submission (saved in OUTDIR/submit.env) and `--resume`
# continues its file, then queues a new merge job that starts when task k has succeeded and
# every task of the earlier arrays of OUTDIR has ended (afterany: some may still be queued or
# running when you resubmit; the merge checks that their rows are there).
#
# Environment at submit time:
#   CROSSBERT    the crossbert binary (default: `crossbert` on PATH)
#   THREADS      rows evaluated in parallel per task (default 1). Each task's CPUs are
#                SLURM_CPUS_PER_TASK (give it with -c in SBATCH_EXTRA); crossbert sizes its
#                thread pool from the allocation, never from the node.
#   SBATCH_EXTRA extra sbatch options for every job, e.g. "--partition=cpu --time=04:00:00 -c 2"
#SBATCH --job-name=crossbert-sweep
set -euo pipefail

usage="usage: $0 SPEC.toml OUTDIR NTASKS  |  $0 --resubmit OUTDIR K[,K...]"
fail() { echo "sweep-array: $*" >&2; exit 2; }

# Submits the array tasks $1 (e.g. "0-7" or "3,5") and a merge job after them and after
# every earlier array of OUTDIR (ARRAY_IDS); reads the settings of submit.env (or of the
# submit step below).
submit_jobs() {
    local tasks=$1 array_id merge_id dependency earlier
    # shellcheck disable=SC2086  # SBATCH_EXTRA is a list of options
    array_id=$(sbatch --parsable $SBATCH_EXTRA --chdir="$WORKDIR" --array="$tasks" \
        --output="$OUTDIR/shard-%a.log" --open-mode=append \
        "$SCRIPT" --shard-job "$CROSSBERT" "$THREADS" "$SPEC" "$OUTDIR" "$NTASKS")
    array_id=${array_id%%;*}
    dependency="afterok:$array_id"
    for earlier in ${ARRAY_IDS:-}; do
        dependency+=",afterany:$earlier"
    done
    # shellcheck disable=SC2086
    merge_id=$(sbatch --parsable $SBATCH_EXTRA --chdir="$WORKDIR" --dependency="$dependency" \
        --job-name=crossbert-merge --output="$OUTDIR/merge.log" --open-mode=append \
        "$SCRIPT" --merge-job "$CROSSBERT" "$SPEC" "$OUTDIR" "$NTASKS")
    merge_id=${merge_id%%;*}
    printf 'ARRAY_IDS=%q\nMERGE_ID=%q\n' "${ARRAY_IDS:+$ARRAY_IDS }$array_id" "$merge_id" \
        >>"$OUTDIR/submit.env"
    echo "submitted array $array_id (tasks $tasks of 0-$((NTASKS - 1))) and merge job $merge_id"
    echo "results: $OUTDIR/results.csv once the merge job has finished (log: $OUTDIR/merge.log)"
}

case "${1:-}" in
--shard-job)
    # Inside array task SLURM_ARRAY_TASK_ID: one shard.
    crossbert=$2 threads=$3 spec=$4 outdir=$5 ntasks=$6
    index=${SLURM_ARRAY_TASK_ID:?"--shard-job runs inside a Slurm array task"}
    ((index < ntasks)) || fail "array task $index is outside 0..$((ntasks - 1)) (NTASKS=$ntasks)"
    # The allocation sizes crossbert's thread pool (SLURM_CPUS_PER_TASK), not a value
    # exported from the login shell.
    unset RAYON_NUM_THREADS
    echo "shard $index/$ntasks on $(hostname) in $PWD: $threads rows at a time, ${SLURM_CPUS_PER_TASK:-1} CPUs"
    exec "$crossbert" sweep "$spec" --shard "$index/$ntasks" --resume --threads "$threads" \
        --out "$outdir/shard-$index-of-$ntasks.csv"
    ;;
--merge-job)
    crossbert=$2 spec=$3 outdir=$4 ntasks=$5
    files=()
    for ((i = 0; i < ntasks; i++)); do
        files+=("$outdir/shard-$i-of-$ntasks.csv")
    done
    exec "$crossbert" merge "${files[@]}" --spec "$spec" --out "$outdir/results.csv"
    ;;
--resubmit)
    outdir=${2:?$usage}
    tasks=${3:?$usage}
    [[ "$tasks" =~ ^(0|[1-9][0-9]*)(,(0|[1-9][0-9]*))*$ ]] || fail "K: expected task numbers like 3 or 3,5, found '$tasks'"
    [[ -f "$outdir/submit.env" ]] || fail "no $outdir/submit.env: was OUTDIR submitted by this script?"
    # shellcheck source=/dev/null
    source "$outdir/submit.env"
    for k in ${tasks//,/ }; do
        ((k < NTASKS)) || fail "task $k is outside 0..$((NTASKS - 1)) (NTASKS=$NTASKS)"
    done
    scancel "$MERGE_ID" 2>/dev/null || true
    submit_jobs "$tasks"
    ;;
*)
    spec=${1:?$usage}
    outdir=${2:?$usage}
    ntasks=${3:?$usage}
    [[ "$ntasks" =~ ^[1-9][0-9]*$ ]] || fail "NTASKS: expected a positive integer, found '$ntasks'"
    [[ -f "$spec" ]] || fail "SPEC: no such file '$spec'"
    threads=${THREADS:-1}
    [[ "$threads" =~ ^[1-9][0-9]*$ ]] || fail "THREADS: expected a positive integer, found '$threads'"
    crossbert=$(command -v "${CROSSBERT:-crossbert}") ||
        fail "crossbert binary '${CROSSBERT:-crossbert}' not found: set CROSSBERT=/path/to/crossbert"
    crossbert=$(realpath "$crossbert")
    "$crossbert" --version >/dev/null || fail "$crossbert does not run on this node"
    "$crossbert" sweep "$spec" --dry-run >/dev/null ||
        fail "the spec does not pass 'crossbert sweep $spec --dry-run' in $PWD (see above)"
    mkdir -p "$outdir"
    outdir=$(realpath "$outdir")
    # Settings of this submission, for --resubmit (bash assignments, values quoted).
    {
        printf 'WORKDIR=%q\nSCRIPT=%q\nCROSSBERT=%q\nTHREADS=%q\n' \
            "$PWD" "$(realpath "$0")" "$crossbert" "$threads"
        printf 'SPEC=%q\nOUTDIR=%q\nNTASKS=%q\nSBATCH_EXTRA=%q\n' \
            "$(realpath "$spec")" "$outdir" "$ntasks" "${SBATCH_EXTRA:-}"
    } >"$outdir/submit.env"
    # shellcheck source=/dev/null
    source "$outdir/submit.env"
    ARRAY_IDS=
    submit_jobs "0-$((ntasks - 1))"
    ;;
esac
