"""Datasets: validation messages, storage round trips, imports, derived quantities, samplers."""
import os
import warnings

import h5py
import numpy as np
import pytest
import torch

from anypolicy.data import storage
from anypolicy.data.dataset import Dataset, DatasetError
from anypolicy.data.sampler import MixedSampler, OfflineSampler, ReplayBuffer
from conftest import collect_random, make_arrays


def test_valid_dataset_and_summary():
    ds = Dataset(**make_arrays())
    assert len(ds) == 20 and ds.num_episodes == 2 and ds.obs_dim == 3
    info = ds.summary()
    assert info["transitions"] == 20 and info["episodes"] == 2
    assert len(info["action_mean"]) == 2


@pytest.mark.parametrize("key", ["observations", "actions", "rewards", "next_observations"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused(key, bad):
    arrays = make_arrays()
    arrays[key] = arrays[key].copy()
    arrays[key].reshape(len(arrays[key]), -1)[5, 0] = bad
    with pytest.raises(DatasetError, match=rf"'{key}' holds NaN or inf in 1 transitions \(first at index 5\)"):
        Dataset(**arrays)


@pytest.mark.parametrize("key", ["actions", "rewards", "next_observations", "terminals", "episode_ids"])
def test_mismatched_lengths_are_refused(key):
    arrays = make_arrays()
    arrays[key] = arrays[key][:-1]
    with pytest.raises(DatasetError, match=rf"'{key}' has 19 entries but observations have 20"):
        Dataset(**arrays)


def test_mismatched_shapes_are_refused():
    arrays = make_arrays()
    arrays["next_observations"] = np.zeros((20, 4), np.float32)
    with pytest.raises(DatasetError, match=r"observations have shape \(3,\) per step but next_observations have \(4,\)"):
        Dataset(**arrays)
    arrays = make_arrays()
    arrays["actions"] = np.zeros(20, np.float32)
    with pytest.raises(DatasetError, match=r"'actions' must have shape \[N, dim\]"):
        Dataset(**arrays)
    arrays = make_arrays()
    arrays["action_low"] = -np.ones(3, np.float32)
    with pytest.raises(DatasetError, match=r"action bounds must have shape \[2\]"):
        Dataset(**arrays)


def test_actions_outside_bounds_are_refused():
    arrays = make_arrays()
    arrays["actions"] = arrays["actions"].copy()
    arrays["actions"][7, 1] = 1.5
    with pytest.raises(DatasetError, match=r"1 actions lie outside the declared bounds .*transition 7, dimension 1, value 1.5"):
        Dataset(**arrays)


def test_empty_dataset_is_refused():
    arrays = {k: (v[:0] if k not in ("action_low", "action_high") else v) for k, v in make_arrays().items()}
    with pytest.raises(DatasetError, match="is empty: it holds no transitions"):
        Dataset(**arrays)


def test_wrong_format_files_are_refused(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not a numpy archive")
    with pytest.raises(DatasetError, match="could not be read as an OGBench .npz file"):
        storage.read_any(text)
    h5 = tmp_path / "bad.hdf5"
    h5.write_bytes(b"\x00garbage")
    with pytest.raises(DatasetError, match="could not be read as an HDF5 file"):
        storage.read_any(h5)
    wrong_keys = tmp_path / "other.npz"
    np.savez(wrong_keys, x=np.zeros(3))
    with pytest.raises(DatasetError, match="not a valid OGBench .npz file: missing observations, actions, terminals"):
        storage.read_any(wrong_keys)
    with pytest.raises(DatasetError, match="cannot tell the format"):
        storage.read_any(_touch(tmp_path / "x.csv"))
    with pytest.raises(DatasetError, match="is not a Minari dataset"):
        storage.read_any(tmp_path)
    with pytest.raises(DatasetError, match="the path does not exist"):
        storage.read_any(tmp_path / "missing.npz")


def _touch(path):
    path.write_text("a,b\n")
    return path


def test_minari_round_trip(tmp_path):
    arrays = make_arrays()
    arrays["terminals"] = arrays["terminals"].copy()
    arrays["terminals"][19] = True
    arrays["timeouts"] = arrays["timeouts"].copy()
    arrays["timeouts"][19] = False
    ds = Dataset(**arrays, extras={"qpos": np.arange(40, dtype=np.float32).reshape(20, 2)}, metadata={"name": "rt"})
    path = storage.save_dataset(ds, tmp_path / "rt-v0")
    back = storage.read_any(path)
    for key in ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts", "episode_ids"):
        np.testing.assert_array_equal(getattr(back, key), getattr(ds, key), err_msg=key)
    np.testing.assert_array_equal(back.extras["qpos"], ds.extras["qpos"])
    assert back.metadata["name"] == "rt"
    # the layout is Minari's own: its loader reads it too
    from minari.dataset.minari_storage import MinariStorage
    assert MinariStorage.read(path / "data").total_steps == 20


def test_minari_public_api_lists_loads_and_iterates_our_datasets(tmp_path, monkeypatch):
    import minari

    root = tmp_path / "root"
    monkeypatch.setenv("ANYPOLICY_DATA_DIR", str(root))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    arrays = make_arrays()
    for e in (0, 10):  # two continuous episodes of 10 steps
        arrays["next_observations"][e:e + 9] = arrays["observations"][e + 1:e + 10]
    ds = Dataset(**arrays, metadata={"name": "mine"})
    storage.save_dataset(ds, root / "mine" / "arrays-v0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "misconfigured dataset" warning
        listed = minari.list_local_datasets()
    assert list(listed) == ["mine/arrays-v0"] and listed["mine/arrays-v0"]["total_steps"] == 20
    loaded = minari.load_dataset("mine/arrays-v0")
    assert loaded.total_episodes == 2 and loaded.total_steps == 20
    episodes = list(loaded.iterate_episodes())
    np.testing.assert_array_equal(episodes[1].actions, ds.actions[10:])
    np.testing.assert_array_equal(episodes[0].observations[:-1], ds.observations[:10])
    assert minari.MinariDataset(root / "mine" / "arrays-v0" / "data").total_steps == 20
    with pytest.raises(DatasetError, match="is not a Minari dataset id: name the directory <name>-v<N>"):
        storage.save_dataset(ds, root / "no-version")
    assert not (root / "no-version").exists()


def test_an_older_cache_gets_minaris_keys_on_read(tmp_path, monkeypatch):
    import json

    import minari

    monkeypatch.setenv("ANYPOLICY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    path = storage.save_dataset(Dataset(**make_arrays(), metadata={"name": "old"}), tmp_path / "ns" / "old-v0")
    meta = path / "data" / "metadata.json"
    raw = json.loads(meta.read_text())
    for key in ("minari_version", "algorithm_name", "description"):
        raw.pop(key)
    raw["dataset_id"] = "ogbench:old"  # what earlier versions wrote
    meta.write_text(json.dumps(raw))
    with pytest.raises(KeyError, match="minari_version"):
        minari.load_dataset("ns/old-v0")
    assert len(storage.read_any(path)) == 20
    assert minari.load_dataset("ns/old-v0").total_steps == 20


def test_a_dataset_minaris_data_collector_made_imports_and_trains(tmp_path, monkeypatch):
    import gymnasium as gym

    from anypolicy.envs.registry import load_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    env = gym.wrappers.TimeLimit(gym.make("Pendulum-v1").unwrapped, 50)
    theirs = collect_random(env, 150, "theirs/pendulum-random-v0")
    ds = load_dataset("minari:theirs/pendulum-random-v0")
    assert len(ds) == theirs.total_steps == 150 and ds.num_episodes == 3
    first = next(theirs.iterate_episodes())
    np.testing.assert_allclose(ds.observations[:50], first.observations[:-1])
    np.testing.assert_allclose(ds.next_observations[:50], first.observations[1:])
    np.testing.assert_allclose(ds.rewards[:50], first.rewards)
    assert ds.timeouts[49] and not ds.terminals.any()
    np.testing.assert_array_equal(ds.action_low, [-2.0]) and ds.obs_dim == 3


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    ds = Dataset(**make_arrays())
    from minari.dataset._storages.hdf5_storage import HDF5Storage

    def boom(self, episodes):
        raise RuntimeError("disk full")

    monkeypatch.setattr(HDF5Storage, "update_episodes", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        storage.save_dataset(ds, tmp_path / "half")
    assert os.listdir(tmp_path) == []


def test_ogbench_npz_import(tmp_path):
    # two episodes of 3 transitions each in OGBench's layout: 4 states per episode, the last one terminal
    obs = np.arange(8 * 2, dtype=np.float32).reshape(8, 2)
    act = np.zeros((8, 1), np.float32)
    ends = np.array([0, 0, 0, 1, 0, 0, 0, 1], bool)
    np.savez(tmp_path / "d.npz", observations=obs, actions=act, terminals=ends, qpos=obs * 2)
    ds = storage.read_any(tmp_path / "d.npz")
    assert len(ds) == 6 and ds.num_episodes == 2
    np.testing.assert_array_equal(ds.next_observations[0], obs[1])
    np.testing.assert_array_equal(ds.next_observations[2], obs[3])
    np.testing.assert_array_equal(ds.observations[3], obs[4])
    np.testing.assert_array_equal(ds.timeouts, [0, 0, 1, 0, 0, 1])
    assert not ds.terminals.any()
    np.testing.assert_array_equal(ds.extras["qpos"][3], obs[4] * 2)


def test_d4rl_hdf5_import(tmp_path):
    n = 10
    with h5py.File(tmp_path / "d.hdf5", "w") as f:
        f["observations"] = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
        f["next_observations"] = np.arange(n * 2, dtype=np.float32).reshape(n, 2) + 1
        f["actions"] = np.zeros((n, 3), np.float32)
        f["rewards"] = np.ones(n, np.float32)
        f["terminals"] = np.r_[np.zeros(4), 1, np.zeros(5)].astype(bool)
        f["timeouts"] = np.r_[np.zeros(9), 1].astype(bool)
    ds = storage.read_any(tmp_path / "d.hdf5")
    assert len(ds) == 10 and ds.num_episodes == 2
    assert ds.terminals[4] and not ds.terminals[9] and ds.timeouts[9]
    with h5py.File(tmp_path / "short.hdf5", "w") as f:
        for k in ("observations", "actions", "rewards"):
            f[k] = np.zeros((5, 2))
        f["terminals"] = np.zeros(4)
    with pytest.raises(DatasetError, match="different lengths"):
        storage.read_any(tmp_path / "short.hdf5")


def test_mc_returns_match_a_direct_sum():
    """Segments end at terminals (nothing follows) and at episode ends cut by a time limit, where the last
    reward continues forever: G_t = sum_{t <= j < T} gamma^(j-t) r_j + gamma^(T-t) r_(T-1) / (1 - gamma)."""
    arrays = make_arrays(n=12, episodes=3)
    arrays["terminals"] = arrays["terminals"].copy()
    arrays["terminals"][3] = True
    ds = Dataset(**arrays)
    gamma = 0.9
    got = ds.mc_returns(gamma, reward_scale=2.0, reward_bias=-1.0)
    r = ds.rewards * 2.0 - 1.0
    for i in range(12):
        end = (i // 4 + 1) * 4
        expected = sum(gamma ** (j - i) * r[j] for j in range(i, end))
        if end != 4:  # the first episode ends at a terminal; the others are truncated
            expected += gamma ** (end - i) * r[end - 1] / (1 - gamma)
        assert got[i] == pytest.approx(expected, rel=1e-5)


def test_mc_returns_of_a_truncated_never_solved_episode_are_its_value():
    """OGBench play data: -1 per step and a time limit, never a terminal. The return-to-go of every state,
    the last ones included, is the value of never solving the task, -1 / (1 - gamma) = -100; a success
    (terminal, reward 0 there) still ends the sum."""
    n = 1001
    arrays = make_arrays(n=2 * n, episodes=2)
    arrays["rewards"] = -np.ones(2 * n, np.float32)
    arrays["terminals"] = np.zeros(2 * n, bool)
    arrays["rewards"][n + 499] = 0.0  # the second episode solves the task at step 499
    arrays["terminals"][n + 499] = True
    g = Dataset(**arrays).mc_returns(0.99)
    np.testing.assert_allclose(g[:n], -100.0, rtol=1e-5)  # old code: -63.4 at step 900, -1 at the last
    np.testing.assert_allclose(g[n + 498], -1.0, rtol=1e-6)
    assert g[n + 499] == 0.0
    np.testing.assert_allclose(g[n + 500:], -100.0, rtol=1e-5)  # after the success: a new, truncated segment


def test_observation_stats():
    ds = Dataset(**make_arrays(n=200, episodes=4))
    mean, std = ds.observation_stats()
    np.testing.assert_allclose(mean, ds.observations.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std, ds.observations.std(0), rtol=1e-5)


def test_sampler_reward_scale_and_masks():
    arrays = make_arrays()
    arrays["terminals"] = arrays["terminals"].copy()
    arrays["terminals"][9] = True
    ds = Dataset(**arrays)
    sampler = OfflineSampler(ds, "cpu", reward_scale=2.0, reward_bias=-1.0)
    np.testing.assert_allclose(sampler.data["rewards"].numpy(), ds.rewards * 2 - 1, rtol=1e-6)
    assert sampler.data["masks"][9] == 0 and sampler.data["masks"].sum() == 19
    batch = sampler.sample(64, torch.Generator().manual_seed(0))
    assert batch["observations"].shape == (64, 3) and batch["actions"].shape == (64, 2)


def test_replay_buffer_mixing_ratio():
    ds = Dataset(**make_arrays())
    offline = OfflineSampler(ds, "cpu")
    buf = ReplayBuffer(100, 3, 2, "cpu")
    mixed = MixedSampler(offline, buf, online_ratio=0.25)
    g = torch.Generator().manual_seed(0)
    assert mixed.sample(16, g)["observations"].shape == (16, 3)  # empty buffer: all offline
    buf.add(np.full((5, 3), 7.0), np.zeros((5, 2)), np.ones(5), np.zeros((5, 3)), np.zeros(5))
    batch = mixed.sample(16, g)
    assert (batch["observations"][:, 0] == 7.0).sum() == 4  # 25% of 16 from the online buffer
    for _ in range(30):
        buf.add(np.zeros(3), np.zeros(2), 0.0, np.zeros(3), True)
    assert buf.size == 35
    with pytest.raises(ValueError, match="online_ratio must lie in"):
        MixedSampler(offline, buf, online_ratio=1.5)


def test_uniform_mixing_draws_online_transitions_in_proportion_to_their_share():
    """FQL's fine-tuning: one buffer of offline and online data sampled uniformly. With N offline and 5 online
    transitions a batch holds Binomial(B, 5 / (N + 5)) online ones: that share over many batches, varying."""
    ds = Dataset(**make_arrays())
    offline = OfflineSampler(ds, "cpu")
    buf = ReplayBuffer(100, 3, 2, "cpu")
    mixed = MixedSampler(offline, buf, uniform=True)
    g = torch.Generator().manual_seed(0)
    assert mixed.sample(16, g)["observations"].shape == (16, 3)  # empty buffer: all offline
    buf.add(np.full((5, 3), 7.0), np.zeros((5, 2)), np.ones(5), np.zeros((5, 3)), np.zeros(5))
    counts = [int((mixed.sample(64, g)["observations"][:, 0] == 7.0).sum()) for _ in range(200)]
    share = 5 / (5 + offline.size)
    assert abs(np.mean(counts) / 64 - share) < 0.02 and len(set(counts)) > 3


def test_sparse_reward_offline_and_online_alike():
    """sparse_reward=true: OGBench's per-subtask rewards become -1 until every subtask is done (0), before scale
    and bias, in the offline batches, their Monte-Carlo returns and the online episodes alike."""
    from types import SimpleNamespace

    from anypolicy.train.loop import make_sampler
    from anypolicy.train.online import _add_episode
    from anypolicy.train.run_config import TrainConfig

    arrays = make_arrays()
    arrays["rewards"] = np.array([-2, -2, -3, -1, 0, 0, -1, -2, -2, -2] * 2, np.float32)  # successes - subtasks
    ds = Dataset(**arrays)
    sparse = np.where(arrays["rewards"] == 0, 0.0, -1.0)
    acfg = SimpleNamespace(discount=0.9, needs_mc_returns=True)
    tcfg = TrainConfig(sparse_reward=True, reward_scale=2.0, reward_bias=0.5)
    sampler = make_sampler(tcfg, acfg, ds, "cpu")
    np.testing.assert_allclose(sampler.data["rewards"].numpy(), sparse * 2 + 0.5)
    expected = np.empty(20)  # each episode of 10 cut by its time limit: the last reward continues
    for ep in range(2):
        g = (sparse[ep * 10 + 9] * 2 + 0.5) / (1 - 0.9)
        for t in reversed(range(10)):
            g = sparse[ep * 10 + t] * 2 + 0.5 + 0.9 * g
            expected[ep * 10 + t] = g
    np.testing.assert_allclose(sampler.data["mc_returns"].numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(make_sampler(TrainConfig(), acfg, ds, "cpu").data["rewards"].numpy(), ds.rewards)
    buf = ReplayBuffer(20, 3, 2, "cpu", extra_keys=("mc_returns",))
    episode = [(ds.observations[t], ds.actions[t], ds.rewards[t], ds.next_observations[t], False) for t in range(10)]
    _add_episode(buf, episode, tcfg, acfg)
    np.testing.assert_allclose(buf.data["rewards"][:10].numpy().ravel(), sparse[:10] * 2 + 0.5)
    np.testing.assert_allclose(buf.data["mc_returns"][:10].numpy().ravel(), expected[:10], rtol=1e-5)
