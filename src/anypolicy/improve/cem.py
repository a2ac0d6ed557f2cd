"""Cross-entropy-method action search against a critic, the derivative-free baseline PA-RL is compared with:

    mu, sigma <- mean and std of the policy's samples (from the policy) or the box's centre and half-width (random)
    repeat: draw P actions ~ N(mu, sigma) clipped to the box, keep the E with the highest Q, refit mu, sigma
    return the best action seen
"""
from __future__ import annotations

import torch

from anypolicy.improve.action_opt import QFn


@torch.no_grad()
def cem_search(obs: torch.Tensor, q_fn: QFn, low: torch.Tensor, high: torch.Tensor, init: torch.Tensor | None = None,
               iterations: int = 5, population: int = 64, elites: int = 6, min_std: float = 1e-3) -> torch.Tensor:
    """One action per state [B, A]. `init` [B, n, A]: policy samples whose mean and spread start the search
    (None: start from the whole box)."""
    batch = obs.shape[0]
    if init is None:
        mu = ((low + high) / 2).expand(batch, -1)
        std = ((high - low) / 2).expand(batch, -1)
    else:
        mu, std = init.mean(1), init.std(1, unbiased=False) if init.shape[1] > 1 else torch.zeros_like(init[:, 0])
    std = std.clamp(min=min_std)
    best_a, best_q = mu.clone(), q_fn(obs, mu.unsqueeze(1))[:, 0]
    for _ in range(iterations):
        draws = mu.unsqueeze(1) + std.unsqueeze(1) * torch.randn(batch, population, mu.shape[-1], device=mu.device)
        draws = draws.clamp(low, high)
        q = q_fn(obs, draws)
        top = q.topk(elites, dim=-1)
        elite = draws.gather(1, top.indices.unsqueeze(-1).expand(-1, -1, draws.shape[-1]))
        mu, std = elite.mean(1), elite.std(1, unbiased=False).clamp(min=min_std)
        improved = top.values[:, 0] > best_q
        best_a = torch.where(improved.unsqueeze(-1), elite[:, 0], best_a)
        best_q = torch.where(improved, top.values[:, 0], best_q)
    return best_a
