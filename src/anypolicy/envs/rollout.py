"""Vectorized evaluation: many episodes at once, one batched policy call per step."""
from __future__ import annotations

from typing import Callable

import numpy as np

from anypolicy.envs.registry import make_env, reference_returns


def policy_batch(obs: np.ndarray) -> np.ndarray:
    """Environment observations as a policy takes them: float32 states, images left uint8."""
    return obs if obs.dtype == np.uint8 else obs.astype(np.float32)


def step_success(info: dict) -> bool:
    """Whether a step reached the task's goal: `success` (OGBench, the toy task) or `is_success`
    (gymnasium-robotics)."""
    return bool(info.get("success", info.get("is_success", False)))


def evaluate(act: Callable[..., np.ndarray], env_id: str, episodes: int = 10, seed: int = 0,
             num_envs: int = 10, frame_stack: int = 1, observation_keys: tuple[str, ...] = (),
             goal_conditioned: bool = False) -> dict:
    """Run `episodes` episodes with `num_envs` environments stepping in lockstep; `act` maps a batch of
    observations [n, S] (float32; images stay uint8, stacks of `frame_stack` frames) to actions [n, A]; with
    `goal_conditioned`, `act(observations, goals)` also gets each episode's goal observation [n, S] from its reset
    info (OGBench's `goal`). Returns success rate and return (%, mean, std) and, where the environment has
    reference returns, the normalized score."""
    num_envs = max(1, min(num_envs, episodes))
    envs = [make_env(env_id, frame_stack, observation_keys) for _ in range(num_envs)]
    returns, successes = [], []
    next_episode = 0
    obs, goals = [None] * num_envs, [None] * num_envs
    ep_return, ep_success, active = np.zeros(num_envs), np.zeros(num_envs, bool), []

    def start(i):
        nonlocal next_episode
        obs[i], info = envs[i].reset(seed=seed * 100_003 + next_episode)
        if goal_conditioned:
            if "goal" not in info:
                raise ValueError(f"'{env_id}' gives no goal observation at reset (info['goal']): goal-conditioned "
                                 "evaluation needs one (OGBench's manipulation and navigation tasks give it).")
            goals[i] = info["goal"]
        ep_return[i], ep_success[i] = 0.0, False
        next_episode += 1

    for i in range(num_envs):
        start(i)
        active.append(i)
    while active:
        batch = policy_batch(np.stack([obs[i] for i in active]))
        actions = act(batch, policy_batch(np.stack([goals[i] for i in active]))) if goal_conditioned else act(batch)
        still = []
        for i, a in zip(active, actions):
            obs[i], r, term, trunc, step_info = envs[i].step(a)
            ep_return[i] += r
            ep_success[i] |= step_success(step_info)
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


def record_video(act: Callable[[np.ndarray], np.ndarray], env_id: str, path, episodes: int = 1, seed: int = 0,
                 fps: int = 20, max_steps: int | None = None, frame_stack: int = 1,
                 observation_keys: tuple[str, ...] = ()):
    """Roll out `episodes` episodes (seeded as `evaluate`'s first ones), rendering every step offscreen
    (MuJoCo through MUJOCO_GL=egl), and write them as one GIF or MP4 (by the suffix of `path`)."""
    from pathlib import Path

    env = make_env(env_id, frame_stack, observation_keys)
    frames = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed * 100_003 + episode)
        frames.append(env.render())
        done, steps = False, 0
        while not done and (max_steps is None or steps < max_steps):
            obs, _, term, trunc, _ = env.step(act(policy_batch(obs[None]))[0])
            frames.append(env.render())
            done, steps = term or trunc, steps + 1
    env.close()
    return write_video(frames, Path(path), fps)


def write_video(frames: list[np.ndarray], path, fps: int = 20):
    """RGB frames [H, W, 3] uint8 -> a GIF (Pillow) or an MP4 (imageio-ffmpeg, an optional extra)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [np.asarray(f, np.uint8) for f in frames]
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)  # never a half-written video
    if path.suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    elif path.suffix == ".mp4":
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise ImportError("MP4 videos need imageio with ffmpeg: pip install 'anypolicy[video]'; "
                              "or write a GIF (--video-format gif).") from None
        imageio.mimwrite(tmp, frames, fps=fps, macro_block_size=1)
    else:
        raise ValueError(f"videos are written as .gif or .mp4, not '{path.suffix}'.")
    tmp.replace(path)
    return path
