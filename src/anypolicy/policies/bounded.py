"""Shared by every policy class: mapping between the action bounds and the unit box [-1, 1]^A."""
from __future__ import annotations

import torch
from torch import nn


class BoundedPolicy(nn.Module):
    """Policies model actions in the unit box; these buffers map to and from the environment's bounds."""

    def __init__(self, obs_dim: int, action_dim: int, action_low, action_high):
        super().__init__()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        low = torch.as_tensor(action_low, dtype=torch.float32).reshape(action_dim)
        high = torch.as_tensor(action_high, dtype=torch.float32).reshape(action_dim)
        self.register_buffer("action_scale", (high - low) / 2)
        self.register_buffer("action_center", (high + low) / 2)

    def to_unit(self, actions: torch.Tensor) -> torch.Tensor:
        return ((actions - self.action_center) / self.action_scale).clamp(-1.0, 1.0)

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        return u.clamp(-1.0, 1.0) * self.action_scale + self.action_center

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """One action per state; sampling policies without a mode return a sample."""
        return self.sample(obs, 1)[:, 0]
