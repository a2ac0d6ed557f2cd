#!/usr/bin/env bash
# Hybrid parl-rlpd on the toy task from a BC diffusion policy, with and without a critic warm-up (no
# distillation during the first WARMUP updates). Needs the BC run of docs/results/parl.md:
#   anypolicy train bc --dataset toy:nav --steps 3000 --seed 0 --run-dir RUNS/toy-bc-diffusion --set policy=diffusion \
#     --set hidden=64,64 --set lr=1e-3 --set eval_every=0 --set threads=1
#   bash benchmarks/parl_toy_hybrid.sh RUNS 1000 "0 500"
set -euo pipefail
runs=${1:-runs}; steps=${2:-1000}; warmups=${3:-"0 500"}
for w in $warmups; do
  anypolicy finetune "$runs/toy-bc-diffusion" --recipe parl-rlpd --online-steps "$steps" --out "$runs/toy-hybrid-warmup$w" \
    --set updates_per_step=2 --set eval_every=125 --set eval_episodes=50 --set critic_hidden=64,64 --set samples=8 \
    --set keep=4 --set critic_lr=1e-3 --set policy_lr=1e-3 --set threads=1 --set distill_after="$w"
done
