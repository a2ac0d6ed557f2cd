"""IQL update throughput, anypolicy against d3rlpy, side by side in one process on the same data.

Both sides: batch 256, two Q heads + V + Gaussian policy, hidden layers 256x256, Adam, the same
observations/actions/rewards (regenerated cube-single-play, task 2 labels). Each timed block samples a
batch and updates all networks, as a training loop does. Rounds alternate between the contenders so that
machine noise hits both; medians and their ratio are reported.

    .venv-bench/bin/python benchmarks/iql_throughput.py --episodes 1000 --updates 300 --rounds 5
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch


def anypolicy_runner(ds, device, compile=False, **cfg):
    from anypolicy.agents.iql import IQL, IQLConfig
    from anypolicy.data.sampler import OfflineSampler

    torch.manual_seed(0)
    agent = IQL(IQLConfig(**cfg), ds.obs_dim, ds.action_dim, ds.action_low, ds.action_high).to(device)
    sampler = OfflineSampler(ds, device)
    gen = torch.Generator(device=device).manual_seed(0)
    update = torch.compile(agent.update) if compile else agent.update

    def run(n):
        for _ in range(n):
            update(sampler.sample(256, gen))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return run


def d3rlpy_runner(ds, device):
    import d3rlpy

    timeouts = ds.timeouts & ~ds.terminals  # d3rlpy ends an episode at a terminal; never both
    dataset = d3rlpy.dataset.MDPDataset(ds.observations, ds.actions, ds.rewards, ds.terminals.astype(np.float32),
                                        timeouts.astype(np.float32))
    algo = d3rlpy.algos.IQLConfig(batch_size=256).create(device="cuda:0" if device.startswith("cuda") else False)
    algo.build_with_dataset(dataset)

    def run(n):
        for _ in range(n):
            algo.update(dataset.sample_transition_batch(256))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="ogbench:cube-single-play")
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from anypolicy.envs.registry import load_dataset

    ds = load_dataset(args.dataset, episodes=args.episodes)
    runners = {
        "d3rlpy": d3rlpy_runner(ds, args.device),
        "anypolicy (relu, as d3rlpy)": anypolicy_runner(ds, args.device, activation="relu", critic_layer_norm=False),
        "anypolicy (relu, as d3rlpy, torch.compile)": anypolicy_runner(ds, args.device, compile=True,
                                                                       activation="relu", critic_layer_norm=False),
        "anypolicy (defaults: gelu, LayerNorm critics)": anypolicy_runner(ds, args.device),
    }
    for run in runners.values():  # warm-up: allocations, lazy init, first-call costs
        run(20)
    rates = {k: [] for k in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():
            t0 = time.perf_counter()
            run(args.updates)
            rates[name].append(args.updates / (time.perf_counter() - t0))
    import d3rlpy

    result = {
        "dataset": args.dataset, "transitions": len(ds), "batch_size": 256, "hidden": [256, 256],
        "updates_per_round": args.updates, "rounds": args.rounds, "device": args.device,
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "d3rlpy": d3rlpy.__version__,
        "cpu": platform.processor() or platform.machine(),
        "median_updates_per_s": {k: round(statistics.median(v), 1) for k, v in rates.items()},
        "all_updates_per_s": {k: [round(x, 1) for x in v] for k, v in rates.items()},
    }
    base = statistics.median(rates["d3rlpy"])
    result["ratio_vs_d3rlpy"] = {k: round(statistics.median(v) / base, 2) for k, v in rates.items() if k != "d3rlpy"}
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
