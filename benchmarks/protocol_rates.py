"""Which size of each recipe fits the CPU protocol's time budget (../shared/BENCHMARKS.md: 100,000 updates in
about 90 minutes on one core, i.e. at least ~19 updates/s with evaluations on top): compiled update rates of
candidate settings on cube-like shapes (28-dim observations, 5-dim actions, batch 256, the recipe's own
cube-single per-domain values), interleaved rounds so machine noise hits every setting alike, medians.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/protocol_rates.py --rounds 3 --updates 100 \
        --out docs/results/raw/protocol-rates-cpu.json [--only fql-4x256 fql-3x256]
"""
import argparse
import json
import platform
import statistics
import time

import torch

from anypolicy.train.loop import build_agent, make_configs

W4, W3, W2 = "256,256,256,256", "256,256,256", "256,256"
SETTINGS = {  # name -> (recipe, overrides); the protocol size first, smaller ones after
    "iql-4x256": ("iql", {"hidden": W4}),
    "rebrac-4x256": ("rebrac", {"hidden": W4}),
    "fql-4x256": ("fql", {"hidden": W4}),
    "fql-3x256": ("fql", {"hidden": W3}),
    "fql-4x256-flow5": ("fql", {"hidden": W4, "flow_steps": "5"}),
    "calql-4x256": ("calql", {"hidden": W4, "critic_hidden": W4}),
    "calql-4x256-n4": ("calql", {"hidden": W4, "critic_hidden": W4, "cql_actions": "4"}),
    "calql-2x256": ("calql", {"critic_hidden": W2}),
    "calql-2x256-n4": ("calql", {"critic_hidden": W2, "cql_actions": "4"}),
    # the regularizer estimated on 64 of the batch's 256 states (cql_states), the reference's 10 actions
    "calql-4x256-s64": ("calql", {"hidden": W4, "critic_hidden": W4, "cql_states": "64"}),
    "calql-4x256-s32": ("calql", {"hidden": W4, "critic_hidden": W4, "cql_states": "32"}),
    "calql-2x256-s64": ("calql", {"critic_hidden": W2, "cql_states": "64"}),
    "calql-2x256-s32": ("calql", {"critic_hidden": W2, "cql_states": "32"}),
    "calql-3x256-s32": ("calql", {"hidden": W3, "critic_hidden": W3, "cql_states": "32"}),
    "calql-4x256-s16": ("calql", {"hidden": W4, "critic_hidden": W4, "cql_states": "16"}),
    "bc-diffusion": ("bc", {"policy": "diffusion", "hidden": "256,256,256"}),
    # PA-RL's BC stage (stage 1) with the policies of its rows: diffusion and autoregressive of width 128, and 64
    "bc-diffusion-2x128": ("bc", {"policy": "diffusion", "hidden": "128,128"}),
    "bc-ar-2x128": ("bc", {"policy": "autoregressive", "hidden": "128,128"}),
    "bc-ar-2x64": ("bc", {"policy": "autoregressive", "hidden": "64,64"}),
}
OBS, ACT, BATCH = 28, 5, 256


def make_batch(gen):
    def r(*shape):
        return torch.randn(*shape, generator=gen)
    return {"observations": r(BATCH, OBS), "next_observations": r(BATCH, OBS),
            "actions": (torch.rand(BATCH, ACT, generator=gen) * 2 - 1) * 0.99,
            "next_actions": (torch.rand(BATCH, ACT, generator=gen) * 2 - 1) * 0.99,
            "rewards": -torch.ones(BATCH), "masks": torch.ones(BATCH), "mc_returns": -50 * torch.ones(BATCH)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--updates", type=int, default=100, help="timed updates per setting per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=10, help="untimed updates first (compilation)")
    p.add_argument("--only", nargs="+", choices=sorted(SETTINGS))
    p.add_argument("--out", default=None)
    p.add_argument("--load", default=None, help="what else ran on the machine (written to the JSON)")
    args = p.parse_args()
    torch.set_num_threads(1)
    # each agent's fused steps compile graphs of their own: one process holding ten agents needs more than
    # dynamo's default of 8 per function, or the later settings silently fall back to eager
    torch._dynamo.config.recompile_limit = 256
    torch._dynamo.config.accumulated_recompile_limit = 4096
    names = args.only or list(SETTINGS)
    gen = torch.Generator().manual_seed(0)
    batches = [make_batch(gen) for _ in range(8)]
    dims = {"obs_dim": OBS, "action_dim": ACT, "action_low": [-1.0] * ACT, "action_high": [1.0] * ACT}
    updates = {}
    for name in names:
        recipe, sets = SETTINGS[name]
        tcfg, acfg = make_configs(recipe, sets, dataset="ogbench:cube-single-play")
        update = build_agent(tcfg, acfg, dims, torch.device("cpu")).compiled_update()
        for i in range(args.warmup):
            update(batches[i % len(batches)])
        updates[name] = update
    rates = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            start = time.perf_counter()
            for i in range(args.updates):
                updates[name](batches[i % len(batches)])
            rates[name].append(args.updates / (time.perf_counter() - start))
    rows = {}
    for name in names:
        median = statistics.median(rates[name])
        rows[name] = {"recipe": SETTINGS[name][0], "overrides": SETTINGS[name][1], "updates_per_s": rates[name],
                      "median": median, "minutes_per_100k": 100_000 / median / 60}
        print(f"{name:18s} {median:7.1f} updates/s  {rows[name]['minutes_per_100k']:6.0f} min per 100k  "
              f"rounds {', '.join(f'{r:.1f}' for r in rates[name])}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
                       "threads": 1, "batch": BATCH, "updates": args.updates, "rounds": args.rounds,
                       **({"load": args.load} if args.load else {}), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
