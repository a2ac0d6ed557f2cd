"""The Python API: typed configs in, agents out, with the run directories, logs and exact resume of the
command line (which is a thin layer over the same functions).

    import anypolicy as ap

    agent = ap.fit(ap.IQLConfig(expectile=0.9), "toy:nav", steps=2000, run_dir="runs/iql",
                   train=ap.TrainConfig(eval_every=1000))
    agent.act(obs); agent.sample(obs, 8); agent.q_value(obs, actions)
    tuned = ap.fit_online(agent.run_dir, steps=5000)        # offline -> online from the run's checkpoint
    agent.save("iql-agent"); again = ap.load("iql-agent")   # safetensors + JSON, no pickle

A recipe of your own is an Agent subclass with a Config dataclass, named by its import path wherever a recipe
name goes (`ap.fit(MyConfig(), ..., recipe="mypkg.agents:MyAgent")`, `anypolicy train mypkg.agents:MyAgent`).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from anypolicy.agents.base import RECIPES, Agent, recipe_class
from anypolicy.config import ConfigError
from anypolicy.data.dataset import Dataset
from anypolicy.train import loop, online
from anypolicy.train.run_config import TrainConfig, configs_from, explicit_configs


def config_classes() -> dict[str, type]:
    """Every registered recipe's config class by its name (IQLConfig, PARLCalQLConfig, ...)."""
    return {recipe_class(name).Config.__name__: recipe_class(name).Config for name in RECIPES}


def recipe_for(config, recipe: str | None = None) -> str:
    """The recipe a config object belongs to: `recipe` if given (checked), else the one registered recipe
    whose Config is the config's class."""
    if recipe is not None:
        if not isinstance(config, recipe_class(recipe).Config):
            raise ConfigError(f"recipe '{recipe}' takes a {recipe_class(recipe).Config.__name__}, "
                              f"not a {type(config).__name__}.")
        return recipe
    names = [name for name in RECIPES if recipe_class(name).Config is type(config)]
    if len(names) != 1:
        raise ConfigError(f"{type(config).__name__} is the config of "
                          + (f"recipes {', '.join(names)}: pass recipe=" if names else
                             "no registered recipe: pass recipe='package.module:Class'") + ".")
    return names[0]


def with_run_dir(agent: Agent, run_dir: Path) -> Agent:
    agent.run_dir = Path(run_dir)
    return agent


def stored(dataset: Dataset) -> str:
    """A Dataset object as a dataset spec that a resumed run finds again: written once, in the Minari format,
    under the data root's python/ folder, named by its metadata name and a digest of its arrays."""
    import hashlib
    import re

    import numpy as np

    from anypolicy.data.storage import data_dir, is_minari_dir, save_dataset

    digest = hashlib.sha1()
    for array in (dataset.observations, dataset.actions, dataset.rewards, dataset.terminals, dataset.timeouts,
                  dataset.episode_ids):
        digest.update(np.ascontiguousarray(array).tobytes())
    name = re.sub(r"[^A-Za-z0-9_]+", "-", str(dataset.metadata.get("name", "dataset")))
    path = data_dir() / "python" / f"{name}-{digest.hexdigest()[:10]}-v0"
    if not is_minari_dir(path):
        save_dataset(dataset, path)
    return str(path)


def fit(config, dataset: str | Dataset | None = None, *, env: str | None = None, steps: int | None = None,
        seed: int | None = None, run_dir: str | Path | None = None, train: TrainConfig | None = None,
        recipe: str | None = None, stop_after: int | None = None) -> Agent:
    """Train the recipe of `config` offline on `dataset` (a name such as "ogbench:cube-single-play", a file,
    or a Dataset object, which is stored once in the data root; give its `env`) and return the agent of the
    run's last checkpoint, with `agent.run_dir`. `train` holds the run's other settings (batch size,
    evaluation, threads, ...); `steps`, `seed`, `env` and `dataset` replace its fields. Config fields left at
    their class defaults take the dataset's per-domain defaults, as unset keys do on the command line.
    `stop_after` ends the run at that step after a checkpoint, as a kill would."""
    name = recipe_for(config, recipe)
    if isinstance(dataset, Dataset):
        dataset = stored(dataset)
    fields = {"recipe": name, "dataset": dataset, "env": env, "steps": steps, "seed": seed}
    tcfg = dataclasses.replace(train or TrainConfig(), **{k: v for k, v in fields.items() if v is not None})
    tcfg, acfg = explicit_configs(tcfg, config)
    return load(loop.train_configs(tcfg, acfg, run_dir, stop_after))


def resume(run_dir: str | Path, stop_after: int | None = None) -> Agent:
    """Continue a stopped or killed run (offline or online) from its latest checkpoint."""
    run_dir = Path(run_dir)
    config = run_dir / "config.json"
    is_online = config.exists() and "online" in json.loads(config.read_text())
    done = online.resume_online(run_dir, stop_after) if is_online else loop.resume(run_dir, stop_after)
    return load(done)


def fit_online(source: str | Path, steps: int | None = None, *, run_dir: str | Path | None = None,
               recipe: str | None = None, stop_after: int | None = None, **settings) -> Agent:
    """Fine-tune offline run `source` online for `steps` environment steps (offline -> online; with a
    `recipe` other than the source's, hybrid: a fresh agent of that recipe from the source's policy).
    `settings` set online, train and agent fields by name, typed (`updates_per_step=10`)."""
    return load(online.finetune(source, steps, run_dir, settings, stop_after, recipe))


def load(path: str | Path, device: str = "cpu") -> Agent:
    """An agent saved by `agent.save(path)`, or the latest checkpoint of a run directory."""
    path = Path(path)
    if (path / "agent.json").exists():
        from safetensors.torch import load_file

        saved = json.loads((path / "agent.json").read_text())
        tcfg, acfg = configs_from(saved, path)
        agent = loop.build_agent(tcfg, acfg, saved["dims"], loop.resolve_device(device))
        agent.load_state_dict(load_file(str(path / "weights.safetensors"), device=str(agent.obs_mean.device)))
        return agent.eval()
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is neither a saved agent (agent.json) nor a run directory (config.json).")
    agent, _ = loop.load_agent(path, device)
    return with_run_dir(agent, path)


def evaluate_agent(agent: Agent, episodes: int = 10, env: str | None = None) -> dict:
    """Success and return of `episodes` evaluation episodes in the agent's environment (or `env`), seeded as a
    run's evaluations are: {"success", "return_mean", ...}."""
    if agent.built_from is None:
        raise ValueError("this agent was built by hand: it knows no environment; build it with anypolicy.fit or load.")
    tcfg, _ = configs_from(agent.built_from, "agent")
    return loop.run_eval(agent, dataclasses.replace(tcfg, env=env or tcfg.env), episodes)
