#!/usr/bin/env bash
# IQL and BC on cube-single task 2, on a lent GPU machine, within one 10-minute command:
# regenerate the 1M-transition play dataset with all cores, measure the update rate, then train for as
# many steps as the remaining time allows. Needs .carry/site.tgz (wheels unpacked: ogbench, mujoco,
# gymnasium, minari, dm_control...). Usage: bash benchmarks/gpu_cube_iql.sh SECONDS_FOR_TRAINING
set -euo pipefail
budget=${1:-300}
mkdir -p /tmp/site && tar xzf .carry/site.tgz -C /tmp/site
export PYTHONPATH=/tmp/site:$PWD/src MUJOCO_GL=egl ANYPOLICY_DATA_DIR=/tmp/data PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1
out=${OUT:-/tmp/out}; mkdir -p $out
nvidia-smi --query-gpu=name --format=csv,noheader; nproc; python3 -c "import torch; print(torch.__version__)"
t0=$(date +%s)
python3 -m anypolicy.cli data make ogbench:cube-single-play --episodes 1000 --workers $(nproc) 2>&1 | grep -v -i warn
echo "generation wall seconds: $(( $(date +%s) - t0 ))"
common="--dataset ogbench:cube-single-play --env cube-single-singletask-task2-v0 --seed 0 --set progress=false --set tensorboard=false --set eval_episodes=50 --set eval_envs=25 --set hidden=512,512,512,512"
python3 -m anypolicy.cli train iql $common --steps 3000 --run-dir /tmp/probe --set eval_every=0 --set log_every=1000 2>&1 | grep -v -i warn
rate=$(python3 -c "import csv; r=list(csv.DictReader(open('/tmp/probe/metrics.csv'))); print(float(r[-1]['updates_per_s']))")
steps=$(python3 -c "print(int($rate * $budget * 0.8 // 10000 * 10000))")
echo "IQL update rate ${rate}/s -> ${steps} steps"
python3 -m anypolicy.cli train iql $common --steps $steps --run-dir /tmp/iql --set eval_every=$((steps / 10)) --set log_every=5000 2>&1 | grep -v -i warn &
python3 -m anypolicy.cli train bc $common --steps $steps --run-dir /tmp/bc --set eval_every=$((steps / 10)) --set log_every=5000 2>&1 | grep -v -i warn &
wait
for r in iql bc; do for f in config.json metrics.csv eval.csv summary.json; do cp /tmp/$r/$f $out/$r-$f; done; done
