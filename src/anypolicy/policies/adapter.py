"""Use your own `nn.Module` as a policy.

Any module with `sample(obs [B,S], n) -> [B,n,A]` and `loss(obs, actions [B,A] or [B,n,A], weights=None)
-> scalar` already satisfies the Policy protocol; `ModulePolicy` adds what it may lack: `act`, clipping of
its samples to the action bounds, and the targets flattened to [B*n, A] if it only handles [B, A].
On the command line: `--set policy=my_package.my_module:MyPolicy`; the class is built as
`MyPolicy(obs_dim, action_dim, action_low, action_high)`. See examples/custom_policy.py.
"""
from __future__ import annotations

import importlib

import torch

from anypolicy.config import ConfigError
from anypolicy.policies.base import as_targets
from anypolicy.policies.bounded import BoundedPolicy


class ModulePolicy(BoundedPolicy):
    def __init__(self, module: torch.nn.Module, obs_dim, action_dim, action_low, action_high):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        missing = [m for m in ("sample", "loss") if not callable(getattr(module, m, None))]
        if missing:
            raise TypeError(f"{type(module).__name__} cannot be a policy: it lacks {', '.join(missing)} "
                            "(sample(obs, n) -> [B, n, A] and loss(obs, actions, weights=None) -> scalar).")
        self.module = module

    def sample(self, obs, n):
        low, high = self.action_center - self.action_scale, self.action_center + self.action_scale
        return torch.clamp(self.module.sample(obs, n), low, high)

    def loss(self, obs, actions, weights=None):
        obs, actions, weights = as_targets(obs, actions, weights)
        return self.module.loss(obs, actions, weights)

    def act(self, obs, deterministic=False):
        if hasattr(self.module, "act"):
            return self.module.act(obs, deterministic=deterministic)
        return self.sample(obs, 1)[:, 0]


def import_class(path: str):
    """'package.module:Class' -> the class."""
    if ":" not in path:
        raise ConfigError(f"'{path}' is not an import path: use package.module:Class.")
    module, name = path.split(":", 1)
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import policy class '{path}': {exc}") from None
