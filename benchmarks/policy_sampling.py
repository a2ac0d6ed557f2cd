"""Time to draw 32 actions for each of 256 states, per policy class at its default size (the budget that
PA-RL's global step spends every update). Median of --reps calls after one warm-up. The autoregressive class
also without its key/value cache (every dimension a full causal pass over the prefix, as before 2026-12-07),
in the same process.

    .venv/bin/python benchmarks/policy_sampling.py --reps 3 --out docs/results/raw/policy-sampling-cpu.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/policy_sampling.py --only autoregressive --hidden 64,64 \
        --samples 8 --reps 7 --out docs/results/raw/policy-sampling-ar-2x64-cpu.json   # and 128,128 (-2x128-)
"""
import argparse
import json
import statistics
import time

import torch

from anypolicy.policies import POLICIES, make_policy


def full_pass_sample(policy, obs, n):
    """The autoregressive sampler without a key/value cache: a full causal pass over the prefix per dimension."""
    prefix = torch.zeros(len(obs) * n, 0, dtype=torch.long, device=obs.device)
    obs_n = obs.repeat_interleave(n, 0)
    for _ in range(policy.action_dim):
        probs = torch.softmax(policy._logits(obs_n, prefix)[:, -1] / policy.temperature, -1)
        prefix = torch.cat([prefix, torch.multinomial(probs, 1)], 1)
    return policy.from_unit(policy.bin_centers(prefix)).reshape(len(obs), n, -1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--states", type=int, default=256)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--obs-dim", type=int, default=28)
    p.add_argument("--action-dim", type=int, default=5)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", nargs="+", choices=sorted(POLICIES), help="these classes only")
    p.add_argument("--hidden", default=None, help="size for every class (as --set hidden=...), else its default")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    obs = torch.randn(args.states, args.obs_dim, device=args.device)
    hidden = tuple(int(w) for w in args.hidden.split(",")) if args.hidden else None
    rows = {}
    for name in args.only or POLICIES:
        policy = make_policy(name, args.obs_dim, args.action_dim, -torch.ones(args.action_dim),
                             torch.ones(args.action_dim), hidden=hidden).to(args.device)
        samplers = {name: policy.sample}
        if name == "autoregressive":
            samplers["autoregressive, full passes"] = lambda o, n: full_pass_sample(policy, o, n)
        times = {label: [] for label in samplers}
        with torch.no_grad():
            for _ in range(args.reps + 1):  # the first round warms up; the samplers alternate within a round
                for label, sample in samplers.items():
                    t0 = time.perf_counter()
                    sample(obs, args.samples)
                    if args.device.startswith("cuda"):
                        torch.cuda.synchronize()
                    times[label].append(time.perf_counter() - t0)
        for label, t in times.items():
            rows[label] = {"median_ms": round(1e3 * statistics.median(t[1:]), 2),
                           "parameters": sum(x.numel() for x in policy.parameters())}
            print(f"{label:28s} {rows[label]['median_ms']:10.2f} ms  {rows[label]['parameters']:>9,d} parameters")
    if args.out:
        meta = {"hidden": args.hidden, "states": args.states, "samples": args.samples, "obs_dim": args.obs_dim,
                "action_dim": args.action_dim, "reps": args.reps, "device": args.device,
                "torch_threads": torch.get_num_threads(), "torch": torch.__version__}
        with open(args.out, "w") as f:
            json.dump({"settings": meta, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
