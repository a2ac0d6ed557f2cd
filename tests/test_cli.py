"""The command line: every subcommand end to end, and clear messages on bad input."""
import json
import subprocess
import sys

import numpy as np

from anypolicy.cli import main


def test_train_dry_prints_resolved_config(capsys):
    assert main(["train", "iql", "--dataset", "toy:nav", "--dry", "--set", "expectile=0.7", "--set", "steps=5"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["agent"]["expectile"] == 0.7 and cfg["train"]["steps"] == 5 and cfg["train"]["env"] == "toy-nav"


def test_bad_input_gives_one_clear_line(capsys, tmp_path):
    assert main(["train", "iql", "--dataset", "toy:nav", "--dry", "--set", "nope=1"]) == 2
    assert "error: unknown config key(s) nope" in capsys.readouterr().err
    assert main(["train", "bc", "--dry", "--set", "policy=diffusion", "--set", "policy_options=step=3"]) == 2
    assert "policy option 'step' is not an option of DiffusionPolicy" in capsys.readouterr().err
    assert main(["train", "parl-calql", "--dry", "--set", "selection=best"]) == 2
    assert "selection must be one of argmax, sample, got 'best'" in capsys.readouterr().err
    assert main(["data", "info", str(tmp_path / "missing.hdf5")]) == 2
    assert "the path does not exist" in capsys.readouterr().err
    assert main(["data", "make", "ogbench:maze-play"]) == 2
    assert "unknown OGBench source" in capsys.readouterr().err
    assert main(["train", "iql", "--dataset", "ogbench:cube-single-play", "--env", "scene-singletask-task1-v0",
                 "--steps", "1", "--run-dir", str(tmp_path / "x")]) == 2
    assert "is evaluated in cube-single singletask environments" in capsys.readouterr().err
    assert main(["train", "iql", "--dataset", "toy:nav", "--env", "NoSuchEnv-v9", "--dry"]) == 0  # resolved lazily
    assert main(["train", "iql", "--dataset", "toy:nav", "--env", "NoSuchEnv-v9", "--steps", "1",
                 "--run-dir", str(tmp_path / "y"), "--set", "progress=false"]) == 2
    assert "unknown environment 'NoSuchEnv-v9'" in capsys.readouterr().err


def test_import_info_train_eval(tmp_path, capsys):
    from anypolicy.envs.toy import make_dataset

    ds = make_dataset(40, seed=1)
    np.savez(tmp_path / "toy.npz", observations=np.concatenate([ds.observations, ds.next_observations[-1:]]),
             actions=np.concatenate([ds.actions, ds.actions[-1:]]),
             terminals=np.r_[np.zeros(len(ds), bool), True])
    assert main(["data", "import", str(tmp_path / "toy.npz"), "--name", "toy-import"]) == 0
    out = capsys.readouterr().out
    assert "imported" in out
    path = out.strip().split("-> ")[-1]
    assert main(["data", "info", path]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["transitions"] == len(ds) and info["episodes"] == 1
    run = tmp_path / "run"
    assert main(["train", "bc", "--dataset", "toy:nav", "--steps", "20", "--run-dir", str(run),
                 "--set", "eval_episodes=2", "--set", "progress=false", "--set", "hidden=16"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 4


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "anypolicy.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "quickstart" in out.stdout


def test_train_seeds_resume_and_eval_with_acting_settings(tmp_path, capsys):
    root = tmp_path / "seeds"
    common = ["--set", "eval_episodes=2", "--set", "progress=false", "--set", "hidden=16,16", "--set", "tensorboard=false"]
    assert main(["train", "iql", "--dataset", "toy:nav", "--steps", "20", "--seeds", "0", "1", "--run-dir", str(root),
                 *common]) == 0
    assert sorted(p.name for p in root.iterdir()) == ["seed0", "seed1", "seeds.json"]
    assert main(["train", "--resume", str(root)]) == 0  # finished: resumes to the end without new steps
    capsys.readouterr()
    assert main(["eval", str(root / "seed1"), "--episodes", "3", "--set", "act_improve=sg"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 3
    assert main(["eval", str(root / "seed1"), "--set", "bogus=1"]) == 2
    assert "unknown config key(s) bogus" in capsys.readouterr().err
    assert main(["train", "bc", "--dataset", "toy:nav", "--seeds", "0", "1", "--seed", "0"]) == 2
