#!/usr/bin/env bash
# PA-RL and its baselines on a regenerated OGBench play dataset at a reduced CPU budget, one seed, one
# thread per run; every recipe named in RECIPES runs in turn (start two lanes to use both cores).
#   bash benchmarks/parl_ogbench.sh DATASET ENV RUNS STEPS "RECIPES" [SEED]
#   bash benchmarks/parl_ogbench.sh ogbench:scene-play scene-singletask-task2-v0 runs/scene 10000 "bc iql parl-calql"
# Recipe names: bc (diffusion), iql (Gaussian), td3bc, calql (tanh-Gaussian), idql, parl-calql, parl-iql,
# ablate-global-only, ablate-local-only, ablate-no-data-action (parl-calql variants).
set -euo pipefail
dataset=$1; env=$2; runs=$3; steps=$4; recipes=$5; seed=${6:-0}
common="--set eval_every=2500 --set eval_episodes=50 --set log_every=250 --set checkpoint_every=2500
        --set progress=false --set threads=1"
# PA-RL's cheap CPU setting (docs/results/parl.md): diffusion 128 x 2 blocks, k 8, m 2, T 3, 2 Q heads
diffusion="--set policy=diffusion --set hidden=128,128"
parl="$diffusion --set critic_hidden=256,256 --set ensemble=2 --set samples=8 --set keep=2 --set local_steps=3"
for r in $recipes; do
  case $r in
    bc) args="bc $diffusion" ;;
    iql) args="iql" ;;
    td3bc) args="td3bc" ;;
    calql) args="calql" ;;
    idql) args="idql $diffusion --set critic_hidden=256,256" ;;
    parl-calql) args="parl-calql $parl" ;;
    parl-iql) args="parl-iql $parl" ;;
    ablate-global-only) args="parl-calql $parl --set local_steps=0" ;;
    ablate-local-only) args="parl-calql $parl --set samples=2 --set keep=2" ;;
    ablate-no-data-action) args="parl-calql $parl --set data_action=false" ;;
    *) echo "unknown recipe $r" >&2; exit 2 ;;
  esac
  dir="$runs/$r-s$seed"
  if [ -f "$dir/summary.json" ]; then echo "$dir done"; continue; fi
  if [ -f "$dir/config.json" ]; then anypolicy train --resume "$dir" > "$dir.resume.log" 2>&1; continue; fi
  # shellcheck disable=SC2086
  anypolicy train $args --dataset "$dataset" --env "$env" --steps "$steps" --seed "$seed" --run-dir "$dir" $common > "$dir.log" 2>&1
done
