"""ReBRAC (Tarasov et al., 2023): TD3+BC with a behavior-cloning penalty in both the actor's and the critic's
objective, LayerNorm critics and deeper networks. As the OGBench reference (agents/rebrac.py of
seohongpark/fql), one Adam over the actor and the critic; every `actor_freq`-th update is a full one:

    a' = clip(pi_t(s') + clip(N(0, sigma^2), -c, c))                          target policy smoothing
    L_Q  = mean_i (Q_i(s, a) - r - gamma * mask * (min_i Q_t,i(s', a') - alpha_critic |a' - a'_data|^2))^2
    full updates also:
    L_pi = -mean(min_i Q_i(s, pi(s))) / mean |min_i Q_i(s, pi(s))|  +  alpha_actor * mean |pi(s) - a|^2
           (Q's weights held fixed, the normalizer without gradient)
    Q_t, pi_t <- polyak(., tau)                                                after full updates only

pi(s) is the mode of a tanh-squashed Gaussian with constant std (the reference's actor), acting included.
On critic-only updates the actor's weights still take Adam's momentum step (one optimizer, zero gradient).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch

from anypolicy.agents.base import Agent
from anypolicy.config import ConfigError
from anypolicy.critics.q import QEnsemble, polyak_update
from anypolicy.policies import policy_from_config


@dataclass
class ReBRACConfig:
    policy: str = "gaussian"  # a class whose `act(obs, deterministic=True)` is differentiable in its parameters
    policy_options: str = "learned_std=false,init=xavier,final_init_scale=0.01"  # the reference's actor
    hidden: tuple[int, ...] = (512, 512, 512, 512)  # actor widths
    critic_hidden: tuple[int, ...] | None = None  # Q widths when different from `hidden`
    ensemble: int = 2
    critic_layer_norm: bool = True
    norm_after_activation: bool = True  # Linear -> activation -> LayerNorm in the Q heads
    init: str = "xavier"
    activation: str = "gelu"
    lr: float = 3e-4  # one Adam over actor and critic
    discount: float = 0.99
    target_tau: float = 0.005
    alpha_actor: float = 0.0  # actor BC weight (per OGBench domain: DOMAIN_DEFAULTS)
    alpha_critic: float = 0.0  # critic BC weight on the target's next action
    actor_freq: int = 2  # updates per full (actor and target) update
    policy_noise: float = 0.2  # target smoothing noise, as a fraction of the half-range of each action
    noise_clip: float = 0.5
    needs_next_actions: bool = True  # the critic penalty compares a' with the data's next action
    # the FQL paper's ReBRAC values per domain (as its README's commands for the same domains' visual tasks)
    DOMAIN_DEFAULTS: ClassVar[dict] = {"cube-single": {"alpha_actor": "1", "alpha_critic": "0"},
                                       "cube-double": {"alpha_actor": "0.1", "alpha_critic": "0"},
                                       "scene": {"alpha_actor": "0.1", "alpha_critic": "0.01"},
                                       "puzzle-3x3": {"alpha_actor": "0.3", "alpha_critic": "0.01"},
                                       "puzzle-4x4": {"alpha_actor": "0.3", "alpha_critic": "0.01"}}

    def check(self):
        if self.actor_freq < 1:
            raise ConfigError(f"actor_freq must be >= 1, got {self.actor_freq}.")


class ReBRAC(Agent):
    Config = ReBRACConfig
    fuses_steps = True
    capturable = False  # full and critic-only updates alternate
    takes_images = False

    def __init__(self, cfg: ReBRACConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        cfg.check()
        self.q = QEnsemble.from_config(cfg, obs_dim, action_dim)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.policy = policy_from_config(cfg, obs_dim, action_dim, self.action_low, self.action_high)
        self.policy_target = copy.deepcopy(self.policy).requires_grad_(False)
        self.opt = self.make_optimizer(torch.nn.ModuleList([self.q, self.policy]), cfg.lr)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))  # saved: resume keeps the phase
        self.count, self.policy_metrics = None, None  # host-side copy of `updates`; the latest actor losses

    def critic_loss(self, batch):
        cfg = self.cfg
        obs, next_obs = self.normalize(batch["observations"]), self.normalize(batch["next_observations"])
        with torch.no_grad():
            next_action = self.smoothed(self.policy_target.act(next_obs, deterministic=True), cfg.policy_noise,
                                        cfg.noise_clip)
            penalty = cfg.alpha_critic * (next_action - batch["next_actions"]).pow(2).sum(-1)
            next_q = self.q_target(next_obs, next_action).min(0).values - penalty
            target = batch["rewards"] + cfg.discount * batch["masks"] * next_q
        q = self.q(obs, batch["actions"])
        critic_loss = (q - target).pow(2).mean()
        return critic_loss, {"critic_loss": critic_loss, "q_mean": q.mean()}

    def full_loss(self, batch):
        critic_loss, metrics = self.critic_loss(batch)
        obs = self.normalize(batch["observations"])
        pi = self.policy.act(obs, deterministic=True)
        q = self.q.frozen(obs, pi).min(0).values
        q_loss = -(q / q.abs().mean().detach()).mean()
        bc_loss = self.cfg.alpha_actor * (pi - batch["actions"]).pow(2).sum(-1).mean()
        return critic_loss + q_loss + bc_loss, {**metrics, "policy_loss": q_loss + bc_loss, "bc_loss": bc_loss}

    def update(self, batch):
        if self.count is None:  # first update of this process: read the (possibly resumed) count once
            self.count = int(self.updates)
            zero = torch.zeros((), device=self.updates.device)
            self.policy_metrics = {"policy_loss": zero, "bc_loss": zero}
        self.count += 1
        self.updates += 1
        if self.count % self.cfg.actor_freq:
            metrics = self.step_on(self.opt, self.critic_loss, batch)
            return {**{k: v.detach() for k, v in metrics.items()}, **self.policy_metrics}
        metrics = {k: v.detach() for k, v in self.step_on(self.opt, self.full_loss, batch).items()}
        polyak_update(self.q_target, self.q, self.cfg.target_tau)
        polyak_update(self.policy_target, self.policy, self.cfg.target_tau)
        self.policy_metrics = {"policy_loss": metrics["policy_loss"], "bc_loss": metrics["bc_loss"]}
        return metrics
