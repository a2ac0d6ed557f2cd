"""Networks and losses against independent computations."""

import numpy as np
import pytest
import torch

from anypolicy.critics.losses import expectile_loss
from anypolicy.critics.q import QEnsemble, ValueNet, polyak_update
from anypolicy.nets.mlp import EnsembleMLP
from anypolicy.policies.gaussian import TanhGaussianPolicy


def _member_forward(net: EnsembleMLP, e: int, x: torch.Tensor) -> torch.Tensor:
    """Member e of the ensemble, computed with plain per-layer maths on concatenated inputs."""
    w0 = torch.cat([layer.weight[e] for layer in net.first], 0)
    b0 = sum(layer.bias[e, 0] for layer in net.first)
    h = x @ w0 + b0
    layers = [(w0, b0)] + [(l.weight[e], l.bias[e, 0]) for l in net.hidden]
    for i, norm in enumerate(net.norms):
        if i > 0:
            h = h @ layers[i][0] + layers[i][1]
        mu, var = h.mean(-1, keepdim=True), h.var(-1, unbiased=False, keepdim=True)
        h = (h - mu) / torch.sqrt(var + 1e-5) * norm.weight[e, 0] + norm.bias[e, 0]
        h = torch.nn.functional.gelu(h)
    return h @ net.out.weight[e] + net.out.bias[e, 0]


def test_ensemble_matches_members_and_broadcasts_state_path():
    torch.manual_seed(0)
    q = QEnsemble(4, 2, hidden=(16, 16), ensemble=3)
    obs, act = torch.randn(5, 4), torch.rand(5, 7, 2) * 2 - 1
    out = q(obs, act)
    assert out.shape == (3, 5, 7)
    for e in range(3):
        for j in range(7):
            ref = _member_forward(q.net, e, torch.cat([obs, act[:, j]], -1))[:, 0]
            torch.testing.assert_close(out[e, :, j], ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(q(obs, act[:, 0]), out[:, :, 0], rtol=1e-5, atol=1e-6)
    assert ValueNet(4, (16,))(obs).shape == (5,)


def test_members_are_independent():
    torch.manual_seed(0)
    q = QEnsemble(3, 1, hidden=(8,), ensemble=2)
    obs, act = torch.randn(4, 3), torch.randn(4, 1)
    q(obs, act)[0].sum().backward()
    assert q.net.out.weight.grad[1].abs().sum() == 0 and q.net.out.weight.grad[0].abs().sum() > 0


def test_expectile_loss_matches_definition():
    diff = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0])
    tau = 0.8
    expected = np.mean([(1 - tau) * 4, (1 - tau) * 0.25, 0.0, tau * 1, tau * 9])
    assert expectile_loss(diff, tau).item() == pytest.approx(expected)
    # the minimizer of the expectile loss over a constant is the tau-expectile, above the mean for tau > 0.5
    x = torch.randn(2000)
    v = torch.zeros((), requires_grad=True)
    opt = torch.optim.SGD([v], lr=0.5)
    for _ in range(300):
        opt.zero_grad()
        expectile_loss(x - v, 0.9).backward()
        opt.step()
    w = torch.where(x > v, 0.9, 0.1)
    assert v.item() == pytest.approx(((w * x).sum() / w.sum()).item(), abs=1e-3)
    assert v.item() > x.mean().item() + 0.5


def test_polyak_update():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    expected = a.weight.detach() * 0.9 + b.weight.detach() * 0.1
    polyak_update(a, b, 0.1)
    torch.testing.assert_close(a.weight.detach(), expected)


def test_tanh_gaussian_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])
    pi = TanhGaussianPolicy(3, 2, low, high, hidden=(16,))
    obs = torch.randn(6, 3)
    actions = pi.sample(obs, 4)
    assert actions.shape == (6, 4, 2)
    assert (actions >= low).all() and (actions <= high).all()
    mean, log_std = pi._dist(obs)
    base = torch.distributions.Independent(torch.distributions.Normal(mean, log_std.exp()), 1)
    dist = torch.distributions.TransformedDistribution(base, [
        torch.distributions.TanhTransform(),
        torch.distributions.AffineTransform((high + low) / 2, (high - low) / 2)])
    a = actions[:, 0].clamp(low + 1e-3, high - 1e-3)
    torch.testing.assert_close(pi.log_prob(obs, a), dist.log_prob(a), rtol=1e-3, atol=1e-3)


def test_policy_loss_accepts_several_targets_and_weights():
    torch.manual_seed(0)
    pi = TanhGaussianPolicy(3, 2, -torch.ones(2), torch.ones(2), hidden=(16,))
    obs, targets = torch.randn(4, 3), torch.rand(4, 5, 2) * 1.8 - 0.9
    flat = -pi.log_prob(obs.repeat_interleave(5, 0), targets.reshape(20, 2)).mean()
    torch.testing.assert_close(pi.loss(obs, targets), flat)
    w = torch.rand(4, 5)
    flat_w = (-pi.log_prob(obs.repeat_interleave(5, 0), targets.reshape(20, 2)) * w.reshape(20)).mean()
    torch.testing.assert_close(pi.loss(obs, targets, w), flat_w)
    assert pi.act(obs, deterministic=True).shape == (4, 2)
