"""Your own data and environment: transitions you collected (here random actions in Gymnasium's Pendulum,
from NumPy arrays), handed to anypolicy as a Dataset object and evaluated in the environment they came from.
Any Gymnasium id works, and `module:EnvId` imports the module that registers it.

    python examples/own_dataset.py [--steps 50 --transitions 2000]
"""
import argparse

import gymnasium as gym
import numpy as np

import anypolicy as ap
from anypolicy.data.dataset import Dataset

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=3000)
p.add_argument("--transitions", type=int, default=20000)
p.add_argument("--out", default="runs/example-own-dataset")
args = p.parse_args()

env = gym.make("Pendulum-v1")
env.action_space.seed(0)
rows, episode = {k: [] for k in ("obs", "act", "rew", "next", "term", "trunc", "ep")}, 0
obs, _ = env.reset(seed=0)
for _ in range(args.transitions):
    action = env.action_space.sample()
    nxt, reward, term, trunc, _ = env.step(action)
    for k, v in zip(rows, (obs, action, reward, nxt, term, trunc, episode)):
        rows[k].append(v)
    obs = nxt
    if term or trunc:
        obs, _ = env.reset()
        episode += 1
rows["trunc"][-1] = True  # the data end inside an episode: a cut, not a terminal
data = Dataset(observations=np.array(rows["obs"], np.float32), actions=np.array(rows["act"], np.float32),
               rewards=np.array(rows["rew"], np.float32), next_observations=np.array(rows["next"], np.float32),
               terminals=np.array(rows["term"]), timeouts=np.array(rows["trunc"]), episode_ids=np.array(rows["ep"]),
               action_low=env.action_space.low, action_high=env.action_space.high, metadata={"name": "pendulum-random"})

agent = ap.fit(ap.TD3BCConfig(), data, env="Pendulum-v1", steps=args.steps, run_dir=args.out,
               train=ap.TrainConfig(eval_every=0, eval_episodes=3, progress=False, tensorboard=False))
print("return", ap.evaluate_agent(agent, 3)["return_mean"])
