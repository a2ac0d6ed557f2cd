"""The Policy protocol: what every policy class provides, and what algorithms may rely on."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Policy(Protocol):
    """An `nn.Module` that samples actions and learns from target actions with its own supervised loss."""

    def sample(self, obs: torch.Tensor, n: int) -> torch.Tensor:
        """obs [B, S] -> actions [B, n, A] inside the action bounds, in one batched pass."""

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """obs [B, S] -> actions [B, A]."""

    def loss(self, obs: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Weighted supervised loss on target actions [B, A] or [B, n, A] (weights [B] or [B, n])."""


def as_targets(obs: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor | None):
    """Flatten [B, n, A] targets (and [B, n] weights) against obs [B, S] into one batch of B*n pairs."""
    if actions.dim() == 2:
        return obs, actions, weights
    b, n, a = actions.shape
    obs = obs.unsqueeze(1).expand(b, n, *obs.shape[1:]).reshape(b * n, *obs.shape[1:])
    if weights is not None:
        weights = (weights.unsqueeze(1).expand(b, n) if weights.dim() == 1 else weights).reshape(b * n)
    return obs, actions.reshape(b * n, a), weights


def weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    return values.mean() if weights is None else (values * weights).mean()
