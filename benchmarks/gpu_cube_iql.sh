#!/usr/bin/env bash
# IQL and BC on cube-single task 2 on a lent GPU machine, inside one 10-minute command: regenerate the
# 1M-transition play dataset with all cores, then train both with FQL's network size (4x512) and CUDA
# graphs until STEPS or the deadline, copying logs to $OUT as they grow.
# Needs .carry/site.tgz (the wheels of ogbench, mujoco, gymnasium, minari, dm_control... unpacked).
# Usage: bash benchmarks/gpu_cube_iql.sh STEPS DEADLINE_SECONDS
set -uo pipefail
steps=${1:-120000}; deadline=$(( $(date +%s) + ${2:-560} ))
mkdir -p /tmp/site && tar xzf .carry/site.tgz -C /tmp/site
export PYTHONPATH=/tmp/site:$PWD/src MUJOCO_GL=disable ANYPOLICY_DATA_DIR=/tmp/data PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1
out=${OUT:-/tmp/out}; mkdir -p $out; log=$out/run.log
t0=$(date +%s)
python3 -m anypolicy.cli data make ogbench:cube-single-play --episodes 1000 --workers 16 2>&1 | grep -v -i warn | tee -a $log
echo "generation wall seconds: $(( $(date +%s) - t0 ))" | tee -a $log
common="--dataset ogbench:cube-single-play --env cube-single-singletask-task2-v0 --seed 0 --steps $steps --set progress=false --set tensorboard=false --set eval_episodes=50 --set eval_envs=25 --set hidden=512,512,512,512 --set eval_every=$((steps / 6)) --set log_every=5000 --set checkpoint_every=1000000"
for r in iql bc; do
  python3 -m anypolicy.cli train $r $common --run-dir /tmp/$r 2>&1 | grep -v -i warn >> $log &
done
while [ $(date +%s) -lt $deadline ] && [ -n "$(jobs -r)" ]; do
  sleep 5
  for r in iql bc; do for f in config.json metrics.csv eval.csv summary.json; do cp /tmp/$r/$f $out/$r-$f 2>/dev/null; done; done
done
echo "stopped at $(date +%s), deadline $deadline" | tee -a $log
