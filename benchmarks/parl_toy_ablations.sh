#!/usr/bin/env bash
# PA-RL's ablations on the toy task, parl-calql + diffusion with the settings of tests/test_learning.py:
# global only (no local steps), local only (4 samples, all kept: no re-ranking), no dataset action.
#   bash benchmarks/parl_toy_ablations.sh RUNS "0"
set -euo pipefail
runs=${1:-runs/parl-toy}; seeds=${2:-"0"}
common="--set hidden=64,64 --set eval_every=0 --set eval_episodes=50 --set log_every=250 --set progress=false
        --set tensorboard=false --set checkpoint_every=100000 --set threads=1 --set critic_hidden=64,64
        --set ensemble=2 --set critic_lr=1e-3 --set policy_lr=1e-3 --set samples=8 --set keep=4"
for s in $seeds; do
  anypolicy train parl-calql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/ablate-global-only-s$s" $common --set local_steps=0
  anypolicy train parl-calql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/ablate-local-only-s$s" $common --set samples=4 --set keep=4
  anypolicy train parl-calql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/ablate-no-data-action-s$s" $common --set data_action=false
done
