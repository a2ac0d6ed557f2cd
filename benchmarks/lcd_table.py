"""Issue 8's table: LCD vs the MLP high level vs the flat diffusion policy vs the scripted oracle on
CALVIN-style chains on scene, plus the held-out-subtask run. Trains what is missing (resumable: a finished
run is reused), evaluates every run on the same chains with held-out and with training phrasings, and
writes one JSON per run under --out.

    ANYPOLICY_DATA_DIR=/work/data .venv/bin/python benchmarks/lcd_table.py --seeds 0 1 2 --chains 64 \
        --runs /work/runs/lcd --out docs/results/raw/lcd
    ... --oracle                       # the scripted upper bound on the same chains
    ... --methods lcd --holdout-task lock_drawer   # zero-shot on a subtask kept out of high-level training
                                                   # (and the ordinary run on the same single-task chains)
    .venv/bin/python benchmarks/results_tables.py   # regenerate the tables in lcd.md
"""
import argparse
import json
from pathlib import Path

import torch

from anypolicy.train.checkpoint import latest_checkpoint
from anypolicy.train.loop import load_agent, resume, train


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--methods", nargs="+", default=["lcd", "lcd-mlp", "lcd-flat"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--episodes", type=int, default=100, help="scene play episodes (1001 steps each)")
    p.add_argument("--low-steps", type=int, default=30_000)
    p.add_argument("--high-steps", type=int, default=15_000, help="planner / MLP / flat policy updates")
    p.add_argument("--chains", type=int, default=64)
    p.add_argument("--holdout-task", default="")
    p.add_argument("--oracle", action="store_true")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config, e.g. policy=diffusion")
    p.add_argument("--label", default="", help="suffix of the run names and table rows for --set variants")
    p.add_argument("--runs", default="runs/lcd")
    p.add_argument("--out", default="docs/results/raw/lcd")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.oracle:
        from anypolicy.data.scene_lang import sample_chains
        from anypolicy.hierarchy.chains import OracleController, run_chains

        result = run_chains(OracleController(8), sample_chains(args.chains, 5, seed=0), seed=0)
        (out / "oracle.json").write_text(json.dumps(result, indent=2))
        print("oracle", result, flush=True)
        return
    from anypolicy.hierarchy.chains import evaluate_chains

    for seed in args.seeds:
        for method in args.methods:
            name = f"{method}-{args.label}" if args.label else method
            tag = f"{name}{'-holdout-' + args.holdout_task if args.holdout_task else ''}-s{seed}"
            run = Path(args.runs) / tag
            steps = args.high_steps + (args.low_steps if method != "lcd-flat" else 0)
            sets = [f"dataset_episodes={args.episodes}", "eval_every=0", "eval_episodes=4", "threads=1",
                    "progress=false", "log_every=1000", f"checkpoint_every={steps // 3}",
                    f"holdout_task={args.holdout_task}"] + ([f"low_steps={args.low_steps}"] if method != "lcd-flat" else []) \
                + args.set
            if not (run / "summary.json").exists():
                if latest_checkpoint(run) if (run / "config.json").exists() else None:
                    resume(run)
                else:
                    train(method, "ogbench:scene-play-lang", steps=steps, seed=seed, run_dir=run, overrides=sets)
            summary = json.loads((run / "summary.json").read_text())
            agent, tcfg = load_agent(run)
            result = {"method": f"{method} ({', '.join(args.set)})" if args.set else method, "seed": seed, "steps": steps, "low_steps": args.low_steps if method != "lcd-flat" else 0,
                      "episodes": args.episodes, "holdout_task": args.holdout_task,
                      "train_seconds": summary["train_seconds_last_session"]}
            for phrasing in ("held-out", "training"):
                task = args.holdout_task or None
                result[phrasing] = evaluate_chains(agent, args.chains, seed=0, held_out=phrasing == "held-out", task=task)
                print(tag, phrasing, {k: round(v, 2) for k, v in result[phrasing].items()}, flush=True)
            (out / f"{tag}.json").write_text(json.dumps(result, indent=2))
            reference = Path(args.runs) / f"{name}-s{seed}"
            if args.holdout_task and (out / f"{name}-s{seed}.json").exists():  # the same chains, subtask trained on
                agent, _ = load_agent(reference)
                result = {**json.loads((out / f"{name}-s{seed}.json").read_text()), "holdout_task": args.holdout_task,
                          "method": f"{method} (subtask in training)"}
                for phrasing in ("held-out", "training"):
                    result[phrasing] = evaluate_chains(agent, args.chains, seed=0, held_out=phrasing == "held-out",
                                                       task=args.holdout_task)
                (out / f"{name}-with-{args.holdout_task}-s{seed}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
