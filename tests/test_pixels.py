"""Learning from pixels, the pieces: uint8 frame storage (round trip, memory, frame stacks inside episodes),
random-shift augmentation and the image encoders."""
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from anypolicy.data.dataset import DatasetError
from anypolicy.data.frames import FrameStore
from anypolicy.nets.encoders import ImpalaEncoder, ResNet18Encoder, random_shift, to_float


def episodes(lengths=(30, 20), size=16, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(t + 1, size, size, 3), dtype=np.uint8) for t in lengths]


def test_frames_round_trip_as_uint8_in_about_n_images_of_memory():
    eps = episodes((300, 200), size=64)
    store = FrameStore.from_episodes(eps)
    n = len(store)
    assert n == 500 and store.frames.dtype == np.uint8
    idx = np.arange(n)
    flat = np.concatenate([e[:-1] for e in eps]), np.concatenate([e[1:] for e in eps])
    assert np.array_equal(store.observations(idx), flat[0].transpose(0, 3, 1, 2))
    assert np.array_equal(store.next_observations(idx), flat[1].transpose(0, 3, 1, 2))
    per_image = 64 * 64 * 3
    assert store.nbytes < 1.01 * n * per_image  # N images (+ one final frame per episode, + indices)
    assert store.nbytes < 0.13 * (2 * 4 * n * per_image)  # not float32 observations and next observations


def test_frame_stacks_repeat_the_first_frame_and_never_cross_episodes():
    eps = episodes((5, 4))
    store = FrameStore.from_episodes(eps)
    chw = [e.transpose(0, 3, 1, 2) for e in eps]
    stack = store.observations(np.array([0, 2, 5, 6]), stack=3)  # transitions 5, 6 are the second episode's 0, 1
    assert stack.shape == (4, 9, 16, 16)
    expect = [(0, 0, 0), (0, 1, 2)]
    for row, frames in zip(stack[:2], expect):
        assert np.array_equal(row, np.concatenate([chw[0][f] for f in frames]))
    assert np.array_equal(stack[2], np.concatenate([chw[1][0]] * 3))
    assert np.array_equal(stack[3], np.concatenate([chw[1][0], chw[1][0], chw[1][1]]))
    nxt = store.next_observations(np.array([4]), stack=2)  # last transition of episode 0: frames 4, 5
    assert np.array_equal(nxt[0], np.concatenate([chw[0][4], chw[0][5]]))
    dev = store.to("cpu")
    obs, next_obs = dev.batch(torch.tensor([0, 2, 5, 6]), stack=3)
    assert obs.dtype == torch.uint8 and np.array_equal(obs.numpy(), stack)
    assert np.array_equal(next_obs.numpy(), store.next_observations(np.array([0, 2, 5, 6]), stack=3))


def test_frames_refuse_float_images_and_empty_episodes():
    with pytest.raises(DatasetError, match="uint8"):
        FrameStore.from_episodes([np.zeros((3, 8, 8, 3), np.float32)])
    with pytest.raises(DatasetError, match="at least one transition"):
        FrameStore.from_episodes([np.zeros((1, 8, 8, 3), np.uint8)])


def test_random_shift_is_a_crop_of_the_padded_image_and_the_identity_at_pad_0():
    images = torch.randint(0, 256, (32, 6, 16, 16), dtype=torch.uint8)
    assert random_shift(images, pad=0) is images
    out = random_shift(images, pad=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = F.pad(images.float(), (4,) * 4, mode="replicate")
    offsets = []
    for b in range(32):
        found = [(dy, dx) for dy in range(9) for dx in range(9)
                 if torch.equal(padded[b, :, dy:dy + 16, dx:dx + 16].to(torch.uint8), out[b])]
        assert found, b  # every output is one crop (all channels shifted together)
        offsets.append(found[0])
    assert len(set(offsets)) > 5  # offsets differ between images


def test_encoders_map_stacked_uint8_frames_to_features():
    images = torch.randint(0, 256, (4, 9, 64, 64), dtype=torch.uint8)  # 3 stacked RGB frames
    assert to_float(images).min() >= -0.5 and to_float(images).max() <= 0.5
    for cls in (ImpalaEncoder, ResNet18Encoder):
        enc = cls(in_channels=9, image_size=64, features=128)
        out = enc(images)
        assert out.shape == (4, 128) and torch.isfinite(out).all()
        out.sum().backward()
        assert all(p.grad is not None for p in enc.parameters())
    n_params = sum(p.numel() for p in ResNet18Encoder(3, 64).parameters())
    assert 10e6 < n_params < 12e6  # ResNet-18's ~11M convolution weights (a 256-feature head instead of fc)


# ---------------------------------------------------------------------- recipes from pixels
def image_dataset(episodes_=3, steps=12, size=16, seed=0):
    from anypolicy.data.dataset import Dataset

    rng = np.random.default_rng(seed)
    store = FrameStore.from_episodes([rng.integers(0, 256, (steps + 1, size, size, 3), dtype=np.uint8)
                                      for _ in range(episodes_)])
    n = len(store)
    return Dataset(observations=np.zeros((n, 4), np.float32), actions=rng.uniform(-1, 1, (n, 5)).astype(np.float32),
                   rewards=rng.normal(size=n).astype(np.float32), next_observations=np.zeros((n, 4), np.float32),
                   terminals=np.zeros(n, bool), timeouts=np.tile(np.r_[np.zeros(steps - 1, bool), True], episodes_),
                   episode_ids=np.repeat(np.arange(episodes_), steps), action_low=-np.ones(5, np.float32),
                   action_high=np.ones(5, np.float32), frames=store)


def pixel_agent(recipe, overrides=None, dataset=None, **train):
    from anypolicy.train.loop import build_agent, make_configs, make_sampler

    dataset = dataset or image_dataset()
    tcfg, acfg = make_configs(recipe, overrides or {}, dataset="toy:nav", env="toy-nav", **train)
    agent = build_agent(tcfg, acfg, dataset.dims(tcfg.frame_stack), torch.device("cpu"))
    return agent, make_sampler(tcfg, acfg, dataset, "cpu")


def test_image_batches_are_uint8_frame_stacks_and_next_is_the_following_frame():
    dataset = image_dataset()
    agent, sampler = pixel_agent("bc", dataset=dataset)
    batch = sampler.sample(32, torch.Generator().manual_seed(0))
    idx = batch["indices"].numpy()
    assert batch["observations"].dtype == torch.uint8 and batch["observations"].shape == (32, 9, 16, 16)
    assert np.array_equal(batch["observations"].numpy(), dataset.frames.observations(idx, 3))
    assert np.array_equal(batch["next_observations"].numpy(), dataset.frames.next_observations(idx, 3))
    assert np.array_equal(batch["next_observations"][:, 3:6], batch["observations"][:, 6:9])  # shifted by one frame
    assert "observations" not in sampler.data  # no per-transition image copies


@pytest.mark.parametrize("samples,local_steps", [(4, 0), (16, 5)])
def test_parl_encodes_each_state_once_whatever_the_samples_and_local_steps(samples, local_steps):
    """PA-RL's k samples and T gradient steps work on the features: two encoder passes per update (states and
    next states), each over the batch, however many actions are evaluated."""
    agent, sampler = pixel_agent("parl-calql", {"samples": str(samples), "keep": "3", "local_steps": str(local_steps),
                                                "ensemble": "2", "action_refeed": "true"})
    calls = []
    agent.pixels.encoder.register_forward_hook(lambda m, inp, out: calls.append(len(inp[0])))
    agent.update(sampler.sample(8, torch.Generator().manual_seed(0)))
    assert calls == [8, 8]
    calls.clear()
    agent.eval()
    agent.act(np.random.default_rng(0).integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8))
    assert calls == [2]


@pytest.mark.parametrize("policy", ["gaussian", "deterministic", "mixture", "vae", "diffusion", "flow", "autoregressive"])
def test_every_policy_class_learns_and_acts_behind_the_encoder(policy):
    agent, sampler = pixel_agent("bc", {"policy": policy, "hidden": "32,32"})
    gen = torch.Generator().manual_seed(0)
    before = [p.detach().clone() for p in agent.pixels.parameters()]
    for _ in range(2):
        metrics = agent.update(sampler.sample(8, gen))
    assert torch.isfinite(metrics["policy_loss"])
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.pixels.parameters()))  # BC trains the encoder
    agent.eval()
    actions = agent.act(np.random.default_rng(0).integers(0, 256, (3, 3, 16, 16, 3), dtype=np.uint8))
    assert actions.shape == (3, 5) and np.abs(actions).max() <= 1.0


def test_the_critic_trains_a_shared_encoder_and_the_policy_sees_detached_features():
    agent, sampler = pixel_agent("iql")
    batch = sampler.sample(8, torch.Generator().manual_seed(0))
    obs = agent.normalize(batch["observations"])
    with torch.no_grad():
        advantage = torch.zeros(8)
    agent.extraction_loss(obs, batch, advantage).backward()
    assert all(p.grad is None for p in agent.pixels.parameters())  # the policy's loss leaves the encoder alone
    assert agent.encoder_trainer == "opt"
    before = [p.detach().clone() for p in agent.pixels.parameters()]
    agent.update(batch)
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.pixels.parameters()))
    bc, bc_sampler = pixel_agent("bc")  # no critic: the policy's loss trains the encoder
    assert bc.encoder_trainer == "policy_opt"
    loss = bc.policy.loss(bc.policy_input(bc.normalize(batch["observations"])), batch["actions"])
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in bc.pixels.parameters())


def test_action_refeed_adds_the_action_to_every_layer():
    """Against an independent computation: each later layer is a linear layer over [h, a]."""
    from anypolicy.critics.q import QEnsemble

    torch.manual_seed(0)
    q = QEnsemble(6, 3, (8, 8), ensemble=2, layer_norm=False, activation="relu", action_refeed=True)
    obs, act = torch.randn(5, 6), torch.randn(5, 4, 3)
    net = q.net
    for e in range(2):
        x = torch.cat([obs.unsqueeze(1).expand(5, 4, 6), act], -1)
        w1 = torch.cat([net.first[0].weight[e], net.first[1].weight[e]])
        h = F.relu(x @ w1 + net.first[0].bias[e])
        h = F.relu(torch.cat([h, act], -1) @ torch.cat([net.hidden[0].weight[e], net.refeed[0].weight[e]])
                   + net.hidden[0].bias[e])
        out = torch.cat([h, act], -1) @ torch.cat([net.out.weight[e], net.refeed[1].weight[e]]) + net.out.bias[e]
        assert torch.allclose(q(obs, act)[e], out.squeeze(-1), atol=1e-5)
    plain = QEnsemble(6, 3, (8, 8), ensemble=2, layer_norm=False, activation="relu")
    assert sum(p.numel() for p in q.parameters()) - sum(p.numel() for p in plain.parameters()) == 2 * 3 * (8 + 1)


def test_pixel_training_resumes_exactly(tmp_path, monkeypatch):
    """Augmentation draws from the saved random stream and the encoder's optimizer state is checkpointed."""
    from anypolicy.train import loop
    from anypolicy.train.checkpoint import latest_checkpoint, load_checkpoint

    monkeypatch.setattr(loop, "load_dataset", lambda *a, **k: image_dataset())
    monkeypatch.setattr(loop, "check_env_matches", lambda *a: None)  # never evaluated: no env to match
    over = {"batch_size": "8", "log_every": "1", "progress": "false", "tensorboard": "false", "samples": "4",
            "keep": "2", "local_steps": "2", "ensemble": "2", "action_refeed": "true"}
    loop.train("parl-calql", "toy:nav", "toy-nav", steps=10, run_dir=tmp_path / "a", overrides=over, stop_after=6)
    loop.train("parl-calql", "toy:nav", "toy-nav", steps=10, run_dir=tmp_path / "b", overrides=over, stop_after=3)
    loop.resume(tmp_path / "b", stop_after=6)
    a, _ = load_checkpoint(latest_checkpoint(tmp_path / "a"))
    b, _ = load_checkpoint(latest_checkpoint(tmp_path / "b"))
    assert any(k.startswith("pixels.encoder") for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_pixel_inputs_are_refused_where_not_supported():
    from anypolicy.config import ConfigError

    with pytest.raises(ConfigError, match="action_cache"):
        pixel_agent("parl-calql", {"action_cache": "100", "ensemble": "2"})
    with pytest.raises(ConfigError, match="encoder"):
        pixel_agent("bc", encoder="vgg")
    agent, _ = pixel_agent("bc")
    with pytest.raises(TypeError, match="uint8"):
        agent.normalize(torch.zeros(2, 9, 16, 16))


# ---------------------------------------------------------------------- OGBench's visual environments
def test_frames_rendered_from_stored_states_match_the_pixel_env_and_stacks_match_evaluation():
    """The visual dataset re-renders stored physics states; evaluation stacks frames with gymnasium's wrapper.
    Both must show the agent what the environment shows it, in the same channel order."""
    import gymnasium as gym

    from anypolicy.data.visual import _render_episodes
    from anypolicy.envs.registry import make_env

    env = make_env("visual-cube-single-singletask-task2-v0", frame_stack=3)
    stacked, info = env.reset(seed=0)
    frames, states = [stacked[-1]], [(info["qpos"].copy(), info["qvel"].copy())]
    rng = np.random.default_rng(0)
    for _ in range(4):
        stacked, _, _, _, info = env.step(rng.uniform(-1, 1, 5))
        frames.append(stacked[-1])
        states.append((info["qpos"].copy(), info["qvel"].copy()))
    env.close()
    assert isinstance(env, gym.wrappers.FrameStackObservation) and stacked.shape == (3, 64, 64, 3)
    rendered = _render_episodes("cube-single", [(np.stack([q for q, _ in states]), np.stack([v for _, v in states]))])[0]
    close = np.abs(rendered.transpose(0, 2, 3, 1).astype(int) - np.stack(frames)).max(-1) <= 10
    assert close.mean() > 0.99  # up to a few pixels: the env renders right after mj_step
    store = FrameStore.from_episodes([np.stack(frames)])
    agent, _ = pixel_agent("bc", dataset=image_dataset(size=64))
    assert np.array_equal(agent.observation_tensor(stacked[None]).numpy(), store.next_observations(np.array([3]), 3))


def test_visual_datasets_are_evaluated_in_visual_envs():
    from anypolicy.envs.registry import EnvError, default_env_for, load_dataset

    assert default_env_for("ogbench:visual-cube-single-play") == "visual-cube-single-singletask-task2-v0"
    with pytest.raises(EnvError, match="visual-cube-single singletask"):
        load_dataset("ogbench:visual-cube-single-play", "cube-single-singletask-task2-v0")
    with pytest.raises(DatasetError, match="rendered for"):
        load_dataset("ogbench:visual-scene-play", "visual-scene-singletask-task2-v0", episodes=1)


@pytest.mark.parametrize("recipe", ["iql", "parl-calql", "calql", "td3bc"])
def test_separate_encoders_are_each_trained_by_their_own_loss(recipe):
    """encoder_sharing=separate: the critic's losses reach only the critic's encoder, the policy's loss only the
    policy's; both learn in an update, and acting goes through the policy's encoder."""
    over = {"ensemble": "2", "samples": "4", "keep": "2", "local_steps": "1"} if recipe == "parl-calql" else {}
    agent, sampler = pixel_agent(recipe, over, encoder_sharing="separate")
    critic_enc, policy_enc = agent.pixels.encoder, agent.pixels.policy_encoder
    batch = sampler.sample(8, torch.Generator().manual_seed(0))
    obs = agent.normalize(batch["observations"])
    agent.q(obs, batch["actions"]).sum().backward()
    assert all(p.grad is None for p in policy_enc.parameters())
    assert any(p.grad is not None for p in critic_enc.parameters())
    agent.zero_grad(set_to_none=True)
    obs = agent.normalize(batch["observations"])
    agent.policy.sample(agent.policy_input(obs), 1).sum().backward() if recipe == "td3bc" else \
        agent.policy.loss(agent.policy_input(obs), batch["actions"]).backward()
    assert all(p.grad is None for p in critic_enc.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy_enc.parameters())
    before = [[p.detach().clone() for p in e.parameters()] for e in (critic_enc, policy_enc)]
    for _ in range(2):  # TD3+BC's actor steps every other update
        agent.update(sampler.sample(8, torch.Generator().manual_seed(1)))
    for b, e in zip(before, (critic_enc, policy_enc)):
        assert any(not torch.equal(x, p) for x, p in zip(b, e.parameters()))
    agent.eval()
    calls = []
    policy_enc.register_forward_hook(lambda m, i, o: calls.append(1))
    agent.act(np.random.default_rng(0).integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8))
    assert calls == [1]


def test_separate_encoders_are_refused_where_one_input_serves_both():
    from anypolicy.config import ConfigError

    with pytest.raises(ConfigError, match="no critic"):
        pixel_agent("bc", encoder_sharing="separate")
    with pytest.raises(ConfigError, match="one input"):
        pixel_agent("cfpi-onestep", encoder_sharing="separate")
    with pytest.raises(ConfigError, match="encoder_sharing"):
        pixel_agent("iql", encoder_sharing="both")
