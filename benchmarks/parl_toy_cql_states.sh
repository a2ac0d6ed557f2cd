#!/usr/bin/env bash
# The regularizer on N of the batch's 256 states (cql_states, the CPU protocol's lever for Cal-QL and PA-RL's
# critic) against every state (0), side by side on the toy task: parl_toy.sh's parl-calql row, and Cal-QL with a
# tanh-Gaussian. Writes RUNS/<recipe>-states-N-s<seed>/.
#   bash benchmarks/parl_toy_cql_states.sh RUNS "0 1 2 3 4" "0 64"
set -euo pipefail
runs=${1:-runs/parl-toy}; seeds=${2:-"0 1 2 3 4"}; states=${3:-"0 64"}
common="--set hidden=64,64 --set eval_every=0 --set eval_episodes=50 --set log_every=250 --set progress=false
        --set tensorboard=false --set checkpoint_every=100000 --set threads=1 --set critic_hidden=64,64
        --set ensemble=2 --set critic_lr=1e-3 --set policy_lr=1e-3"
for n in $states; do
  for s in $seeds; do
    for recipe in parl-calql calql; do
      dir="$runs/$recipe-states-$n-s$s"
      [ -f "$dir/summary.json" ] && continue
      rm -rf "$dir"
      extra=(); [ "$recipe" = parl-calql ] && extra=(--set samples=8 --set keep=4)
      anypolicy train "$recipe" --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$dir" $common \
        --set cql_states="$n" "${extra[@]}"
    done
  done
done
