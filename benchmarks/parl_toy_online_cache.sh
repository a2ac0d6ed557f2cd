#!/usr/bin/env bash
# PA-RL online with fresh samples at every update against the action cache in rounds (a pool of POOL transitions
# per ROUND updates, its samples drawn once from a snapshot of the policy; docs/results/parl-throughput.md), on
# the toy task's hybrid start of docs/results/parl.md: parl-rlpd from a BC diffusion policy of the same seed, 1000
# environment steps, 2 updates each. The pool's reuse (ROUND x 256 / POOL = 31) is the OGBench row's (39).
# Raw files to docs/results/raw/parl/toy-online-cache/ (docs/results/parl.md's table).
#   PATH=.venv/bin:$PATH bash benchmarks/parl_toy_online_cache.sh RUNS "0 1 2"
#   ... RUNS "0 1 2" "pool-R50"   # other modes: pool-RN, rounds of N updates, the pool scaled to the same reuse (N x 2048 / 250)
set -euo pipefail
runs=${1:-runs/parl-toy-online}; seeds=${2:-"0 1 2"}; modes=${3:-"fresh pool"}
out=docs/results/raw/parl/toy-online-cache
mkdir -p "$out"
for s in $seeds; do
  bc=$runs/bc-diffusion-s$s
  [ -f "$bc/summary.json" ] || { rm -rf "$bc"; anypolicy train bc --dataset toy:nav --steps 3000 --seed "$s" --run-dir "$bc" \
    --set policy=diffusion --set hidden=64,64 --set lr=1e-3 --set eval_every=0 --set eval_episodes=50 --set threads=1 \
    --set progress=false --set tensorboard=false; }
  for mode in $modes; do
    round=250; [ "${mode#pool-R}" != "$mode" ] && round=${mode#pool-R}
    cache=(); [ "$mode" != fresh ] && cache=(--set action_cache=$round --set cache_pool=$((round * 2048 / 250)))
    dir=$runs/$mode-s$s
    [ -f "$dir/summary.json" ] || { rm -rf "$dir"; anypolicy finetune "$bc" --recipe parl-rlpd --online-steps 1000 \
      --out "$dir" --set updates_per_step=2 --set eval_every=125 --set eval_episodes=50 --set critic_hidden=64,64 \
      --set samples=8 --set keep=4 --set critic_lr=1e-3 --set policy_lr=1e-3 --set threads=1 "${cache[@]}"; }
    for f in summary.json eval.csv metrics.csv; do cp "$dir/$f" "$out/$mode-s$s-$f"; done
  done
done
