#!/usr/bin/env bash
# PA-RL's cheaper schedules on the toy task, with the settings of parl_toy.sh's parl-calql row (k 8, m 4,
# T 10, 1000 updates): as is, distilling every 4th update, and a late setting (k 4, T 2 after 500 updates).
# Writes RUNS/sched-<name>-s<seed>/ and prints success and training seconds per run.
#   bash benchmarks/parl_toy_schedules.sh RUNS "0 1 2"
set -euo pipefail
runs=${1:-runs/parl-toy}; seeds=${2:-"0 1 2"}
common="--set hidden=64,64 --set eval_every=0 --set eval_episodes=50 --set log_every=250 --set progress=false
        --set tensorboard=false --set checkpoint_every=100000 --set threads=1"
critic="--set critic_hidden=64,64 --set ensemble=2 --set critic_lr=1e-3 --set policy_lr=1e-3 --set samples=8 --set keep=4"
declare -A schedules=(
  [every]=""
  [distill4]="--set distill_every=4"
  [late]="--set late_after=500 --set late_samples=4 --set late_local_steps=2"
)
for s in $seeds; do
  for name in every distill4 late; do
    anypolicy train parl-calql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/sched-$name-s$s" \
      $common $critic ${schedules[$name]}
  done
done
python - "$runs" <<'PY'
import json, sys, pathlib
for p in sorted(pathlib.Path(sys.argv[1]).glob("sched-*/summary.json")):
    summary = json.loads(p.read_text())
    print(f"{p.parent.name:22s} success {summary['final_eval']['success']:5.1f}  train s {summary['train_seconds_last_session']}")
PY
