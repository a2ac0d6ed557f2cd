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


def small_mixed(offline_rows=1000, ratio=0.5):
    """A MixedSampler over an offline set and a replay buffer whose observations name their rows."""
    from types import SimpleNamespace

    from anypolicy.data.sampler import MixedSampler, ReplayBuffer
    rows = torch.arange(offline_rows, dtype=torch.float32)[:, None]
    offline = SimpleNamespace(size=offline_rows, device=torch.device("cpu"),
                              data={"observations": rows, "next_observations": rows + 0.5,
                                    "rewards": torch.zeros(offline_rows), "masks": torch.ones(offline_rows),
                                    "actions": torch.zeros(offline_rows, 1), "mc_returns": torch.zeros(offline_rows)})
    buffer = ReplayBuffer(100, 1, 1, "cpu", ("mc_returns",))
    online_rows = -1 - torch.arange(60, dtype=torch.float32)  # online rows are negative
    buffer.add(online_rows[:, None].numpy(), torch.zeros(60, 1).numpy(), torch.zeros(60).numpy(),
               online_rows[:, None].numpy() - 0.5, torch.zeros(60).numpy(), mc_returns=torch.zeros(60).numpy())
    return MixedSampler(offline, buffer, ratio)


def test_pool_sampler_draws_each_rounds_batches_from_its_pool():
    """PA-RL's online rounds: the pool holds the mixed sampler's online share, drawn from the buffer's rows as
    they were at the round's start; it is the same for the same round (resume), another for the next; every
    batch of the round is rows of the pool with the online share of the mixed sampler and indices into it."""
    from anypolicy.data.sampler import PoolSampler
    pool = PoolSampler(small_mixed(), 256, seed=5)
    data = pool.refresh(3, online_size=40)
    obs = data["observations"][:, 0]
    assert (obs < 0).sum() == 128 and obs[obs < 0].min() >= -40  # half online, only the first 40 buffer rows
    assert torch.equal(data["next_observations"][:, 0], torch.where(obs >= 0, obs + 0.5, obs - 0.5))  # rows whole
    again = PoolSampler(small_mixed(), 256, seed=5).refresh(3, online_size=40)
    assert all(torch.equal(data[k], again[k]) for k in data)
    assert not torch.equal(PoolSampler(small_mixed(), 256, seed=5).refresh(4, 40)["observations"], data["observations"])
    batch = pool.sample(32, torch.Generator().manual_seed(0))
    assert torch.equal(batch["observations"], data["observations"][batch["indices"]])
    assert (batch["observations"] < 0).sum() == 16
    empty = PoolSampler(small_mixed(), 64, seed=5)  # online fine-tuning's first round: nothing online yet
    assert (empty.refresh(0, online_size=0)["observations"] >= 0).all()
    assert (empty.sample(32, torch.Generator().manual_seed(0))["observations"] >= 0).all()


def test_parl_online_rounds_sample_the_policy_once_per_round(tmp_path):
    """With action_cache online, updates draw no sample of the moving policy: the cache of the round's pool is
    filled once per round from a snapshot taken at the round's start; and a run stopped inside a round and
    resumed matches an uninterrupted one."""
    from anypolicy.agents.parl import PARLCalQL, PARLCalQLConfig
    from anypolicy.config import override
    from anypolicy.data.sampler import PoolSampler

    cfg, _ = override(PARLCalQLConfig(), {"hidden": "32,32", "critic_hidden": "32,32", "ensemble": "2", "samples": "4",
                                          "keep": "2", "local_steps": "1", "action_cache": "5", "cache_pool": "64",
                                          "bc_steps": "0"})
    agent = PARLCalQL(cfg, 1, 1, -torch.ones(1).numpy(), torch.ones(1).numpy())
    agent.start_online()
    calls = {"policy": 0, "snapshot": 0}
    for name, module in (("policy", agent.policy), ("snapshot", agent.cache_policy)):
        original = module.sample
        module.sample = lambda *a, _o=original, _n=name, **k: (calls.__setitem__(_n, calls[_n] + 1), _o(*a, **k))[1]
    pool, generator = PoolSampler(small_mixed(), 64, seed=0), torch.Generator().manual_seed(0)
    for done in range(10):  # two rounds of five updates
        if done % 5 == 0:
            pool.refresh(done // 5, 60)
        agent.before_update(done + 1, pool.data)
        assert calls["snapshot"] == 2 * (done // 5 + 1)  # filled at each round's start only
        same = [torch.equal(a, b) for a, b in zip(agent.policy.state_dict().values(),
                                                   agent.cache_policy.state_dict().values())]
        assert all(same) == (done % 5 == 0)  # the snapshot: the policy as distilled until the round's start
        agent.update(pool.sample(16, generator))
    assert calls == {"policy": 0, "snapshot": 4}  # states and next states, once per round

    off = train("parl-calql", "toy:nav", steps=30, seed=1, run_dir=tmp_path / "off",
                overrides=FAST + ["ensemble=2", "samples=4", "keep=2", "local_steps=1", "bc_steps=15"])
    online = ONLINE + ["action_cache=25", "cache_pool=128", "checkpoint_every=10"]
    full = finetune(off, 150, tmp_path / "full", online)
    part = finetune(off, 150, tmp_path / "part", online, stop_after=100)
    stopped = ckpt.load_checkpoint(ckpt.latest_checkpoint(part))[1]  # inside a round whose pool holds online data
    assert int(stopped["updates"]) % 25 and int(stopped["pool_online_size"]) > 0
    resume_online(part)
    a, b = weights(full), weights(part)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
