"""Vectorized evaluation: many episodes at once, one batched policy call per step."""
from __future__ import annotations

from typing import Callable

import numpy as np

from anypolicy.envs.registry import make_env, reference_returns


def evaluate(act: Callable[[np.ndarray], np.ndarray], env_id: str, episodes: int = 10, seed: int = 0,
             num_envs: int = 10) -> dict:
    """Run `episodes` episodes with `num_envs` environments stepping in lockstep; `act` maps a batch of
    observations [n, S] to actions [n, A]. Returns success rate and return (%, mean, std) and, where the
    environment has reference returns, the normalized score."""
    num_envs = max(1, min(num_envs, episodes))
    envs = [make_env(env_id) for _ in range(num_envs)]
    returns, successes = [], []
    next_episode = 0
    obs, ep_return, ep_success, active = [None] * num_envs, np.zeros(num_envs), np.zeros(num_envs, bool), []

    def start(i):
        nonlocal next_episode
        obs[i], _ = envs[i].reset(seed=seed * 100_003 + next_episode)
        ep_return[i], ep_success[i] = 0.0, False
        next_episode += 1

    for i in range(num_envs):
        start(i)
        active.append(i)
    while active:
        actions = act(np.stack([obs[i] for i in active]).astype(np.float32))
        still = []
        for i, a in zip(active, actions):
            obs[i], r, term, trunc, step_info = envs[i].step(a)
            ep_return[i] += r
            ep_success[i] |= bool(step_info.get("success", False))
            if term or trunc:
                returns.append(ep_return[i])
                successes.append(ep_success[i])
                if next_episode < episodes:
                    start(i)
                    still.append(i)
            else:
                still.append(i)
        active = still
    for env in envs:
        env.close()
    returns, successes = np.array(returns), np.array(successes, dtype=float)
    out = {"success": 100.0 * successes.mean(), "return_mean": returns.mean(), "return_std": returns.std(),
           "episodes": len(returns)}
    refs = reference_returns(env_id)
    if refs is not None:
        out["normalized_score"] = 100.0 * (returns.mean() - refs[0]) / (refs[1] - refs[0])
    return {k: float(v) for k, v in out.items()}
