"""Acting by search on a trained critic: the argmax of PA-RL's optimized candidates against CEM started
from the policy's samples and from the whole action box (the derivative-free baselines of PA-RL), and the
acting-time ablations of PA-RL's section 5.3 (global optimization only: T = 0; local only: k = m = 1), the
same checkpoint and evaluation episodes for each.

    ANYPOLICY_DATA_DIR=/tmp/apdata .venv/bin/python benchmarks/parl_search.py runs/parl-toy/parl-calql-s* \
        --out docs/results/raw/parl/toy-search.json
    .venv/bin/python benchmarks/parl_search.py RUNS/parl-calql-cube-single-s0 --modes candidates global-only \
        local-only policy --out docs/results/raw/ogbench-cpu/parl-acting-parl-calql-cube-single-s0.json
"""
import argparse
import dataclasses
import json
import time

import torch

from anypolicy.train.loop import load_agent, run_eval

# acting settings: config fields read at each action, and the acting operator's own (k, m, T)
MODES = {"candidates": {}, "policy": {"act_optimize": False}, "cem-policy": {"act_search": "cem-policy"},
         "cem-random": {"act_search": "cem-random"}, "global-only": {"local_steps": 0},
         "local-only": {"samples": 1, "keep": 1},
         # issue 23: the row's candidates moved by one CFPI step (trust region from the k samples' covariance)
         # in place of T gradient steps
         "cfpi-local": {"local": "cfpi"}}
OPERATOR = {"samples", "keep", "local_steps", "local", "log_tau"}


def act_with(agent, run_optimize, fields: dict) -> None:
    """Set the agent's acting to `fields`, starting from the run's own operator `run_optimize` each time."""
    agent.cfg.act_search, agent.cfg.act_optimize = "candidates", True
    agent.optimize = dataclasses.replace(run_optimize, **{k: v for k, v in fields.items() if k in OPERATOR})
    for k, v in fields.items():
        if k not in OPERATOR:
            setattr(agent.cfg, k, v)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["candidates", "policy", "cem-policy",
                                                                          "cem-random"])
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for run in args.runs:
        agent, tcfg = load_agent(run)
        run_optimize = agent.optimize
        rows[run] = {}
        for mode in args.modes:
            act_with(agent, run_optimize, MODES[mode])
            t0 = time.perf_counter()
            result = run_eval(agent, tcfg, args.episodes)  # the environment's own return: dense on OGBench
            rows[run][mode] = {"success": result["success"], "return_mean": round(result["return_mean"], 1),
                               "seconds": round(time.perf_counter() - t0, 1)}
        print(run, json.dumps(rows[run]), flush=True)
    print("| run | " + " | ".join(args.modes) + " |")
    for run, r in rows.items():
        print(f"| {run} | " + " | ".join(f"{r[m]['success']:.0f}" for m in args.modes) + " |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
