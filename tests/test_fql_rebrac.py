"""FQL and ReBRAC: the actor's loss never trains the critic under their single optimizer, ReBRAC's
critic-only updates, acting inside the bounds from a saved run."""
import numpy as np
import pytest
import torch

from anypolicy.agents.fql import FQL, FQLConfig
from anypolicy.agents.rebrac import ReBRAC, ReBRACConfig
from anypolicy.config import ConfigError
from anypolicy.train.loop import load_agent, train

LOW, HIGH = np.array([-1.0, 0.0], np.float32), np.array([1.0, 2.0], np.float32)  # an off-centre box


def batch(n=16, obs_dim=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    low, high = torch.as_tensor(LOW), torch.as_tensor(HIGH)
    actions = lambda: low + (high - low) * torch.rand(n, 2, generator=g)  # noqa: E731
    return {"observations": torch.randn(n, obs_dim, generator=g), "next_observations": torch.randn(n, obs_dim, generator=g),
            "actions": actions(), "next_actions": actions(), "rewards": -torch.rand(n, generator=g),
            "masks": torch.ones(n)}


def grads(agent, loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True)


def test_fql_critic_gradient_is_the_td_loss_alone_and_the_actor_sees_q():
    torch.manual_seed(0)
    agent = FQL(FQLConfig(hidden=(16, 16), alpha=3.0), 3, 2, LOW, HIGH)
    b = batch()
    critic = list(agent.q.parameters())
    torch.manual_seed(1)
    total, _ = agent.losses(b)
    # an independent TD loss: the same target (the next actions drawn first, from the same random stream)
    torch.manual_seed(1)
    with torch.no_grad():
        next_a = agent.policy.sample(b["next_observations"], 1)[:, 0]
        target = b["rewards"] + 0.99 * b["masks"] * agent.q_target(b["next_observations"], next_a).mean(0)
    td = (agent.q(b["observations"], b["actions"]) - target).pow(2).mean()
    for g_total, g_td in zip(grads(agent, total, critic), grads(agent, td, critic)):
        assert torch.allclose(g_total, g_td, atol=1e-6)
    onestep = list(agent.policy.onestep.parameters())
    assert all(g is not None and g.abs().sum() > 0 for g in grads(agent, total, onestep))
    # without the Q term, the one-step policy's gradient changes: the actor does follow Q
    torch.manual_seed(1)
    no_q, m = agent.losses(b)
    without = grads(agent, no_q - m["q_loss"], onestep)
    torch.manual_seed(1)
    with_q = grads(agent, agent.losses(b)[0], onestep)
    assert not all(torch.allclose(a, c) for a, c in zip(with_q, without))


def test_fql_flow_actions_integrate_a_constant_velocity_exactly():
    agent = FQL(FQLConfig(hidden=(8,), flow_steps=4), 3, 2, LOW, HIGH)
    last = agent.policy.velocity[-1]
    torch.nn.init.zeros_(last.weight)
    with torch.no_grad():
        last.bias.copy_(torch.tensor([0.3, -0.5]))
    noise = torch.tensor([[0.1, 0.2], [0.9, -0.9]])
    out = agent.policy.flow_actions(torch.randn(2, 3), noise)
    assert torch.allclose(out, (noise + torch.tensor([0.3, -0.5])).clamp(-1, 1))


def test_rebrac_critic_only_updates_leave_targets_and_step_the_actor_by_momentum():
    torch.manual_seed(0)
    agent = ReBRAC(ReBRACConfig(hidden=(16, 16), alpha_actor=0.5, alpha_critic=0.1, actor_freq=2), 3, 2, LOW, HIGH)
    b = batch()
    agent.update(b)  # update 1: critic only, the actor has no momentum yet
    assert all(torch.equal(p, q) for p, q in zip(agent.policy.parameters(), agent.policy_target.parameters()))
    agent.update(b)  # update 2: full
    policy_target = [p.clone() for p in agent.policy_target.parameters()]
    q_target = [p.clone() for p in agent.q_target.parameters()]
    before = [p.clone() for p in agent.policy.parameters()]
    metrics = agent.update(b)  # update 3: critic only
    assert all(torch.equal(p, q) for p, q in zip(agent.policy_target.parameters(), policy_target))
    assert all(torch.equal(p, q) for p, q in zip(agent.q_target.parameters(), q_target))
    assert not all(torch.equal(p, q) for p, q in zip(agent.policy.parameters(), before))  # Adam's momentum
    assert {"critic_loss", "policy_loss", "bc_loss"} <= metrics.keys()


def test_rebrac_critic_penalty_lowers_the_target_by_the_distance_to_the_data_next_action():
    torch.manual_seed(0)
    agent = ReBRAC(ReBRACConfig(hidden=(16,), policy_noise=0.0), 3, 2, LOW, HIGH)
    b = batch()
    plain, _ = agent.critic_loss(b)
    agent.cfg.alpha_critic = 2.0
    penalized, _ = agent.critic_loss(b)
    with torch.no_grad():
        next_a = agent.policy_target.act(b["next_observations"], deterministic=True)
        target = (b["rewards"] + 0.99 * (agent.q_target(b["next_observations"], next_a).min(0).values
                                         - 2.0 * (next_a - b["next_actions"]).pow(2).sum(-1)))
        expected = (agent.q(b["observations"], b["actions"]) - target).pow(2).mean()
    assert torch.allclose(penalized, expected) and not torch.allclose(plain, penalized)


@pytest.mark.parametrize("recipe", ["fql", "rebrac"])
def test_saved_run_loads_and_acts_inside_the_bounds(tmp_path, recipe):
    sets = ["hidden=32,32", "eval_every=0", "eval_episodes=2", "checkpoint_every=20", "batch_size=32",
            "tensorboard=false", "progress=false"]
    run = train(recipe, "toy:nav", steps=20, seed=0, run_dir=tmp_path / recipe, overrides=sets)
    agent, tcfg = load_agent(run)
    obs = np.random.default_rng(0).normal(size=(64, agent.obs_dim)).astype(np.float32) * 10
    actions = agent.act(obs)
    low, high = agent.action_low.numpy(), agent.action_high.numpy()
    assert actions.shape == (64, agent.action_dim) and (actions >= low).all() and (actions <= high).all()
    if recipe == "rebrac":  # acts by the actor's mode: the same action for the same state
        np.testing.assert_array_equal(actions, agent.act(obs))


def test_bad_settings_are_refused_before_the_run_exists(tmp_path):
    with pytest.raises(ConfigError, match="q_agg"):
        train("fql", "toy:nav", steps=5, run_dir=tmp_path / "fql", overrides=["q_agg=max"])
    with pytest.raises(ConfigError, match="actor_freq"):
        train("rebrac", "toy:nav", steps=5, run_dir=tmp_path / "rebrac", overrides=["actor_freq=0"])
    assert not (tmp_path / "fql").exists() and not (tmp_path / "rebrac").exists()
