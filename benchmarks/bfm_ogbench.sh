#!/usr/bin/env bash
# Issue 24's FB cells on cube-single (reward-free play data): one (row, seed) per call, one thread, resumed if its
# run directory exists and is unfinished; when pretraining is done its raw files go to
# docs/results/raw/bfm/ogbench/ROW-sSEED/, then zero-shot on all five tasks, by reward inference and by goal
# inference (benchmarks/bfm_adapt.py --goal, 50 episodes each), and the diagnosis of benchmarks/fb_diagnose.py.
#   PATH=.venv/bin:$PATH ANYPOLICY_DATA_DIR=/work/data bash benchmarks/bfm_ogbench.sh RUNS ROW SEED
# Rows: fb-awr (the in-sample actor: BREEZE-style AWR on an expectile V(s, z); fb-awr-beta3 with the weights'
# inverse temperature at 3, not BREEZE's 0.05) and fb (the TD3-style actor), all
# 100k updates of F/B/actor 2x256 and d 32 (35-41 updates/s on one core beside another cell, about 45 minutes;
# the method note's 2x512 and d 50 ran at about 11 on a shared core, 2.5 hours; docs/results/bfm.md).
set -euo pipefail
runs=$1; row=$2; seed=$3
args=(fb --dataset ogbench:cube-single-play --env cube-single-singletask-task2-v0 --seed "$seed" --steps 100000
      --set eval_every=25000 --set checkpoint_every=5000 --set f_hidden=256,256 --set hidden=256,256 --set z_dim=32
      --set threads=1 --set eval_episodes=50 --set log_every=1000 --set progress=false --set tensorboard=false)
case $row in
  fb) ;;
  fb-awr) args+=(--set actor=awr) ;;
  fb-awr-beta3) args+=(--set actor=awr --set beta=3) ;;  # the inverse temperature before 2026-12-08 (bfm.md)
  *) echo "unknown row $row" >&2; exit 2 ;;
esac
name=$row-cube-single-s$seed
dir=$runs/$name
if [ -f "$dir/summary.json" ]; then echo "$dir is finished"
elif [ -f "$dir/config.json" ] && ls "$dir"/checkpoints/step_* > /dev/null 2>&1; then anypolicy train --resume "$dir"
else rm -rf "$dir"; anypolicy train "${args[@]}" --run-dir "$dir"; fi  # killed before its first checkpoint
raw=docs/results/raw/bfm
mkdir -p "$raw/ogbench/$name"
cp "$dir"/{config.json,metrics.csv,eval.csv,summary.json} "$raw/ogbench/$name"/
# zero-shot on the five tasks (resumable: bfm_adapt.py keeps finished entries), then the measurements of why
python benchmarks/bfm_adapt.py "$dir" --tasks 1 2 3 4 5 --methods --goal --out "$raw/zero-shot-$name.json"
diagnosis=$raw/diagnose-$name.json
if [ ! -f "$diagnosis" ]; then python benchmarks/fb_diagnose.py "$dir" --tasks 1 2 3 4 5 --out "$diagnosis"; fi
