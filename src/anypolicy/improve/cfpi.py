"""Closed-form policy improvement (CFPI; Li et al., thesis chapter 3): one trust-region step from a
first-order expansion of Q around the behavior policy, batched over states.

    I_SG  (3.4):  mu = mu_b + sqrt(2 log tau) Sigma g / ||g||_Sigma,  g = grad_a Q(s, mu_b)
                  on the boundary log pi_b(mu) = log pi_b(mu_b) - log tau  (3.6)
    I_MG  (3.13): the better by Q of
                  LSE    (3.10): a step from each component mean mu_i inside its own ellipse, radius
                                 kappa_i = sqrt(2 (delta + log lambda_i) - log det(2 pi Sigma_i)),
                                 delta = min_i {1/2 log det(2 pi Sigma_i) - log lambda_i} + log tau
                  Jensen (3.12): a step from the precision-weighted mean inside the weighted-average ellipse
    I_DET (3.56): mu = mu_b + sqrt(2 delta) g / ||g||      (a deterministic behavior policy)
    EBCQ:         the argmax of Q over N samples of the behavior policy; Algorithm 3: EBCQ, then I_DET
    MG-MS (3.15): the best component mean by Q

Covariances are full [B, (N,) A, A] matrices (a diagonal policy passes `torch.diag_embed(variances)`).
Components whose weight is below `threshold` (0.05) are left out of the mixture operators (the Jensen
solution renormalizes the remaining weights). Among the LSE's per-component candidates we keep the one
with the highest Q itself (one batched call), where (3.10) compares linearizations taken at different
means; the Jensen solution enters (3.13) only where its constraint can be met. Q is any callable q_fn(obs [B,S], actions [B,n,A]) -> [B,n].
"""
from __future__ import annotations

import math
from typing import Callable

import torch

QFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

EPS = 1e-8


def value_and_grad(q_fn: QFn, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Q [B, n] and grad_a Q [B, n, A] at actions [B, n, A]."""
    with torch.enable_grad():
        a = actions.detach().requires_grad_(True)
        q = q_fn(obs, a)
        return q.detach(), torch.autograd.grad(q.sum(), a)[0]


def trust_region_step(mean: torch.Tensor, cov: torch.Tensor, grad: torch.Tensor, radius: torch.Tensor | float):
    """argmax of mu^T g subject to 1/2 (mu - mean)^T cov^-1 (mu - mean) <= radius^2 / 2: the point
    mean + radius * cov g / ||g||_cov (the mean itself where the gradient vanishes)."""
    direction = (cov @ grad.unsqueeze(-1)).squeeze(-1)
    norm = (grad * direction).sum(-1, keepdim=True).clamp_min(0).sqrt()
    radius = torch.as_tensor(radius, dtype=mean.dtype, device=mean.device)
    if radius.dim():
        radius = radius.unsqueeze(-1)
    return mean + radius * direction / norm.clamp_min(EPS)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)


def single_gaussian(obs: torch.Tensor, q_fn: QFn, mean: torch.Tensor, cov: torch.Tensor, log_tau: float) -> torch.Tensor:
    """I_SG (3.4): mean [B, A], cov [B, A, A] -> improved action [B, A]."""
    _, grad = value_and_grad(q_fn, obs, mean.unsqueeze(1))
    return trust_region_step(mean, cov, grad[:, 0], math.sqrt(2 * log_tau))


def deterministic(obs: torch.Tensor, q_fn: QFn, action: torch.Tensor, delta: float) -> torch.Tensor:
    """I_DET (3.56): a step of length sqrt(2 delta) along the gradient at action [B, A]."""
    _, grad = value_and_grad(q_fn, obs, action.unsqueeze(1))
    eye = torch.eye(action.shape[-1], dtype=action.dtype, device=action.device)
    return trust_region_step(action, eye, grad[:, 0], math.sqrt(2 * delta))


def _kept(weights: torch.Tensor, threshold: float) -> torch.Tensor:
    """Components at or above the weight threshold; the heaviest is always kept."""
    kept = weights >= threshold
    return kept | (weights == weights.max(-1, keepdim=True).values)


def logsumexp_bound(obs, q_fn: QFn, weights, means, covs, log_tau: float, threshold: float = 0.05):
    """LSE solution (3.10): (actions [B, A], each component's candidate [B, N, A], feasible [B, N], delta [B])."""
    kept = _kept(weights, threshold)
    logdet = torch.logdet(2 * math.pi * covs)  # [B, N]
    log_w = weights.clamp_min(EPS).log()
    delta = torch.where(kept, 0.5 * logdet - log_w, torch.full_like(logdet, math.inf)).min(-1).values + log_tau
    kappa2 = 2 * (delta.unsqueeze(-1) + log_w) - logdet
    feasible = kept & (kappa2 >= 0)
    _, grads = value_and_grad(q_fn, obs, means)
    candidates = trust_region_step(means, covs, grads, kappa2.clamp_min(0).sqrt())
    q = q_fn(obs, candidates).detach().masked_fill(~feasible, -math.inf)
    best = q.argmax(-1)
    return candidates[torch.arange(len(best), device=best.device), best], candidates, feasible, delta


def jensen_bound(obs, q_fn: QFn, weights, means, covs, log_tau: float, threshold: float = 0.05):
    """Jensen solution (3.12): (actions [B, A], feasible [B]). Where the components' means spread too far
    for tau (kappa^2 < 0), no point satisfies (3.11); the precision-weighted mean is returned, infeasible."""
    w = weights * _kept(weights, threshold)
    w = w / w.sum(-1, keepdim=True)
    precisions = torch.linalg.inv(covs)  # [B, N, A, A]
    mean_precision = (w[..., None, None] * precisions).sum(1)
    cov_bar = torch.linalg.inv(mean_precision)
    weighted = (w[..., None] * (precisions @ means.unsqueeze(-1)).squeeze(-1)).sum(1)
    mean_bar = (cov_bar @ weighted.unsqueeze(-1)).squeeze(-1)
    quad = lambda x, p: (x.unsqueeze(-2) @ p @ x.unsqueeze(-1))[..., 0, 0]  # noqa: E731  x^T P x
    kappa2 = 2 * log_tau - (w * quad(means, precisions)).sum(-1) + quad(mean_bar, mean_precision)
    _, grad = value_and_grad(q_fn, obs, mean_bar.unsqueeze(1))
    return trust_region_step(mean_bar, cov_bar, grad[:, 0], kappa2.clamp_min(0).sqrt()), kappa2 >= 0


def mixture(obs, q_fn: QFn, weights, means, covs, log_tau: float, threshold: float = 0.05) -> torch.Tensor:
    """I_MG (3.13): the LSE or the (feasible) Jensen solution, whichever Q prefers."""
    lse = logsumexp_bound(obs, q_fn, weights, means, covs, log_tau, threshold)[0]
    jensen, feasible = jensen_bound(obs, q_fn, weights, means, covs, log_tau, threshold)
    both = torch.stack([lse, jensen], 1)
    q = q_fn(obs, both).detach()
    best = torch.where(feasible, q.argmax(-1), torch.zeros_like(feasible, dtype=torch.long))
    return both[torch.arange(len(best), device=best.device), best]


def mixture_best_mean(obs, q_fn: QFn, weights, means, threshold: float = 0.05) -> torch.Tensor:
    """MG-MS (3.15): the component mean with the highest Q among the kept components."""
    q = q_fn(obs, means).detach().masked_fill(~_kept(weights, threshold), -math.inf)
    best = q.argmax(-1)
    return means[torch.arange(len(best), device=best.device), best]


@torch.no_grad()
def ebcq(obs: torch.Tensor, q_fn: QFn, policy, samples: int) -> torch.Tensor:
    """The argmax of Q over `samples` draws of the behavior policy (any class)."""
    actions = policy.sample(obs, samples)
    best = q_fn(obs, actions).argmax(-1)
    return actions[torch.arange(len(best), device=best.device), best]


def any_sampler(obs, q_fn: QFn, policy, samples: int, delta: float, low=None, high=None) -> torch.Tensor:
    """Algorithm 3: EBCQ over the policy's samples, then I_DET; clipped to the action box when given."""
    action = deterministic(obs, q_fn, ebcq(obs, q_fn, policy, samples), delta)
    return action if low is None else action.clamp(low, high)


def lower_confidence(values: torch.Tensor, beta: float) -> torch.Tensor:
    """mean - beta * std over an ensemble's heads (dimension 0), the Q whose gradient CFPI follows."""
    if beta == 0 or values.shape[0] == 1:
        return values.mean(0)
    return values.mean(0) - beta * values.std(0)
