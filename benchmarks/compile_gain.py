"""What compiling each optimizer step into one graph gains over eager, per recipe and network size, with the
very probe `compile=auto` runs at the start of a long CPU run (src/anypolicy/train/autocompile.py): the eager and
the compiled update of one agent, interleaved, medians. Cube-single's sizes (28-dim states, 5-dim actions),
batch 256, protocol_rates.py's random batches; the FLOPs of one update (matrix products, torch's FlopCounterMode on the eager path,
averaged over 4 updates) give the achieved GFLOP/s. `--defaults` keeps each recipe's own network sizes (FB: the
method note's d 50, F 2x512, B 2x256, actor 2x512).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compile_gain.py --recipes iql td3bc rebrac fql calql \
        --hidden 256,256,256,256 256,256 --out docs/results/raw/compile-gain-cpu.json
    .venv/bin/python benchmarks/compile_gain.py --recipes fb --defaults --threads 1 2 \
        --out docs/results/raw/fb-throughput-cpu.json
"""
from __future__ import annotations

import argparse
import copy
import json

import numpy as np
import torch

from torch.utils.flop_counter import FlopCounterMode

from anypolicy.agents.base import recipe_class
from anypolicy.hardware import cpu_info
from anypolicy.train.autocompile import measure
from anypolicy.train.loop import make_configs
from protocol_rates import make_batch  # benchmarks/ is the script's directory, first on sys.path


def batches(n: int, generator: torch.Generator) -> list[dict]:
    return [make_batch(generator) for _ in range(n)]  # protocol_rates.py's cube-single-shaped batches


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", nargs="+", default=["iql", "td3bc", "rebrac", "fql", "calql"])
    ap.add_argument("--hidden", nargs="+", default=["256,256,256,256"])
    ap.add_argument("--defaults", action="store_true", help="each recipe's own network sizes (no --hidden)")
    ap.add_argument("--threads", nargs="+", type=int, default=[1])
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    for threads, hidden, recipe in ((t, h, r) for t in args.threads for h in ([None] if args.defaults else args.hidden)
                                    for r in args.recipes):
        torch.set_num_threads(threads)
        torch._dynamo.reset()  # earlier agents' compiled steps count towards dynamo's recompile limit (then: eager)
        sizes = {} if hidden is None else {"hidden": hidden}
        if hidden is not None and recipe in ("calql", "rebrac", "td3bc", "fql"):  # critics with a size of their own
            sizes["critic_hidden"] = hidden
        _, acfg = make_configs(recipe, sizes, steps=100)
        torch.manual_seed(0)
        agent = recipe_class(recipe)(acfg, 28, 5, -np.ones(5), np.ones(5))
        generator = torch.Generator().manual_seed(0)
        counted = copy.deepcopy(agent)
        for b in batches(2, generator):
            counted.update(b)
        with FlopCounterMode(display=False) as counter:
            for b in batches(4, generator):
                counted.update(b)
        flops = counter.get_total_flops() / 4
        rates = measure(agent, batches(args.updates, generator), rounds=args.rounds)
        row = {"recipe": recipe, "hidden": hidden or "defaults", "threads": threads,
               **{k: round(v, 2) for k, v in rates.items()},
               "compiled_over_eager": round(rates["compiled_updates_per_s"] / rates["eager_updates_per_s"], 2),
               "gflop_per_update": round(flops / 1e9, 3),
               "gflop_per_s_eager": round(flops / 1e9 * rates["eager_updates_per_s"], 1),
               "gflop_per_s_compiled": round(flops / 1e9 * rates["compiled_updates_per_s"], 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.out:
        info = cpu_info()
        with open(args.out, "w") as f:
            json.dump({"cpu": info["model"], "cpu_capability": info["torch_capability"],
                       "native_bf16_flags": [x for x in info["flags"] if "bf16" in x], "torch": torch.__version__,
                       "updates": args.updates, "rounds": args.rounds, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
