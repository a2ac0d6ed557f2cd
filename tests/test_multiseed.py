"""Seeds trained as one batched model: each seed matches its separate run, resumes exactly, refuses recipes
whose update it cannot batch."""
import copy
import csv
import dataclasses

import pytest
import torch

from anypolicy.config import ConfigError, parse_assignments
from anypolicy.train.loop import build_agent, load_agent, make_configs, train, training_data
from anypolicy.train.multiseed import SeedBatch, resume_seeds, train_seeds

from test_train import assert_same_weights, final_weights

FAST = ["hidden=32,32", "eval_every=60", "eval_episodes=3", "eval_envs=3", "log_every=20",
        "checkpoint_every=30", "batch_size=64", "tensorboard=false", "progress=false"]


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("recipe", ["bc", "iql"])
def test_each_seed_matches_its_separate_run(tmp_path, recipe):
    root = train_seeds(recipe, "toy:nav", [0, 3], steps=120, run_root=tmp_path / "batched", overrides=FAST)
    for seed in (0, 3):
        separate = train(recipe, "toy:nav", steps=120, seed=seed, run_dir=tmp_path / f"seed{seed}", overrides=FAST)
        batched, _ = load_agent(root / f"seed{seed}")  # a seed's run directory is an ordinary run
        alone, _ = load_agent(separate)
        for name, value in alone.state_dict().items():
            torch.testing.assert_close(batched.state_dict()[name], value, atol=1e-5, rtol=1e-4, msg=name)
        for key in ("policy_loss",) + (("q_loss", "v_loss") if recipe == "iql" else ()):
            a = [float(r[key]) for r in rows(root / f"seed{seed}" / "metrics.csv")]
            b = [float(r[key]) for r in rows(separate / "metrics.csv")]
            assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
        assert rows(root / f"seed{seed}" / "eval.csv") == rows(separate / "eval.csv")
    # the seeds really differ (not one model trained twice)
    w0, w3 = (final_weights(root / f"seed{s}") for s in (0, 3))
    assert not torch.equal(w0["policy.trunk.0.weight"], w3["policy.trunk.0.weight"])


def test_a_stopped_batch_of_seeds_resumes_exactly(tmp_path):
    whole = train_seeds("iql", "toy:nav", [1, 2], steps=90, run_root=tmp_path / "whole", overrides=FAST)
    part = train_seeds("iql", "toy:nav", [1, 2], steps=90, run_root=tmp_path / "part", overrides=FAST, stop_after=45)
    assert not (part / "seed1" / "summary.json").exists()
    resume_seeds(part)
    for seed in (1, 2):
        assert_same_weights(final_weights(whole / f"seed{seed}"), final_weights(part / f"seed{seed}"))
        losses = lambda run: {r["step"]: (r["q_loss"], r["policy_loss"]) for r in rows(run / f"seed{seed}" / "metrics.csv")}  # noqa: E731
        whole_rows, part_rows = losses(whole), losses(part)
        for step in ("20", "40", "80", "90"):  # the row at 60 averages 46-60 only in the resumed run
            assert whole_rows[step] == part_rows[step]


def test_the_ema_of_a_diffusion_policy_follows_its_model_in_the_batch():
    tcfg, acfg = make_configs("bc", parse_assignments(["policy=diffusion", "hidden=32,2"]), dataset="toy:nav")
    sampler, dims, _ = training_data(tcfg, acfg, "cpu")
    agents = [build_agent(dataclasses.replace(tcfg, seed=s), acfg, dims, "cpu") for s in (0, 1)]
    before = [copy.deepcopy(a.policy.ema.state_dict()) for a in agents]
    batch = SeedBatch(agents)
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    samples = [sampler.sample(32, g) for g in gens]
    batch.update({k: torch.stack([b[k] for b in samples]) for k in samples[0]})
    batch.write_back()
    rate = 1 - agents[0].policy.ema_decay
    for agent, old in zip(agents, before):
        model, ema = agent.policy.model.state_dict(), agent.policy.ema.state_dict()
        for k in old:  # ema <- ema + rate * (model - ema), with the model after the step
            torch.testing.assert_close(ema[k], old[k] + rate * (model[k] - old[k]))
        assert any(not torch.equal(ema[k], old[k]) for k in old)


def test_recipes_that_cannot_be_batched_are_refused_before_any_directory(tmp_path):
    with pytest.raises(ConfigError, match="bc, fql, iql"):
        train_seeds("td3bc", "toy:nav", [0, 1], steps=10, run_root=tmp_path / "r", overrides=FAST)
    assert not (tmp_path / "r").exists()
    with pytest.raises(ConfigError, match="distinct"):
        train_seeds("iql", "toy:nav", [0, 0], steps=10, run_root=tmp_path / "r", overrides=FAST)
