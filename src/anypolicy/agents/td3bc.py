"""TD3+BC (Fujimoto & Gu, 2021): TD3 with a behavior-cloning term in the actor's loss.

    a' = clip(pi_t(s') + clip(N(0, sigma^2), -c, c))              target policy smoothing (action units)
    L_Q  = sum_i (Q_i(s, a) - r - gamma * mask * min_i Q_t,i(s', a'))^2
    every `policy_delay` updates:
    L_pi = -lambda * Q_1(s, pi(s)) + mean (pi(s) - a)^2,   lambda = alpha / mean |Q_1(s, pi(s))|  (no gradient)
    Q_t, pi_t <- polyak(., tau)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch

from anypolicy.agents.base import Agent
from anypolicy.critics.q import QEnsemble, polyak_update
from anypolicy.policies import policy_from_config


@dataclass
class TD3BCConfig:
    NORMALIZE_OBSERVATIONS: ClassVar[bool] = True  # states standardized by the dataset's statistics (paper)
    policy: str = "deterministic"  # a class whose `sample` is differentiable in its parameters
    policy_options: str = ""  # class-specific policy options
    hidden: tuple[int, ...] | None = (256, 256)  # policy widths
    critic_hidden: tuple[int, ...] = (256, 256)  # Q widths
    activation: str = "relu"  # as the paper
    ensemble: int = 2  # twin critics
    critic_layer_norm: bool = False  # the paper has none
    bins: int = 0  # >0: distributional Q heads (HL-Gauss) over [v_min, v_max]
    v_min: float = -100.0
    v_max: float = 0.0
    critic_lr: float = 3e-4
    policy_lr: float = 3e-4
    discount: float = 0.99
    target_tau: float = 0.005
    alpha: float = 2.5  # weight of the Q term against behavior cloning
    policy_noise: float = 0.2  # target smoothing noise, as a fraction of the half-range of each action
    noise_clip: float = 0.5
    policy_delay: int = 2  # critic updates per actor update


class TD3BC(Agent):
    Config = TD3BCConfig
    capturable = False  # the actor updates every `policy_delay` steps
    fuses_steps = True

    def __init__(self, cfg: TD3BCConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        self.q = QEnsemble.from_config(cfg, obs_dim, action_dim)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.policy = policy_from_config(cfg, obs_dim, action_dim, self.action_low, self.action_high)
        self.policy_target = copy.deepcopy(self.policy).requires_grad_(False)
        self.critic_opt = self.make_optimizer(self.q, cfg.critic_lr)
        self.policy_opt = self.make_optimizer(self.policy, cfg.policy_lr)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))  # saved: resume keeps the phase
        self.policy_metrics = None  # the latest actor step's losses, logged at every update

    def critic_loss(self, batch):
        cfg = self.cfg
        obs, next_obs = self.normalize(batch["observations"]), self.normalize(batch["next_observations"])
        with torch.no_grad():
            next_action = self.policy_target.sample(self.policy_input(next_obs), 1)[:, 0]
            next_action = self.smoothed(next_action, cfg.policy_noise, cfg.noise_clip)
            target = batch["rewards"] + cfg.discount * batch["masks"] * self.q_target(next_obs, next_action).min(0).values
        critic_loss, q_data = self.q.td_loss(obs, batch["actions"], target)
        return critic_loss, {"critic_loss": critic_loss.detach(), "q_mean": q_data.detach().mean()}

    def actor_loss(self, batch):
        cfg = self.cfg
        obs = self.normalize(batch["observations"])
        pi = self.policy.sample(self.policy_input(obs), 1)[:, 0]
        q = self.q(obs.detach(), pi, heads=1)[0]  # TD3's actor follows the first head only: the others are not computed
        lam = cfg.alpha / q.abs().mean().detach()
        bc = (pi - batch["actions"]).pow(2).mean()
        policy_loss = -lam * q.mean() + bc
        return policy_loss, {"policy_loss": policy_loss.detach(), "bc_loss": bc.detach()}

    def critic_step(self, batch):
        metrics = self.step_on(self.critic_opt, self.critic_loss, batch)
        self.updates += 1  # saved with the weights; `count` mirrors it on the host, so no device sync per update
        return metrics

    def actor_step(self, batch):
        metrics = self.step_on(self.policy_opt, self.actor_loss, batch)  # gradients for the policy only
        polyak_update(self.q_target, self.q, self.cfg.target_tau)
        polyak_update(self.policy_target, self.policy, self.cfg.target_tau)
        return metrics

    def update(self, batch):
        if self.policy_metrics is None:  # first update of this process: read the (possibly resumed) count once
            self.count = int(self.updates)
            zero = torch.zeros((), device=self.updates.device)
            self.policy_metrics = {"policy_loss": zero, "bc_loss": zero}
        metrics = self.critic_step(batch)
        self.count += 1
        if self.count % self.cfg.policy_delay == 0:
            self.policy_metrics = self.actor_step(batch)
        return {**metrics, **self.policy_metrics}
