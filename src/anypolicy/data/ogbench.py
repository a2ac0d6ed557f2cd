"""Regenerate OGBench manipulation datasets with the scripted oracles shipped in the `ogbench` package.

Protocol (OGBench, see shared/BENCHMARKS.md): `play` uses the plan oracle (noise 0.1, smoothing 0.5) and
picks a new random target whenever one is done; `noisy` uses the Markov oracle with a per-episode noise
level ~ U(0, 0.1) per action dimension, min_norm 0.4 and a random action with probability 0.1 (cube,
scene) or 0.2 (puzzle). Episodes last 1001 steps. qpos, qvel and button states are kept so that the
five singletask tasks of each domain can be labelled.

Every episode is seeded from (seed, episode index), so the result does not depend on how many workers
produced it.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from anypolicy.data.dataset import Dataset, DatasetError
from anypolicy.data.storage import data_dir, is_minari_dir, read_minari, write_minari

DOMAINS = {  # domain -> OGBench goal-conditioned env id used for collection
    "cube-single": "cube-single-v0",
    "cube-double": "cube-double-v0",
    "scene": "scene-v0",
    "puzzle-3x3": "puzzle-3x3-v0",
    "puzzle-4x4": "puzzle-4x4-v0",
}
KINDS = ("play", "noisy")
DEFAULT_TASK = {"cube-single": 2, "cube-double": 2, "scene": 2, "puzzle-3x3": 4, "puzzle-4x4": 4}
EPISODE_STEPS = 1001
FULL_EPISODES = 1000


def parse_source(source: str) -> tuple[str, str]:
    """'ogbench:cube-single-play' -> ('cube-single', 'play')."""
    name = source.split(":", 1)[1] if source.startswith("ogbench:") else source
    for kind in KINDS:
        if name.endswith("-" + kind) and name[: -len(kind) - 1] in DOMAINS:
            return name[: -len(kind) - 1], kind
    raise DatasetError(
        f"unknown OGBench source '{source}': use ogbench:<domain>-<kind> with domain one of "
        f"{', '.join(DOMAINS)} and kind one of {', '.join(KINDS)} (e.g. ogbench:cube-single-play)."
    )


def cache_path(domain: str, kind: str, episodes: int, seed: int) -> Path:
    suffix = "" if (episodes, seed) == (FULL_EPISODES, 0) else f"-e{episodes}-s{seed}"
    return data_dir() / "ogbench" / f"{domain}-{kind}{suffix}-v0"


def _make_oracles(env, domain: str, kind: str) -> dict:
    from ogbench.manipspace.oracles.markov.button_markov import ButtonMarkovOracle
    from ogbench.manipspace.oracles.markov.cube_markov import CubeMarkovOracle
    from ogbench.manipspace.oracles.markov.drawer_markov import DrawerMarkovOracle
    from ogbench.manipspace.oracles.markov.window_markov import WindowMarkovOracle
    from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
    from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
    from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

    plan = dict(noise=0.1, noise_smoothing=0.5)
    markov = dict(min_norm=0.4)
    if domain.startswith("cube"):
        return {"cube": CubePlanOracle(env=env, **plan) if kind == "play" else CubeMarkovOracle(env=env, **markov)}
    if domain.startswith("puzzle"):
        cls, kw = (ButtonPlanOracle, plan) if kind == "play" else (ButtonMarkovOracle, markov)
        return {"button": cls(env=env, gripper_always_closed=True, **kw)}
    if kind == "play":
        return {"cube": CubePlanOracle(env=env, **plan), "button": ButtonPlanOracle(env=env, **plan),
                "drawer": DrawerPlanOracle(env=env, **plan), "window": WindowPlanOracle(env=env, **plan)}
    return {"cube": CubeMarkovOracle(env=env, max_step=100, **markov), "button": ButtonMarkovOracle(env=env, **markov),
            "drawer": DrawerMarkovOracle(env=env, **markov), "window": WindowMarkovOracle(env=env, **markov)}


def _scene_is_healthy(qpos: np.ndarray) -> bool:
    """OGBench's check: the cube stays visible (not too far right, nor far left unless inside the drawer)."""
    xyz = qpos[:, 14:17]
    too_right = (xyz[:, 1] >= 0.29).any()
    lost_left = ((xyz[:, 1] <= -0.3) & ((xyz[:, 2] < 0.06) | (xyz[:, 2] > 0.08))).any()
    return not (too_right or lost_left)


def _boost_drawer_target(env, p: float, ob, info):
    """scene: a cube target chosen while the drawer is open moves into the drawer with extra probability p
    (put_cube_in_drawer is rare in play data; design note lcd_on_ogbench.md, section 2)."""
    base = env.unwrapped
    if p <= 0 or info["privileged/target_task"] != "cube" or base._data.joint("drawer_slide").qpos[0] >= -0.12:
        return ob, info
    if np.random.rand() >= p:
        return ob, info
    import mujoco

    base._data.mocap_pos[base._cube_target_mocap_ids[0]] = base._drawer_center + np.r_[np.random.uniform(-0.005, 0.005, 2), 0]
    mujoco.mj_kinematics(base._model, base._data)
    return base.compute_observation(), base.get_reset_info()


def _collect_episodes(domain: str, kind: str, seed: int, episode_ids: list[int], steps: int,
                      drawer_boost: float = 0.0) -> list[dict]:
    import warnings

    import gymnasium as gym
    import ogbench.manipspace  # noqa: F401 - registers the environments

    warnings.filterwarnings("ignore", message=".*precision lowered by casting")  # OGBench's float64 spaces
    env = gym.make(DOMAINS[domain], terminate_at_goal=False, mode="data_collection", max_episode_steps=steps)
    oracles = _make_oracles(env, domain, kind)
    p_random = 0.0 if kind == "play" else (0.2 if domain.startswith("puzzle") else 0.1)
    has_buttons = hasattr(env.unwrapped, "_cur_button_states")
    out = []
    for ep_id in episode_ids:
        for attempt in range(100):
            rng_seed = [seed, ep_id, attempt]
            np.random.seed(np.random.SeedSequence(rng_seed).generate_state(1)[0])  # the oracles use np.random
            ob, info = env.reset(seed=int(np.random.randint(2**31)))
            env.action_space.seed(int(np.random.randint(2**31)))
            p_stack = {"cube-single": 0.0, "cube-double": np.random.uniform(0.0, 0.25)}.get(domain, 0.5)
            xi = np.random.uniform(0, 0.1)
            ob, info = _boost_drawer_target(env, drawer_boost, ob, info)
            agent = oracles[info["privileged/target_task"]]
            agent.reset(ob, info)
            obs, acts, rews = [ob], [], []
            infos = {"qpos": [info["qpos"]], "qvel": [info["qvel"]]}
            if has_buttons:
                infos["button_states"] = [env.unwrapped._cur_button_states.copy()]
            done = False
            while not done:
                if np.random.rand() < p_random:
                    action = env.action_space.sample()
                else:
                    action = np.asarray(agent.select_action(ob, info))
                    if kind == "noisy":
                        action = action + np.random.normal(0, [xi, xi, xi, xi * 3, xi * 10], action.shape)
                action = np.clip(action, -1, 1)
                ob, reward, terminated, truncated, info = env.step(action)
                done = terminated or truncated
                if agent.done:
                    agent_ob, agent_info = _boost_drawer_target(env, drawer_boost,
                                                                *env.unwrapped.set_new_target(p_stack=p_stack))
                    agent = oracles[agent_info["privileged/target_task"]]
                    agent.reset(agent_ob, agent_info)
                obs.append(ob)
                acts.append(action)
                rews.append(reward)
                infos["qpos"].append(info["qpos"])
                infos["qvel"].append(info["qvel"])
                if has_buttons:
                    infos["button_states"].append(env.unwrapped._cur_button_states.copy())
            infos = {k: np.asarray(v, dtype=np.int64 if k == "button_states" else np.float32) for k, v in infos.items()}
            if domain != "scene" or _scene_is_healthy(infos["qpos"]):
                break
        t = len(acts)
        out.append(dict(observations=np.asarray(obs, np.float32), actions=np.asarray(acts, np.float32),
                        rewards=np.asarray(rews, np.float32), terminations=np.zeros(t, bool),
                        truncations=np.r_[np.zeros(t - 1, bool), True], infos=infos))
    env.close()
    return out


def generate(source: str, episodes: int = FULL_EPISODES, workers: int | None = None, seed: int = 0,
             steps: int = EPISODE_STEPS, force: bool = False, progress: bool = True, drawer_boost: float = 0.0) -> Path:
    """Generate (or find in the cache) an OGBench dataset; returns its Minari directory. `drawer_boost`
    (scene only) sends extra cube targets into the open drawer."""
    domain, kind = parse_source(source)
    if drawer_boost and domain != "scene":
        raise DatasetError("drawer_boost applies to scene data only.")
    if episodes < 1:
        raise DatasetError(f"--episodes must be at least 1, got {episodes}.")
    path = cache_path(domain, kind, episodes, seed)
    if steps != EPISODE_STEPS:
        path = path.with_name(path.name.replace("-v0", f"-t{steps}-v0"))
    if drawer_boost:
        path = path.with_name(path.name.replace("-v0", f"-b{drawer_boost:g}-v0"))
    if is_minari_dir(path) and not force:
        return path
    import gymnasium as gym
    import ogbench.manipspace  # noqa: F401

    t0 = time.perf_counter()
    collect = partial(_collect_episodes, domain, kind, seed, steps=steps, drawer_boost=drawer_boost)
    eps, workers = map_in_workers(collect, list(range(episodes)), workers)
    elapsed = time.perf_counter() - t0
    n_steps = sum(len(e["actions"]) for e in eps)
    env = gym.make(DOMAINS[domain])
    metadata = {
        "name": f"ogbench:{domain}-{kind}", "source": "ogbench-oracle", "domain": domain, "kind": kind,
        "episodes": episodes, "seed": seed, "episode_steps": steps, "workers": workers, "drawer_boost": drawer_boost,
        "generation_seconds": round(elapsed, 2), "steps_per_second": round(n_steps / elapsed, 1),
        "versions": _versions(),
    }
    write_minari(path, eps, env.observation_space, env.action_space, metadata, env_spec=env.spec)
    env.close()
    if progress:
        print(f"generated {n_steps} transitions in {elapsed:.1f}s ({n_steps / elapsed:.0f} steps/s, "
              f"{workers} workers) -> {path}")
    return path


def map_in_workers(fn, items: list, workers: int | None) -> tuple[list, int]:
    """fn(chunk of items) -> one result per item, run on interleaved chunks in worker processes (in this process
    for one worker). Returns the results in the order of `items` and the number of workers used."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(items)))
    chunks = [list(range(len(items)))[i::workers] for i in range(workers)]
    args = [[items[i] for i in chunk] for chunk in chunks]
    if workers == 1:
        results = [fn(args[0])]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(fn, args))
    by_index = {i: r for chunk, res in zip(chunks, results) for i, r in zip(chunk, res)}
    return [by_index[i] for i in range(len(items))], workers


def _versions() -> dict:
    from importlib.metadata import version

    return {p: version(p) for p in ("ogbench", "mujoco", "gymnasium", "minari")}


# ---------------------------------------------------------------------- singletask labels
def singletask_env_id(domain: str, task: int) -> str:
    return f"{domain}-singletask-task{task}-v0"


def label_singletask(dataset: Dataset, domain: str, task: int) -> Dataset:
    """Rewards and terminals of one singletask task, as OGBench defines them: reward = -(unfinished
    subtasks) and success ends the episode, both evaluated on the transition's first state (the singletask
    environments use success_timing='pre')."""
    import gymnasium as gym
    import ogbench.manipspace  # noqa: F401
    from ogbench.relabel_utils import relabel_dataset

    if "qpos" not in dataset.extras:
        raise DatasetError(f"{dataset.metadata.get('name')} has no qpos: it cannot be labelled for a singletask task.")
    env_id = singletask_env_id(domain, task)
    env = gym.make(env_id)
    labels = {k: dataset.extras[k] for k in ("qpos", "button_states") if k in dataset.extras}
    relabel_dataset(env_id, env, labels)
    env.close()
    success = labels["masks"] == 0
    labelled = dataset.with_rewards(labels["rewards"], success, task=task, env=env_id)
    labelled.extras = {**dataset.extras, "success": success}
    return labelled


def load(source: str, task: int | None = None, episodes: int = FULL_EPISODES, seed: int = 0,
         workers: int | None = None, steps: int = EPISODE_STEPS) -> Dataset:
    """Load (generating on first use) an OGBench dataset, labelled for `task` (default: the domain's default)."""
    domain, _ = parse_source(source)
    ds = read_minari(generate(source, episodes=episodes, seed=seed, workers=workers, steps=steps, progress=False))
    return label_singletask(ds, domain, task or DEFAULT_TASK[domain])
