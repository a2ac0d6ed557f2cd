#!/usr/bin/env bash
# BC, IQL and PA-RL learning from pixels on visual-cube-single (task 2) at a reduced CPU budget: the first
# EPISODES episodes of cube-single-play rendered at 64x64 (anypolicy data make ogbench:visual-cube-single-play
# --episodes EPISODES), IMPALA encoder, 3 stacked frames, DrQ shift 4, batch 64, one thread per run.
#   bash benchmarks/pixels_cube.sh RUNS STEPS EPISODES "RECIPES" [SEED] [DATASET]
#   bash benchmarks/pixels_cube.sh runs/pixels 6000 20 "iql bc"          # one lane; start another for parl-calql
# DATASET ogbench:cube-single-play trains the same recipes on the state observations of the same episodes.
set -euo pipefail
runs=$1; steps=$2; episodes=$3; recipes=$4; seed=${5:-0}; dataset=${6:-ogbench:visual-cube-single-play}
common="--set dataset_episodes=$episodes --set batch_size=64 --set eval_every=0 --set eval_episodes=10
        --set log_every=250 --set checkpoint_every=1000 --set progress=false --set threads=1"
diffusion="--set policy=diffusion --set hidden=128,128"
# PA-RL's cheap CPU setting (docs/results/parl.md) with the action re-fed at every critic layer (Appendix B)
parl="$diffusion --set critic_hidden=256,256 --set ensemble=2 --set samples=8 --set keep=2 --set local_steps=3
      --set action_refeed=true"
tag=$( [ "$dataset" = ogbench:visual-cube-single-play ] && echo pixels || echo states )
for r in $recipes; do
  case $r in
    bc) args="bc $diffusion" ;;
    iql) args="iql --set action_refeed=true" ;;
    parl-calql) args="parl-calql $parl" ;;
    *) echo "unknown recipe $r" >&2; exit 2 ;;
  esac
  dir="$runs/$tag-$r-s$seed"
  if [ -f "$dir/summary.json" ]; then echo "$dir done"; continue; fi
  if [ -f "$dir/config.json" ]; then anypolicy train --resume "$dir" > "$dir.resume.log" 2>&1; continue; fi
  # shellcheck disable=SC2086
  anypolicy train $args --dataset "$dataset" --steps "$steps" --seed "$seed" --run-dir "$dir" $common > "$dir.log" 2>&1
done
