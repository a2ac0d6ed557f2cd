"""Offline RL from Python: typed configs, a run directory as the command line writes it, the agent back.

    python examples/offline.py                 # IQL on the toy task, then a look at what it learned
    python examples/offline.py --steps 50      # a quick check (the tests run it so)
"""
import argparse

import numpy as np

import anypolicy as ap

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=5000)
p.add_argument("--out", default="runs/example-offline")
args = p.parse_args()

config = ap.IQLConfig(expectile=0.9, beta=3.0)  # any recipe's config: ap.FQLConfig, ap.PARLCalQLConfig, ...
train = ap.TrainConfig(eval_every=max(args.steps // 2, 1), eval_episodes=5, progress=False, tensorboard=False)
agent = ap.fit(config, "toy:nav", steps=args.steps, run_dir=args.out, train=train)

obs = np.zeros((4, agent.obs_dim), np.float32)
actions = agent.act(obs)                                   # NumPy in, NumPy out
print("actions", np.array2string(actions, precision=2), "Q", np.array2string(agent.q_value(obs, actions), precision=2))
print("evaluation", ap.evaluate_agent(agent, episodes=5))
agent.save(f"{args.out}-agent")                            # weights.safetensors + agent.json
assert np.allclose(ap.load(f"{args.out}-agent").act(obs), actions)
