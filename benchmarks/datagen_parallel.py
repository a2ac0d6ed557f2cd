"""Parallel efficiency of dataset generation: oracle steps/s with 1 worker process and with W, generating
the same episodes (the data do not depend on the worker count), rounds interleaved, medians and their ratio.
Run it on an otherwise idle machine.

    ANYPOLICY_DATA_DIR=/tmp/datagen .venv/bin/python benchmarks/datagen_parallel.py --episodes 16 --workers 2 \
        --rounds 3 --out docs/results/raw/datagen-parallel-cpu.json
"""
import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from anypolicy.data import ogbench as og


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source", default="ogbench:cube-single-play")
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rates: dict[int, list[float]] = {1: [], args.workers: []}
    for _ in range(args.rounds):
        for workers in rates:
            start = time.perf_counter()
            og.generate(args.source, episodes=args.episodes, workers=workers, force=True, progress=False)
            rates[workers].append(args.episodes * og.EPISODE_STEPS / (time.perf_counter() - start))
            print(f"{workers} worker(s): {rates[workers][-1]:.0f} steps/s", flush=True)
    medians = {w: statistics.median(r) for w, r in rates.items()}
    result = {"source": args.source, "episodes": args.episodes, "rounds": args.rounds, "cpus": os.cpu_count(),
              "cpu": platform.processor() or platform.machine(), "steps_per_s": rates,
              "median_steps_per_s": medians, "speedup": medians[args.workers] / medians[1],
              "note": "wall clock of generate() including worker start-up, environment builds and writing the dataset"}
    print(json.dumps({k: result[k] for k in ("median_steps_per_s", "speedup")}, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
