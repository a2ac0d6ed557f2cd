"""OGBench regeneration: determinism, caching, and singletask labels checked against the environment."""
import gymnasium as gym
import numpy as np
import pytest

from anypolicy.data import ogbench as og
from anypolicy.data.dataset import DatasetError
from anypolicy.data.storage import read_minari


@pytest.fixture(scope="module")
def small_cube(tmp_path_factory):
    return og.generate("ogbench:cube-single-play", episodes=2, workers=2, steps=150, progress=False)


def test_generation_is_deterministic_and_independent_of_workers(small_cube, tmp_path, monkeypatch):
    a = read_minari(small_cube)
    monkeypatch.setenv("ANYPOLICY_DATA_DIR", str(tmp_path))
    b = read_minari(og.generate("ogbench:cube-single-play", episodes=2, workers=1, steps=150, progress=False))
    assert len(a) == 300 and a.num_episodes == 2
    np.testing.assert_array_equal(a.observations, b.observations)
    np.testing.assert_array_equal(a.actions, b.actions)
    assert a.metadata["domain"] == "cube-single" and a.metadata["kind"] == "play"
    assert np.abs(a.actions).max() <= 1.0


def test_second_call_is_served_from_the_cache(small_cube, monkeypatch):
    before = (small_cube / "data" / "main_data.hdf5").stat().st_mtime_ns

    def must_not_run(*args, **kwargs):
        raise AssertionError("a cached dataset was generated again")

    monkeypatch.setattr(og, "_collect_episodes", must_not_run)
    again = og.generate("ogbench:cube-single-play", episodes=2, workers=1, steps=150, progress=False)
    assert again == small_cube
    assert (small_cube / "data" / "main_data.hdf5").stat().st_mtime_ns == before


@pytest.mark.parametrize("task", [1, 2, 5])
def test_singletask_labels_agree_with_the_environment(small_cube, task):
    """Put the singletask environment in each stored state and ask it whether the task is solved."""
    import ogbench.manipspace  # noqa: F401

    ds = og.label_singletask(read_minari(small_cube), "cube-single", task)
    env = gym.make(og.singletask_env_id("cube-single", task))
    env.reset(seed=0)
    u = env.unwrapped
    agree = []
    for i in range(len(ds)):
        u.set_state(ds.extras["qpos"][i], ds.extras["qvel"][i])
        agree.append(bool(all(u._compute_successes())) == bool(ds.terminals[i]))
    assert all(agree)
    assert (ds.rewards == np.where(ds.terminals, 0.0, -1.0)).all()  # one cube: reward -1 until solved


def test_labels_against_states_where_the_task_is_solved(small_cube):
    """Move the cube onto the task-2 target in stored states: the labels must flip to success."""
    import ogbench.manipspace  # noqa: F401

    ds = read_minari(small_cube)
    env = gym.make(og.singletask_env_id("cube-single", 2))
    env.reset(seed=0)
    target = env.unwrapped._data.mocap_pos[env.unwrapped._cube_target_mocap_ids[0]].copy()
    ds.extras["qpos"] = ds.extras["qpos"].copy()
    ds.extras["qpos"][::2, 14:17] = target  # every other state solved
    labelled = og.label_singletask(ds, "cube-single", 2)
    np.testing.assert_array_equal(labelled.terminals, np.arange(len(ds)) % 2 == 0)
    env.unwrapped.set_state(ds.extras["qpos"][0], ds.extras["qvel"][0])
    assert all(env.unwrapped._compute_successes())


def test_bad_sources_are_refused():
    with pytest.raises(DatasetError, match="unknown OGBench source 'ogbench:cube-triple-play'"):
        og.generate("ogbench:cube-triple-play", episodes=1)
    with pytest.raises(DatasetError, match="--episodes must be at least 1"):
        og.generate("ogbench:cube-single-play", episodes=0)


@pytest.mark.parametrize("domain", list(og.DOMAINS))
@pytest.mark.parametrize("kind", og.KINDS)
def test_every_domain_and_kind_generates_and_labels(domain, kind):
    ds = og.load(f"ogbench:{domain}-{kind}", episodes=1, steps=40)
    assert len(ds) == 40 and np.isfinite(ds.observations).all()
    assert np.abs(ds.actions).max() <= 1.0
    assert ds.metadata["task"] == og.DEFAULT_TASK[domain]
    if domain.startswith(("puzzle", "scene")):
        assert "button_states" in ds.extras
