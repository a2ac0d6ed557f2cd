"""The library's boundary: malformed datasets, foreign environments (Dict observations, suites by module),
and every refusal before a run directory or a cache entry exists."""
import json
import shutil

import gymnasium as gym
import h5py
import numpy as np
import pytest

from anypolicy.cli import main

STEPS = ["--steps", "2", "--set", "eval_episodes=1", "--set", "log_every=1", "--set", "tensorboard=false",
         "--set", "progress=false"]


def d4rl_arrays(n=40, obs=3, act=2):
    rng = np.random.default_rng(0)
    return {"observations": rng.normal(size=(n, obs)).astype(np.float32),
            "actions": rng.uniform(-1, 1, size=(n, act)).astype(np.float32),
            "rewards": rng.normal(size=n).astype(np.float32), "terminals": np.zeros(n, bool),
            "timeouts": np.tile(np.r_[np.zeros(19, bool), True], n // 20)}


def write_h5(path, arrays):
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
    return path


def malformed(kind, tmp_path):
    """A file for each way a dataset can be broken."""
    a = d4rl_arrays()
    if kind == "nan":
        a["observations"][5, 1] = np.nan
    elif kind == "inf":
        a["rewards"][3] = np.inf
    elif kind == "short":
        a["actions"] = a["actions"][:-3]
    elif kind == "bounds":
        a["actions"][7, 0] = 4.0  # outside the [-1, 1] box actions are declared in
    elif kind == "empty":
        a = {k: v[:0] for k, v in a.items()}
    elif kind == "missing":
        del a["rewards"]
    elif kind == "rank":
        a["observations"] = a["observations"].reshape(40, 3, 1)
    elif kind == "not-hdf5":
        (tmp_path / "bad.hdf5").write_text("observations,actions\n1,2\n")
        return tmp_path / "bad.hdf5"
    elif kind == "truncated":
        good = write_h5(tmp_path / "good.hdf5", a).read_bytes()
        (tmp_path / "cut.hdf5").write_bytes(good[: len(good) // 2])
        return tmp_path / "cut.hdf5"
    elif kind == "npz-no-terminals":
        np.savez(tmp_path / "d.npz", observations=a["observations"], actions=a["actions"])
        return tmp_path / "d.npz"
    return write_h5(tmp_path / f"{kind}.hdf5", a)


MESSAGES = {"nan": "NaN or inf", "inf": "NaN or inf", "short": "different lengths", "bounds": "outside the declared bounds",
            "empty": "is empty", "missing": "missing rewards", "rank": "must have shape [N, dim]",
            "not-hdf5": "could not be read as an HDF5 file", "truncated": "could not be read as an HDF5 file",
            "npz-no-terminals": "missing terminals"}


def snapshot(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_malformed_datasets_are_refused_in_one_line_by_every_command(kind, tmp_path, capsys, monkeypatch):
    data_root = tmp_path / "cache"
    monkeypatch.setenv("ANYPOLICY_DATA_DIR", str(data_root))
    path = malformed(kind, tmp_path)
    before = snapshot(tmp_path)
    for argv in (["data", "info", str(path)], ["data", "import", str(path)],
                 ["train", "bc", "--dataset", str(path), "--env", "toy-nav", "--run-dir", str(tmp_path / "run"), *STEPS]):
        assert main(argv) == 2, (kind, argv)
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, (kind, argv, err)
        assert MESSAGES[kind] in err, (kind, argv, err)
    assert snapshot(tmp_path) == before  # no run directory, no cache entry, nothing half-written


def test_a_file_dataset_needs_no_env_to_be_checked(tmp_path, capsys):
    path = write_h5(tmp_path / "ok.hdf5", d4rl_arrays())
    assert main(["data", "info", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["transitions"] == 38 and info["episodes"] == 2  # D4RL v2 rows: a timeout row has no next state
    # train without --env: the file is checked first, then the missing environment is named, nothing written
    bad = malformed("nan", tmp_path)
    assert main(["train", "bc", "--dataset", str(bad), "--run-dir", str(tmp_path / "run"), *STEPS]) == 2
    assert "NaN or inf" in capsys.readouterr().err
    assert main(["train", "bc", "--dataset", str(path), "--run-dir", str(tmp_path / "run"), *STEPS]) == 2
    assert "is valid (3-dim observations, 2-dim actions) but has no default environment" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- environments from outside
class DictReach(gym.Env):
    """A goal-conditioned point reach with Dict observations as gymnasium-robotics' tasks have them:
    observation (position), achieved_goal (= position) and desired_goal; `is_success` in the info."""

    metadata = {"render_modes": []}

    def __init__(self):
        box = gym.spaces.Box(-2, 2, (2,), np.float64)
        self.observation_space = gym.spaces.Dict({"achieved_goal": box, "desired_goal": box, "observation": box})
        self.action_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        self.goal = np.array([1.0, 0.5])

    def _obs(self):
        return {"achieved_goal": self.pos.copy(), "desired_goal": self.goal.copy(), "observation": self.pos.copy()}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-0.2, 0.2, 2)
        return self._obs(), {}

    def step(self, action):
        self.pos = np.clip(self.pos + 0.2 * np.asarray(action, np.float64), -2, 2)
        success = bool(np.linalg.norm(self.pos - self.goal) < 0.2)
        return self._obs(), float(success) - 1.0, success, False, {"is_success": success}


gym.register("DictReach-v0", entry_point=DictReach, max_episode_steps=30)


def reach_dataset(path, keys=("observation", "desired_goal")):
    """Scripted episodes towards the goal, flattened from `keys` in that order (as the env will be)."""
    rng = np.random.default_rng(0)
    env = gym.make("DictReach-v0")
    rows = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")}

    def flat(o):
        return np.concatenate([o[k] for k in keys]).astype(np.float32)

    for e in range(20):
        obs, _ = env.reset(seed=e)
        for t in range(30):
            act = np.clip(2 * (obs["desired_goal"] - obs["observation"]) + rng.normal(0, 0.3, 2), -1, 1)
            nxt, r, term, trunc, _ = env.step(act)
            for k, v in zip(rows, (flat(obs), act, r, term, trunc or t == 29, flat(nxt))):
                rows[k].append(v)
            obs = nxt
            if term or trunc:
                break
        rows["timeouts"][-1] = not rows["terminals"][-1]
    return write_h5(path, {k: np.asarray(v, np.float32 if k not in ("terminals", "timeouts") else bool)
                           for k, v in rows.items()})


def test_a_dict_observation_env_trains_and_evaluates_from_the_cli(tmp_path, capsys):
    data = reach_dataset(tmp_path / "reach.hdf5")
    run = tmp_path / "run"
    assert main(["train", "bc", "--dataset", str(data), "--env", "DictReach-v0", "--run-dir", str(run),
                 "--set", "observation_keys=observation,desired_goal", *STEPS]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["observation_keys"] == ["observation", "desired_goal"]
    assert (run / "summary.json").exists()
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    assert json.loads(capsys.readouterr().out.split("run directory")[-1].split("\n", 1)[1])["episodes"] == 2


def test_env_keys_default_to_all_and_a_size_mismatch_is_refused_before_training(tmp_path, capsys):
    data = reach_dataset(tmp_path / "reach.hdf5")  # 4-dim observations; all three keys give 6
    run = tmp_path / "run"
    assert main(["train", "bc", "--dataset", str(data), "--env", "DictReach-v0", "--run-dir", str(run), *STEPS]) == 2
    err = capsys.readouterr().err
    assert "4-dim observations" in err and "6-dim observations (flattened from achieved_goal, desired_goal, observation)" in err
    assert not run.exists()
    assert main(["train", "bc", "--dataset", str(data), "--env", "DictReach-v0", "--run-dir", str(run),
                 "--set", "observation_keys=observation,goal", *STEPS]) == 2
    assert "observation_keys goal are not in the environment's observations" in capsys.readouterr().err
    assert not run.exists()


def test_unknown_env_ids_and_modules_are_refused_before_any_run_exists(tmp_path, capsys):
    data = reach_dataset(tmp_path / "reach.hdf5")
    for env, message in (("NoSuchEnv-v0", "unknown environment 'NoSuchEnv-v0'"),
                         ("no_such_suite:Reach-v0", "its module cannot be imported")):
        assert main(["train", "bc", "--dataset", str(data), "--env", env, "--run-dir", str(tmp_path / "run"), *STEPS]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "run").exists()


def test_a_suite_loads_by_module_path(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_suite.py").write_text(
        "import gymnasium as gym\n"
        "gym.register('SuiteReach-v0', entry_point='test_boundary:DictReach', max_episode_steps=30)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = reach_dataset(tmp_path / "reach.hdf5")
    run = tmp_path / "run"
    assert main(["train", "bc", "--dataset", str(data), "--env", "my_suite:SuiteReach-v0", "--run-dir", str(run),
                 "--set", "observation_keys=observation,desired_goal", *STEPS]) == 0
    assert json.loads((run / "summary.json").read_text())["env"] == "my_suite:SuiteReach-v0"


# ---------------------------------------------------------------- refusals before side effects
def test_an_agent_config_error_leaves_no_run_directory(tmp_path, capsys):
    run = tmp_path / "run"
    # calql trains by the reparameterized gradient: a diffusion policy is refused while the agent is built
    assert main(["train", "calql", "--dataset", "toy:nav", "--run-dir", str(run), "--set", "policy=diffusion", *STEPS]) == 2
    assert "use parl-calql" in capsys.readouterr().err
    assert not run.exists()
    assert main(["train", "bc", "--dataset", "toy:nav", "--run-dir", str(run), *STEPS]) == 0  # the same dir is free


def test_resuming_before_the_first_checkpoint_says_it_starts_over(tmp_path, capsys):
    from anypolicy.train.loop import train

    run = tmp_path / "run"
    train("bc", "toy:nav", steps=4, run_dir=run, overrides={"eval_episodes": "1", "tensorboard": "false",
                                                            "progress": "false"}, stop_after=2)
    shutil.rmtree(run / "checkpoints")  # as a kill before the first checkpoint leaves it
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    assert "has no checkpoint yet (stopped before step 10000): training starts again from step 0" in capsys.readouterr().err
    assert (run / "summary.json").exists()


@pytest.mark.parametrize("key,value,message", [
    ("expectile", "1.0", "expectile=1.0: must be in (0, 1)"), ("discount", "1", "discount=1.0: must be in [0, 1)"),
    ("target_tau", "0", "target_tau=0.0: must be in (0, 1]"), ("lr", "-1e-3", "lr=-0.001: must be above 0"),
    ("batch_size", "0", "batch_size=0: must be at least 1")])
def test_numeric_keys_outside_their_range_are_refused_before_a_run_exists(key, value, message, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "iql", "--dataset", "toy:nav", "--run-dir", str(run), "--set", f"{key}={value}", *STEPS]) == 2
    assert message in capsys.readouterr().err and not run.exists()
    assert main(["train", "parl-calql", "--dataset", "toy:nav", "--run-dir", str(run), "--set", "samples=8",
                 "--set", "keep=10", *STEPS]) == 2
    assert "keep=10, samples=8: keep at most samples" in capsys.readouterr().err and not run.exists()


def test_action_bounds_must_be_finite_and_ordered():
    from anypolicy.data.dataset import Dataset, DatasetError
    from conftest import make_arrays

    arrays = make_arrays()
    arrays["action_low"], arrays["action_high"] = np.array([1.0, -1.0], np.float32), np.array([-1.0, 1.0], np.float32)
    with pytest.raises(DatasetError, match=r"finite with low < high in every dimension, got low \[1.0, -1.0\]"):
        Dataset(**arrays)


def test_a_resumed_runs_train_time_counts_every_session(tmp_path):
    from anypolicy.train.loop import resume, train

    run = tmp_path / "run"
    sets = {"eval_episodes": "1", "tensorboard": "false", "progress": "false", "checkpoint_every": "20", "log_every": "10"}
    train("iql", "toy:nav", steps=40, run_dir=run, overrides=sets, stop_after=20)
    from anypolicy.train.checkpoint import load_checkpoint

    first = load_checkpoint(run / "checkpoints" / "step_000000020")[1]["train_seconds"]
    resume(run)
    summary = json.loads((run / "summary.json").read_text())
    assert first > 0 and summary["train_seconds"] == pytest.approx(first + summary["train_seconds_last_session"], abs=0.2)


def test_a_gymnasium_robotics_maze_collected_by_minari_trains_and_evaluates(tmp_path, monkeypatch, capsys):
    """The whole way from outside: minari's DataCollector records a gymnasium-robotics maze (Dict observations),
    anypolicy trains on it by id and evaluates in the suite's env loaded by module."""
    from conftest import collect_random

    pytest.importorskip("gymnasium_robotics", reason="the test extras install gymnasium-robotics")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    collect_random(gym.make("gymnasium_robotics:PointMaze_UMaze-v3", max_episode_steps=60), 120, "maze/umaze-random-v0")
    run = tmp_path / "run"
    assert main(["train", "bc", "--dataset", "minari:maze/umaze-random-v0", "--env",
                 "gymnasium_robotics:PointMaze_UMaze-v3", "--run-dir", str(run), *STEPS]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["observation_keys"] == ["achieved_goal", "desired_goal", "observation"]
    assert json.loads((run / "summary.json").read_text())["final_eval"]["episodes"] == 1


def test_a_bad_env_is_refused_before_ogbench_data_are_generated(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANYPOLICY_DATA_DIR", str(tmp_path / "cache"))
    assert main(["train", "iql", "--dataset", "ogbench:cube-single-play", "--env", "cube-single-singletask-task9-v0",
                 "--run-dir", str(tmp_path / "run"), *STEPS]) == 2
    assert "unknown environment 'cube-single-singletask-task9-v0'" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()
