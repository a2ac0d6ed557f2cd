"""The training loop: exact resume after a stop or a kill, atomic checkpoints, logs, configs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from anypolicy.config import ConfigError
from anypolicy.train import checkpoint as ckpt
from anypolicy.train.loop import resume, train
from conftest import assert_same_weights, final_weights

FAST = ["hidden=32,32", "eval_every=30", "eval_episodes=3", "eval_envs=3", "log_every=10",
        "checkpoint_every=20", "batch_size=64", "tensorboard=false", "progress=false"]


SMALL_CRITIC = ["critic_hidden=32,32", "ensemble=3", "samples=8", "keep=3", "local_steps=2"]
def test_staged_parl_resumes_exactly_across_both_stage_switches(tmp_path):
    """PA-RL's pipeline: BC (steps 1-20), critic pre-training against the frozen policy (21-50), online
    fine-tuning with distillation. Stopped inside BC, resumed across the switch to stop inside the critic
    stage, resumed to the end: the weights of an uninterrupted run; the policy of step 20 is the policy of
    step 50; online, a stopped and resumed fine-tuning run matches an uninterrupted one too."""
    from anypolicy.train.online import finetune, resume_online

    sets = [s for s in FAST if not s.startswith("checkpoint_every")] + SMALL_CRITIC + [
        "bc_steps=20", "checkpoint_every=10", "keep_checkpoints=10"]
    full = train("parl-calql", "toy:nav", steps=50, seed=3, run_dir=tmp_path / "full", overrides=sets)
    part = train("parl-calql", "toy:nav", steps=50, seed=3, run_dir=tmp_path / "part", overrides=sets, stop_after=10)
    resume(part, stop_after=30)
    resume(part)
    assert_same_weights(final_weights(full), final_weights(part))
    after_bc = load_file(str(full / "checkpoints" / "step_000000020" / "weights.safetensors"))
    end = final_weights(full)
    policy = [k for k in end if k.startswith("policy.")]
    assert policy and all(torch.equal(after_bc[k], end[k]) for k in policy)  # frozen while the critic learns
    assert not all(torch.equal(after_bc[k], end[k]) for k in end if k.startswith("q."))
    assert int(after_bc["stage"]) == 0 and int(end["stage"]) == 1  # BC, critic

    online = ["online_steps=30", "eval_every=30", "checkpoint_every=10", "log_every=10"]
    a = finetune(full, 30, tmp_path / "online-full", online)
    b = finetune(full, 30, tmp_path / "online-part", online, stop_after=12)
    resume_online(b)
    assert_same_weights(final_weights(a), final_weights(b))
    tuned = final_weights(a)
    assert int(tuned["stage"]) == 2 and not all(torch.equal(tuned[k], end[k]) for k in policy)  # distilled online


def test_staged_parl_starts_from_a_bc_run_and_refuses_one_that_does_not_fit(tmp_path):
    sets = FAST + SMALL_CRITIC + ["policy=diffusion", "hidden=32,32"]
    bc = train("bc", "toy:nav", steps=20, seed=0, run_dir=tmp_path / "bc",
               overrides=[s for s in FAST] + ["policy=diffusion"])
    run = train("parl-calql", "toy:nav", steps=20, seed=0, run_dir=tmp_path / "parl", overrides=sets + [f"bc_run={bc}"])
    config = json.loads((run / "config.json").read_text())["agent"]
    assert config["bc_steps"] == 0  # stage 1 is the BC run's
    start, end = final_weights(bc), final_weights(run)
    assert all(torch.equal(start[k], end[k]) for k in start if k.startswith("policy."))  # frozen BC policy
    import csv

    assert {float(row["stage"]) for row in csv.DictReader(open(run / "metrics.csv"))} == {1.0}  # critic only
    gaussian = train("bc", "toy:nav", steps=10, seed=0, run_dir=tmp_path / "bc-gauss", overrides=FAST)
    with pytest.raises(ConfigError, match="same policy"):
        train("parl-calql", "toy:nav", steps=20, run_dir=tmp_path / "bad", overrides=sets + [f"bc_run={gaussian}"])
    assert not (tmp_path / "bad").exists()


def test_a_distributional_critic_too_narrow_for_the_rewards_is_refused_before_the_run_exists(tmp_path):
    with pytest.raises(ConfigError, match="value range"):  # toy-nav: -1 per step, values down to -100
        train("parl-calql", "toy:nav", steps=20, run_dir=tmp_path / "narrow",
              overrides=FAST + SMALL_CRITIC + ["bins=16", "v_min=-50"])
    assert not (tmp_path / "narrow").exists()
    with pytest.raises(ConfigError, match="no critic pre-training"):
        train("parl-calql", "toy:nav", steps=20, run_dir=tmp_path / "all-bc", overrides=FAST + ["bc_steps=20"])


def test_killed_run_resumes_to_identical_weights(tmp_path):
    args = ["iql", "--dataset", "toy:nav", "--steps", "400", "--seed", "1"]
    sets = [a for s in FAST if not s.startswith("checkpoint_every") for a in ("--set", s)] + ["--set", "checkpoint_every=50"]
    full = tmp_path / "full"
    subprocess.run([sys.executable, "-m", "anypolicy.cli", "train", *args, "--run-dir", str(full), *sets], check=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "anypolicy.cli", "train", *args, "--run-dir", str(killed), *sets])
    while ckpt.latest_checkpoint(killed) is None and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists(), "the run ended before it could be killed"
    subprocess.run([sys.executable, "-m", "anypolicy.cli", "train", "--resume", str(killed)], check=True)
    assert_same_weights(final_weights(full), final_weights(killed))


def test_checkpoint_round_trip_and_atomicity(tmp_path, monkeypatch):
    weights = {"w": torch.randn(3, 2)}
    opt = torch.optim.Adam([torch.nn.Parameter(torch.randn(2))])
    opt.param_groups[0]["params"][0].grad = torch.ones(2)
    opt.step()
    state = {"step": 7, "optimizers": {"pi": opt.state_dict()}, "rng": {"torch": torch.get_rng_state()}}
    good = ckpt.save_checkpoint(tmp_path / "checkpoints" / "step_000000007", weights, state)
    w, s = ckpt.load_checkpoint(good)
    assert torch.equal(w["w"], weights["w"]) and s["step"] == 7
    assert torch.equal(s["optimizers"]["pi"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert s["optimizers"]["pi"]["param_groups"][0]["lr"] == opt.param_groups[0]["lr"]

    def broken(*a, **k):
        raise OSError("killed mid-write")

    monkeypatch.setattr(ckpt, "save_file", broken)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(tmp_path / "checkpoints" / "step_000000009", weights, {"step": 9})
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_000000007"]
    assert ckpt.latest_checkpoint(tmp_path) == good


def test_run_directory_contents(tmp_path):
    run = train("bc", "toy:nav", steps=20, run_dir=tmp_path / "r",
                overrides=[s for s in FAST if not s.startswith("tensorboard")] + ["tensorboard=true"])
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["recipe"] == "bc" and config["agent"]["hidden"] == [32, 32]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_eval"]["episodes"] == 3
    assert any((run / "tensorboard").iterdir())
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert "policy_loss" in header and "updates_per_s" in header
    with pytest.raises(FileExistsError, match="already holds a run"):
        train("bc", "toy:nav", steps=20, run_dir=run, overrides=FAST)


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown recipe 'dqn'"):
        train("dqn", "toy:nav", run_dir=tmp_path / "a")
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) hiden for recipe 'iql'; valid keys: .*hidden"):
        train("iql", "toy:nav", run_dir=tmp_path / "b", overrides=["hiden=4"])
    with pytest.raises(ConfigError, match="'expectile=high': expected a value of type float"):
        train("iql", "toy:nav", run_dir=tmp_path / "c", overrides=["expectile=high"])
    with pytest.raises(ConfigError, match="steps must be at least 1"):
        train("iql", "toy:nav", steps=0, run_dir=tmp_path / "d")


def test_a_checkpoint_evaluates_the_same_every_time(tmp_path):
    """PA-RL acts with sampled candidates: evaluation seeds its own stream, so the result depends on the
    weights and the seed only, not on what ran before it."""
    from anypolicy.train.loop import load_agent, run_eval

    run = train("parl-calql", "toy:nav", steps=20, seed=0, run_dir=tmp_path / "run", overrides=FAST + SMALL_CRITIC)
    agent, tcfg = load_agent(run)
    first = run_eval(agent, tcfg)
    torch.rand(100)  # move the global stream on
    assert run_eval(agent, tcfg) == first
    assert first == json.loads((run / "summary.json").read_text())["final_eval"]  # as at the end of training


def test_a_run_from_an_older_version_still_loads(tmp_path):
    """Config keys since removed are dropped with a warning; buffers the old checkpoint lacks (the action
    bounds) are rebuilt from its dims; the learned weights come back unchanged."""
    from safetensors.torch import save_file

    from anypolicy.train.loop import load_agent

    run = train("iql", "toy:nav", steps=20, seed=0, run_dir=tmp_path / "old", overrides=FAST)
    config = json.loads((run / "config.json").read_text())
    config["agent"]["policy_layer_norm"] = False
    (run / "config.json").write_text(json.dumps(config))
    path = ckpt.latest_checkpoint(run) / "weights.safetensors"
    weights = load_file(str(path))
    save_file({k: v for k, v in weights.items() if k not in ("action_low", "action_high")}, str(path))
    with pytest.warns(UserWarning, match="policy_layer_norm"):
        agent, _ = load_agent(run)
    assert torch.equal(agent.state_dict()["policy.trunk.0.weight"], weights["policy.trunk.0.weight"])
    assert torch.equal(agent.action_low, weights["action_low"])
    del weights["policy.trunk.0.weight"]
    save_file(weights, str(path))
    with pytest.raises(RuntimeError, match="policy.trunk.0.weight"):
        load_agent(run)


def test_defaults_page_is_current_and_every_default_has_a_source():
    """docs/defaults.md is generated from the config dataclasses (python -m anypolicy.defaults)."""
    from anypolicy import defaults

    assert defaults.missing() == [], "defaults without a source in anypolicy/defaults.py SOURCES"
    page = Path(__file__).resolve().parents[1] / "docs" / "defaults.md"
    assert page.read_text() == defaults.render(), "docs/defaults.md is stale: run python -m anypolicy.defaults"
