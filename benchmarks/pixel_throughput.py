"""Updates/s from pixels (64 x 64 RGB, 3 stacked frames, uint8 batches, DrQ shift) for IQL and PA-RL, and the
share of each update spent in the image encoder.

The share is measured, not profiled: each contender also runs with its encoder swapped for a stand-in that
costs nothing (a linear map of the image's mean colour per frame to the same number of features); the encoder's
share is 1 - t(stand-in) / t(encoder). Contenders alternate within each round; medians over rounds.

    ANYPOLICY_DATA_DIR=... .venv/bin/python benchmarks/pixel_throughput.py --batch 64 --updates 5 --rounds 3 \
        --out docs/results/raw/pixel-throughput-cpu.json
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from torch import nn

DATASET = "ogbench:visual-cube-single-play"
SETTINGS = {  # name -> (recipe, agent overrides); the cheap PA-RL setting is the one of pixels_cube.sh
    "iql": ("iql", {"action_refeed": "true"}),
    "parl-calql cheap (k8 m2 T3, 2 critics, diffusion 128x2)": (
        "parl-calql", {"samples": "8", "keep": "2", "local_steps": "3", "ensemble": "2", "hidden": "128,128",
                       "action_refeed": "true"}),
    "parl-calql paper (k32 m10 T10, 10 critics, 5-step diffusion)": (
        "parl-calql", {"action_refeed": "true", "policy_options": "steps=5"}),
}


class FreeEncoder(nn.Module):
    """Same output size, no convolutions: the mean colour of each stacked frame through one linear layer."""

    def __init__(self, channels: int, features: int):
        super().__init__()
        self.linear = nn.Linear(channels, features)

    def forward(self, images):
        return torch.relu(self.linear(images.float().mean(dim=(2, 3)) / 255.0))


def make_runner(dataset, recipe, overrides, batch, encoder, free=False):
    from anypolicy.train.loop import build_agent, make_configs, make_sampler

    tcfg, acfg = make_configs(recipe, overrides, dataset=DATASET, encoder=encoder)
    agent = build_agent(tcfg, acfg, dataset.dims(tcfg.frame_stack), torch.device("cpu"))
    sampler = make_sampler(tcfg, acfg, dataset, "cpu")
    if free:
        agent.pixels.encoder = FreeEncoder(3 * tcfg.frame_stack, tcfg.encoder_features)
        agent.optimizers()[agent.encoder_trainer].param_groups[-1]["params"] = list(agent.pixels.parameters())
    gen = torch.Generator().manual_seed(0)

    def run(n):
        for _ in range(n):
            agent.update(sampler.sample(batch, gen))
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--updates", type=int, default=5, help="updates per timed block")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--encoder", default="impala")
    p.add_argument("--settings", nargs="*", default=list(SETTINGS))
    p.add_argument("--episodes", type=int, default=20, help="episodes of the visual dataset (rendered on first use)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    from anypolicy.envs.registry import load_dataset

    dataset = load_dataset(DATASET, episodes=args.episodes)

    runners = {}
    for name in args.settings:
        recipe, over = SETTINGS[name]
        for free in (False, True):
            runners[(name, free)] = make_runner(dataset, recipe, over, args.batch, args.encoder, free)
            runners[(name, free)](1)  # warm-up
    times = {key: [] for key in runners}
    for _ in range(args.rounds):
        for key, run in runners.items():
            t0 = time.perf_counter()
            run(args.updates)
            times[key].append((time.perf_counter() - t0) / args.updates)
    rows = []
    for name in args.settings:
        full, free = statistics.median(times[(name, False)]), statistics.median(times[(name, True)])
        rows.append({"setting": name, "updates_per_s": 1 / full, "updates_per_s_without_encoder": 1 / free,
                     "encoder_share": 1 - free / full, "seconds_per_update": times[(name, False)]})
        print(f"{name:45s} {1 / full:7.2f} upd/s   without encoder {1 / free:7.2f} upd/s   encoder share "
              f"{100 * (1 - free / full):4.1f}%")
    result = {"dataset": DATASET, "episodes": args.episodes, "batch": args.batch, "encoder": args.encoder, "frame_stack": 3, "image": [64, 64, 3],
              "updates": args.updates, "rounds": args.rounds, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(), "torch": torch.__version__, "rows": rows}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
