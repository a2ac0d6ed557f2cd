"""Update throughput, anypolicy against d3rlpy 2.8, side by side in one process on the same data.

For each algorithm both sides get batch 256, hidden layers 256x256 with ReLU and no LayerNorm (d3rlpy's
default encoder), two Q heads, Adam, the same observations/actions/rewards (regenerated cube-single-play,
task 2 labels). Matched settings: BC (deterministic policy, MSE, lr 1e-3); IQL (expectile 0.7, beta 3); CQL (10 uniform + policy actions per state,
conservative weight 5, fixed: d3rlpy's Lagrangian alpha off via alpha_learning_rate=0, learned SAC
temperature on both sides); Cal-QL (the same, Monte-Carlo returns as the lower bound); TD3+BC (alpha 2.5, policy delay 2, target smoothing 0.2 / 0.5). Each timed
block samples a batch and updates every network, as a training loop does; the contenders alternate within
each round so machine noise hits all of them; medians and ratios to d3rlpy are reported. The FLOPs of one
anypolicy update are counted (torch's FlopCounterMode: matrix products) and give each contender's achieved
GFLOP/s at that work (d3rlpy does at least as much per update).

    .venv-bench/bin/python benchmarks/throughput.py --algos iql cql td3bc --updates 200 --rounds 5 \
        --out docs/results/raw/throughput-cpu.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

AS_D3RLPY = {"activation": "relu", "critic_layer_norm": False}
ANYPOLICY = {  # recipe -> (class path, config overrides matching d3rlpy's defaults)
    "bc": ("anypolicy.agents.bc:BC", {"activation": "relu", "policy": "deterministic", "hidden": (256, 256), "lr": 1e-3}),
    # IQL's own defaults are FQL's (4x512, a constant-std actor, Xavier, the online critic's advantage): set
    # back to d3rlpy's networks and advantage (2x256, a learned-std Gaussian, torch's init, the target Q)
    "iql": ("anypolicy.agents.iql:IQL", {**AS_D3RLPY, "expectile": 0.7, "beta": 3.0, "hidden": (256, 256),
                                         "policy": "gaussian", "init": "torch", "advantage_critic": "target",
                                         "norm_after_activation": False}),
    "cql": ("anypolicy.agents.calql:CQL", {**AS_D3RLPY, "cql_alpha": 5.0, "cql_actions": 10}),
    "calql": ("anypolicy.agents.calql:CalQL", {**AS_D3RLPY, "cql_alpha": 5.0, "cql_actions": 10}),
    "td3bc": ("anypolicy.agents.td3bc:TD3BC", {**AS_D3RLPY, "alpha": 2.5}),
}


def anypolicy_runner(ds, device, algo, compile=False, precision="fp32", **extra):
    import importlib

    from anypolicy.data.sampler import OfflineSampler

    path, cfg = ANYPOLICY[algo]
    module, name = path.split(":")
    cls = getattr(importlib.import_module(module), name)
    torch.manual_seed(0)
    config = cls.Config(**{k: v for k, v in {**cfg, **extra}.items() if hasattr(cls.Config, k)})
    agent = cls(config, ds.obs_dim, ds.action_dim, ds.action_low, ds.action_high).to(device)
    sampler = OfflineSampler(ds, device, discount=0.99 if getattr(config, "needs_mc_returns", False) else None)
    gen = torch.Generator(device=device).manual_seed(0)
    from anypolicy.train.loop import with_precision

    update = with_precision(agent.compiled_update() if compile else agent.update, precision, torch.device(device))

    def run(n):
        for _ in range(n):
            update(sampler.sample(256, gen))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return run


def update_flops(ds, device, algo, updates=4) -> float:
    """Floating-point operations of one update (matrix products, counted by torch's FlopCounterMode on the
    eager fp32 path, averaged over `updates` so TD3+BC's every-other actor step counts by half)."""
    from torch.utils.flop_counter import FlopCounterMode

    run = anypolicy_runner(ds, device, algo)
    run(2)
    with FlopCounterMode(display=False) as counter:
        run(updates)
    return counter.get_total_flops() / updates


def d3rlpy_runner(ds, device, algo):
    import d3rlpy

    timeouts = ds.timeouts & ~ds.terminals  # d3rlpy ends an episode at a terminal; never both
    dataset = d3rlpy.dataset.MDPDataset(ds.observations, ds.actions, ds.rewards, ds.terminals.astype(np.float32),
                                        timeouts.astype(np.float32))
    config = {"bc": lambda: d3rlpy.algos.BCConfig(batch_size=256),
              "iql": lambda: d3rlpy.algos.IQLConfig(batch_size=256),
              "cql": lambda: d3rlpy.algos.CQLConfig(batch_size=256, alpha_learning_rate=0.0, conservative_weight=5.0,
                                                    n_action_samples=10),
              "calql": lambda: d3rlpy.algos.CalQLConfig(batch_size=256, alpha_learning_rate=0.0, conservative_weight=5.0,
                                                        n_action_samples=10),
              "td3bc": lambda: d3rlpy.algos.TD3PlusBCConfig(batch_size=256)}[algo]()
    learner = config.create(device="cuda:0" if device.startswith("cuda") else False)
    learner.build_with_dataset(dataset)

    def run(n):
        for _ in range(n):
            learner.update(dataset.sample_transition_batch(256))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--algos", nargs="+", default=["iql", "cql", "td3bc"], choices=list(ANYPOLICY))
    p.add_argument("--dataset", default="ogbench:cube-single-play")
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--updates", type=int, default=200)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile contenders")
    p.add_argument("--bf16", action="store_true", help="add bf16-autocast contenders (precision=bf16)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # several agents of one recipe live in this process and share code objects (e.g. `step`); one training
    # run has one, so dynamo's per-function recompile limit must not count the others
    torch._dynamo.config.recompile_limit = 64
    import d3rlpy

    from anypolicy.envs.registry import load_dataset
    from anypolicy.hardware import cpu_info, native_bf16

    ds = load_dataset(args.dataset, episodes=args.episodes)
    result = {"dataset": args.dataset, "transitions": len(ds), "batch_size": 256, "hidden": [256, 256],
              "updates_per_round": args.updates, "rounds": args.rounds, "device": args.device,
              "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "d3rlpy": d3rlpy.__version__,
              "cpu": cpu_info()["model"], "cpu_flags": cpu_info()["flags"],
              "cpu_capability": cpu_info()["torch_capability"],
              "native_bf16": native_bf16(torch.device(args.device)), "algos": {}}
    for algo in args.algos:
        runners = {"d3rlpy": d3rlpy_runner(ds, args.device, algo), "anypolicy": anypolicy_runner(ds, args.device, algo)}
        if not args.no_compile:
            runners["anypolicy (torch.compile)"] = anypolicy_runner(ds, args.device, algo, compile=True)
        if args.bf16:
            runners["anypolicy (bf16)"] = anypolicy_runner(ds, args.device, algo, precision="bf16")
            if not args.no_compile:
                runners["anypolicy (bf16, torch.compile)"] = anypolicy_runner(ds, args.device, algo, compile=True,
                                                                              precision="bf16")
        for run in runners.values():  # warm-up: allocations, lazy init, compilation
            run(20)
        rates = {k: [] for k in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                t0 = time.perf_counter()
                run(args.updates)
                rates[name].append(args.updates / (time.perf_counter() - t0))
        base = statistics.median(rates["d3rlpy"])
        flops = update_flops(ds, args.device, algo)
        result["algos"][algo] = {
            "flops_per_update": flops,
            "achieved_gflops": {k: round(flops * statistics.median(v) / 1e9, 1) for k, v in rates.items()},
            "median_updates_per_s": {k: round(statistics.median(v), 1) for k, v in rates.items()},
            "all_updates_per_s": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "ratio_vs_d3rlpy": {k: round(statistics.median(v) / base, 2) for k, v in rates.items() if k != "d3rlpy"},
        }
        print(algo, json.dumps(result["algos"][algo]["median_updates_per_s"]),
              json.dumps(result["algos"][algo]["ratio_vs_d3rlpy"]), f"{flops / 1e6:.0f} MFLOP/update", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
