#!/bin/bash
# Build a recipe's window cache as a sharded cache with a SLURM job array: every array task runs
# the same command and builds the shards i with i % (number of tasks) == its task index, using
# its CPUs as build workers; the last task to finish writes the index. A failed or killed task
# leaves only its unfinished shard behind (the last task's log names missing shards and their
# tasks): resubmit one task, which then runs as task 0 of 1 and builds every shard still missing,
# or the whole array (finished shards are reused). Training then opens the cache with the same
# data.cache_options.shards.
#
#   sbatch --array=0-15 recipes/slurm/build_cache.sh recipes/tuev/eegdm_pretrain.yaml 64
#   sbatch --array=3 recipes/slurm/build_cache.sh recipes/tuev/eegdm_pretrain.yaml 64  # the rest
#
# Arguments: RECIPE.yaml [SHARDS (default 64)] [more `biosig cache build` options...]
# BIOSIG_CACHE must be a folder every node sees (a shared file system with working flock).
#SBATCH --job-name=biosig-cache
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=06:00:00
#SBATCH --output=biosig-cache-%A_%a.log
set -euo pipefail
RECIPE=${1:?usage: build_cache.sh RECIPE.yaml [SHARDS] [options]}
SHARDS=${2:-64}
shift $(( $# >= 2 ? 2 : 1 ))
BIOSIG=${BIOSIG:-biosig}
export OMP_NUM_THREADS=1  # one thread per build worker
: "${SLURM_ARRAY_TASK_ID:?submit as a job array: sbatch --array=0-N ...}"
echo "task ${SLURM_ARRAY_TASK_ID} of ${SLURM_ARRAY_TASK_COUNT:-?} on $(hostname)"
exec $BIOSIG cache build --config "$RECIPE" --shards "$SHARDS" --task env \
    --workers "${SLURM_CPUS_PER_TASK:-1}" "$@"
