"""CFPI operators against independent computations: scipy's constrained solver, the Gaussian density, the
constraints each solution must satisfy, and the multimodal situation that motivates the mixture operator."""
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from anypolicy.improve import Candidates, cfpi, cfpi_local_opt, sample_covariance



@pytest.fixture(autouse=True)
def double_precision():  # the property checks are exact up to solver tolerance
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def random_spd(gen, batch, dim, *lead):
    m = torch.randn(batch, *lead, dim, dim, generator=gen, dtype=torch.float64)
    return m @ m.transpose(-1, -2) / dim + 0.1 * torch.eye(dim, dtype=torch.float64)


def linear_q(g):
    """Q(s, a) = a . g_s: the first-order expansion is exact, so the closed forms solve the true problem."""
    return lambda obs, a: (a * g.unsqueeze(1)).sum(-1)


def test_single_gaussian_step_lies_on_the_trust_region_boundary_and_matches_slsqp():
    gen = torch.Generator().manual_seed(0)
    B, A = 6, 3
    mean, cov, g = torch.randn(B, A, generator=gen), random_spd(gen, B, A), torch.randn(B, A, generator=gen)
    obs = torch.zeros(B, 1)
    for log_tau in (0.1, 0.5, 2.0):
        mu = cfpi.single_gaussian(obs, linear_q(g), mean, cov, log_tau)
        diff = (mu - mean).unsqueeze(-1)
        maha = 0.5 * (diff.transpose(-1, -2) @ torch.linalg.inv(cov) @ diff)[:, 0, 0]
        assert torch.allclose(maha, torch.full((B,), log_tau), atol=1e-9)  # on the boundary
        # (3.6): pi_b(mu_sg) = pi_b(mu_b) / tau
        assert torch.allclose(cfpi.gaussian_log_prob(mu, mean, cov),
                              cfpi.gaussian_log_prob(mean, mean, cov) - log_tau, atol=1e-9)
        for i in range(B):  # scipy solves (3.3): max mu.g subject to -log pi_b(mu) <= delta
            delta = 0.5 * torch.logdet(2 * math.pi * cov[i]).item() + log_tau
            dist = torch.distributions.MultivariateNormal(mean[i], cov[i])
            precision = torch.linalg.inv(cov[i]).numpy()
            cons = {"type": "ineq", "fun": lambda x: delta + dist.log_prob(torch.tensor(x)).item(),
                    "jac": lambda x: -precision @ (x - mean[i].numpy())}
            res = minimize(lambda x: -(torch.tensor(x) @ g[i]).item(), mean[i].numpy(), jac=lambda x: -g[i].numpy(),
                           constraints=[cons], method="SLSQP", options={"ftol": 1e-12, "maxiter": 500})
            assert res.success and np.allclose(res.x, mu[i].numpy(), atol=1e-4)
    assert torch.allclose(cfpi.single_gaussian(obs, linear_q(g), mean, cov, 0.0), mean)  # tau = 1: the mean


def test_deterministic_step_has_length_sqrt_two_delta_along_the_gradient():
    gen = torch.Generator().manual_seed(1)
    a, g = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    out = cfpi.deterministic(torch.zeros(5, 1), linear_q(g), a, delta=0.3)
    step = out - a
    assert torch.allclose(step.norm(dim=-1), torch.full((5,), math.sqrt(0.6)))
    assert torch.allclose(torch.nn.functional.cosine_similarity(step, g, dim=-1), torch.ones(5))


def random_mixture(gen, B, N, A):
    weights = torch.softmax(torch.randn(B, N, generator=gen), -1)
    return weights, 0.5 * torch.randn(B, N, A, generator=gen), random_spd(gen, B, A, N)


def test_jensen_is_the_single_gaussian_solution_for_one_component():
    gen = torch.Generator().manual_seed(2)
    weights, means, covs = random_mixture(gen, 4, 1, 3)
    g = torch.randn(4, 3, generator=gen)
    obs = torch.zeros(4, 1)
    jensen = cfpi.jensen_bound(obs, linear_q(g), weights, means, covs, 0.7)[0]
    assert torch.allclose(jensen, cfpi.single_gaussian(obs, linear_q(g), means[:, 0], covs[:, 0], 0.7), atol=1e-9)
    lse = cfpi.logsumexp_bound(obs, linear_q(g), weights, means, covs, 0.7)[0]
    assert torch.allclose(lse, jensen, atol=1e-9)  # one component: both bounds are the exact problem


def test_each_mixture_solution_satisfies_its_own_constraint():
    gen = torch.Generator().manual_seed(3)
    B, N, A = 8, 4, 3
    weights, means, covs = random_mixture(gen, B, N, A)
    weights[0] = torch.tensor([0.01, 0.33, 0.33, 0.33])  # a component under the threshold is left out
    g = torch.randn(B, A, generator=gen)
    q, obs, log_tau = linear_q(g), torch.zeros(B, 1), 0.5
    comp_logp = lambda x: torch.stack([cfpi.gaussian_log_prob(x, means[:, i], covs[:, i]) for i in range(N)], -1)  # noqa: E731
    kept = weights >= 0.05

    lse, candidates, feasible, delta = cfpi.logsumexp_bound(obs, q, weights, means, covs, log_tau)
    bound = (comp_logp(lse) + weights.log()).masked_fill(~kept, -math.inf).max(-1).values  # (3.9)'s left side
    assert (bound >= -delta - 1e-9).all()
    assert not feasible[0, 0]
    for i in range(N):  # every feasible candidate sits on its own component's boundary
        on = comp_logp(candidates[:, i])[:, i] + weights[:, i].log()
        assert torch.allclose(on[feasible[:, i]], -delta[feasible[:, i]], atol=1e-9)

    jensen, ok = cfpi.jensen_bound(obs, q, weights, means, covs, log_tau)
    assert ok.any() and not ok.all()  # these random mixtures include means spread too far for tau
    w = weights * kept
    w = w / w.sum(-1, keepdim=True)
    logdet = torch.logdet(2 * math.pi * covs)
    delta_j = log_tau + 0.5 * (w * logdet).sum(-1)
    assert torch.allclose((w * comp_logp(jensen)).sum(-1)[ok], -delta_j[ok])  # on (3.11)'s boundary

    best = q(obs, cfpi.mixture(obs, q, weights, means, covs, log_tau).unsqueeze(1))[:, 0]
    q_lse, q_jensen = q(obs, lse.unsqueeze(1))[:, 0], q(obs, jensen.unsqueeze(1))[:, 0]
    assert torch.allclose(best, torch.where(ok, torch.maximum(q_lse, q_jensen), q_lse))


def test_mixture_operator_recovers_the_better_mode_where_single_gaussian_averages():
    """Fig. 4.1 (L) of the thesis: two well-separated modes, the right one better. A single Gaussian fitted
    to the same behavior (moment matching) centres between the modes, where the data have no support;
    I_MG steps from the better mode."""
    weights = torch.tensor([[0.5, 0.5]])
    means = torch.tensor([[[-1.0], [1.0]]])
    covs = torch.full((1, 2, 1, 1), 0.05)
    q = lambda obs, a: -(a - 1.1).pow(2).sum(-1)  # noqa: E731  the better mode is at +1
    obs = torch.zeros(1, 1)
    mg = cfpi.mixture(obs, q, weights, means, covs, log_tau=0.1)
    sg_mean = (weights[..., None] * means).sum(1)
    sg_var = (weights[..., None, None] * (covs + (means - sg_mean[:, None]).unsqueeze(-1) ** 2)).sum(1)
    sg = cfpi.single_gaussian(obs, q, sg_mean, sg_var, log_tau=0.1)
    assert abs(mg.item() - 1.1) < 0.02  # a trust-region step of 0.45 sigma from the better mode
    assert abs(sg.item()) < 0.8  # between the modes
    assert q(obs, mg.unsqueeze(1)) > q(obs, sg.unsqueeze(1)) + 0.1
    assert torch.equal(cfpi.mixture_best_mean(obs, q, weights, means), means[:, 1])


def test_any_sampler_improves_on_the_best_sample_and_stays_in_bounds():
    draws = torch.rand(16, 8, 2, generator=torch.Generator().manual_seed(4)) - 0.5

    class Sampler:
        def sample(self, obs, n):
            return draws

    q = lambda obs, a: -(a - 0.45).pow(2).sum(-1)  # noqa: E731
    obs = torch.zeros(16, 1)
    low, high = -torch.ones(2) * 0.5, torch.ones(2) * 0.5
    best = cfpi.ebcq(obs, q, Sampler(), 8)
    improved = cfpi.any_sampler(obs, q, Sampler(), 8, delta=0.01, low=low, high=high)
    assert ((improved >= low) & (improved <= high)).all()
    assert (q(obs, improved.unsqueeze(1)) > q(obs, best.unsqueeze(1))).float().mean() > 0.8


def test_lower_confidence_value():
    values = torch.tensor([[1.0, 2.0], [3.0, 2.0]])
    assert torch.allclose(cfpi.lower_confidence(values, 1.0), torch.tensor([2.0 - math.sqrt(2), 2.0]))
    assert torch.allclose(cfpi.lower_confidence(values, 0.0), values.mean(0))


def test_cfpi_local_step_never_lowers_q_and_moves_within_the_samples_spread():
    gen = torch.Generator().manual_seed(5)
    best = torch.tensor([0.3, -0.2])
    q = lambda obs, a: -(a - best).pow(2).sum(-1)  # noqa: E731
    samples = 0.2 * torch.randn(12, 16, 2, generator=gen)
    low, high = -0.5 * torch.ones(2), 0.5 * torch.ones(2)
    start = Candidates(samples[:, :4], q(None, samples[:, :4]))
    cov = sample_covariance(samples)
    out = cfpi_local_opt(torch.zeros(12, 1), start, q, cov, 0.5, low, high)
    assert (out.q >= start.q).all() and torch.allclose(out.q, q(None, out.actions))
    assert ((out.actions >= low) & (out.actions <= high)).all()
    assert (out.q > start.q).float().mean() > 0.7
    moved = out.actions - start.actions  # each accepted move lies on the boundary of the samples' ellipse
    maha = 0.5 * (moved.unsqueeze(-2) @ torch.linalg.inv(cov).unsqueeze(1) @ moved.unsqueeze(-1))[..., 0, 0]
    inside = ((start.actions + moved > low + 1e-9) & (start.actions + moved < high - 1e-9)).all(-1) & (out.q > start.q)
    assert torch.allclose(maha[inside], torch.full_like(maha[inside], 0.5))


def test_iql_acting_with_isg_steps_from_the_gaussian_mean_within_its_trust_region():
    import numpy as np

    from anypolicy.agents.iql import IQL, IQLConfig
    from anypolicy.config import ConfigError

    torch.manual_seed(0)
    # the tanh-Gaussian (its pre-tanh geometry is what is checked) and the random critic the test was written
    # with (torch init, LayerNorm before the activation): on it a first-order step raises Q almost everywhere
    agent = IQL(IQLConfig(hidden=(32, 32), act_improve="sg", policy="gaussian", init="torch",
                          norm_after_activation=False), 4, 2, -np.ones(2), np.ones(2))
    obs = torch.randn(5, 4)
    plain = torch.as_tensor(IQL.__mro__[1].act(agent, obs))  # the base agent's act: tanh of the mean
    agent.cfg.act_log_tau = 0.0  # tau = 1: the trust region is the mean itself
    assert np.allclose(agent.act(obs), plain, atol=1e-6)
    agent.cfg.act_log_tau = 0.5
    moved = torch.as_tensor(agent.act(obs))
    mean, std = agent.policy.pre_tanh(obs)
    u = torch.atanh(moved.clamp(-1 + 1e-12, 1 - 1e-12))  # back to the Gaussian's space (bounds are +-1)
    maha = 0.5 * (((u - mean) / std) ** 2).sum(-1)
    assert torch.allclose(maha, torch.full((5,), 0.5), atol=1e-4)  # on the boundary of log tau = 0.5
    q = lambda a: agent.q(obs, a.unsqueeze(1)).mean(0)[:, 0]  # noqa: E731
    assert (q(moved) >= q(plain) - 1e-6).float().mean() >= 0.8  # a first-order step: Q rises almost everywhere
    with pytest.raises(ConfigError, match="Gaussian policy"):
        IQL(IQLConfig(policy="deterministic", act_improve="sg"), 4, 2, -np.ones(2), np.ones(2))
