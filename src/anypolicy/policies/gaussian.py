"""Tanh-squashed Gaussian policy with a state-dependent diagonal covariance."""
from __future__ import annotations

import math

import torch
from torch import nn

from anypolicy.nets.mlp import mlp
from anypolicy.policies.base import as_targets, weighted_mean


class TanhGaussianPolicy(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, action_low, action_high, hidden=(256, 256),
                 log_std_min: float = -5.0, log_std_max: float = 2.0, layer_norm: bool = False,
                 activation: str = "gelu"):
        super().__init__()
        self.trunk = mlp(obs_dim, hidden, 2 * action_dim, layer_norm=layer_norm, activation=activation)
        low, high = torch.as_tensor(action_low, dtype=torch.float32), torch.as_tensor(action_high, dtype=torch.float32)
        self.register_buffer("action_scale", (high - low) / 2)
        self.register_buffer("action_center", (high + low) / 2)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def _dist(self, obs):
        mean, log_std = self.trunk(obs).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def _squash(self, u):
        return torch.tanh(u) * self.action_scale + self.action_center

    def sample(self, obs: torch.Tensor, n: int) -> torch.Tensor:
        mean, log_std = self._dist(obs)
        eps = torch.randn(mean.shape[0], n, mean.shape[-1], device=obs.device, dtype=mean.dtype)
        return self._squash(mean.unsqueeze(1) + log_std.exp().unsqueeze(1) * eps)

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        if deterministic:
            return self._squash(self._dist(obs)[0])
        return self.sample(obs, 1)[:, 0]

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a|s) for actions [B, A] -> [B], with the tanh change of variables."""
        mean, log_std = self._dist(obs)
        y = ((actions - self.action_center) / self.action_scale).clamp(-1 + 1e-5, 1 - 1e-5)
        u = torch.atanh(y)
        normal = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        jacobian = torch.log(self.action_scale * (1 - y * y) + 1e-6)
        return (normal - jacobian).sum(-1)

    def loss(self, obs: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        obs, actions, weights = as_targets(obs, actions, weights)
        return weighted_mean(-self.log_prob(obs, actions), weights)
