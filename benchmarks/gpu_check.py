"""The prepared GPU check (issue 26): update rates of the recipes whose paper budgets need a GPU, each through
the training loop as a user runs it (CUDA graphs where the recipe is capturable, precision=auto), written to
one JSON. Each rate is the median of the loop's own updates/s rows after the first (the first holds the
capture or compilation), extrapolated to the paper's budget.

    python3 benchmarks/gpu_check.py --out /tmp/gpu-check.json            # on the GPU (benchmarks/gpu_check.sh)
    python3 benchmarks/gpu_check.py --dry --out /tmp/gpu-check-dry.json  # the same code path on the CPU, tiny
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from anypolicy.agents.base import recipe_class
from anypolicy.hardware import cpu_info, machine, resolve_device
from anypolicy.train.loop import train
from anypolicy.train.run_config import TrainConfig

# name -> (recipe, settings, updates timed, paper budget): the papers' own sizes (their recipes' defaults)
CHECKS = {
    "iql-4x512": ("iql", [], 6000, 1_000_000),  # FQL's IQL baseline: 4x512, 1M updates
    "iql-4x512-no-graph": ("iql", ["cuda_graph=false"], 3000, 1_000_000),
    "iql-4x512-fp32": ("iql", ["precision=fp32"], 6000, 1_000_000),  # beside auto (bf16 on a GPU of 8.0+)
    "fql-4x512": ("fql", [], 6000, 1_000_000),  # FQL: 4x512, 10 flow steps, 1M updates
    "fb": ("fb", [], 3000, 1_000_000),  # the method note's FB size
    # PA-RL Appendix B: k 32, m 10, T 10, 10 Cal-QL heads, 5-step diffusion; the critic stage (policy frozen,
    # its samples cached) and the distilling update that runs online
    "parl-calql-critic": ("parl-calql", ["bc_steps=0"], 60, 1_000_000),
    "parl-calql-distill": ("parl-calql", ["bc_steps=0", "offline_distill=true"], 60, 1_000_000),
}
# the dry run keeps every code path and shrinks every size
DRY = ["hidden=16,16", "critic_hidden=16,16", "ensemble=2", "samples=4", "keep=2", "local_steps=1", "z_dim=8",
       "f_hidden=16,16", "b_hidden=16,16", "batch_size=32"]


def keys(recipe: str) -> set[str]:
    return {f.name for f in dataclasses.fields(recipe_class(recipe).Config)} | {f.name for f in dataclasses.fields(TrainConfig)}


def rates(run_dir: Path) -> list[float]:
    with open(run_dir / "metrics.csv") as f:
        return [float(row["updates_per_s"]) for row in csv.DictReader(f)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dry", action="store_true", help="CPU, tiny networks, a few updates: checks that it starts")
    p.add_argument("--only", nargs="+", choices=sorted(CHECKS))
    p.add_argument("--out", required=True)
    args = p.parse_args()
    device = "cpu" if args.dry else "auto"
    result = {"machine": machine(resolve_device(device)), "cpu_flags": cpu_info()["flags"], "torch": torch.__version__,
              "dry": args.dry, "dataset": "toy:nav", "checks": {}}
    for name in args.only or CHECKS:
        recipe, settings, updates, budget = CHECKS[name]
        if args.dry:
            updates = 6
        log_every = max(1, updates // 6)
        with tempfile.TemporaryDirectory() as tmp:
            sets = [f"device={device}", "eval_every=0", "eval_episodes=1", "eval_envs=1", f"log_every={log_every}",
                    f"checkpoint_every={updates}", "tensorboard=false", "progress=false"] + settings
            if args.dry:
                sets += [s for s in DRY if s.split("=")[0] in keys(recipe) - {x.split("=")[0] for x in settings}]
            t0 = time.perf_counter()
            try:
                run = train(recipe, "toy:nav", steps=updates, seed=0, run_dir=Path(tmp) / name, overrides=sets)
            except Exception as exc:  # one failing check leaves the others' figures
                result["checks"][name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(name, "failed:", exc, flush=True)
                continue
            wall = time.perf_counter() - t0
            summary = json.loads((run / "summary.json").read_text())
            config = json.loads((run / "config.json").read_text())
            per_row = rates(run)
            rate = statistics.median(per_row[1:] or per_row)
        result["checks"][name] = {
            "recipe": recipe, "settings": settings, "updates": updates, "updates_per_s": round(rate, 2),
            "rows_updates_per_s": [round(r, 2) for r in per_row], "precision": config["train"]["precision"],
            "wall_s": round(wall, 1), "train_seconds": summary["train_seconds"],
            "paper_budget": budget, "hours_for_budget": round(budget / rate / 3600, 2)}
        print(name, json.dumps(result["checks"][name]), flush=True)
        Path(args.out).write_text(json.dumps(result, indent=2))  # what is done survives a timeout
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
