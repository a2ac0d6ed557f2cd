"""A recipe of your own: an Agent subclass with a Config dataclass, trained by anypolicy's loops, named by
its import path (here TD3+BC whose BC term clones only the dataset actions the critic rates above the policy's, as
CRR's binary filter does), from Python or from the command line:

    python examples/own_recipe.py [--steps 50]
    anypolicy train examples.own_recipe:FilteredTD3BC --dataset toy:nav     # (from the repo root)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from anypolicy.agents.td3bc import TD3BC, TD3BCConfig


@dataclass
class FilteredTD3BCConfig(TD3BCConfig):
    margin: float = 0.0  # clone a dataset action only where Q(s, a) exceeds Q(s, pi(s)) by this much


class FilteredTD3BC(TD3BC):
    Config = FilteredTD3BCConfig

    def actor_loss(self, batch):  # TD3+BC's actor loss, its BC term on the filtered transitions only
        obs = self.normalize(batch["observations"])
        pi = self.policy.sample(self.policy_input(obs), 1)[:, 0]
        q = self.q(obs, pi, heads=1)[0]
        with torch.no_grad():
            keep = (self.q(obs, batch["actions"], heads=1)[0] > q + self.cfg.margin).float()
        bc = (keep * (pi - batch["actions"]).pow(2).sum(-1)).mean() / batch["actions"].shape[-1]
        policy_loss = -self.cfg.alpha / q.abs().mean().detach() * q.mean() + bc
        return policy_loss, {"policy_loss": policy_loss.detach(), "bc_loss": bc.detach()}

if __name__ == "__main__":
    import argparse
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `examples` importable from the repo root
    import anypolicy as ap
    from examples.own_recipe import FilteredTD3BCConfig  # the class the import path names, not __main__'s copy

    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--out", default="runs/example-own-recipe")
    args = p.parse_args()
    agent = ap.fit(FilteredTD3BCConfig(margin=0.0), "toy:nav", steps=args.steps, run_dir=args.out,
                   recipe="examples.own_recipe:FilteredTD3BC",
                   train=ap.TrainConfig(eval_every=0, eval_episodes=5, progress=False, tensorboard=False))
    print(type(agent).__name__, ap.evaluate_agent(agent, 5))
