"""The Python API (anypolicy/api.py): typed configs in, agents out, without the command line: train, save,
load, evaluate, resume exactly, fine-tune online, a user's recipe by import path, clear refusals."""
import json

import numpy as np
import pytest
import torch

import anypolicy as ap
from anypolicy.config import ConfigError


def tiny(**fields):
    return ap.TrainConfig(**{"eval_every": 0, "eval_episodes": 2, "log_every": 10, "checkpoint_every": 20,
                             "tensorboard": False, "progress": False, "threads": 1, **fields})


OBS = np.random.default_rng(0).uniform(-1, 1, (5, 2)).astype(np.float32)  # toy:nav's 2-D states


def in_bounds(agent, actions):
    low, high = agent.action_low.numpy(), agent.action_high.numpy()
    return bool(np.all(actions >= low - 1e-6) and np.all(actions <= high + 1e-6))


@pytest.mark.parametrize("config", [
    ap.IQLConfig(expectile=0.8, hidden=(32, 32), critic_hidden=[32, 32]),
    ap.PARLCalQLConfig(hidden=(16, 16), critic_hidden=(16, 16), ensemble=2, samples=4, keep=2, local_steps=1),
], ids=["iql", "parl-calql"])
def test_trains_saves_loads_and_evaluates_without_the_cli(tmp_path, config):
    agent = ap.fit(config, "toy:nav", steps=40, run_dir=tmp_path / "run", train=tiny())
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["train"]["steps"] == 40 and recorded["agent"]["critic_hidden"] == list(config.critic_hidden)
    assert agent.run_dir == tmp_path / "run"
    actions = agent.act(OBS)
    assert actions.shape == (5, 2) and in_bounds(agent, actions)
    assert agent.sample(OBS, 3).shape == (5, 3, 2) and in_bounds(agent, agent.sample(OBS, 3))
    q = agent.q_value(OBS, actions)
    assert q.shape == (5,) and np.isfinite(q).all()
    assert np.allclose(agent.q_value(OBS, actions, reduce="none").min(0), agent.q_value(OBS, actions, reduce="min"))
    assert np.allclose(agent.q_value(torch.as_tensor(OBS), torch.as_tensor(actions)), q)  # tensors too
    agent.save(tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["agent.json", "weights.safetensors"]
    again = ap.load(tmp_path / "saved")
    assert type(again) is type(agent) and again.cfg == agent.cfg
    assert all(torch.equal(a, b) for a, b in zip(agent.state_dict().values(), again.state_dict().values()))
    assert np.allclose(again.q_value(OBS, actions), q)
    result = ap.evaluate_agent(again, episodes=2)
    assert 0 <= result["success"] <= 100 and result["episodes"] == 2


def test_resume_from_python_is_exact(tmp_path):
    config = ap.IQLConfig(hidden=(32, 32), critic_hidden=(32, 32))
    whole = ap.fit(config, "toy:nav", steps=40, run_dir=tmp_path / "whole", train=tiny())
    ap.fit(config, "toy:nav", steps=40, run_dir=tmp_path / "cut", train=tiny(), stop_after=20)
    resumed = ap.resume(tmp_path / "cut")
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))


def test_fit_online_from_an_offline_run(tmp_path):
    offline = ap.fit(ap.IQLConfig(hidden=(32, 32), critic_hidden=(32, 32)), "toy:nav", steps=20,
                     run_dir=tmp_path / "off", train=tiny())
    tuned = ap.fit_online(offline.run_dir, 60, run_dir=tmp_path / "on", eval_every=60, batch_size=32)
    assert tuned.run_dir == tmp_path / "on"
    assert not all(torch.equal(a, b) for a, b in zip(offline.state_dict().values(), tuned.state_dict().values()))
    assert json.loads((tmp_path / "on" / "config.json").read_text())["online"]["online_steps"] == 60


def test_a_users_recipe_by_import_path(tmp_path):
    from user_recipe import ShrunkBCConfig

    with pytest.raises(ConfigError, match="pass recipe="):
        ap.fit(ShrunkBCConfig(), "toy:nav", steps=20, run_dir=tmp_path / "no")
    assert not (tmp_path / "no").exists()
    agent = ap.fit(ShrunkBCConfig(shrink=0.5), "toy:nav", steps=20, run_dir=tmp_path / "mine", train=tiny(),
                   recipe="user_recipe:ShrunkBC")
    assert type(agent).__name__ == "ShrunkBC" and agent.cfg.shrink == 0.5
    assert json.loads((tmp_path / "mine" / "config.json").read_text())["train"]["recipe"] == "user_recipe:ShrunkBC"
    assert type(ap.load(tmp_path / "mine")).__name__ == "ShrunkBC"  # a new process finds it by the same path


def test_typed_values_are_checked_and_domain_defaults_fill_the_unset_fields(tmp_path):
    from anypolicy.train.run_config import TrainConfig, explicit_configs

    cube = TrainConfig(recipe="iql", dataset="ogbench:cube-single-play")
    assert explicit_configs(cube, ap.IQLConfig())[1].beta == 1.0  # the FQL paper's cube temperature
    assert explicit_configs(cube, ap.IQLConfig(beta=3.0))[1].beta == 3.0  # what the user set wins
    for bad, match in ((ap.IQLConfig(expectile="high"), "expectile"), (ap.IQLConfig(expectile=1.5), "expectile"),
                       (ap.IQLConfig(critic_hidden="wide"), "critic_hidden")):
        with pytest.raises(ConfigError, match=match):
            ap.fit(bad, "toy:nav", steps=10, run_dir=tmp_path / "bad")
    with pytest.raises(ConfigError, match="steps"):
        ap.fit(ap.IQLConfig(), "toy:nav", run_dir=tmp_path / "bad", train=tiny(steps="many"))
    with pytest.raises(ConfigError, match="takes a IQLConfig"):
        ap.fit(ap.BCConfig(), "toy:nav", recipe="iql", run_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    from anypolicy.train.loop import train  # the older dict form takes typed values as well
    run = train("iql", "toy:nav", steps=20, run_dir=tmp_path / "dict",
                overrides={"expectile": 0.8, "critic_hidden": (32, 32), "hidden": [32, 32], "eval_episodes": 2,
                           "progress": False, "tensorboard": False, "threads": 1})
    assert json.loads((run / "config.json").read_text())["agent"]["expectile"] == 0.8
    assert "IQLConfig" in dir(ap) and ap.load(run).cfg.expectile == 0.8
    import anypolicy.evaluate.report  # noqa: F401  a subpackage imported later must not hide an API name
    assert all(callable(getattr(ap, name)) for name in ap.API)


EXAMPLES = {"offline.py": ["--steps", "40"], "offline_to_online.py": ["--steps", "40", "--online-steps", "60"],
            "own_recipe.py": ["--steps", "40"], "own_dataset.py": ["--steps", "40", "--transitions", "1000"],
            "custom_policy.py": None}  # run by tests/test_policies.py's import and training


@pytest.mark.parametrize("script", sorted(k for k, v in EXAMPLES.items() if v is not None))
def test_the_examples_run(tmp_path, script):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert sorted(p.name for p in (root / "examples").glob("*.py") if p.name != "__init__.py") == sorted(EXAMPLES)
    env = {**os.environ, "ANYPOLICY_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(root / "examples" / script), *EXAMPLES[script], "--out",
                           str(tmp_path / "out")], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
