"""Seeds as one batched model against the same seeds as separate runs: updates per second of every seed,
side by side in one process (interleaved repeats, medians), on the recipe's own update code.

    .venv/bin/python benchmarks/multiseed.py --recipe iql --seeds 4 8 --hidden 64,64 256,256 --repeats 5
"""
import argparse
import dataclasses
import json
import statistics
import time

import torch

from anypolicy.config import parse_assignments
from anypolicy.train.loop import build_agent, make_configs, training_data
from anypolicy.train.multiseed import SeedBatch


def setup(recipe, dataset, hidden, n_seeds, compile):
    tcfg, acfg = make_configs(recipe, parse_assignments([f"hidden={hidden}"]), dataset=dataset)
    sampler, dims, stats = training_data(tcfg, acfg, "cpu")
    agents = [build_agent(dataclasses.replace(tcfg, seed=s), acfg, dims, "cpu", *stats) for s in range(n_seeds)]
    batched = SeedBatch([build_agent(dataclasses.replace(tcfg, seed=s), acfg, dims, "cpu", *stats)
                         for s in range(n_seeds)], compile=compile)
    updates = [torch.compile(a.update) if compile else a.update for a in agents]
    gens = [torch.Generator().manual_seed(s) for s in range(n_seeds)]

    def separate(n):
        for update, g in zip(updates, gens):  # the seeds one after the other, as separate runs would go
            for _ in range(n):
                update(sampler.sample(tcfg.batch_size, g))

    def together(n):
        for _ in range(n):
            batches = [sampler.sample(tcfg.batch_size, g) for g in gens]
            batched.update({k: torch.stack([b[k] for b in batches]) for k in batches[0]})
    return separate, together


def rate(fn, n, n_seeds):
    t = time.perf_counter()
    fn(n)
    return n * n_seeds / (time.perf_counter() - t)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--recipe", default="iql")
    p.add_argument("--dataset", default="toy:nav")
    p.add_argument("--seeds", type=int, nargs="+", default=[4, 8])
    p.add_argument("--hidden", nargs="+", default=["64,64", "256,256"])
    p.add_argument("--updates", type=int, default=100, help="updates per seed per timed repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, all cores)")
    p.add_argument("--compile", action="store_true", help="torch.compile both sides")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for hidden in args.hidden:
        for n_seeds in args.seeds:
            separate, together = setup(args.recipe, args.dataset, hidden, n_seeds, args.compile)
            separate(10), together(10)  # warm-up (and compilation)
            sep, tog = [], []
            for _ in range(args.repeats):  # interleaved, so machine noise hits both sides alike
                sep.append(rate(separate, args.updates, n_seeds))
                tog.append(rate(together, args.updates, n_seeds))
            ratios = [b / a for a, b in zip(sep, tog)]
            row = {"recipe": args.recipe, "hidden": hidden, "seeds": n_seeds, "compile": args.compile,
                   "threads": torch.get_num_threads(), "separate_updates_per_s": statistics.median(sep),
                   "batched_updates_per_s": statistics.median(tog), "speedup_median": statistics.median(ratios),
                   "speedup_min": min(ratios), "speedup_max": max(ratios)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
