"""Implicit Q-Learning (Kostrikov et al., 2022): expectile value, SARSA-style Q, advantage-weighted
policy extraction. One update computes the three losses from the current networks and takes one
Adam step on their sum (as FQL's and OGBench's IQL do); no gradient crosses between them:

    L_V  = E[ |tau - 1(Q_t(s,a) - V(s) < 0)| (Q_t(s,a) - V(s))^2 ]          Q_t: min over target heads
    L_Q  = E[ (r + gamma * mask * V(s') - Q_i(s,a))^2 ]                      for every head i
    L_pi = -E[ min(exp(beta * (Q(s,a) - V(s))), 100) * log pi(a|s) ]          (the policy's own loss)
    Q_t <- polyak(Q_t, Q, tau_target)

Defaults follow FQL's IQL (agents/iql.py of seohongpark/fql, the OGBench reference): 4 x 512 MLPs with
LayerNorm after each activation and Xavier initialization, a Gaussian actor with constant std 1 and no tanh,
the advantage from the online critic's minimum (Q above), and beta per domain (docs/defaults.md).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch

from anypolicy.agents.base import Agent
from anypolicy.config import ConfigError
from anypolicy.critics.losses import expectile_loss
from anypolicy.critics.q import QEnsemble, ValueNet, polyak_update
from anypolicy.improve import cfpi
from anypolicy.improve.registry import STANDALONE, Settings, check_operator, improve_actions
from anypolicy.policies import policy_from_config


@dataclass
class IQLConfig:
    policy: str = "gaussian-fixed"  # trained by advantage-weighted regression (any class: its own loss)
    policy_options: str = ""  # class-specific options, e.g. "steps=10,sampler=ddim" (diffusion), "kl_weight=0.5" (vae)
    hidden: tuple[int, ...] = (512, 512, 512, 512)  # widths of every MLP (Q heads, V, policy)
    critic_hidden: tuple[int, ...] | None = None  # Q/V widths when different from `hidden`
    ensemble: int = 2  # Q heads; the target is their minimum
    lr: float = 3e-4  # Adam learning rate of all three networks
    discount: float = 0.99  # gamma
    expectile: float = 0.9  # tau of the expectile value loss
    beta: float = 10.0  # inverse temperature of the advantage weights (per OGBench domain: DOMAIN_DEFAULTS)
    max_weight: float = 100.0  # clip of exp(beta * advantage)
    target_tau: float = 0.005  # Polyak rate of the target Q
    critic_layer_norm: bool = True  # LayerNorm in Q and V
    norm_after_activation: bool = True  # Linear -> activation -> LayerNorm in Q and V
    init: str = "xavier"  # Q and V weights Xavier-uniform, biases zero (torch: nn.Linear's default)
    advantage_critic: str = "online"  # Q of the advantage: online (its minimum, no gradient) or target
    action_refeed: bool = False  # the action enters every layer of the Q heads (PA-RL's critic for images)
    activation: str = "gelu"  # hidden activation of every MLP: gelu, relu, silu, tanh
    act_improve: str = "none"  # act by an improvement operator (improve/registry.py), e.g. sg: CFPI's I_SG step on the Gaussian policy against Q (thesis Table 3.3)
    act_log_tau: float = 0.5  # trust region of sg, in the Gaussian's pre-tanh space
    act_lcb_beta: float = 0.7071  # Q for that step: mean - beta * std over the heads
    # OGBench domains: FQL's per-task AWR temperature (its README and appendix; cube-single 1 is also the
    # reference run of ../shared/BENCHMARKS.md)
    DOMAIN_DEFAULTS: ClassVar[dict] = {"cube-single": {"beta": "1"}, "cube-double": {"beta": "0.3"},
                                       "scene": {"beta": "10"}, "puzzle-3x3": {"beta": "10"},
                                       "puzzle-4x4": {"beta": "10"}}


class IQL(Agent):
    Config = IQLConfig
    seed_batchable = True
    fuses_steps = True

    def __init__(self, cfg: IQLConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        critic_hidden = cfg.critic_hidden or cfg.hidden
        self.q = QEnsemble(obs_dim, action_dim, critic_hidden, cfg.ensemble, cfg.critic_layer_norm, cfg.activation,
                           action_refeed=cfg.action_refeed, norm_after_activation=cfg.norm_after_activation,
                           init=cfg.init)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.v = ValueNet(obs_dim, critic_hidden, cfg.critic_layer_norm, cfg.activation, cfg.norm_after_activation,
                          cfg.init)
        self.policy = policy_from_config(cfg, obs_dim, action_dim, action_low, action_high)
        if cfg.advantage_critic not in ("online", "target"):
            raise ConfigError(f"advantage_critic must be online or target, got '{cfg.advantage_critic}'.")
        check_operator(cfg.act_improve, self.policy, STANDALONE, "act_improve")
        # one optimizer over the three networks: their losses share no gradients (see `losses`)
        self.opt = self.make_optimizer(torch.nn.ModuleList([self.q, self.v, self.policy]), cfg.lr)

    def losses(self, batch):
        cfg = self.cfg
        obs, next_obs = self.normalize(batch["observations"]), self.normalize(batch["next_observations"])
        actions = batch["actions"]
        with torch.no_grad():
            q_target = self.q_target(obs, actions).min(0).values
            v_next = self.v(next_obs)
        v = self.v(obs)

        v_loss = expectile_loss(q_target - v, cfg.expectile)

        td_target = batch["rewards"] + cfg.discount * batch["masks"] * v_next
        q = self.q(obs, actions)
        q_loss = (q - td_target).pow(2).mean(1).sum()

        q_adv = q.detach().min(0).values if cfg.advantage_critic == "online" else q_target
        advantage = q_adv - v.detach()
        policy_loss = self.extraction_loss(obs, batch, advantage)

        metrics = {"v_loss": v_loss, "q_loss": q_loss, "policy_loss": policy_loss, "v_mean": v.mean(),
                   "q_mean": q.mean(), "adv_mean": advantage.mean()}
        return v_loss + q_loss + policy_loss, metrics

    def extraction_loss(self, obs, batch, advantage):
        """Advantage-weighted regression with the policy's own loss."""
        weights = torch.exp(self.cfg.beta * advantage).clamp(max=self.cfg.max_weight)
        return self.policy.loss(self.policy_input(obs), batch["actions"], weights)

    def act(self, obs, deterministic: bool = True):
        """With act_improve (e.g. sg: CFPI's single-Gaussian step of the pre-tanh Gaussian along Sigma grad Q, to
        the boundary of its tau trust region), the improved action against Q's lower confidence bound."""
        cfg = self.cfg
        if cfg.act_improve == "none":
            return super().act(obs, deterministic)
        obs_t = self.normalize(self.observation_tensor(obs))
        q_fn = lambda o, a: cfpi.lower_confidence(self.q(o, a), cfg.act_lcb_beta)  # noqa: E731
        return improve_actions(cfg.act_improve, obs_t, self.policy, q_fn, self.action_low, self.action_high,
                               Settings(log_tau=cfg.act_log_tau, policy_obs=self.policy_input(obs_t))).cpu().numpy()

    def moving_averages(self):
        return [("q_target", "q", self.cfg.target_tau)] + super().moving_averages()

    def update(self, batch):
        metrics = self.step_on(self.opt, self.losses, batch)
        self.after_policy_step()
        polyak_update(self.q_target, self.q, self.cfg.target_tau)
        return {k: v.detach() for k, v in metrics.items()}
