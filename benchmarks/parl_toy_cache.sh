#!/usr/bin/env bash
# PA-RL with the action cache on the toy task: the settings of parl_toy.sh's parl-calql row, the k policy
# samples of every dataset state drawn ahead and refreshed every REFRESH updates. Writes RUNS/cache-R-s<seed>/.
#   bash benchmarks/parl_toy_cache.sh RUNS "0 1 2" "100 250"
set -euo pipefail
runs=${1:-runs/parl-toy}; seeds=${2:-"0 1 2"}; refresh=${3:-"100 250"}
common="--set hidden=64,64 --set eval_every=0 --set eval_episodes=50 --set log_every=250 --set progress=false
        --set tensorboard=false --set checkpoint_every=100000 --set threads=1"
critic="--set critic_hidden=64,64 --set ensemble=2 --set critic_lr=1e-3 --set policy_lr=1e-3"
for r in $refresh; do
  for s in $seeds; do
    anypolicy train parl-calql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/cache-$r-s$s" \
      $common $critic --set samples=8 --set keep=4 --set action_cache="$r"
  done
done
