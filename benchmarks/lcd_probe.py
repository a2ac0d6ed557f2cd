"""How much scene state the planner's conditioning latent E(s) carries (issue 25): train LCD's low level on
scene play data, then fit linear read-outs of the cube's position and both locks' states from E(s) on 75% of the
dataset's states and score them on the other 25% (`hierarchy/chains.py`, `scene_state_probe`), per variant.

    ANYPOLICY_DATA_DIR=/work/data OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lcd_probe.py --episodes 12 \
        --low-steps 3000 --variants state_encoder=true state_encoder=false --out docs/results/raw/lcd/probe.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from anypolicy.data.scene_lang import make_lang_dataset
from anypolicy.data.storage import read_minari
from anypolicy.hierarchy.chains import scene_state_probe
from anypolicy.train.loop import load_agent, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=12)
    ap.add_argument("--low-steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="+", default=["state_encoder=true", "state_encoder=false"])
    ap.add_argument("--set", nargs="*", default=["hidden=64,64", "encoder_hidden=64", "latent_dim=16"],
                    help="settings every variant shares")
    ap.add_argument("--out")
    args = ap.parse_args()
    data = read_minari(make_lang_dataset(args.episodes)[0])
    obs = data.observations.reshape(len(data), -1)
    held_out = np.random.default_rng(0).random(len(obs)) < 0.25
    rows = []
    for variant in args.variants:
        sets = [f"dataset_episodes={args.episodes}", "language_encoder=hashing", "planner_width=16", "horizon=2",
                f"low_steps={args.low_steps}", "batch_size=128", "eval_every=0", "eval_episodes=1",
                f"checkpoint_every={args.low_steps + 1}", "progress=false", "tensorboard=false", "threads=1",
                *args.set, *variant.split()]
        start = time.perf_counter()
        run = train("lcd", "ogbench:scene-play-lang", steps=args.low_steps + 1, seed=args.seed,
                    run_dir=Path(tempfile.mkdtemp()) / "lcd", overrides=sets)
        agent, _ = load_agent(run)
        with torch.no_grad():
            z = agent.embed(agent.normalize(torch.as_tensor(obs))).numpy()
        row = {"variant": variant, "seconds": round(time.perf_counter() - start, 1),
               **{k: round(v, 3) for k, v in scene_state_probe(z, obs, held_out).items()}}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"episodes": args.episodes, "low_steps": args.low_steps,
                                              "seed": args.seed, "shared": args.set, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
