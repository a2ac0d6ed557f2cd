"""Time to draw 32 actions for each of 256 states, per policy class at its default size (the budget that
PA-RL's global step spends every update). Median of --reps calls after one warm-up.

    .venv/bin/python benchmarks/policy_sampling.py --reps 3 --out docs/results/raw/policy-sampling-cpu.json
"""
import argparse
import json
import statistics
import time

import torch

from anypolicy.policies import POLICIES, make_policy


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--states", type=int, default=256)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--obs-dim", type=int, default=28)
    p.add_argument("--action-dim", type=int, default=5)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    obs = torch.randn(args.states, args.obs_dim, device=args.device)
    rows = {}
    for name in POLICIES:
        policy = make_policy(name, args.obs_dim, args.action_dim, -torch.ones(args.action_dim),
                             torch.ones(args.action_dim)).to(args.device)
        times = []
        with torch.no_grad():
            policy.sample(obs, args.samples)
            for _ in range(args.reps):
                t0 = time.perf_counter()
                policy.sample(obs, args.samples)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
        rows[name] = {"median_ms": round(1e3 * statistics.median(times), 2),
                      "parameters": sum(x.numel() for x in policy.parameters())}
        print(f"{name:15s} {rows[name]['median_ms']:10.2f} ms  {rows[name]['parameters']:>9,d} parameters")
    if args.out:
        meta = {"states": args.states, "samples": args.samples, "obs_dim": args.obs_dim,
                "action_dim": args.action_dim, "reps": args.reps, "device": args.device,
                "torch_threads": torch.get_num_threads(), "torch": torch.__version__}
        with open(args.out, "w") as f:
            json.dump({"settings": meta, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
