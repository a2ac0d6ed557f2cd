"""Offline -> online fine-tuning: mixed batches, episodes in the buffer, exact resume, clear errors."""
import csv

import pytest
import torch
from safetensors.torch import load_file

from anypolicy.config import ConfigError
from anypolicy.train import checkpoint as ckpt
from anypolicy.train.loop import train
from anypolicy.train.online import finetune, resume_online

FAST = ["hidden=32,32", "critic_hidden=32,32", "eval_every=0", "eval_episodes=3", "eval_envs=3", "log_every=20",
        "checkpoint_every=40", "batch_size=32", "tensorboard=false", "progress=false", "threads=1"]
ONLINE = ["eval_every=100", "log_every=50", "checkpoint_every=50"]


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    return train("calql", "toy:nav", steps=40, seed=2, run_dir=tmp_path_factory.mktemp("off") / "calql",
                 overrides=FAST)


def weights(run_dir):
    return load_file(str(ckpt.latest_checkpoint(run_dir) / "weights.safetensors"))


def test_finetune_collects_episodes_and_resumes_exactly(offline_run, tmp_path):
    full = finetune(offline_run, 200, tmp_path / "full", ONLINE)
    episodes = list(csv.DictReader(open(full / "episodes.csv")))
    assert len(episodes) >= 3 and int(episodes[-1]["step"]) == 200
    assert sum(int(e["length"]) for e in episodes) == 200
    state = ckpt.load_checkpoint(ckpt.latest_checkpoint(full))[1]
    assert state["buffer"]["size"] == 200 and int(state["updates"]) == 200
    # Cal-QL's Monte-Carlo returns of each stored episode: the discounted sum of its rewards from t on, and
    # at an episode cut by the time limit (toy-nav: 60 steps, unsolved here) its last reward continued
    r, g = state["buffer"]["rewards"][:60], state["buffer"]["mc_returns"][:60]
    assert torch.allclose(g[:-1], r[:-1] + 0.99 * g[1:], atol=1e-4)
    assert int(episodes[0]["length"]) == 60 and float(episodes[0]["success"]) == 0
    assert float(g[-1]) == pytest.approx(float(r[-1]) / (1 - 0.99), rel=1e-4)

    part = finetune(offline_run, 200, tmp_path / "part", ONLINE, stop_after=70)
    assert not (part / "summary.json").exists()
    resume_online(part)
    a, b = weights(full), weights(part)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (part / "episodes.csv").read_text() == (full / "episodes.csv").read_text()
    assert (part / "eval.csv").read_text() == (full / "eval.csv").read_text()


def test_finetune_refuses_bad_input(offline_run, tmp_path):
    with pytest.raises(ConfigError, match="unknown config key"):
        finetune(offline_run, 10, tmp_path / "a", ["online_ration=0.5"])
    with pytest.raises(ConfigError, match="online_ratio"):
        finetune(offline_run, 10, tmp_path / "b", ["online_ratio=1.5"])
    with pytest.raises(ConfigError, match="online_sampling"):
        finetune(offline_run, 10, tmp_path / "s", ["online_sampling=mixed"])
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        finetune(tmp_path / "nothing", 10)
    finetune(offline_run, 5, tmp_path / "c", ONLINE)
    with pytest.raises(FileExistsError, match="finetune --resume"):
        finetune(offline_run, 5, tmp_path / "c", ONLINE)


def test_hybrid_parl_rlpd_starts_from_a_bc_policy(tmp_path):
    bc = train("bc", "toy:nav", steps=20, seed=0, run_dir=tmp_path / "bc",
               overrides=[c for c in FAST if not c.startswith("critic")] + ["policy=diffusion"])
    sets = ONLINE + ["critic_hidden=32,32", "samples=4", "keep=2", "local_steps=1", "updates_per_step=0"]
    run = finetune(bc, 30, tmp_path / "hybrid", sets, recipe="parl-rlpd")
    source, tuned = weights(bc), weights(run)
    policy = [k for k in source if k.startswith("policy.")]
    assert policy and all(torch.equal(source[k], tuned[k]) for k in policy)  # no updates: the BC policy as is
    assert any(k.startswith("q.") for k in tuned)
    with_updates = finetune(bc, 30, tmp_path / "hybrid2", sets[:-1] + ["updates_per_step=2"], recipe="parl-rlpd")
    state = ckpt.load_checkpoint(ckpt.latest_checkpoint(with_updates))[1]
    assert int(state["updates"]) == 60
    with pytest.raises(ConfigError, match="does not fit"):
        finetune(bc, 5, tmp_path / "bad", sets + ["hidden=16,16"], recipe="parl-rlpd")


def test_fql_fine_tunes_with_uniform_sampling_and_resumes_exactly(tmp_path):
    """FQL keeps its offline objective online and samples offline and online transitions uniformly, as its
    reference (the recipe's default); a stopped and resumed fine-tuning run matches an uninterrupted one."""
    import json

    off = train("fql", "toy:nav", steps=40, seed=1, run_dir=tmp_path / "fql", overrides=FAST)
    full = finetune(off, 90, tmp_path / "full", ONLINE)
    assert json.loads((full / "config.json").read_text())["online"]["online_sampling"] == "uniform"
    part = finetune(off, 90, tmp_path / "part", ONLINE, stop_after=40)
    resume_online(part)
    a, b = weights(full), weights(part)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], weights(off)[k]) for k in a if k.startswith("policy."))
