"""Evaluate a trained run on several singletask tasks of its domain (for task-agnostic policies such as BC,
or to compare with zero-shot FB): seeded, deterministic acting, 50 episodes per task by default.

    ANYPOLICY_DATA_DIR=/work/data .venv/bin/python benchmarks/eval_tasks.py runs/cpu-bc-s0 --tasks 1 2 3 4 5 \
        --out docs/results/raw/bfm/bc-cube-single-tasks.json
"""
import argparse
import dataclasses
import json
from pathlib import Path

import torch

from anypolicy.bfm.adapt import task_env
from anypolicy.train.loop import load_agent, run_eval


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--tasks", type=int, nargs="+", required=True)
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    results = {}
    for run in args.runs:
        agent, tcfg = load_agent(run)
        for task in args.tasks:
            env = task_env(tcfg.env, task)
            results[f"{run}|task{task}"] = {"run": run, "recipe": tcfg.recipe, "seed": tcfg.seed, "env": env,
                                            **run_eval(agent, dataclasses.replace(tcfg, env=env), args.episodes)}
            print(run, env, results[f"{run}|task{task}"]["success"], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
