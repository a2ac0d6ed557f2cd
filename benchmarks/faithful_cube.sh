#!/usr/bin/env bash
# Issue 19's measurements on cube-single task 2 (regenerated 1M play data): one named row per call, resumed
# if its run directory exists and is unfinished, its raw files copied to docs/results/raw/faithful/ when done.
#   PATH=.venv/bin:$PATH ANYPOLICY_DATA_DIR=/work/data bash benchmarks/faithful_cube.sh RUNS ROW SEED
# Rows: parity-iql (FQL's IQL settings, 4x512, 30k steps, evaluations every 10k) and, under the CPU protocol's
# sizes (4x256) at 50k steps with evaluations every 25k: iql, iql-old (the defaults before issue 19), calql,
# calql-old, parl-calql (staged, diffusion), parl-calql-old (distillation from update 1, no BC stage); fb, fb-awr
# (zero-shot on task 2 at the budget of docs/results/bfm.md).
set -euo pipefail
runs=$1; row=$2; seed=$3
common=(--dataset ogbench:cube-single-play --env cube-single-singletask-task2-v0 --seed "$seed"
        --set threads=1 --set eval_episodes=50 --set log_every=1000 --set progress=false --set tensorboard=false)
p256=(--set hidden=256,256,256,256)
c256=(--set critic_hidden=256,256,256,256)
case $row in
  parity-iql) args=(iql --steps 30000 --set eval_every=10000 --set checkpoint_every=5000 --set compile=true) ;;
  iql) args=(iql --steps 50000 --set eval_every=25000 --set checkpoint_every=5000 --set compile=true "${p256[@]}") ;;
  iql-old) args=(iql --steps 50000 --set eval_every=25000 --set checkpoint_every=5000 --set compile=true "${p256[@]}"
                 --set policy=gaussian --set norm_after_activation=false --set init=torch
                 --set advantage_critic=target) ;;
  calql) args=(calql --steps 50000 --set eval_every=25000 --set checkpoint_every=5000 --set compile=true
               "${p256[@]}" "${c256[@]}") ;;
  calql-old) args=(calql --steps 50000 --set eval_every=25000 --set checkpoint_every=5000 --set compile=true
                   "${p256[@]}" "${c256[@]}" --set actor_q=mean) ;;
  parl-calql) args=(parl-calql --steps 50000 --set eval_every=25000 --set checkpoint_every=2500 "${c256[@]}") ;;
  parl-calql-old) args=(parl-calql --steps 50000 --set eval_every=25000 --set checkpoint_every=2500 "${c256[@]}"
                        --set bc_steps=0 --set offline_distill=true --set cql_alpha=5 --set cql_heads=none
                        --set bins=0 --set local_rule=first-failure --set data_action_replaces=false) ;;
  fb) args=(fb --steps 20000 --set eval_every=10000 --set checkpoint_every=5000 --set f_hidden=256,256
            --set hidden=256,256 --set z_dim=32) ;;  # docs/results/bfm.md's budget, reward-free since issue 19
  # the same with the in-sample actor (BREEZE-style AWR on an expectile V(s, z)) instead of the TD3-style one
  fb-awr) args=(fb --steps 20000 --set eval_every=10000 --set checkpoint_every=5000 --set f_hidden=256,256
                --set hidden=256,256 --set z_dim=32 --set actor=awr) ;;
  *) echo "unknown row $row" >&2; exit 2 ;;
esac
dir=$runs/$row-s$seed
if [ -f "$dir/summary.json" ]; then echo "$dir is finished"
elif [ -f "$dir/config.json" ] && ls "$dir"/checkpoints/step_* > /dev/null 2>&1; then anypolicy train --resume "$dir"
else rm -rf "$dir"; anypolicy train "${args[@]}" "${common[@]}" --run-dir "$dir"; fi  # killed before its first checkpoint
out=docs/results/raw/faithful/$row-s$seed
mkdir -p "$out"
cp "$dir"/{config.json,metrics.csv,eval.csv,summary.json} "$out"/
