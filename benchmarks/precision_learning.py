"""Does bf16 change learning? IQL on the toy task with precision=fp32 and precision=bf16, same seeds and
budget (the quickstart's settings), final success of each run into one JSON (a table in throughput.md).

    .venv/bin/python benchmarks/precision_learning.py --seeds 0 1 2 --steps 3000 --runs /work/runs/precision \
        --out docs/results/raw/precision-toy-iql.json
"""
import argparse
import json
from pathlib import Path

from anypolicy.train.loop import train


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--runs", default="runs/precision")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    results = {}
    for precision in ("fp32", "bf16"):
        for seed in args.seeds:
            run = Path(args.runs) / f"iql-{precision}-s{seed}"
            if not (run / "summary.json").exists():
                train("iql", "toy:nav", steps=args.steps, seed=seed, run_dir=run,
                      overrides=[f"precision={precision}", "hidden=128,128", "lr=1e-3", "beta=3", "eval_every=1000",
                                 "eval_episodes=50", "log_every=500", "progress=false", "threads=1"])
            summary = json.loads((run / "summary.json").read_text())
            results.setdefault(precision, {})[seed] = {"success": summary["final_eval"]["success"],
                                                       "train_seconds": summary["train_seconds_last_session"]}
            print(precision, seed, results[precision][seed], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"steps": args.steps, "results": results}, indent=2))


if __name__ == "__main__":
    main()
