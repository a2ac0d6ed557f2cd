#!/usr/bin/env bash
# Short diagnostic on the GPU machine: generation rate, then the update rate with and without CUDA graphs.
set -uo pipefail
mkdir -p /tmp/site && tar xzf .carry/site.tgz -C /tmp/site
export PYTHONPATH=/tmp/site:$PWD/src MUJOCO_GL=disable ANYPOLICY_DATA_DIR=/tmp/data PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
out=${OUT:-/tmp/out}; mkdir -p $out
log=$out/probe.log
echo "cores $(nproc)" | tee -a $log
t0=$(date +%s)
timeout 150 python3 -m anypolicy.cli data make ogbench:cube-single-play --episodes ${EPISODES:-64} --workers 16 2>&1 | grep -v -i warn | tee -a $log
echo "generation wall seconds: $(( $(date +%s) - t0 ))" | tee -a $log
common="--dataset ogbench:cube-single-play --env cube-single-singletask-task2-v0 --seed 0 --set dataset_episodes=${EPISODES:-64} --set progress=false --set tensorboard=false --set eval_episodes=25 --set eval_envs=25 --set hidden=512,512,512,512 --set eval_every=0 --set log_every=1000"
for g in true false; do
  t0=$(date +%s)
  timeout 150 python3 -m anypolicy.cli train iql $common --steps 3000 --run-dir /tmp/probe-$g --set cuda_graph=$g 2>&1 | grep -v -i warn | tail -5 | tee -a $log
  echo "cuda_graph=$g wall $(( $(date +%s) - t0 ))s" | tee -a $log
  cp /tmp/probe-$g/metrics.csv $out/metrics-graph-$g.csv 2>/dev/null
done
