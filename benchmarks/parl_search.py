"""Acting by search on a trained critic: the argmax of PA-RL's optimized candidates against CEM started
from the policy's samples and from the whole action box (the derivative-free baselines of PA-RL), the
same checkpoint and evaluation episodes for each.

    ANYPOLICY_DATA_DIR=/tmp/apdata .venv/bin/python benchmarks/parl_search.py runs/parl-toy/parl-calql-s* \
        --out docs/results/raw/parl/toy-search.json
"""
import argparse
import json
import time

import torch

from anypolicy.train.loop import load_agent, run_eval

MODES = {"candidates": {"act_search": "candidates"}, "policy": {"act_optimize": False},
         "cem-policy": {"act_search": "cem-policy"}, "cem-random": {"act_search": "cem-random"}}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for run in args.runs:
        agent, tcfg = load_agent(run)
        rows[run] = {}
        for mode, fields in MODES.items():
            for k, v in fields.items():
                setattr(agent.cfg, k, v)
            t0 = time.perf_counter()
            rows[run][mode] = {"success": run_eval(agent, tcfg, args.episodes)["success"],
                               "seconds": round(time.perf_counter() - t0, 1)}
            agent.cfg.act_search, agent.cfg.act_optimize = "candidates", True
        print(run, json.dumps(rows[run]), flush=True)
    print("| run | " + " | ".join(MODES) + " |")
    for run, r in rows.items():
        print(f"| {run} | " + " | ".join(f"{r[m]['success']:.0f}" for m in MODES) + " |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
