"""Resolve environment ids and dataset specs, and pair a dataset with the environment it is evaluated in.

Environment ids: `toy-nav` (built in), OGBench singletask ids such as `cube-single-singletask-task2-v0`,
and any registered Gymnasium id. Dataset specs: `ogbench:<domain>-<kind>` (generated and cached on first
use), `toy:nav`, or a path to a Minari directory, an OGBench `.npz` or a D4RL `.hdf5` file.
"""
from __future__ import annotations

import re
import gymnasium as gym

from anypolicy.data import ogbench as og
from anypolicy.data import visual as visual_data
from anypolicy.data.visual import is_visual, state_source
from anypolicy.data.dataset import Dataset, DatasetError
from anypolicy.data.storage import read_any

OGBENCH_SINGLETASK = re.compile(r"^(visual-)?(cube-\w+|scene|puzzle-\dx\d)-singletask(-task(\d))?-v0$")
LANGUAGE_DATASET = "ogbench:scene-play-lang"
TOY_ENVS = {"toy-nav", "toy-nav-corner"}  # toy-<task>: datasets toy:<task> (envs/toy.py GOALS)


class EnvError(ValueError):
    """An environment id that cannot be resolved."""


def make_env(env_id: str, frame_stack: int = 1) -> gym.Env:
    """An environment by id; with frame_stack > 1 its observations are the last k (image) observations."""
    if frame_stack > 1:
        return gym.wrappers.FrameStackObservation(make_env(env_id), frame_stack)
    if env_id in TOY_ENVS:
        from anypolicy.envs.toy import GOALS, HORIZON, ToyNavEnv

        return gym.wrappers.TimeLimit(ToyNavEnv(GOALS[env_id[len("toy-"):]]), HORIZON)
    if OGBENCH_SINGLETASK.match(env_id):
        import ogbench.manipspace  # noqa: F401 - registers the manipulation environments
    try:
        return gym.make(env_id)
    except gym.error.Error as exc:
        raise EnvError(f"unknown environment '{env_id}': use toy-nav, an OGBench singletask id such as "
                       f"cube-single-singletask-task2-v0, or a registered Gymnasium id ({exc}).") from None


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
    return read_any(spec)
