"""Gaussian policies: tanh-squashed with a state-dependent diagonal covariance (SAC, CQL, Cal-QL), or, with
tanh=false and learned_std=false, the plain Gaussian of FQL's and OGBench's IQL actor: a state-dependent
mean, a constant standard deviation of 1, actions clipped to the bounds (the mean at evaluation)."""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from anypolicy.nets.mlp import mlp
from anypolicy.policies.base import as_targets, weighted_mean
from anypolicy.policies.bounded import BoundedPolicy


class TanhGaussianPolicy(BoundedPolicy):
    def __init__(self, obs_dim: int, action_dim: int, action_low, action_high, hidden=(256, 256),
                 log_std_min: float = -5.0, log_std_max: float = 2.0, layer_norm: bool = False,
                 activation: str = "gelu", tanh: bool = True, learned_std: bool = True, init: str = "torch",
                 final_init_scale: float = 1.0):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        self.tanh, self.learned_std = tanh, learned_std
        self.trunk = mlp(obs_dim, hidden, (2 if learned_std else 1) * action_dim, layer_norm=layer_norm,
                         activation=activation, init=init, final_scale=final_init_scale)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def _dist(self, obs):
        out = self.trunk(obs)
        if not self.learned_std:  # constant std 1 (FQL's const_std)
            return out, torch.zeros_like(out)
        mean, log_std = out.chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def pre_tanh(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation [B, A] of the Gaussian before the squashing (tanh, or the clip)."""
        mean, log_std = self._dist(obs)
        return mean, log_std.exp()

    def squash(self, u: torch.Tensor) -> torch.Tensor:
        """Pre-squashing values -> actions inside the bounds."""
        return self.from_unit(torch.tanh(u) if self.tanh else u)

    def sample(self, obs: torch.Tensor, n: int) -> torch.Tensor:
        mean, log_std = self._dist(obs)
        eps = torch.randn(mean.shape[0], n, mean.shape[-1], device=obs.device, dtype=mean.dtype)
        return self.squash(mean.unsqueeze(1) + log_std.exp().unsqueeze(1) * eps)

    def sample_with_log_prob(self, obs: torch.Tensor, n: int):
        """Reparameterized actions [B, n, A] and their log-densities [B, n] (computed before the tanh, so
        exact even where tanh saturates); what SAC-style extraction (CQL, Cal-QL) needs."""
        if not self.tanh:
            raise ValueError("a clipped Gaussian (tanh=false) has no density at the bounds: SAC-style recipes "
                             "need the tanh-Gaussian (policy_options tanh=true).")
        mean, log_std = self._dist(obs)
        eps = torch.randn(mean.shape[0], n, mean.shape[-1], device=obs.device, dtype=mean.dtype)
        u = mean.unsqueeze(1) + log_std.exp().unsqueeze(1) * eps
        normal = (-0.5 * eps.pow(2) - log_std.unsqueeze(1) - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log |d a / d u| = log(scale * (1 - tanh(u)^2)), with 1 - tanh(u)^2 = 4 sigmoid(2u) sigmoid(-2u)
        jacobian = (torch.log(self.action_scale) + math.log(4.0) + F.logsigmoid(2 * u) + F.logsigmoid(-2 * u)).sum(-1)
        return self.from_unit(torch.tanh(u)), normal - jacobian

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        if deterministic:
            return self.squash(self._dist(obs)[0])
        return self.sample(obs, 1)[:, 0]

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a|s) for actions [B, A] -> [B], with the tanh change of variables (or the constant scale of
        the unit box for the plain Gaussian)."""
        mean, log_std = self._dist(obs)
        if self.tanh:
            y = self.to_unit(actions).clamp(-1 + 1e-5, 1 - 1e-5)
            u = torch.atanh(y)
            jacobian = torch.log(self.action_scale * (1 - y * y) + 1e-6)
        else:
            u, jacobian = self.to_unit(actions), torch.log(self.action_scale)
        normal = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        return (normal - jacobian).sum(-1)

    def loss(self, obs: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        obs, actions, weights = as_targets(obs, actions, weights)
        return weighted_mean(-self.log_prob(obs, actions), weights)


class FixedStdGaussianPolicy(TanhGaussianPolicy):
    """FQL's and OGBench's IQL actor: a plain Gaussian, constant std 1, no tanh (actions clipped to the
    bounds), Xavier-initialized, the mean layer's variance scaled by 0.01."""

    def __init__(self, obs_dim: int, action_dim: int, action_low, action_high, hidden=(256, 256),
                 layer_norm: bool = False, activation: str = "gelu", init: str = "xavier",
                 final_init_scale: float = 0.01):
        super().__init__(obs_dim, action_dim, action_low, action_high, hidden, layer_norm=layer_norm,
                         activation=activation, tanh=False, learned_std=False, init=init,
                         final_init_scale=final_init_scale)
