"""Resolve environment ids and dataset specs, and pair a dataset with the environment it is evaluated in.

Environment ids: `toy-nav` (built in), OGBench singletask ids such as `cube-single-singletask-task2-v0`,
any registered Gymnasium id, and `module:EnvId` for a suite that registers its environments when imported
(e.g. `gymnasium_robotics:PointMaze_UMaze-v3`; Gymnasium imports the module first). Dict observations (the
goal-conditioned suites) are flattened: the chosen keys' values, each flattened, concatenated in the order
given (default: every key, in the space's order), the same rule as a Dict-observation dataset's.
Dataset specs: `ogbench:<domain>-<kind>` (generated and cached on first use), `toy:nav`, `minari:<dataset id>`
(minari's data root), or a path to a Minari directory, an OGBench `.npz` or a D4RL `.hdf5` file.
"""
from __future__ import annotations

import re

import gymnasium as gym
import numpy as np

from anypolicy.data import ogbench as og
from anypolicy.data import visual as visual_data
from anypolicy.data.visual import is_visual, state_source
from anypolicy.data.dataset import Dataset, DatasetError
from anypolicy.data.storage import flatten_dict_observations, read_any

OGBENCH_SINGLETASK = re.compile(r"^(visual-)?(cube-\w+|scene|puzzle-\dx\d)-singletask(-task(\d))?-v0$")
LANGUAGE_DATASET = "ogbench:scene-play-lang"
TOY_ENVS = {"toy-nav", "toy-nav-corner"}  # toy-<task>: datasets toy:<task> (envs/toy.py GOALS)


class EnvError(ValueError):
    """An environment id that cannot be resolved."""


class FlattenKeys(gym.ObservationWrapper):
    """A Dict observation as one float32 vector: `keys`' values flattened and concatenated in that order."""

    def __init__(self, env: gym.Env, keys: tuple[str, ...]):
        super().__init__(env)
        spaces = env.observation_space.spaces
        missing = [k for k in keys if k not in spaces]
        if missing:
            raise EnvError(f"observation_keys {', '.join(missing)} are not in the environment's observations "
                           f"(its keys: {', '.join(spaces)}).")
        self.keys = tuple(keys)
        size = sum(int(np.prod(spaces[k].shape)) for k in self.keys)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)

    def observation(self, obs):
        return flatten_dict_observations({k: [obs[k]] for k in self.keys}, self.keys)[0]  # the datasets' rule


def make_env(env_id: str, frame_stack: int = 1, observation_keys: tuple[str, ...] = ()) -> gym.Env:
    """An environment by id; with frame_stack > 1 its observations are the last k (image) observations;
    Dict observations flattened from `observation_keys` (default: all, in the space's order)."""
    if frame_stack > 1:
        return gym.wrappers.FrameStackObservation(make_env(env_id, observation_keys=observation_keys), frame_stack)
    if env_id in TOY_ENVS:
        from anypolicy.envs.toy import GOALS, HORIZON, ToyNavEnv

        return gym.wrappers.TimeLimit(ToyNavEnv(GOALS[env_id[len("toy-"):]]), HORIZON)
    if OGBENCH_SINGLETASK.match(env_id):
        import ogbench.manipspace  # noqa: F401 - registers the manipulation environments
    try:
        env = gym.make(env_id)
    except ModuleNotFoundError as exc:
        raise EnvError(f"environment '{env_id}': its module cannot be imported ({exc}); install the suite that "
                       "provides it (e.g. pip install gymnasium-robotics).") from None
    except gym.error.Error as exc:
        raise EnvError(f"unknown environment '{env_id}': use toy-nav, an OGBench singletask id such as "
                       f"cube-single-singletask-task2-v0, a registered Gymnasium id, or module:EnvId for a suite "
                       f"that registers its environments on import ({exc}).") from None
    if isinstance(env.observation_space, gym.spaces.Dict):
        env = FlattenKeys(env, tuple(observation_keys) or tuple(env.observation_space.spaces))
    elif observation_keys:
        raise EnvError(f"observation_keys given, but '{env_id}' has {type(env.observation_space).__name__} "
                       "observations, not a Dict.")
    return env


def env_spaces(env_id: str, observation_keys: tuple[str, ...] = ()) -> tuple:
    """(observation space, action space, flattened Dict keys) of an environment, made once and closed: an
    unknown id, module or key is refused here."""
    env = make_env(env_id, observation_keys=observation_keys)
    env.close()
    return env.observation_space, env.action_space, getattr(env, "keys", ())


def check_env_matches(env_id: str, spaces: tuple, dims: dict) -> None:
    """Refuse, before any training, an environment (its `env_spaces`) whose observation or action sizes differ
    from the data's."""
    obs_space, act_space, keys = spaces
    if not isinstance(act_space, gym.spaces.Box):
        raise EnvError(f"'{env_id}' has {type(act_space).__name__} actions; anypolicy trains on Box (continuous) actions.")
    env_act = int(np.prod(act_space.shape))
    env_obs = int(np.prod(obs_space.shape)) if obs_space.shape else None
    if env_act != dims["action_dim"] or ("image_shape" not in dims and env_obs != dims["obs_dim"]):
        flattened = f" (flattened from {', '.join(keys)})" if keys else ""
        raise EnvError(f"the dataset has {dims['obs_dim']}-dim observations and {dims['action_dim']}-dim actions, "
                       f"but '{env_id}' has {env_obs}-dim observations{flattened} and {env_act}-dim actions: evaluate "
                       "in the environment the data came from (--env), or choose observation_keys to match.")


def reference_returns(env_id: str) -> tuple[float, float] | None:
    """(return scored 0, return scored 100) for normalized scores, where the task defines them."""
    if env_id in TOY_ENVS:
        from anypolicy.envs.toy import HORIZON

        return -float(HORIZON), -12.0
    return None


def default_env_for(spec: str) -> str:
    """The environment a dataset spec is evaluated in when --env is not given."""
    if spec.startswith("toy:"):
        return "toy-" + spec[len("toy:"):]
    if spec == LANGUAGE_DATASET:  # evaluated by instruction chains (hierarchy/chains.py)
        return "scene-v0"
    if spec.startswith("ogbench:"):
        domain, _ = og.parse_source(state_source(spec))
        return ("visual-" if is_visual(spec) else "") + og.singletask_env_id(domain, og.DEFAULT_TASK[domain])
    raise EnvError(f"no default environment for dataset '{spec}': pass --env.")


def load_dataset(spec: str, env_id: str | None = None, episodes: int | None = None, seed: int = 0) -> Dataset:
    """Load the dataset `spec`, labelled for the task of `env_id` where the dataset is task-agnostic."""
    if spec.startswith("toy:"):
        from anypolicy.envs.toy import GOALS, make_dataset

        task = spec[len("toy:"):]
        if task not in GOALS:
            raise DatasetError(f"unknown toy dataset '{spec}': the built-in ones are "
                               f"{', '.join('toy:' + t for t in GOALS)}.")
        return make_dataset(episodes or 300, seed=seed, task=task)
    if spec == LANGUAGE_DATASET:
        raise DatasetError(f"{spec} holds language windows for the recipes lcd, lcd-mlp and lcd-flat; other recipes "
                           "train on ogbench:scene-play.")
    if spec.startswith("ogbench:"):
        visual = is_visual(spec)
        domain, _ = og.parse_source(state_source(spec))
        task = og.DEFAULT_TASK[domain]
        if env_id:
            m = OGBENCH_SINGLETASK.match(env_id)
            if not m or not m.group(2) == domain or bool(m.group(1)) != visual:
                prefix = "visual-" if visual else ""
                raise EnvError(f"dataset {spec} is evaluated in {prefix}{domain} singletask environments, not "
                               f"'{env_id}' (e.g. {prefix}{og.singletask_env_id(domain, task)}).")
            task = int(m.group(4) or task)
        load = visual_data.load if visual else og.load
        return load(spec, task=task, episodes=episodes or og.FULL_EPISODES, seed=seed)
    if spec.startswith("minari:"):  # a dataset in minari's own data root ($MINARI_DATASETS_PATH), by its id
        from minari.storage.datasets_root_dir import get_dataset_path

        path = get_dataset_path(spec[len("minari:"):])
        if not (path / "data").is_dir():
            raise DatasetError(f"no Minari dataset '{spec[len('minari:'):]}' under {path.parent}: list them with "
                               "`minari list local`, or set MINARI_DATASETS_PATH.")
        return read_any(path, "minari")
    return read_any(spec)
