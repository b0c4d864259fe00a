#!/bin/bash
# Multi-node pretraining on SLURM with Lightning's SLURM environment: one task per GPU, `srun`
# starts them, Lightning reads SLURM_PROCID / SLURM_NTASKS / SLURM_NODEID itself.
#   sbatch recipes/configs/trainer/slurm_pretrain.sh recipes/tuab/eegformer_pretrain.yaml \
#       --data.source.init_args.path /data/tuab/v3.0.1
#   sbatch recipes/configs/trainer/slurm_pretrain.sh recipes/tuev/eegdm_pretrain.yaml \
#       --data.source.init_args.path /data/tuev/v2.0.1
# Build the window cache once before (one process, or sharded: the cache docs), so the ranks
# only read it:  biosig fit --config <recipe>.yaml --trainer.fast_dev_run 1
# SIGUSR1 90 s before the time limit: Lightning saves a checkpoint and requeues the job; the
# requeued job (and any later sbatch of this script) resumes from the run's last checkpoint.
#SBATCH --job-name=biosig-pretrain
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=SIGUSR1@90
#SBATCH --requeue
#SBATCH --output=biosig-pretrain-%j.out
set -euo pipefail
RECIPE=${1:?usage: sbatch slurm_pretrain.sh RECIPE.yaml [--section.key value ...]}
shift
ROOT=${BIOSIG_RUN_DIR:-biosig_out/slurm_$(basename "$RECIPE" .yaml)}
RESUME=()
if find "$ROOT" \( -name 'last*.ckpt' -o -name 'hpc_ckpt_*.ckpt' \) -print -quit 2>/dev/null \
    | grep -q .; then
  # the newest last checkpoint under $ROOT, or Lightning's newer hpc_ckpt_N.ckpt saved at the
  # signal (biosig.experiments.resume; Lightning alone reads hpc_ckpt only without --ckpt_path)
  RESUME=(--ckpt_path last)
fi
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-8}
srun biosig fit --config "$RECIPE" --config recipes/configs/trainer/multinode.yaml \
  --trainer.num_nodes "$SLURM_NNODES" --trainer.devices "$SLURM_NTASKS_PER_NODE" \
  --trainer.default_root_dir "$ROOT" --data.num_workers "$((OMP_NUM_THREADS - 1))" \
  "${RESUME[@]}" "$@"
