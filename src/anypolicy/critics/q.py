"""Q ensembles and value networks; the state path is shared across the actions evaluated per state."""
from __future__ import annotations

import torch
from torch import nn

from anypolicy.nets.mlp import EnsembleMLP


class QEnsemble(nn.Module):
    """E Q-functions in one module: q(obs [B,S], actions [B,A] or [B,n,A]) -> [E,B] or [E,B,n]."""

    def __init__(self, obs_dim: int, action_dim: int, hidden=(256, 256), ensemble: int = 2, layer_norm: bool = True,
                 activation: str = "gelu"):
        super().__init__()
        self.net = EnsembleMLP(ensemble, (obs_dim, action_dim), hidden, 1, layer_norm=layer_norm, activation=activation)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.net(obs, actions).squeeze(-1)


class ValueNet(nn.Module):
    """V(obs [B,S]) -> [B]."""

    def __init__(self, obs_dim: int, hidden=(256, 256), layer_norm: bool = True, activation: str = "gelu"):
        super().__init__()
        self.net = EnsembleMLP(1, (obs_dim,), hidden, 1, layer_norm=layer_norm, activation=activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)[0, ..., 0]


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """Asymmetric squared loss |tau - 1(diff < 0)| * diff^2 (IQL's value objective), diff = target - value."""
    weight = torch.where(diff > 0, expectile, 1 - expectile)
    return (weight * diff.pow(2)).mean()


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)
