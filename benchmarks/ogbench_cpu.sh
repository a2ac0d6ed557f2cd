#!/usr/bin/env bash
# Issue 20's cells under the CPU protocol of ../shared/BENCHMARKS.md: one (row, domain, seed) per call, one thread,
# resumed if its run directory exists and is unfinished, its raw files copied to docs/results/raw/ogbench-cpu/
# when done (docs/results/ogbench-cpu.md is regenerated from them by benchmarks/results_tables.py).
#   PATH=.venv/bin:$PATH ANYPOLICY_DATA_DIR=/work/data bash benchmarks/ogbench_cpu.sh RUNS ROW DOMAIN SEED
# DOMAIN: cube-single, scene, cube-double, puzzle-3x3 (each at its default task: 2; 4 for puzzle), or one of them
# with -sparse (scene-sparse: sparse rewards, as the FQL line of work runs scene online).
# Offline -> online rows: online-fql, online-calql, online-parl-calql (from the finished offline cell of that row).
# Rows at the protocol's budget (100k updates, batch 256, 4x256 MLPs, 50 episodes every 25k): bc (diffusion),
# iql, rebrac, fql, calql, idql, parl-iql, parl-calql (and its ablations parl-calql-nodata, parl-calql-distill;
# parl-calql-ar, its autoregressive policy); iql-old and calql-old (issue 19's defaults before it); and the parity rows (DOMAIN cube-single): parity-fql and parity-iql, the reference
# settings (4x512), 50k updates, evaluations every 10k. Per-domain recipe values (IQL's temperature, FQL's
# alpha, ReBRAC's alphas) come from each recipe's DOMAIN_DEFAULTS (docs/defaults.md).
set -euo pipefail
runs=$1; row=$2; domain=$3; seed=$4
task=2; [ "${domain#puzzle}" != "$domain" ] && task=4
# DOMAIN-sparse (e.g. scene-sparse): the same data and task with sparse rewards, -1 until every subtask is done
base=${domain%-sparse} reward=(); [ "$base" != "$domain" ] && reward=(--set sparse_reward=true)
common=(--dataset "ogbench:$base-play" --env "$base-singletask-task$task-v0" --seed "$seed" "${reward[@]}"
        --set threads=1 --set eval_episodes=50 --set log_every=1000 --set progress=false --set tensorboard=false)
# compile is left to compile=auto, which times both updates at each cell's start (the cells of 2026-12-01 and
# before set compile=true; the compiled and eager updates are the same computation)
protocol=(--steps 100000 --set eval_every=25000 --set checkpoint_every=5000 --set hidden=256,256,256,256)
candidates=(--set hidden=128,128 --set samples=8 --set keep=4)  # PA-RL's policy and candidates (both PA-RL rows)
parl=("${candidates[@]}" --set critic_hidden=256,256 --set pretrain_local_steps=0 --set ensemble=2 --set cql_states=64)
parity=(--steps 50000 --set eval_every=10000 --set checkpoint_every=2500 --set hidden=512,512,512,512)
case $row in
  bc) args=(bc "${protocol[@]}" --set policy=diffusion --set hidden=256,256,256) ;;  # 3 residual blocks of 256
  iql|rebrac) args=("$row" "${protocol[@]}") ;;
  # FQL at 3x256, the largest depth that fits a session: at 4x256 its update (10 Euler steps of the flow
  # network for the distillation target, two actors) runs at 0.62x IQL's rate, about 3 hours a cell; at 3x256
  # at 0.92x, as IQL's cell (protocol_rates.py, 2026-12-07)
  fql) args=(fql "${protocol[@]}" --set hidden=256,256,256) ;;
  # Cal-QL at its reference networks (critic and policy 2x256), the regularizer estimated on 32 of the batch's
  # states: at 0.91x IQL's rate; the protocol's 4x256 on 32 states runs at 0.47x (about 4 hours a cell) and on
  # 16 states at 0.58x (protocol_rates.py, 2026-12-07)
  calql) args=(calql "${protocol[@]}" --set hidden=256,256 --set critic_hidden=256,256 --set cql_states=32) ;;
  # PA-RL's staged pipeline (50k BC, 50k critic pre-training) at the largest setting that comes near the cell's
  # time (docs/results/parl-throughput.md): diffusion of 2 blocks of 128, k 8 cached samples, m 4, no local
  # steps while the policy is frozen (acting keeps T 10), 2 Q heads of 2x256, the regularizer on 64 states
  parl-calql) args=(parl-calql "${protocol[@]}" "${parl[@]}") ;;
  # the same row with the autoregressive policy (issue 20's one task): 2 transformer layers of width 64, 128 bins
  # per action dimension. At the diffusion row's width (128) its BC stage alone runs at 0.17x the diffusion
  # policy's rate (3 GFLOP an update: 5 tokens through 2 layers; about 70 minutes of the cell) and the cell takes
  # about 2.7 hours; at 64, BC at 0.35x and a cache fill at 0.54x the diffusion row's (parl-throughput.md)
  parl-calql-ar) args=(parl-calql "${protocol[@]}" "${parl[@]}" --set policy=autoregressive --set hidden=64,64) ;;
  # PA-RL on IQL's critic: the row's policy and candidates (diffusion 2x128, k 8, m 4), the protocol's 4x256 IQL
  # critic, which trains on dataset actions only (stage 2 draws no samples; distillation online only)
  parl-iql) args=(parl-iql "${protocol[@]}" "${candidates[@]}" --set critic_hidden=256,256,256,256) ;;
  # PA-RL's training ablations (section 5.3) on the row: no dataset action among the candidates; distillation
  # during critic pre-training, its cache refilled from the moving policy every 25k updates (two fills of the 2M
  # states, about 18 minutes each: about 2 hours a cell). The acting-time ones (global only, local only) run on
  # every finished parl-calql cell below.
  parl-calql-nodata) args=(parl-calql "${protocol[@]}" "${parl[@]}" --set data_action=false) ;;
  parl-calql-distill) args=(parl-calql "${protocol[@]}" "${parl[@]}" --set offline_distill=true --set action_cache=25000) ;;
  # IDQL: the diffusion policy of parl-calql's row (2 blocks of 128) cloned, an IQL critic of the protocol's 4x256
  # (expectile 0.7), acting by re-ranking 32 samples by Q; 11 updates/s measured on a shared core (~100 min)
  idql) args=(idql "${protocol[@]}" --set hidden=128,128 --set critic_hidden=256,256,256,256) ;;
  parity-fql|parity-iql) args=("${row#parity-}" "${parity[@]}") ;;
  # issue 19's rows with the defaults before it, at the same budget and sizes (docs/results/faithful.md):
  # IQL's tanh-Gaussian with a learned std, LayerNorm before the activation, PyTorch init, target-critic advantage;
  # Cal-QL's actor on the mean of its heads. (parl-calql's unstaged pipeline, which samples and improves the
  # diffusion policy's actions at every update, ran at 1.1 updates/s here: about 26 hours a cell, not run.)
  iql-old) args=(iql "${protocol[@]}" --set policy=gaussian --set norm_after_activation=false --set init=torch
                 --set advantage_critic=target) ;;
  calql-old) args=(calql "${protocol[@]}" --set hidden=256,256 --set critic_hidden=256,256 --set cql_states=32
                   --set actor_q=mean) ;;
  # offline -> online: the finished offline cell ROW-DOMAIN-sSEED fine-tuned for the protocol's 100k environment
  # steps (one update per step, the recipe's own sampling of offline and online data), 50 episodes every 10k
  # parl-calql online caches its samples in rounds (Appendix E): a pool of 16,384 transitions per 2,500 updates,
  # k 8 re-ranked, no local steps (T 0, acting too): about 3.3 hours a cell on one core, so it spans two sessions
  # (fresh samples at T 10: about 18 hours; docs/results/parl-throughput.md)
  online-fql|online-calql|online-parl-calql) source=$runs/${row#online-}-$domain-s$seed
    [ -f "$source/summary.json" ] || { echo "$source has not finished: run its offline cell first" >&2; exit 2; }
    args=("$source" --online-steps 100000 --set eval_every=10000 --set checkpoint_every=5000 --set log_every=1000)
    [ "$row" = online-parl-calql ] && args+=(--set action_cache=2500 --set cache_pool=16384 --set local_steps=0) ;;
  *) echo "unknown row $row" >&2; exit 2 ;;
esac
name=$row-$domain-s$seed
dir=$runs/$name
raw=ogbench-cpu start=(anypolicy train "${args[@]}" "${common[@]}" --run-dir "$dir") resume=(anypolicy train --resume)
if [ "${row#online-}" != "$row" ]; then
  raw=ogbench-cpu-online start=(anypolicy finetune "${args[@]}" --out "$dir") resume=(anypolicy finetune --resume)
fi
if [ -f "$dir/summary.json" ]; then echo "$dir is finished"
elif [ -f "$dir/config.json" ] && ls "$dir"/checkpoints/step_* > /dev/null 2>&1; then "${resume[@]}" "$dir"
else rm -rf "$dir"; "${start[@]}"; fi  # killed before its first checkpoint
out=docs/results/raw/$raw/$name
mkdir -p "$out"
cp "$dir"/{config.json,metrics.csv,eval.csv,summary.json} "$out"/
if [ -f "$dir/episodes.csv" ]; then cp "$dir/episodes.csv" "$out"/; fi
# issue 23's Table 3.3 experiment: the finished IQL cell acts with one I_SG step of its Gaussian against its own
# critic, at each log tau of the sweep (evaluation only, a few minutes; skipped once its raw file exists)
isg=docs/results/raw/cfpi/iql-isg-$name.json
if [ "$row" = iql ] && [ ! -f "$isg" ]; then python benchmarks/cfpi_improve_iql.py "$dir" --out "$isg"; fi
# issue 20's acting-time ablations of PA-RL (section 5.3) on the finished cell: the row's acting (k 8, m 4, T 10),
# global optimization only (T 0), local only (k = m = 1), the policy's own samples, and (issue 23) one CFPI step in
# place of the T gradient steps (evaluation only)
acting=docs/results/raw/ogbench-cpu/parl-acting-$name.json
if [ "${row%%-*}" = parl ] && [ ! -f "$acting" ]; then
  python benchmarks/parl_search.py "$dir" --modes candidates global-only local-only policy cfpi-local --out "$acting"; fi
