#!/usr/bin/env bash
# Spread one experiment over a Slurm array job, then merge the shards.
#
#   sbatch --array=0-3 experiments/slurm/run-array.sh experiments/configs/paper-table3.yaml runs/paper-table3
#   # when every task has finished (or chain it: sbatch --dependency=afterok:<jobid> ...):
#   MERGE=1 bash experiments/slurm/run-array.sh experiments/configs/paper-table3.yaml runs/paper-table3
#
# Task K of N runs every N-th scene starting at K (K = $SLURM_ARRAY_TASK_ID, 0-based: use --array=0-(N-1)) into
# OUT/shard-K. A task that was killed (time limit, preemption) continues where it stopped when it runs again:
# finished scenes are skipped (--resume). Extra arguments after OUT go to `run` (e.g. --set optimizer.iterations=100).
#
#SBATCH --job-name=aperture-depth
#SBATCH --cpus-per-task=4
#SBATCH --mem=24G
#SBATCH --time=08:00:00
#SBATCH --output=slurm-%A_%a.out
#SBATCH --requeue
set -euo pipefail

CONFIG=${1:?usage: run-array.sh CONFIG OUT [run options...]}
OUT=${2:?usage: run-array.sh CONFIG OUT [run options...]}
shift 2
CLI=${APERTURE_DEPTH:-npx aperture-depth}

if [[ "${MERGE:-0}" == "1" ]]; then
  exec $CLI merge "$OUT"/shard-* --out "$OUT"
fi

K=${SLURM_ARRAY_TASK_ID:?run under sbatch --array=0-(N-1), or set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT}
N=${SLURM_ARRAY_TASK_COUNT:?SLURM_ARRAY_TASK_COUNT is not set}
SHARD_DIR="$OUT/shard-$K"
RESUME=()
# A requeued or resubmitted task finds its folder and continues it.
if [[ -f "$SHARD_DIR/config.yaml" ]]; then RESUME=(--resume); fi

$CLI run --config "$CONFIG" --shard "$K/$N" --out "$SHARD_DIR" "${RESUME[@]}" "$@"
