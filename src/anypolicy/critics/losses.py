"""Critic objectives shared by the recipes: IQL's expectile, HL-Gauss targets, and the CQL / Cal-QL
conservative regularizer."""
from __future__ import annotations

import torch


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """Asymmetric squared loss |tau - 1(diff < 0)| * diff^2 (IQL's value objective), diff = target - value."""
    weight = torch.where(diff > 0, expectile, 1 - expectile)
    return (weight * diff.pow(2)).mean()


def hl_gauss_probs(target: torch.Tensor, v_min: float, v_max: float, bins: int,
                   sigma_ratio: float = 0.75) -> torch.Tensor:
    """HL-Gauss (Farebrother et al., 2024): the mass of N(target, sigma^2) in each of `bins` equal bins on
    [v_min, v_max], renormalized to the range; sigma = sigma_ratio * bin width. target [...] -> [..., bins]."""
    edges = torch.linspace(v_min, v_max, bins + 1, device=target.device, dtype=target.dtype)
    sigma = sigma_ratio * (v_max - v_min) / bins
    cdf = torch.special.ndtr((edges - target.unsqueeze(-1)) / sigma)
    return (cdf[..., 1:] - cdf[..., :-1]) / (cdf[..., -1:] - cdf[..., :1]).clamp_min(1e-8)


def cql_gap(q_data: torch.Tensor, q_random: torch.Tensor, q_policy: torch.Tensor,
            policy_log_prob: torch.Tensor | None = None, random_log_prob: float = 0.0,
            lower_bound: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
    """CQL's regularizer E_s[ T logsumexp(Q(s, a_ood) / T) - Q(s, a_data) ], one value per head [E].

    q_data [E,B]; q_random [E,B,Nr] at actions drawn uniformly from the action box; q_policy [E,B,Np] at
    actions from the policy. Cal-QL: `lower_bound` [B] (Monte-Carlo returns of the behavior policy) clips
    the policy actions' Q-values from below, so the regularizer stops pushing them under that reference.
    With `policy_log_prob` [B,Np] the logsumexp is importance-sampled as in CQL(H): each candidate's
    Q-value minus the log density it was drawn with (`random_log_prob` for the uniform ones). Without it
    (a policy class with no tractable density) the data action joins the candidates, all weighted equally."""
    if lower_bound is not None:
        q_policy = torch.maximum(q_policy, lower_bound.unsqueeze(-1))
    if policy_log_prob is not None:
        candidates = torch.cat([q_random - random_log_prob, q_policy - policy_log_prob.detach()], -1)
    else:
        candidates = torch.cat([q_random, q_policy, q_data.unsqueeze(-1)], -1)
    ood = temperature * torch.logsumexp(candidates / temperature, -1)
    return (ood - q_data).mean(-1)


def conservative_td_loss(q, obs, actions, target, ood_actions, low, high, alpha: float, random_actions: int,
                         ood_log_prob=None, lower_bound=None, temperature: float = 1.0, heads: int | None = None,
                         states: int = 0):
    """TD regression of every head of ensemble `q` on `target` [B], plus alpha * the CQL gap against
    `random_actions` uniform actions and the policy's `ood_actions` [n,N,A] (Cal-QL when `lower_bound`,
    the Monte-Carlo returns, is given), on the first `heads` heads (None: all). The gap is a mean over
    states: with `states` = n > 0 it is taken on the batch's first n states only (a batch is a uniform draw,
    so this estimates the same expectation at n/B of its cost; `ood_actions` may then hold those n only).
    Returns (loss, metrics)."""
    td, q_data = q.td_loss(obs, actions, target)
    if alpha == 0:  # plain TD (RLPD)
        return td, {"td_loss": td, "q_data": q_data.mean()}
    n = states or len(obs)
    obs, q_data, ood_actions = obs[:n], q_data[:, :n], ood_actions[:n]
    ood_log_prob = None if ood_log_prob is None else ood_log_prob[:n]
    lower_bound = None if lower_bound is None else lower_bound[:n]
    a = actions.shape[1]
    uniform = low + (high - low) * torch.rand(n, random_actions, a, device=actions.device)
    q_ood = q(obs, torch.cat([uniform, ood_actions.detach()], 1), heads=heads)
    random_log_prob = -torch.log(high - low).sum()  # density of the uniform proposal
    gap = cql_gap(q_data[:heads], q_ood[..., :random_actions], q_ood[..., random_actions:], ood_log_prob,
                  random_log_prob, lower_bound, temperature)
    return td + alpha * gap.sum(), {"td_loss": td, "cql_gap": gap.mean(), "q_data": q_data.mean()}
