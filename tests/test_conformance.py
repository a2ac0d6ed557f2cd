"""One contract for every registered recipe (a test fails when a recipe is missing from it): it builds from
its config, trains through the loop, resumes a stopped run to the uninterrupted run's weights, logs and
evaluations, acts inside the action bounds, survives a save/load round trip, and either trains a user's
policy module (recipes that take any class) or refuses it, with the reason, before a run directory exists."""
from pathlib import Path

import numpy as np
import pytest
import torch

import anypolicy as ap
from anypolicy.agents.base import RECIPES
from anypolicy.config import ConfigError
from anypolicy.train.loop import resume, train
from conftest import assert_same_weights, final_weights

FAST = ["hidden=32,32", "eval_every=30", "eval_episodes=3", "eval_envs=3", "log_every=10",
        "checkpoint_every=20", "batch_size=64", "tensorboard=false", "progress=false", "threads=1"]
SMALL_CRITIC = ["critic_hidden=32,32", "ensemble=3", "samples=8", "keep=3", "local_steps=2"]
TOY = "toy:nav"
# LCD learns from scene play data annotated with instructions: two generated episodes, a hashing encoder
LANG = ("ogbench:scene-play-lang", ["dataset_episodes=2", "language_encoder=hashing", "encoder_hidden=32",
                                    "latent_dim=4", "planner_width=16", "horizon=2", "low_steps=30",
                                    "batch_size=32", "eval_every=0", "eval_episodes=1"])
CASES = {  # name[+variant] -> (dataset, settings): seconds per run
    "bc": (TOY, []), "iql": (TOY, []), "cql": (TOY, ["critic_hidden=32,32"]), "calql": (TOY, ["critic_hidden=32,32"]),
    "parl-calql": (TOY, SMALL_CRITIC), "parl-iql": (TOY, SMALL_CRITIC), "parl-rlpd": (TOY, SMALL_CRITIC),
    "idql": (TOY, ["critic_hidden=32,32", "samples=8", "keep=8"]),
    "td3bc": (TOY, ["critic_hidden=32,32", "policy_delay=3"]), "fql": (TOY, []),
    "rebrac": (TOY, ["actor_freq=3"]),  # the stop at 40 falls between full updates (39, 42)
    "cfpi-onestep": (TOY, ["critic_hidden=32,32"]), "cfpi-iterative": (TOY, ["critic_hidden=32,32"]),
    "fb": (TOY, ["z_dim=8", "f_hidden=32,32", "b_hidden=32,32"]),
    "lcd": LANG, "lcd-mlp": LANG,
    "lcd-flat": (LANG[0], [s for s in LANG[1] if s.split("=")[0] in ("dataset_episodes", "language_encoder", "horizon",
                                                                      "batch_size", "eval_every", "eval_episodes")]),
    # each optimizer step one compiled graph (agents/fused_step.py): Adam's state is the optimizer's
    "td3bc+compile": (TOY, ["critic_hidden=32,32", "policy_delay=3", "compile=true"]),
    # the stop at 40 falls inside a cache round (26-50), whose samples are rebuilt from the snapshot
    "parl-calql+cache": (TOY, SMALL_CRITIC + ["action_cache=25", "distill_after=10"]),
}
# the recipes that train any policy class by its own loss and sampler; the others refuse other classes
TAKES_ANY_CLASS = {"bc", "iql", "parl-calql", "parl-iql", "parl-rlpd", "idql", "td3bc", "rebrac", "fb", "lcd",
                   "lcd-mlp", "lcd-flat"}
USER_POLICY = "examples.custom_policy:PrototypePolicy"


def evaluations(run_dir: Path) -> list[dict]:
    """eval.csv without its timing columns (LCD's chains report steps/s and ms per action)."""
    import csv

    with open(run_dir / "eval.csv") as f:
        return [{k: v for k, v in row.items() if not k.endswith(("per_s", "per_action"))} for row in csv.DictReader(f)]


def test_every_registered_recipe_is_held_to_the_contract():
    assert {name.split("+")[0] for name in CASES} == set(RECIPES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_recipe_contract(tmp_path, name):
    recipe, (dataset, extra) = name.split("+")[0], CASES[name]
    sets = FAST + extra
    if name.endswith("+compile"):  # earlier tests' agents count towards dynamo's per-function recompile limit,
        torch._dynamo.reset()  # past which it would run the steps eagerly (a separate process starts empty)
    full = train(recipe, dataset, steps=60, seed=3, run_dir=tmp_path / "full", overrides=sets)
    part = train(recipe, dataset, steps=60, seed=3, run_dir=tmp_path / "part", overrides=sets, stop_after=40)
    assert not (part / "summary.json").exists()
    resume(part)
    assert_same_weights(final_weights(full), final_weights(part))
    steps = [int(row.split(",")[0]) for row in open(part / "metrics.csv").read().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 60  # no duplicated rows after the resume
    assert evaluations(part) == evaluations(full)

    agent = ap.load(full)
    assert type(agent).__name__ == type(ap.load(part)).__name__ and agent.cfg == ap.load(part).cfg
    agent.save(tmp_path / "saved")
    again = ap.load(tmp_path / "saved")
    assert_same_weights(agent.state_dict(), again.state_dict())
    if recipe.startswith("lcd"):  # acts from language (act_language), evaluated by instruction chains
        return
    obs = np.random.default_rng(0).uniform(-1, 1, (16, agent.obs_dim)).astype(np.float32)
    torch.manual_seed(0)
    actions = agent.act(obs)
    torch.manual_seed(0)
    assert np.array_equal(actions, again.act(obs))
    low, high = agent.action_low.numpy(), agent.action_high.numpy()
    assert actions.shape == (16, agent.action_dim) and (actions >= low - 1e-6).all() and (actions <= high + 1e-6).all()


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_a_user_policy_module_trains_or_is_refused_before_any_file(tmp_path, recipe, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))
    dataset, extra = CASES[recipe]
    sets = [s for s in FAST + extra if not s.startswith("eval_every")] + [
        f"policy={USER_POLICY}", "policy_options=", "eval_every=0", "eval_episodes=1", "log_every=5"]
    run = tmp_path / "run"
    if recipe not in TAKES_ANY_CLASS:
        with pytest.raises(ConfigError, match="policy|operator"):
            train(recipe, dataset, steps=10, run_dir=run, overrides=sets)
        assert not run.exists()
        return
    steps = 40 if recipe in ("lcd", "lcd-mlp") else 10  # both LCD stages (30 low-level steps, then the planner)
    train(recipe, dataset, steps=steps, run_dir=run, overrides=sets)
    assert (run / "summary.json").exists()
    assert ap.load(run).cfg.policy == USER_POLICY
