"""Q ensembles and value networks; the state path is shared across the actions evaluated per state."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from anypolicy.critics.losses import hl_gauss_probs
from anypolicy.nets.mlp import EnsembleMLP


class QEnsemble(nn.Module):
    """E Q-functions in one module (stacked weights): q(obs [B,S], actions [B,A] or [B,n,A]) -> [E,B] or
    [E,B,n]. With `bins > 0` each head is distributional: logits over `bins` values evenly spread on
    [v_min, v_max], trained with the HL-Gauss loss; the Q-value is the expectation."""

    def __init__(self, obs_dim: int, action_dim: int, hidden=(256, 256), ensemble: int = 2, layer_norm: bool = True,
                 activation: str = "gelu", bins: int = 0, v_min: float = -100.0, v_max: float = 0.0,
                 action_refeed: bool = False, norm_after_activation: bool = False, init: str = "torch"):
        super().__init__()
        self.ensemble, self.bins, self.v_min, self.v_max = ensemble, bins, v_min, v_max
        self.net = EnsembleMLP(ensemble, (obs_dim, action_dim), hidden, bins or 1, layer_norm=layer_norm,
                               activation=activation, refeed=action_refeed,
                               norm_after_activation=norm_after_activation, init=init)
        if bins:
            self.register_buffer("support", torch.linspace(v_min, v_max, 2 * bins + 1)[1::2])  # bin centres

    @classmethod
    def from_config(cls, cfg, obs_dim: int, action_dim: int) -> "QEnsemble":
        """From a recipe config's critic fields (critic_hidden, else hidden; ensemble, critic_layer_norm,
        activation; where present bins, v_min, v_max, action_refeed, norm_after_activation, init)."""
        return cls(obs_dim, action_dim, cfg.critic_hidden or cfg.hidden, cfg.ensemble, cfg.critic_layer_norm,
                   cfg.activation, getattr(cfg, "bins", 0), getattr(cfg, "v_min", -100.0), getattr(cfg, "v_max", 0.0),
                   getattr(cfg, "action_refeed", False), getattr(cfg, "norm_after_activation", False),
                   getattr(cfg, "init", "torch"))

    def forward(self, obs: torch.Tensor, actions: torch.Tensor, heads: int | None = None) -> torch.Tensor:
        """Q-values [E, B] or [E, B, n]; with `heads`, of the first `heads` heads only (TD3's actor uses one)."""
        out = self.net(obs, actions, members=heads)
        return out.squeeze(-1) if not self.bins else out.softmax(-1) @ self.support

    def frozen(self, obs: torch.Tensor, actions: torch.Tensor, heads: int | None = None) -> torch.Tensor:
        """`forward` with the weights held fixed: gradients reach the actions, never the critic (an actor's loss
        summed with the critic's under one optimizer, as FQL's and ReBRAC's single Adam step)."""
        weights = {k: v.detach() for k, v in self.named_parameters()}
        return torch.func.functional_call(self, weights, (obs, actions), {"heads": heads})

    def td_loss(self, obs: torch.Tensor, actions: torch.Tensor, target: torch.Tensor):
        """Regression of every head on `target` [B]: squared error, or HL-Gauss cross-entropy for a
        distributional head. Returns (loss summed over heads, Q-values [E,B])."""
        out = self.net(obs, actions)
        if not self.bins:
            q = out.squeeze(-1)
            return (q - target).pow(2).mean(-1).sum(), q
        probs = hl_gauss_probs(target, self.v_min, self.v_max, self.bins)
        log_p = F.log_softmax(out, -1)
        return -(probs * log_p).sum(-1).mean(-1).sum(), log_p.exp() @ self.support

    def subset_min(self, values: torch.Tensor, size: int) -> torch.Tensor:
        """Minimum over `size` randomly chosen heads of values [E, ...] (REDQ / RLPD target; size >= E: all)."""
        if size >= self.ensemble:
            return values.min(0).values
        heads = torch.rand(self.ensemble, device=values.device).argsort()[:size]
        return values[heads].min(0).values


class ValueNet(nn.Module):
    """V(obs [B,S]) -> [B]."""

    def __init__(self, obs_dim: int, hidden=(256, 256), layer_norm: bool = True, activation: str = "gelu",
                 norm_after_activation: bool = False, init: str = "torch"):
        super().__init__()
        self.net = EnsembleMLP(1, (obs_dim,), hidden, 1, layer_norm=layer_norm, activation=activation,
                               norm_after_activation=norm_after_activation, init=init)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)[0, ..., 0]


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)
