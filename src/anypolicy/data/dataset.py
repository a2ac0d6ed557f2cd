"""Flat-array datasets of transitions with an episode index, validated at the boundary."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


class DatasetError(ValueError):
    """A dataset that cannot be used, with the reason in the message."""


@dataclass
class Dataset:
    """Transitions stored as flat arrays; `episode_ids[i]` says which episode transition i belongs to.

    `terminals` marks true terminal states (no bootstrapping); `timeouts` marks the last transition of an
    episode cut by a time limit or by the end of the data, which is *not* a terminal.
    """

    observations: np.ndarray  # [N, S] float32
    actions: np.ndarray  # [N, A] float32
    rewards: np.ndarray  # [N] float32
    next_observations: np.ndarray  # [N, S] float32
    terminals: np.ndarray  # [N] bool: the next state is terminal
    timeouts: np.ndarray  # [N] bool: the episode ends here without a terminal
    episode_ids: np.ndarray  # [N] int64, non-decreasing
    action_low: np.ndarray  # [A]
    action_high: np.ndarray  # [A]
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # per-transition extras: qpos, goals, ...
    metadata: dict = field(default_factory=dict)  # source, generator settings, task labels
    frames: object = None  # image observations of the same transitions (data/frames.py FrameStore), if any

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        name = self.metadata.get("name", "dataset")
        n = len(self.observations)
        if n == 0:
            raise DatasetError(f"{name} is empty: it holds no transitions.")
        for key in ("observations", "actions", "next_observations"):
            arr = getattr(self, key)
            if arr.ndim != 2:  # a [N, H, W] or [N, C, H, W] array is not flattened silently: images go to `frames`
                raise DatasetError(f"{name}: '{key}' must have shape [N, dim], got {arr.shape}; flatten state "
                                   "arrays yourself, or store images as frames (ogbench:visual-* datasets).")
        if self.observations.shape[1:] != self.next_observations.shape[1:]:
            raise DatasetError(
                f"{name}: observations have shape {self.observations.shape[1:]} per step but next_observations "
                f"have {self.next_observations.shape[1:]}."
            )
        per_step = dict(
            actions=self.actions, rewards=self.rewards, next_observations=self.next_observations,
            terminals=self.terminals, timeouts=self.timeouts, episode_ids=self.episode_ids, **self.extras,
        )
        for key, arr in per_step.items():
            if len(arr) != n:
                raise DatasetError(f"{name}: '{key}' has {len(arr)} entries but observations have {n}; lengths must match.")
        if self.rewards.ndim != 1:
            raise DatasetError(f"{name}: 'rewards' must have shape [N], got {self.rewards.shape}.")
        for key in ("observations", "actions", "rewards", "next_observations"):
            arr = getattr(self, key)
            if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
                bad = np.flatnonzero(~np.isfinite(arr.reshape(n, -1)).all(axis=1))
                raise DatasetError(
                    f"{name}: '{key}' holds NaN or inf in {len(bad)} transitions (first at index {bad[0]}); "
                    "clean or drop them before training."
                )
        a_dim = self.actions.shape[1]
        if self.action_low.shape != (a_dim,) or self.action_high.shape != (a_dim,):
            raise DatasetError(f"{name}: action bounds must have shape [{a_dim}], got {self.action_low.shape}.")
        if not (np.isfinite(self.action_low).all() and np.isfinite(self.action_high).all()
                and (self.action_low < self.action_high).all()):
            raise DatasetError(f"{name}: action bounds must be finite with low < high in every dimension, got "
                               f"low {self.action_low.tolist()}, high {self.action_high.tolist()}.")
        tol = 1e-5
        outside = (self.actions < self.action_low - tol) | (self.actions > self.action_high + tol)
        if outside.any():
            i, d = np.argwhere(outside)[0]
            raise DatasetError(
                f"{name}: {int(outside.any(axis=1).sum())} actions lie outside the declared bounds "
                f"[{self.action_low.min()}, {self.action_high.max()}] (first: transition {i}, dimension {d}, "
                f"value {self.actions[i, d]:.4g}); clip them or declare the right bounds."
            )
        if len(self.episode_ids) > 1 and (np.diff(self.episode_ids) < 0).any():
            raise DatasetError(f"{name}: 'episode_ids' must be non-decreasing (episodes stored contiguously).")

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return len(self.observations)

    @property
    def obs_dim(self) -> int:
        return int(np.prod(self.observations.shape[1:]))

    @property
    def action_dim(self) -> int:
        return self.actions.shape[1]

    def dims(self, frame_stack: int = 1) -> dict:
        """What an agent is built with (and a checkpoint records): observation and action sizes, bounds, and
        for image datasets the shape [k * C, H, W] of a stack of k frames."""
        dims = {"obs_dim": self.obs_dim, "action_dim": self.action_dim,
                "action_low": self.action_low.tolist(), "action_high": self.action_high.tolist()}
        if self.frames is not None:
            c, h, w = self.frames.frames.shape[1:]
            dims["image_shape"] = [frame_stack * c, h, w]
        return dims

    @property
    def num_episodes(self) -> int:
        return len(np.unique(self.episode_ids))

    def episode_slices(self) -> list[slice]:
        """Contiguous index ranges of each episode."""
        starts = np.flatnonzero(np.r_[True, self.episode_ids[1:] != self.episode_ids[:-1]])
        ends = np.r_[starts[1:], len(self)]
        return [slice(int(s), int(e)) for s, e in zip(starts, ends)]

    # ------------------------------------------------------------------ derived quantities
    def episode_returns(self) -> np.ndarray:
        sums = np.zeros(self.episode_ids.max() + 1)
        np.add.at(sums, self.episode_ids, self.rewards)
        return sums[np.unique(self.episode_ids)]

    def mc_returns(self, discount: float, reward_scale: float = 1.0, reward_bias: float = 0.0) -> np.ndarray:
        """Discounted return-to-go of every transition (Cal-QL's reference values). A segment ends at a terminal
        or at the end of its episode; one cut by a time limit (no terminal) continues with its last reward
        forever, r_last / (1 - gamma), rather than with zeros (see `return_to_go`)."""
        r = self.rewards.astype(np.float64) * reward_scale + reward_bias
        ends = np.r_[self.episode_ids[1:] != self.episode_ids[:-1], True] | self.terminals
        out = np.empty(len(self), dtype=np.float64)
        start = 0
        for end in np.flatnonzero(ends) + 1:
            out[start:end] = return_to_go(r[start:end], discount, truncated=not self.terminals[end - 1])
            start = end
        return out.astype(np.float32)

    def next_actions(self) -> np.ndarray:
        """The action taken at each transition's next state within its episode (SARSA's a'); the last
        transition of an episode, which has none, repeats its own (its target is masked or truncated)."""
        same = np.r_[self.episode_ids[1:] == self.episode_ids[:-1], False]
        out = self.actions.copy()
        out[:-1][same[:-1]] = self.actions[1:][same[:-1]]
        return out

    def observation_stats(self, eps: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation per observation dimension (std floored at eps)."""
        obs = self.observations.reshape(len(self), -1).astype(np.float64)
        return obs.mean(0).astype(np.float32), np.maximum(obs.std(0), eps).astype(np.float32)

    def with_rewards(self, rewards: np.ndarray, terminals: np.ndarray, **metadata) -> "Dataset":
        """The same transitions with new reward and terminal labels (e.g. a singletask relabelling). The
        environment's own terminals are kept beside them (`environment_terminals`) for reward-free learners."""
        extras = {"env_terminals": self.environment_terminals(), **self.extras}
        return replace(self, rewards=rewards.astype(np.float32), terminals=terminals.astype(bool),
                       metadata={**self.metadata, **metadata}, extras=extras)

    def environment_terminals(self) -> np.ndarray:
        """Terminals of the environment itself, before any task labelled its successes as terminal (none in
        OGBench play data): what a reward-free method such as FB may bootstrap through."""
        return self.extras.get("env_terminals", self.terminals)

    def summary(self) -> dict:
        returns = self.episode_returns()
        info = {
            "name": self.metadata.get("name", ""),
            "transitions": len(self),
            "episodes": self.num_episodes,
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "return_mean": float(returns.mean()),
            "return_std": float(returns.std()),
            "return_min": float(returns.min()),
            "return_max": float(returns.max()),
            "terminals": int(self.terminals.sum()),
            "action_mean": np.round(self.actions.mean(0), 3).tolist(),
            "action_std": np.round(self.actions.std(0), 3).tolist(),
            "action_abs_max": np.round(np.abs(self.actions).max(0), 3).tolist(),
        }
        if "success" in self.extras:
            succ = np.zeros(self.episode_ids.max() + 1, dtype=bool)
            np.logical_or.at(succ, self.episode_ids, self.extras["success"].astype(bool))
            info["episode_success_rate"] = float(succ[np.unique(self.episode_ids)].mean())
            info["transition_success_rate"] = float(self.extras["success"].mean())
        if self.frames is not None:
            info["image_frames"] = list(self.frames.frames.shape)  # [F, C, H, W] uint8
            info["image_megabytes"] = round(self.frames.nbytes / 1e6, 1)
        return info


def return_to_go(rewards: np.ndarray, discount: float, truncated: bool) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1} over one segment of rewards [T]. After a true terminal nothing follows
    (G_T = 0); after a truncation the reward beyond the cut is unknown, and taking the last reward as
    continuing forever gives the value of staying in that situation: a never-solved OGBench task (-1 per
    step) is worth -1 / (1 - gamma) = -100 everywhere, not -63 to 0 over its last hundred steps."""
    from scipy.signal import lfilter

    rewards = np.asarray(rewards, dtype=np.float64)
    tail = rewards[-1] / (1.0 - discount) if truncated and len(rewards) else 0.0
    # a reversed IIR filter whose initial state carries the tail: G_{T-1} = r_{T-1} + gamma * tail
    out, _ = lfilter([1.0], [1.0, -discount], rewards[::-1], zi=[discount * tail])
    return out[::-1]


def sparse_rewards(rewards: np.ndarray) -> np.ndarray:
    """OGBench's per-subtask reward (successes - subtasks) made sparse: -1 until every subtask is done, then 0.
    Partial credit can trap a critic: scene's task 2 starts with two of five subtasks unmet and must first
    unlock (one more unmet) before it can close the drawer and the window."""
    return -(np.asarray(rewards) != 0).astype(np.float32)


def from_episodes(episodes: list[dict], action_low, action_high, metadata: dict | None = None) -> Dataset:
    """Build a flat dataset from Minari-style episodes: observations [T+1], actions/rewards/terminations/
    truncations [T], and per-state infos [T+1] (the info of transition t is that of its first state)."""
    if not episodes:
        raise DatasetError(f"{(metadata or {}).get('name', 'dataset')} holds no episodes.")
    cols: dict[str, list] = {k: [] for k in ("obs", "next", "act", "rew", "term", "trunc", "ep")}
    extra_cols: dict[str, list] = {}
    for i, ep in enumerate(episodes):
        obs = np.asarray(ep["observations"], dtype=np.float32)
        t = len(ep["actions"])
        if len(obs) != t + 1:
            raise DatasetError(f"episode {i}: {len(obs)} observations for {t} actions; expected actions + 1.")
        cols["obs"].append(obs[:-1])
        cols["next"].append(obs[1:])
        cols["act"].append(np.asarray(ep["actions"], dtype=np.float32))
        cols["rew"].append(np.asarray(ep["rewards"], dtype=np.float32))
        term = np.asarray(ep["terminations"], dtype=bool)
        trunc = np.asarray(ep["truncations"], dtype=bool).copy()
        trunc[-1] = not term[-1]  # an episode that ends without a terminal is cut short
        cols["term"].append(term)
        cols["trunc"].append(trunc)
        cols["ep"].append(np.full(t, i, dtype=np.int64))
        for k, v in (ep.get("infos") or {}).items():
            v = np.asarray(v)
            extra_cols.setdefault(k, []).append(v[:t])
    extras = {k: np.concatenate(v) for k, v in extra_cols.items()}
    # episodes that were split on saving (see storage.save_dataset) carry their own ids and timeouts
    episode_ids = extras.pop("_episode_id", np.concatenate(cols["ep"])).astype(np.int64)
    timeouts = extras.pop("_timeout", np.concatenate(cols["trunc"])).astype(bool)
    return Dataset(
        observations=np.concatenate(cols["obs"]), actions=np.concatenate(cols["act"]),
        rewards=np.concatenate(cols["rew"]), next_observations=np.concatenate(cols["next"]),
        terminals=np.concatenate(cols["term"]), timeouts=timeouts, episode_ids=episode_ids,
        action_low=np.asarray(action_low, dtype=np.float32), action_high=np.asarray(action_high, dtype=np.float32),
        extras=extras, metadata=dict(metadata or {}),
    )
