#!/usr/bin/env bash
# PA-RL against its baselines on the built-in toy task (bimodal, mixed-quality data), several seeds,
# the settings of tests/test_learning.py (1000 updates, small networks). Writes RUNS/<recipe>-s<seed>/.
# parl-iql distils offline as it did when parl.md's table was measured (its default now distils online only).
#   bash benchmarks/parl_toy.sh RUNS "0 1 2"
set -euo pipefail
runs=${1:-runs/parl-toy}; seeds=${2:-"0 1 2"}
common="--set hidden=64,64 --set eval_every=0 --set eval_episodes=50 --set log_every=250 --set progress=false
        --set tensorboard=false --set checkpoint_every=100000 --set threads=1"
critic="--set critic_hidden=64,64 --set ensemble=2 --set critic_lr=1e-3 --set policy_lr=1e-3"
parl="--set samples=8 --set keep=4"
for s in $seeds; do
  anypolicy train bc --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/bc-diffusion-s$s" $common --set policy=diffusion --set lr=1e-3
  anypolicy train calql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/calql-s$s" $common $critic
  anypolicy train idql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/idql-s$s" $common --set critic_hidden=64,64 --set lr=1e-3 --set samples=8 --set keep=8
  anypolicy train parl-calql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/parl-calql-s$s" $common $critic $parl
  anypolicy train parl-iql --dataset toy:nav --steps 1000 --seed "$s" --run-dir "$runs/parl-iql-s$s" $common --set critic_hidden=64,64 --set lr=1e-3 $parl --set offline_distill=true
done
python - "$runs" <<'PY'
import json, sys, pathlib, collections
rows = collections.defaultdict(dict)
for p in sorted(pathlib.Path(sys.argv[1]).glob("*/summary.json")):
    name, seed = p.parent.name.rsplit("-s", 1)
    rows[name][int(seed)] = json.loads(p.read_text())["final_eval"]["success"]
for name, by_seed in rows.items():
    vals = [by_seed[s] for s in sorted(by_seed)]
    print(f"{name:14s} " + " / ".join(f"{v:.0f}" for v in vals) + f"   mean {sum(vals) / len(vals):.1f}")
PY
