"""Language control diffusion: the planner, the samplers' relabelling, the two training stages, re-planning,
exact resume across the stage switch, and chain evaluation (oracle, teleport check, single-task chains)."""
import numpy as np
import pytest
import torch

from anypolicy.config import ConfigError
from anypolicy.data import scene_lang as sl
from anypolicy.data.dataset import Dataset
from anypolicy.hierarchy.chains import OracleController, add_teleport_check, run_chains, single_task_chains
from anypolicy.hierarchy.language import HashingEncoder
from anypolicy.hierarchy.lcd import LCD, LCDConfig, LanguageSampler
from anypolicy.hierarchy.planner import GoalDiffusion


def test_planner_learns_a_goal_sequence_per_condition():
    """Two conditions, each with its own fixed 4-step goal sequence: DDIM samples land on the right one."""
    torch.manual_seed(0)
    targets = torch.tensor([[[1.0, -1.0]] * 4, [[-1.0, 0.5], [-0.5, 0.5], [0.0, 0.5], [0.5, 0.5]]])
    planner = GoalDiffusion(2, 4, cond_dim=2, width=32, train_steps=50, sample_steps=10)
    opt = torch.optim.Adam(planner.parameters(), lr=2e-3)
    for _ in range(400):
        which = torch.randint(2, (64,))
        loss = planner.loss(targets[which], torch.eye(2)[which])
        opt.zero_grad()
        loss.backward()
        opt.step()
    samples = planner.sample(torch.eye(2).repeat_interleave(16, 0))
    err = (samples - targets.repeat_interleave(16, 0)).abs().mean(dim=(1, 2))
    assert samples.shape == (32, 4, 2)
    assert err.median() < 0.15, err
    with pytest.raises(ValueError, match="even"):
        GoalDiffusion(2, 5, cond_dim=2)


def make_play(n_episodes=2, length=50, obs_dim=3):
    n = n_episodes * length
    obs = np.arange(n, dtype=np.float32)[:, None].repeat(obs_dim, 1)  # a state's value is its own index
    return Dataset(observations=obs, actions=np.zeros((n, 2), np.float32), rewards=np.zeros(n, np.float32),
                   next_observations=obs + 1, terminals=np.zeros(n, bool),
                   timeouts=np.tile(np.r_[np.zeros(length - 1, bool), True], n_episodes),
                   episode_ids=np.repeat(np.arange(n_episodes), length),
                   action_low=-np.ones(2, np.float32), action_high=np.ones(2, np.float32))


WINDOWS = {"start": np.array([5, 60]), "end": np.array([30, 90]), "task": np.array(["lock_drawer", "open_window"]),
           "instruction": np.array(["lock the drawer", "open the window"])}


def test_sampler_relabels_goals_inside_episodes_and_windows():
    sampler = LanguageSampler(make_play(), WINDOWS, HashingEncoder(8).encode, goal_steps=4, horizon=3, device="cpu")
    batch = sampler.sample(4096, torch.Generator().manual_seed(0))
    idx, goal = batch["observations"][:, 0].long(), batch["goals"][:, 0].long()
    ahead = goal - idx
    assert (idx // 50 == goal // 50).all()  # never across an episode
    assert ahead.min() >= 0 and ahead.max() == 4
    assert set(ahead[idx % 50 < 45].tolist()) == {1, 2, 3, 4}  # U{1..c} where the episode does not cut it
    seq = batch["hl_indices"]
    assert seq.shape == (4096, 4)
    first = seq[:, 0]
    in_a, in_b = (first >= 5) & (first < 30), (first >= 60) & (first < 90)
    assert (in_a | in_b).all()
    end = torch.where(in_a, 30, 90)
    assert torch.equal(seq, torch.minimum(first[:, None] + 4 * torch.arange(4), end[:, None]))
    assert torch.equal(batch["flat_observations"][:, 0].long(), first)
    emb = torch.as_tensor(HashingEncoder(8).encode(["lock the drawer", "open the window"]))
    assert torch.allclose(batch["lang"], torch.where(in_a[:, None], emb[0], emb[1]))


def test_held_out_subtask_never_reaches_language_training():
    sampler = LanguageSampler(make_play(), WINDOWS, HashingEncoder(8).encode, 4, 3, "cpu", holdout_task="lock_drawer")
    batch = sampler.sample(512, torch.Generator().manual_seed(0))
    assert (batch["hl_indices"][:, 0] >= 60).all()  # only the open_window window
    with pytest.raises(ConfigError, match="not a subtask"):
        LanguageSampler(make_play(), WINDOWS, HashingEncoder(8).encode, 4, 3, "cpu", holdout_task="fly")


def small_lcd(**kw):
    cfg = LCDConfig(hidden=(32, 32), encoder_hidden=(32,), latent_dim=4, planner_width=16, lang_dim=8, horizon=2,
                    low_steps=2, **kw)
    torch.manual_seed(0)
    return LCD(cfg, 3, 2, -np.ones(2), np.ones(2))


def test_stages_train_their_own_networks_and_freeze_the_encoder():
    agent = small_lcd()
    sampler = LanguageSampler(make_play(), WINDOWS, HashingEncoder(8).encode, 4, 2, "cpu")
    gen = torch.Generator().manual_seed(0)
    snap = lambda m: [p.detach().clone() for p in m.parameters()]  # noqa: E731
    changed = lambda before, m: any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))  # noqa: E731
    for step in (1, 2, 3):
        low, enc, high = snap(agent.policy), snap(agent.encoder), snap(agent.high)
        agent.before_update(step, sampler.data)
        metrics = agent.update(sampler.sample(16, gen))
        if step <= 2:
            assert "low_loss" in metrics and changed(low, agent.policy) and changed(enc, agent.encoder)
            assert not changed(high, agent.high) and agent.latents is None
        else:
            assert "high_loss" in metrics and changed(high, agent.high)
            assert not changed(low, agent.policy) and not changed(enc, agent.encoder)
    z = agent.latents  # standardized latents of all 100 states
    assert z.shape == (100, 4)
    assert torch.allclose(z.mean(0), torch.zeros(4), atol=1e-5) and torch.allclose(z.std(0), torch.ones(4), atol=1e-4)


def test_goals_are_replanned_only_where_asked():
    agent = small_lcd().eval()
    obs, lang = torch.randn(3, 3), torch.randn(3, 8)
    goals = agent.initial_goals(3)
    actions, goals = agent.act_language(obs, lang, goals, torch.tensor([True, True, True]))
    assert actions.shape == (3, 2) and (actions.abs() <= 1).all()
    kept = goals.clone()
    _, new = agent.act_language(obs, lang, goals, torch.tensor([False, True, False]))
    assert torch.equal(new[[0, 2]], kept[[0, 2]]) and not torch.equal(new[1], kept[1])


def test_lcd_resumes_exactly_across_the_stage_switch(tmp_path):
    from anypolicy.train.loop import load_agent, resume, train

    sets = ["dataset_episodes=2", "language_encoder=hashing", "hidden=32,32", "encoder_hidden=32", "latent_dim=4",
            "planner_width=16", "horizon=2", "low_steps=20", "batch_size=32", "eval_every=0", "eval_episodes=1",
            "checkpoint_every=15", "log_every=10", "progress=false", "tensorboard=false", "threads=1"]
    full = train("lcd", "ogbench:scene-play-lang", steps=40, run_dir=tmp_path / "full", overrides=sets)
    part = train("lcd", "ogbench:scene-play-lang", steps=40, run_dir=tmp_path / "part", overrides=sets, stop_after=15)
    resume(part)  # 15 low-level steps saved; the switch to the planner happens after the restart
    a, _ = load_agent(full)
    b, _ = load_agent(part)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    assert not torch.equal(a.latent_std, torch.ones_like(a.latent_std))  # the latent statistics were saved


def test_language_recipes_refuse_other_datasets_and_bad_stages():
    from anypolicy.train.loop import train

    with pytest.raises(ConfigError, match="scene-play-lang"):
        train("lcd-flat", "toy:nav", steps=10, overrides=["language_encoder=hashing"])
    with pytest.raises(ConfigError, match="low_steps"):
        train("lcd", "ogbench:scene-play-lang", steps=10, overrides=["low_steps=10"])


def test_oracle_completes_a_chain_and_single_task_chains_are_feasible():
    state = {"drawer": "closed", "window": "closed", "lock_drawer": 1, "lock_window": 0, "cube": "left"}
    chain = ["lock_drawer", "unlock_window", "open_window"]
    assert sl.chain_ok(state, chain)
    result = run_chains(OracleController(1), [(state, chain)], horizon=240, num_envs=1)
    assert result["avg_len"] == 3 and result["success_3"] == 100.0 and result["teleports"] == 0
    assert result["subtask_open_window"] == 100.0 and "subtask_open_drawer" not in result
    with pytest.raises(ConfigError, match="unknown subtask"):
        single_task_chains("fly_away", 3)
    for start, tasks in single_task_chains("put_cube_in_drawer", 10):
        assert tasks == ["put_cube_in_drawer"] and sl.feasible("put_cube_in_drawer", start)


def test_a_teleported_cube_fails_the_chain():
    env = add_teleport_check(sl.make_scene_env())
    try:
        sl.reset_to(env, sl.symbolic_states()[0], seed=0)
        env.unwrapped.teleported = False
        base = env.unwrapped
        base._data.joint("object_joint_0").qpos[:3] = (5.0, 5.0, 0.02)  # far out of the workspace
        _, _, _, _, info = env.step(np.zeros(5, np.float32))
        assert base.teleported
        assert np.linalg.norm(info["qpos"][14:16]) < 1.0  # scene put it back: without the flag this would pass
    finally:
        env.close()


class TeleportingController:
    """Moves the cube out of bounds on its first action."""
    seconds, actions = 0.0, 0

    def make_env(self):
        return add_teleport_check(sl.make_scene_env())

    def reset_to(self, env, state, seed):
        return sl.reset_to(env, state, seed)

    def begin(self, *args):
        self.env = args[1]

    def act(self, slots, *rest):
        self.env.unwrapped._data.joint("object_joint_0").qpos[:3] = (5.0, 5.0, 0.02)
        return np.zeros((len(slots), 5), np.float32)


def test_chain_runner_counts_teleports_as_failures():
    start = {"drawer": "closed", "window": "closed", "lock_drawer": 1, "lock_window": 1, "cube": "right"}
    result = run_chains(TeleportingController(), [(start, ["move_cube_left"])], num_envs=1)
    assert result["teleports"] == 1 and result["success_1"] == 0.0


def test_drawer_boost_sends_cube_targets_into_the_open_drawer_only():
    import gymnasium
    import ogbench  # noqa: F401

    from anypolicy.data.ogbench import _boost_drawer_target

    env = gymnasium.make("scene-v0", terminate_at_goal=False, mode="data_collection")
    try:
        base = env.unwrapped
        env.reset(seed=0)
        target = lambda: base._data.mocap_pos[base._cube_target_mocap_ids[0]].copy()  # noqa: E731
        info = {"privileged/target_task": "cube"}
        for drawer, expect_moved in ((-0.16, True), (0.0, False)):
            base._data.joint("drawer_slide").qpos[0] = drawer
            base._data.mocap_pos[base._cube_target_mocap_ids[0]] = (0.35, 0.1, 0.02)
            _, new_info = _boost_drawer_target(env, 1.0, None, info)
            moved = np.linalg.norm(target()[:2] - base._drawer_center[:2]) < 0.01
            assert moved == expect_moved
            if moved:  # the oracle is handed the new target
                assert np.allclose(new_info["privileged/target_block_pos"], target())
        _, same = _boost_drawer_target(env, 1.0, None, {"privileged/target_task": "button"})
        assert same["privileged/target_task"] == "button"
    finally:
        env.close()


def test_planner_ema_follows_the_diffuser_trainers_rule():
    """A copy of the planner for its first `planner_ema_start` updates, then every `planner_ema_every`-th
    update ema <- decay ema + (1 - decay) weights; the EMA plans."""
    agent = small_lcd(planner_ema=0.9, planner_ema_every=2, planner_ema_start=1)
    sampler = LanguageSampler(make_play(), WINDOWS, HashingEncoder(8).encode, 4, 2, "cpu")
    gen = torch.Generator().manual_seed(0)
    params = lambda m: [p.detach().clone() for p in m.parameters()]  # noqa: E731
    assert agent.planner is agent.high_ema
    for step in range(1, 7):
        ema_before = params(agent.high_ema)
        agent.before_update(step, sampler.data)
        agent.update(sampler.sample(16, gen))
        high, ema = params(agent.high), params(agent.high_ema)
        high_step = step - 2
        if high_step < 1:  # the low level trains; the planner and its EMA stay as built
            assert all(torch.equal(e, b) for e, b in zip(ema, ema_before))
        elif high_step == 1:
            assert all(torch.equal(e, h) for e, h in zip(ema, high))
        elif high_step % 2 == 0:
            for e, b, h in zip(ema, ema_before, high):
                torch.testing.assert_close(e, 0.9 * b + 0.1 * h)
        else:
            assert all(torch.equal(e, b) for e, b in zip(ema, ema_before))
    assert small_lcd(planner_ema=0.0).planner is not None and small_lcd(planner_ema=0.0).high_ema is None


def test_low_level_factorizes_through_the_state_encoder():
    """phi(E(s), E(g)) by default (the thesis' factorized low level); phi(s, E(g)) with state_encoder=false."""
    obs, goal = torch.randn(5, 3), torch.randn(5, 4)
    agent = small_lcd()
    assert torch.equal(agent.low_input(obs, goal), torch.cat([agent.embed(obs), goal], -1))
    assert torch.equal(small_lcd(state_encoder=False).low_input(obs, goal), torch.cat([obs, goal], -1))
    actions, _ = agent.eval().act_language(obs, torch.randn(5, 8), agent.initial_goals(5), torch.ones(5, dtype=bool))
    assert actions.shape == (5, 2)


def test_scene_state_probe_reads_what_a_latent_carries():
    from anypolicy.hierarchy.chains import scene_state_probe

    rng = np.random.default_rng(0)
    obs = rng.normal(size=(400, 40)).astype(np.float32)
    obs[:, 28] = rng.random(400) < 0.3
    obs[:, 32] = rng.random(400) < 0.6
    held_out = np.arange(400) >= 300
    carried = np.c_[obs[:, [19, 20, 21, 28, 32]] @ rng.normal(size=(5, 5)), rng.normal(size=(400, 3))]
    good = scene_state_probe(carried, obs, held_out)
    assert min(good[f"cube_{a}_r2"] for a in "xyz") > 0.99 and good["lock0_accuracy"] == good["lock1_accuracy"] == 1
    blind = scene_state_probe(rng.normal(size=(400, 8)), obs, held_out)
    assert max(blind[f"cube_{a}_r2"] for a in "xyz") < 0.1
    assert all(blind[f"lock{i}_accuracy"] <= blind[f"lock{i}_chance"] + 0.1 for i in (0, 1))


@pytest.mark.slow  # generates 8 scene play episodes and trains the low level (about 2 minutes): second tier
def test_planner_condition_carries_scene_state(tmp_path):
    """The latent the planner is conditioned on, E(s) of the factorized low level, reads out the cube's
    position and both locks' states on held-out states well above chance (linear probes)."""
    from anypolicy.data.scene_lang import make_lang_dataset
    from anypolicy.data.storage import read_minari
    from anypolicy.hierarchy.chains import scene_state_probe
    from anypolicy.train.loop import load_agent, train

    sets = ["dataset_episodes=8", "language_encoder=hashing", "hidden=64,64", "encoder_hidden=64", "latent_dim=16",
            "planner_width=16", "horizon=2", "low_steps=3000", "batch_size=128", "eval_every=0", "eval_episodes=1",
            "checkpoint_every=5000", "progress=false", "tensorboard=false", "threads=1"]
    run = train("lcd", "ogbench:scene-play-lang", steps=3001, run_dir=tmp_path / "lcd", overrides=sets)
    agent, _ = load_agent(run)
    data = read_minari(make_lang_dataset(8)[0])
    obs = data.observations.reshape(len(data), -1)
    with torch.no_grad():
        z = agent.embed(agent.normalize(torch.as_tensor(obs))).numpy()
    held_out = np.random.default_rng(0).random(len(obs)) < 0.25  # a global linear read-out: no neighbour helps
    probe = scene_state_probe(z, obs, held_out)
    assert np.mean([probe[f"cube_{a}_r2"] for a in "xyz"]) > 0.25, probe
    assert np.mean([probe[f"lock{i}_accuracy"] - probe[f"lock{i}_chance"] for i in (0, 1)]) > 0.1, probe


def test_replayed_windows_keep_what_achieves_the_subtask(tmp_path):
    """Algorithm 4, line 1: a window replayed from its simulator state by the dataset's own actions reproduces
    the dataset's states and achieves its subtask (kept, cut at that step); standing still achieves nothing."""
    from anypolicy.data.scene_lang import make_lang_dataset
    from anypolicy.data.storage import read_minari
    from anypolicy.hierarchy.rollouts import replay_windows

    path, windows = make_lang_dataset(2)
    data = read_minari(path)
    obs = data.observations.reshape(len(data), -1)
    pick = np.linspace(0, len(windows["start"]) - 1, 4).round().astype(int)
    chosen = {k: v[pick] for k, v in windows.items()}
    kept = replay_windows(lambda o, g, idx: data.actions[idx], obs, data.extras, chosen, 8, 16, num_envs=2)
    assert sorted(w for w, _ in kept) == [0, 1, 2, 3]
    for w, trajectory in kept:
        start, end = chosen["start"][w], chosen["end"][w]
        assert len(trajectory) - 1 <= end - start  # the event lies inside its window
        assert np.abs(trajectory - obs[start:start + len(trajectory)]).max() < 1e-3
        begin = sl.abstract_state(data.extras["qpos"][start], data.extras["button_states"][start])
        last = start + len(trajectory) - 1
        assert sl.achieved(chosen["task"][w], begin, sl.abstract_state(data.extras["qpos"][last],
                                                                       data.extras["button_states"][last]))
    first_two = {k: v[:2] for k, v in chosen.items()}
    assert replay_windows(lambda o, g, idx: np.zeros((len(o), 5), np.float32), obs, data.extras, first_two, 8, 16, 2) == []


def test_planner_learns_from_the_rollouts_it_is_given():
    """rollout_batch draws a window, a step inside it and its c-spaced latents clipped to the window's end, as the
    sampler does for dataset windows; rollout_share 1 trains on rollouts only, 0.5 on half of each batch."""
    agent = small_lcd(planner_rollouts=2, rollout_share=1.0, goal_steps=4)
    agent.high_step = 1
    agent.latents = torch.full((100, 4), float("nan"))  # a dataset latent in the batch would show as NaN
    lat = torch.arange(30, dtype=torch.float32)[:, None].repeat(1, 4)  # a latent's value is its own index
    agent.rollouts = {"latents": lat, "start": torch.tensor([0, 10]), "end": torch.tensor([9, 29]),
                      "lang": torch.stack([torch.zeros(8), torch.ones(8)])}
    torch.manual_seed(0)
    z, lang = agent.rollout_batch(2048)
    first = z[:, 0, 0].long()
    in_a = first < 9
    assert ((first >= 10) | in_a).all() and not (first == 9).any() and not (first == 29).any()
    end = torch.where(in_a, 9, 29)
    assert torch.equal(z[..., 0].long(), torch.minimum(first[:, None] + 4 * torch.arange(3), end[:, None]))
    assert torch.equal(lang[:, 0], (~in_a).float())
    sampler = LanguageSampler(make_play(), WINDOWS, HashingEncoder(8).encode, 4, 2, "cpu")
    batch = sampler.sample(16, torch.Generator().manual_seed(0))
    assert torch.isfinite(agent.update(batch)["high_loss"])
    agent.cfg.rollout_share = 0.5
    assert torch.isnan(agent.update(batch)["high_loss"])
    with pytest.raises(ConfigError, match="rollout_share"):
        small_lcd(rollout_share=1.5)
