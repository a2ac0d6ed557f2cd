"""Coverage of a state-conditioned 4-mode target by every policy class (the numbers behind
tests/test_policies.py::test_expressive_policies_cover_four_modes_where_the_gaussian_cannot).

    .venv/bin/python benchmarks/multimodal.py --steps 1500
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from multimodal import coverage, train  # noqa: E402

from anypolicy.policies.autoregressive import AutoregressivePolicy  # noqa: E402
from anypolicy.policies.gaussian import TanhGaussianPolicy  # noqa: E402
from anypolicy.policies.generative import DiffusionPolicy, FlowPolicy  # noqa: E402
from anypolicy.policies.simple import MixturePolicy, VAEPolicy  # noqa: E402

low, high = -torch.ones(2), torch.ones(2)
CLASSES = {
    "gaussian": lambda: TanhGaussianPolicy(2, 2, low, high, hidden=(64, 64)),
    "mixture": lambda: MixturePolicy(2, 2, low, high, hidden=(64, 64), components=8),
    "vae (KL 0.1, clip 2: default)": lambda: VAEPolicy(2, 2, low, high, hidden=(64, 64)),
    "vae (KL 0.5, clip 2)": lambda: VAEPolicy(2, 2, low, high, hidden=(64, 64), kl_weight=0.5),
    "vae (KL 0.5, clip 0.5: BCQ)": lambda: VAEPolicy(2, 2, low, high, hidden=(64, 64), kl_weight=0.5, latent_clip=0.5),
    "diffusion (5 DDPM steps: default)": lambda: DiffusionPolicy(2, 2, low, high, width=64, blocks=2),
    "diffusion (5 DDIM steps)": lambda: DiffusionPolicy(2, 2, low, high, width=64, blocks=2, sampler="ddim"),
    "diffusion (10 steps)": lambda: DiffusionPolicy(2, 2, low, high, width=64, blocks=2, steps=10),
    "flow (10 steps)": lambda: FlowPolicy(2, 2, low, high, width=64, blocks=2),
    "autoregressive": lambda: AutoregressivePolicy(2, 2, low, high, bins=32, layers=2, width=64, heads=4),
}

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rows = {}
    for name, make in CLASSES.items():
        rows[name] = [coverage(train(make, args.steps, seed=seed)) for seed in args.seeds]
        worst = [round(r["min_mode"], 3) for r in rows[name]]
        near = [round(r["precision"], 3) for r in rows[name]]
        print(f"{name:34s} least-covered mode per seed {worst}  near a mode per seed {near}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"steps": args.steps, "seeds": args.seeds,
                                              "threads": torch.get_num_threads(), "results": rows}, indent=2))
