"""Behavior cloning: maximize the policy's likelihood (its own supervised loss) of dataset actions."""
from __future__ import annotations

from dataclasses import dataclass

from anypolicy.agents.base import Agent, step
from anypolicy.policies import policy_from_config


@dataclass
class BCConfig:
    policy: str = "gaussian"  # policy class: gaussian, deterministic, mixture, vae, diffusion, flow, autoregressive, or pkg.mod:Class
    policy_options: str = ""  # class-specific options, e.g. "steps=10,sampler=ddim" (diffusion), "kl_weight=0.5" (vae)
    hidden: tuple[int, ...] | None = None  # policy size: MLP widths, or width x depth of diffusion/flow/transformer (None: class default)
    lr: float = 3e-4  # Adam learning rate
    activation: str = "gelu"  # hidden activation: gelu, relu, silu, tanh


class BC(Agent):
    Config = BCConfig
    seed_batchable = True

    def __init__(self, cfg: BCConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        self.policy = policy_from_config(cfg, obs_dim, action_dim, action_low, action_high)
        self.policy_opt = self.make_optimizer(self.policy, cfg.lr)

    def losses(self, batch):
        loss = self.policy.loss(self.normalize(batch["observations"]), batch["actions"])
        return loss, {"policy_loss": loss}

    def update(self, batch):
        loss, metrics = self.losses(batch)
        step(self.policy_opt, loss)
        self.after_policy_step()
        return {k: v.detach() for k, v in metrics.items()}
