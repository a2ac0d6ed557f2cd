"""Behavioral foundation models: the FB losses and inference against hand computation, adaptation that
changes nothing at step size zero, and the CLI path from reward-free training to zero-shot evaluation."""
import math

import numpy as np
import pytest
import torch

from anypolicy.bfm.adapt import AdaptConfig, Adapter, TaskValue
from anypolicy.bfm.fb import FB, FBConfig, fb_loss, orthonormality_loss, reward_latent

TINY = FBConfig(z_dim=8, f_hidden=(32, 32), b_hidden=(32, 32), hidden=(32, 32))


def whitened(n, d, seed=0):
    """Features b [n, d] with (1/n) b^T b = I exactly."""
    q, _ = torch.linalg.qr(torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return math.sqrt(n) * q


def test_orthonormality_loss_is_minimized_by_orthonormal_features():
    """Features b(x) = W^T x of states x ~ N(0, I): E[b b^T] = W^T W, so the loss's minimizer is an
    orthogonal W. Fresh batches each step, as in training (a fixed batch would let its diagonal bias in)."""
    d, threads = 4, torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny steps: one thread is fastest, and on a busy machine by far
    gen = torch.Generator().manual_seed(1)
    w = (3 * torch.randn(d, d, generator=gen, dtype=torch.float64)).requires_grad_()
    opt = torch.optim.Adam([w], lr=0.02)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 if i < 2000 else 0.1)
    for _ in range(2600):
        x = torch.randn(256, d, generator=gen, dtype=torch.float64)
        opt.zero_grad()
        orthonormality_loss(x @ w).backward()
        opt.step()
        sched.step()
    torch.set_num_threads(threads)
    assert torch.allclose(w.detach().T @ w.detach(), torch.eye(d, dtype=torch.float64), atol=0.1)
    # on a large sample, orthonormal features score below scaled or stretched ones
    x = torch.randn(4096, d, generator=gen, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    best = orthonormality_loss(x @ eye)
    stretch = torch.diag(torch.tensor([1.3, 1.0, 1.0, 0.7], dtype=torch.float64))
    for other in (0.8 * eye, 1.2 * eye, stretch, torch.randn(d, d, generator=gen, dtype=torch.float64)):
        assert orthonormality_loss(x @ other) > best


def test_fb_loss_is_the_measure_loss_written_out():
    gen = torch.Generator().manual_seed(0)
    m, target = torch.randn(2, 5, 5, generator=gen), torch.randn(5, 5, generator=gen)
    expected = 0.0
    for k in range(2):
        off = sum((m[k, i, j] - target[i, j]) ** 2 for i in range(5) for j in range(5) if i != j) / (5 * 4)
        expected += 0.5 * off - m[k].diagonal().mean()
    assert torch.allclose(fb_loss(m, target), expected)


def test_reward_inference_recovers_a_reward_linear_in_b():
    b = whitened(512, 6, seed=2)
    w = torch.tensor([0.5, -1.0, 0.0, 2.0, 0.3, -0.2], dtype=torch.float64)
    z = reward_latent(b, b @ w)  # E[B r] = E[B B^T] w = w
    assert torch.allclose(z, math.sqrt(6) * w / w.norm())
    assert torch.allclose(reward_latent(b, 3 * (b @ w)), z)  # the scale of the reward does not matter


def test_goal_inference_points_to_the_goals_latent():
    torch.manual_seed(0)
    agent = FB(TINY, 4, 2, -np.ones(2), np.ones(2))
    states = torch.randn(200, 4)
    goal = states[17]
    z_g = agent.goal_inference(goal.numpy())
    b = agent.backward_map(agent.normalize(states))
    assert torch.allclose(z_g, b[17], atol=1e-6)
    assert math.isclose(float(z_g.norm()), math.sqrt(8), rel_tol=1e-5)  # on the sphere of radius sqrt(d)
    assert int((b @ z_g).argmax()) == 17  # of all states, the goal's own B aligns best with z_g


def test_goal_inference_of_a_batch_is_each_goals_own_latent():
    torch.manual_seed(0)
    agent = FB(TINY, 4, 2, -np.ones(2), np.ones(2))
    goals = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    batch = agent.goal_inference(goals)
    assert batch.shape == (5, 8)
    for goal, z in zip(goals, batch):
        torch.testing.assert_close(agent.goal_inference(goal), z)


def test_goal_conditioned_evaluation_hands_each_episode_its_own_goal(monkeypatch):
    """OGBench gives the goal observation in the reset info, and it differs from reset to reset (the arm's pose at
    the goal is drawn anew), so each episode must be handed the goal of its own reset, also after an environment
    restarts for the next episode."""
    import gymnasium

    from anypolicy.envs import rollout

    resets = []  # the goal of every reset, in order

    class RecordGoals(gymnasium.Wrapper):
        def reset(self, **kwargs):
            obs, info = self.env.reset(**kwargs)
            resets.append(info["goal"].copy())
            return obs, info

    make_env = rollout.make_env
    monkeypatch.setattr(rollout, "make_env", lambda *a, **k: RecordGoals(make_env(*a, **k)))
    seen = []

    def act(obs, goals):
        seen.append(goals.copy())
        return np.zeros((len(obs), 5), np.float32)

    out = rollout.evaluate(act, "cube-single-singletask-task2-v0", episodes=3, seed=1, num_envs=2,
                           goal_conditioned=True)
    assert out["episodes"] == 3 and len(resets) == 3
    assert np.abs(resets[0] - resets[1]).max() > 0.1  # a constant goal could not pass what follows
    np.testing.assert_allclose(seen[0], np.stack(resets[:2]), atol=1e-6)
    np.testing.assert_allclose(seen[-1], resets[2][None], atol=1e-6)  # env 0's second episode, alone at the end


def test_goal_zero_shot_is_refused_where_the_environment_gives_no_goal(toy_fb):
    from anypolicy.bfm.adapt import zero_shot_goal
    from anypolicy.train.loop import load_agent

    with pytest.raises(ValueError, match="no goal observation"):
        zero_shot_goal(*load_agent(toy_fb), episodes=2)


def test_an_fb_update_reads_no_reward():
    torch.manual_seed(0)
    batch = {"observations": torch.randn(32, 4), "next_observations": torch.randn(32, 4),
             "actions": torch.rand(32, 2) * 2 - 1, "masks": torch.ones(32), "rewards": torch.randn(32)}
    runs = []
    for rewards in (batch["rewards"], torch.full((32,), float("nan"))):
        torch.manual_seed(1)
        agent = FB(TINY, 4, 2, -np.ones(2), np.ones(2))
        for _ in range(3):
            agent.update({**batch, "rewards": rewards})
        runs.append(agent.state_dict())
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k]), k


def test_fb_training_reads_no_task_label():
    """Two singletask labellings of the same play data (other rewards, other successes as terminals) give
    FB updates with identical weights: masks come from the environment's terminals, not a task's."""
    from conftest import make_arrays

    from anypolicy.data.dataset import Dataset
    from anypolicy.train.loop import make_configs, make_sampler

    play = Dataset(**make_arrays(n=64, s=4, a=2, episodes=2))  # no terminals, as OGBench play data
    rng = np.random.default_rng(0)
    tasks = [play.with_rewards(-rng.integers(0, 3, 64).astype(np.float32), rng.random(64) < p) for p in (0.1, 0.5)]
    assert not np.array_equal(tasks[0].terminals, tasks[1].terminals)
    tcfg, _ = make_configs("fb", {}, dataset="toy:nav")
    runs = []
    for labelled in tasks:
        sampler = make_sampler(tcfg, TINY, labelled, "cpu")
        assert float(sampler.data["masks"].min()) == 1.0
        torch.manual_seed(1)
        agent = FB(TINY, 4, 2, -np.ones(2), np.ones(2))
        gen = torch.Generator().manual_seed(0)
        for _ in range(3):
            agent.update({k: v for k, v in sampler.sample(32, gen).items() if k != "rewards"})
        runs.append(agent.state_dict())
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k]), k


@pytest.fixture(scope="module")
def toy_fb(tmp_path_factory):
    from anypolicy.train.loop import train

    run = tmp_path_factory.mktemp("fb") / "run"
    return train("fb", "toy:nav", steps=60, seed=0, run_dir=run,
                 overrides=["z_dim=8", "f_hidden=32,32", "b_hidden=32,32", "hidden=32,32", "eval_episodes=2",
                            "log_every=30", "progress=false", "tensorboard=false"])


@pytest.mark.parametrize("method", ["lola", "rela", "cem", "random", "finetune"])
def test_adaptation_with_a_zero_step_keeps_the_zero_shot_policy(toy_fb, method):
    from anypolicy.bfm.adapt import load_task
    from anypolicy.train.loop import load_agent

    agent, env_id, next_obs, rewards = load_task(*load_agent(toy_fb))
    cfg = AdaptConfig(method=method, episodes=3, eval_every=1, eval_episodes=2, lookahead=10, latents=3,
                      population=3, batch_size=16, updates_per_step=1, residual_hidden=(16, 16),
                      lr=0.0, z_lr=0.0, actor_lr=0.0, critic_lr=0.0, search_sigma=0.0, sigma=0.1)
    out = Adapter(agent, env_id, next_obs, rewards, cfg).run()
    z_r = TaskValue(agent, next_obs, rewards, 0.99).z_r
    assert torch.allclose(torch.tensor(out["z"]), z_r, atol=1e-5)
    assert all(c["success"] == out["zero_shot"]["success"] and c["return_mean"] == out["zero_shot"]["return_mean"]
               for c in out["curve"])
    assert out["curve"][-1]["budget"] == pytest.approx(3.0)  # the whole budget was spent, and no more


def test_rela_regresses_every_residual_head(toy_fb, monkeypatch):
    """ReLA's residual critic: each of its two heads regresses on the TD target (the minimum is for the
    target and the latent ascent only). Both heads start at zero, so a loss on their minimum would send the
    whole first gradient to one head."""
    from anypolicy.bfm.adapt import load_task
    from anypolicy.train.loop import load_agent

    first_grads = []

    class Recording(torch.optim.Adam):
        def step(self, closure=None):
            if not first_grads:  # the critic's optimizer is built, and steps, first
                first_grads.extend(p.grad.clone() for p in self.param_groups[0]["params"]
                                   if p.dim() == 3 and p.shape[0] == 2 and p.shape[-1] == 1)
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "Adam", Recording)
    agent, env_id, next_obs, rewards = load_task(*load_agent(toy_fb))
    cfg = AdaptConfig(method="rela", episodes=2, eval_every=2, eval_episodes=1, batch_size=16, updates_per_step=1,
                      residual_hidden=(16, 16))
    Adapter(agent, env_id, next_obs, rewards, cfg).run()
    assert len(first_grads) == 2  # the output layer's weight [2 heads, 16, 1] and bias [2 heads, 1, 1]
    for grad in first_grads:
        assert grad[0].abs().sum() > 0 and grad[1].abs().sum() > 0


def test_cli_zero_shot_and_adapt(toy_fb, tmp_path, capsys):
    import json

    from anypolicy.cli import main

    assert main(["eval", str(toy_fb), "--episodes", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 3
    out = tmp_path / "adapt.json"
    assert main(["adapt", str(toy_fb), "--method", "random", "--episodes", "2", "--set", "eval_episodes=2",
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["curve"][-1]["budget"] == pytest.approx(2.0)
    capsys.readouterr()
    assert main(["adapt", str(toy_fb), "--method", "bogus", "--episodes", "2"]) == 2
    assert "unknown adaptation method" in capsys.readouterr().err
    assert main(["eval", str(toy_fb), "--task", "3"]) == 2  # toy-nav has no numbered tasks


@pytest.mark.parametrize("actor,policy", [("td3bc", "deterministic"), ("awr", "diffusion"), ("parl", "diffusion"),
                                          ("parl", "gaussian")])
def test_every_actor_extracts_a_latent_conditioned_policy_of_its_class(actor, policy):
    import dataclasses

    torch.manual_seed(0)
    cfg = dataclasses.replace(TINY, actor=actor, policy=policy, hidden=(32, 2) if policy == "diffusion" else (32, 32),
                              act_samples=4, parl_samples=6, parl_keep=2, parl_steps=2)
    agent = FB(cfg, 4, 2, -np.ones(2), np.ones(2))
    batch = {"observations": torch.randn(32, 4), "next_observations": torch.randn(32, 4),
             "actions": torch.rand(32, 2) * 2 - 1, "masks": torch.ones(32), "rewards": torch.zeros(32)}
    before = [p.detach().clone() for p in agent.policy.parameters()]
    for _ in range(2):
        metrics = agent.update(batch)
    assert all(torch.isfinite(v) for v in metrics.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.parameters()))  # the actor learned
    z = agent.goal_inference(np.zeros(4))
    actions = agent.act(np.random.default_rng(0).normal(size=(5, 4)), z=z)  # best of 4 samples by F^T z
    assert actions.shape == (5, 2) and np.all(np.abs(actions) <= 1 + 1e-6)
