"""Zero-shot and fast adaptation of FB runs: for each run (seed) and task, the zero-shot policy, then each
adaptation method with a budget of online episodes (evaluations every few budget episodes, not charged),
and optionally the headroom probe (the best of many latents near z_r against z_r itself).

    ANYPOLICY_DATA_DIR=/tmp/apdata .venv/bin/python benchmarks/bfm_adapt.py runs/fb-toy/fb-s{0,1,2} \
        --methods lola rela cem random finetune --episodes 50 --headroom 64 --out docs/results/raw/bfm/toy.json
    # OGBench: the five singletask tasks of the run's domain, zero-shot only (by reward inference, and with --goal
    # by goal inference as well: z = B(g) from each episode's goal observation)
    .venv/bin/python benchmarks/bfm_adapt.py runs/fb-cube/fb-s{0,1,2} --tasks 1 2 3 4 5 --methods --goal --out ...
"""
import argparse
import json
from pathlib import Path

import torch

from anypolicy.bfm.adapt import AdaptConfig, adapt, headroom, load_task, zero_shot, zero_shot_goal
from anypolicy.train.loop import load_agent


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--tasks", type=int, nargs="*", default=None, help="OGBench task numbers (default: the run's task)")
    p.add_argument("--methods", nargs="*", default=["lola", "rela", "cem", "random", "finetune"])
    p.add_argument("--episodes", type=int, default=50, help="adaptation budget")
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--zero-shot-episodes", type=int, default=50)
    p.add_argument("--goal", action="store_true", help="also zero-shot by goal inference (OGBench goals)")
    p.add_argument("--headroom", type=int, default=0, help="latents for the headroom probe (0: skip)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="AdaptConfig fields")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    from anypolicy.config import override, parse_assignments

    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}  # resumable: finished entries are kept
    for run in args.runs:
        for task in args.tasks or [None]:
            key = f"{run}|task{task}" if task else run
            entry = results.setdefault(key, {"run": run, "task": task})
            if "zero_shot" not in entry:
                entry["zero_shot"] = zero_shot(*load_agent(run), task, episodes=args.zero_shot_episodes)
            if args.goal and "zero_shot_goal" not in entry:
                entry["zero_shot_goal"] = zero_shot_goal(*load_agent(run), task, episodes=args.zero_shot_episodes)
                print(key, "zero-shot from the goal", entry["zero_shot_goal"]["success"], flush=True)
            for method in args.methods:
                if method not in entry:
                    cfg, _ = override(AdaptConfig(method=method, episodes=args.episodes, eval_every=args.eval_every,
                                                  eval_episodes=args.eval_episodes), parse_assignments(args.set))
                    entry[method] = adapt(*load_agent(run), cfg, task=task)
                    print(key, method, [(c["budget"], c["success"]) for c in entry[method]["curve"]], flush=True)
            if args.headroom and "headroom" not in entry:
                agent, env_id, next_obs, rewards = load_task(*load_agent(run), task)
                entry["headroom"] = headroom(agent, env_id, next_obs, rewards, latents=args.headroom, episodes=10)
            print(key, "zero-shot", entry["zero_shot"]["success"], flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
