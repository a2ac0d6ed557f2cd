"""CALVIN-style evaluation on scene: chains of instructions from the 32 symbolic start states.

Each instruction gets at most `horizon` steps; it succeeds when its subtask is achieved from the state the
instruction started in (data/scene_lang.py), then the next one follows without a reset; the first failure
ends the chain. A cube the simulator teleports (its "numerical instability" reset) fails the chain. Reported:
the share of chains with at least k instructions done (k = 1..length), the average completed length, and
the controller's time per action, and per subtask the % of its attempts that succeeded. Chains run in lockstep on several environments in one process, so a
learned agent acts on a batch.

Controllers: a trained language agent (`AgentController`) or the scripted plan oracles (`OracleController`,
the upper bound: OGBench's data-collection oracles given each subtask's target, re-planned when they stop
before success).
"""
from __future__ import annotations

import time

import numpy as np
import torch

from anypolicy.data import scene_lang as sl


def add_teleport_check(env):
    """Flag (env.unwrapped.teleported) a cube out of bounds before scene's post_step silently moves it back."""
    base = env.unwrapped
    original = base.post_step

    def checked_post_step():
        pos = base._data.joint("object_joint_0").qpos[:3]
        low, high = base._workspace_bounds
        if np.any(pos <= low - 0.2) or np.any(pos >= high + 0.2):
            base.teleported = True
        original()

    base.post_step, base.teleported = checked_post_step, False
    return env


# scene's observation (papers/lcd_on_ogbench.md): cube xyz (scaled) at 19-21; each lock button's state one-hot
# at 28-29 and 32-33
CUBE_XYZ, LOCK_FLAGS = [19, 20, 21], [28, 32]


def scene_state_probe(latents: np.ndarray, observations: np.ndarray, held_out: np.ndarray) -> dict:
    """How much scene state a latent carries: least-squares linear read-outs fitted on the states outside
    `held_out` (a boolean mask) and scored on those inside: R^2 of each cube coordinate, and the accuracy of
    each lock's state (read-out > 0.5) beside the held-out states' majority rate (chance)."""
    x = np.c_[latents, np.ones(len(latents))]
    fit, test = ~held_out, held_out
    out = {}
    cube = observations[:, CUBE_XYZ]
    pred = x[test] @ np.linalg.lstsq(x[fit], cube[fit], rcond=None)[0]
    r2 = 1 - ((pred - cube[test]) ** 2).sum(0) / ((cube[test] - cube[test].mean(0)) ** 2).sum(0)
    out.update({f"cube_{axis}_r2": float(v) for axis, v in zip("xyz", r2)})
    for i, col in enumerate(LOCK_FLAGS):
        y = observations[:, col] > 0.5
        read = x[test] @ np.linalg.lstsq(x[fit], y[fit].astype(float), rcond=None)[0]
        out[f"lock{i}_accuracy"] = float(((read > 0.5) == y[test]).mean())
        out[f"lock{i}_chance"] = float(max(y[test].mean(), 1 - y[test].mean()))
    return out


def single_task_chains(task: str, n: int, seed: int = 0):
    """n one-instruction chains of `task`, spread over the symbolic start states where it is feasible."""
    if task not in sl.SUBTASKS:
        from anypolicy.config import ConfigError

        raise ConfigError(f"unknown subtask '{task}'; the subtasks are {', '.join(sl.SUBTASKS)}.")
    starts = [s for s in sl.symbolic_states() if sl.feasible(task, s)]
    if not starts:
        raise ValueError(f"{task} is feasible from no symbolic start state.")
    order = np.random.default_rng(seed).permutation(n) % len(starts)
    return [(starts[i], [task]) for i in order]


class AgentController:
    """A language agent (hierarchy/lcd.py) acting from instruction embeddings; re-plans every goal_steps."""

    def __init__(self, agent, lang: list[np.ndarray], num_envs: int):
        """lang[chain][k]: the embedding of chain's k-th instruction."""
        self.agent, self.lang, self.every = agent, lang, getattr(agent.cfg, "goal_steps", 1)
        self.device = agent.obs_mean.device
        self.goals = agent.initial_goals(num_envs)
        self.seconds, self.actions = 0.0, 0

    def make_env(self):
        return add_teleport_check(sl.make_scene_env())

    def reset_to(self, env, state: dict, seed: int):
        """(observation, info, abstract state) after resetting env to a symbolic state."""
        return sl.reset_to(env, state, seed)

    def begin(self, slot: int, env, task: str, obs, info) -> None:
        pass

    def act(self, slots: list[int], chains: list[int], ks: list[int], steps: list[int], obs, infos) -> np.ndarray:
        start = time.perf_counter()
        obs_t = torch.as_tensor(np.stack(obs), dtype=torch.float32, device=self.device)
        lang = torch.as_tensor(np.stack([self.lang[c][k] for c, k in zip(chains, ks)]), device=self.device)
        replan = torch.as_tensor([t % self.every == 0 for t in steps], device=self.device)
        actions, goals = self.agent.act_language(obs_t, lang, self.goals[slots], replan)
        self.goals[slots] = goals
        out = actions.cpu().numpy()
        self.seconds += time.perf_counter() - start
        self.actions += len(slots)
        return out


class OracleController:
    """OGBench's plan oracles in a data-collection scene env, given the subtask's target."""

    def __init__(self, num_envs: int):
        import gymnasium

        self.gymnasium, self.oracles, self.seconds, self.actions = gymnasium, [None] * num_envs, 0.0, 0
        self.task_env = sl.make_scene_env()  # resets to symbolic states; the state is copied over

    def make_env(self):
        import ogbench  # noqa: F401

        env = self.gymnasium.make("scene-v0", terminate_at_goal=False, mode="data_collection", max_episode_steps=10**6)
        env.reset(seed=0)
        return env

    def reset_to(self, env, state, seed):
        """The symbolic state reached in the task env, copied into this data-collection env."""
        obs, info, abstract = sl.reset_to(self.task_env, state, seed)
        base = env.unwrapped
        base.set_state(info["qpos"], info["qvel"], info["button_states"])
        base._prev_ob_info = base.compute_ob_info()
        return base.compute_observation(), base.get_reset_info(), abstract

    def begin(self, slot: int, env, task: str, obs, info) -> None:
        import mujoco
        from ogbench.manipspace import lie
        from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
        from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
        from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
        from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

        base, (variable, target, _, _) = env.unwrapped, sl.SUBTASKS[task]
        if variable.startswith("lock_"):
            button = 0 if variable == "lock_drawer" else 1
            base._target_task, base._target_button = "button", button
            base._target_button_states[button] = target
            cls = ButtonPlanOracle
        elif variable == "drawer":
            base._target_task, base._target_drawer_pos = "drawer", -0.16 if target == "open" else 0.0
            base._model.site("drawer_handle_center_target").pos[1] = base._target_drawer_pos
            cls = DrawerPlanOracle
        elif variable == "window":
            base._target_task, base._target_window_pos = "window", 0.2 if target == "open" else 0.0
            base._model.site("window_handle_center_target").pos[0] = base._target_window_pos
            cls = WindowPlanOracle
        else:
            xyz = base._drawer_center.copy() if target == "drawer" else \
                np.array([0.375, -0.035 if target == "left" else 0.145, 0.02])
            base._target_task, base._target_block = "cube", 0
            base._data.mocap_pos[base._cube_target_mocap_ids[0]] = xyz
            base._data.mocap_quat[base._cube_target_mocap_ids[0]] = lie.SO3.identity().wxyz.tolist()
            cls = CubePlanOracle
        mujoco.mj_kinematics(base._model, base._data)
        oracle = cls(env=env, noise=0.0)
        oracle.reset(base.compute_observation(), base.get_reset_info())
        self.oracles[slot] = (oracle, task, env)

    def act(self, slots, chains, ks, steps, obs, infos) -> np.ndarray:
        start = time.perf_counter()
        out = []
        for slot, ob, info in zip(slots, obs, infos):
            oracle, task, env = self.oracles[slot]
            if oracle.done:  # stopped short of success: plan again from here
                self.begin(slot, env, task, ob, info)
                oracle = self.oracles[slot][0]
                info = env.unwrapped.get_reset_info()
            out.append(np.clip(oracle.select_action(ob, info), -1, 1))
        self.seconds += time.perf_counter() - start
        self.actions += len(slots)
        return np.stack(out)


def run_chains(controller, chains, horizon: int = 240, num_envs: int = 8, seed: int = 0) -> dict:
    """Run (start state, [task, ...]) chains with `controller`; the metrics described in the module doc."""
    length = max(len(c) for _, c in chains)
    envs = [controller.make_env() for _ in range(min(num_envs, len(chains)))]
    completed, teleports, env_steps = np.zeros(len(chains), int), 0, 0
    tried, done = dict.fromkeys(sl.SUBTASKS, 0), dict.fromkeys(sl.SUBTASKS, 0)  # per subtask, chains' instructions
    queue, slots = iter(range(len(chains))), [None] * len(envs)

    def start(j):
        i = next(queue, None)
        if i is None:
            slots[j] = None
            return
        env = envs[j]
        obs, info, state = controller.reset_to(env, chains[i][0], seed + i)
        env.unwrapped.teleported = False
        slots[j] = {"chain": i, "k": 0, "t": 0, "start": state, "obs": obs, "info": info}
        tried[chains[i][1][0]] += 1
        controller.begin(j, env, chains[i][1][0], obs, info)

    for j in range(len(envs)):
        start(j)
    wall = time.perf_counter()
    while any(slots):
        active = [j for j, s in enumerate(slots) if s]
        actions = controller.act(active, [slots[j]["chain"] for j in active], [slots[j]["k"] for j in active],
                                 [slots[j]["t"] for j in active],
                                 [slots[j]["obs"] for j in active], [slots[j]["info"] for j in active])
        for j, action in zip(active, actions):
            s, env = slots[j], envs[j]
            s["obs"], _, _, _, s["info"] = env.step(action)
            s["t"] += 1
            env_steps += 1
            chain = chains[s["chain"]][1]
            state = sl.abstract_state(s["info"]["qpos"], s["info"]["button_states"])
            if getattr(env.unwrapped, "teleported", False):
                teleports += 1
                start(j)
            elif sl.achieved(chain[s["k"]], s["start"], state):
                done[chain[s["k"]]] += 1
                s["k"] += 1
                completed[s["chain"]] = s["k"]
                if s["k"] == len(chain):
                    start(j)
                else:
                    s["t"], s["start"] = 0, state
                    tried[chain[s["k"]]] += 1
                    controller.begin(j, env, chain[s["k"]], s["obs"], s["info"])
            elif s["t"] >= horizon:
                start(j)
    wall = time.perf_counter() - wall
    out = {f"success_{k}": 100.0 * float(np.mean(completed >= k)) for k in range(1, length + 1)}
    out.update(avg_len=float(completed.mean()), chains=len(chains), teleports=teleports, env_steps=env_steps,
               steps_per_s=env_steps / max(wall, 1e-9),
               ms_per_action=1000.0 * controller.seconds / max(controller.actions, 1))
    out.update({f"subtask_{t}": 100.0 * done[t] / tried[t] for t in sl.SUBTASKS if tried[t]})  # % of attempts
    return out


def evaluate_chains(agent, n: int, seed: int = 0, held_out: bool = True, task: str | None = None,
                    horizon: int = 240, num_envs: int = 8, length: int = 5) -> dict:
    """A trained language agent on n chains (or n single-instruction chains of `task`), instructions in
    held-out (default) or training phrasings."""
    from anypolicy.hierarchy.language import cached_encoder

    chains = single_task_chains(task, n, seed) if task else sl.sample_chains(n, length, seed)
    rng = np.random.default_rng(seed)
    texts = [[sl.instruction(t, rng, held_out) for t in chain] for _, chain in chains]
    encoder = cached_encoder(agent.cfg.language_encoder)
    controller = AgentController(agent, [encoder.encode(t) for t in texts], min(num_envs, len(chains)))
    return run_chains(controller, chains, horizon=horizon, num_envs=num_envs, seed=seed)
