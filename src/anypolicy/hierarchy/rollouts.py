"""The planner's data from the low level's own rollouts (thesis ch. 4, Algorithm 4 line 1: D_onpolicy).

From the simulator state at the start of a language window (scene play data keep qpos, qvel and the button
states of every step), the low level follows that window's own goals, the dataset state c steps ahead at every
c-th step (what a perfect planner would propose), for the window's length and `slack` steps more. A rollout
that achieves the window's subtask (from the abstract state it started in) is kept up to that step, with the
window's instruction, so the latent trajectories the planner learns are ones the low level itself reaches.
Windows run in lockstep on several environments, so the low level acts on a batch.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

# act(observations [n, S], goal observations [n, S], dataset indices [n]: each window's start + the step) -> actions [n, A]
Act = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def replay_windows(act: Act, observations: np.ndarray, sim: dict, windows: dict, goal_steps: int, slack: int,
                   num_envs: int = 16) -> list[tuple[int, np.ndarray]]:
    """Roll out `act` from each window (arrays start, end, task: dataset indices and subtask names) of a scene
    dataset (`observations` [N, S]; `sim`: its qpos, qvel and button_states [N, ...]). Returns (window position,
    observations [T + 1, S] from the start to the step the subtask was achieved) for every window achieved."""
    from anypolicy.data import scene_lang as sl
    from anypolicy.hierarchy.chains import add_teleport_check

    n = len(windows["start"])
    envs = [add_teleport_check(sl.make_scene_env()) for _ in range(max(1, min(num_envs, n)))]
    for i, env in enumerate(envs):
        env.reset(seed=i)  # a scene to overwrite
    kept = []
    try:
        for first in range(0, n, len(envs)):
            batch = list(range(first, min(first + len(envs), n)))
            starts = np.asarray(windows["start"])[batch]
            ends = np.asarray(windows["end"])[batch]
            begin, trajectories = [], []
            for env, s in zip(envs, starts):
                base = env.unwrapped
                base.set_state(sim["qpos"][s].astype(np.float64), sim["qvel"][s].astype(np.float64),
                               sim["button_states"][s].astype(np.int64))
                base.teleported = False
                begin.append(sl.abstract_state(sim["qpos"][s], sim["button_states"][s]))
                trajectories.append([observations[s]])  # the dataset's (compute_observation misses post-step terms)
            live = np.ones(len(batch), bool)
            for t in range(int((ends - starts).max()) + slack):
                live &= t < ends - starts + slack
                if not live.any():
                    break
                goals = np.minimum(starts + (t // goal_steps + 1) * goal_steps, ends)  # the window's next c-th state
                rows = np.flatnonzero(live)
                obs = np.stack([trajectories[i][-1] for i in rows])
                actions = act(obs, observations[goals[rows]], starts[rows] + t)
                for i, action in zip(rows, actions):
                    ob, _, _, _, info = envs[i].step(action)
                    trajectories[i].append(np.asarray(ob, np.float32))
                    if envs[i].unwrapped.teleported:
                        live[i] = False
                    elif sl.achieved(windows["task"][batch[i]], begin[i],
                                     sl.abstract_state(info["qpos"], info["button_states"])):
                        kept.append((batch[i], np.stack(trajectories[i])))
                        live[i] = False
    finally:
        for env in envs:
            env.close()
    return kept
