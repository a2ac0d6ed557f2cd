"""CQL (Kumar et al., 2020) and Cal-QL (Nakamoto et al., 2023) with a tanh-Gaussian policy trained by the
reparameterized gradient (SAC-style), the baselines PA-RL is compared with:

    a' ~ pi(s'),  y = r + gamma * mask * min_{2 random heads} Q_t(s', a')
    L_Q  = sum_i (Q_i(s,a) - y)^2 + alpha * [ logsumexp over uniform and pi actions of Q_i(s, .)  - Q_i(s,a) ]
           Cal-QL: the pi actions' Q-values clipped from below by the Monte-Carlo return of (s, a)
    L_pi = E[ ent * log pi(a~|s) - min_i Q_i(s, a~) ],   a~ ~ pi(s) reparameterized
    L_ent = -log ent * (log pi(a~|s) + target_entropy),  target_entropy = -A
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from anypolicy.agents.base import Agent
from anypolicy.config import ConfigError
from anypolicy.critics.losses import conservative_td_loss
from anypolicy.critics.q import QEnsemble, polyak_update
from anypolicy.policies import policy_from_config


@dataclass
class CalQLConfig:
    policy: str = "gaussian"  # needs `sample_with_log_prob` (the tanh-Gaussian); other classes: use parl-calql
    policy_options: str = ""  # class-specific policy options
    hidden: tuple[int, ...] | None = (256, 256)  # policy widths
    critic_hidden: tuple[int, ...] = (256, 256)  # Q widths
    activation: str = "gelu"  # hidden activation of every MLP
    ensemble: int = 2  # Q heads
    target_heads: int = 2  # heads whose minimum forms the TD target (a random subset when < ensemble)
    critic_layer_norm: bool = True  # LayerNorm in the Q heads
    bins: int = 0  # >0: distributional Q heads trained with HL-Gauss over [v_min, v_max]
    v_min: float = -100.0  # value range of a distributional head
    v_max: float = 0.0
    action_refeed: bool = False  # the action enters every layer of the Q heads (PA-RL's critic for images)
    critic_lr: float = 3e-4  # Adam learning rate of Q
    policy_lr: float = 1e-4  # Adam learning rate of the policy
    discount: float = 0.99  # gamma
    target_tau: float = 0.005  # Polyak rate of the target Q
    cql_alpha: float = 5.0  # weight of the conservative regularizer
    cql_heads: int | None = None  # heads the regularizer acts on (the first N; None: all)
    cql_actions: int = 10  # uniform and policy actions per state in the regularizer
    cql_states: int = 0  # states of each batch the regularizer is estimated on (0: all; the CPU protocol's lever)
    cql_temperature: float = 1.0  # temperature of its logsumexp
    actor_q: str = "min"  # the actor maximizes the minimum over heads (Cal-QL's and CQL's code) or the mean
    calibrated: bool = True  # Cal-QL: clip the policy actions' Q from below by Monte-Carlo returns
    needs_mc_returns: bool = True  # batches carry Monte-Carlo returns (ignored when not calibrated)


@dataclass
class CQLConfig(CalQLConfig):
    calibrated: bool = False  # plain CQL
    needs_mc_returns: bool = False


def build_critic_and_policy(agent: Agent, cfg) -> None:
    """Q ensemble, its target copy, the policy and their two optimizers (Cal-QL and PA-RL on top of it)."""
    agent.q = QEnsemble.from_config(cfg, agent.obs_dim, agent.action_dim)
    agent.q_target = copy.deepcopy(agent.q).requires_grad_(False)
    agent.policy = policy_from_config(cfg, agent.obs_dim, agent.action_dim, agent.action_low, agent.action_high)
    agent.critic_opt = agent.make_optimizer(agent.q, cfg.critic_lr)
    agent.policy_opt = agent.make_optimizer(agent.policy, cfg.policy_lr)


class CalQL(Agent):
    Config = CalQLConfig
    fuses_steps = True

    def __init__(self, cfg: CalQLConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        build_critic_and_policy(self, cfg)
        if cfg.actor_q not in ("min", "mean"):
            raise ConfigError(f"actor_q must be min or mean, got '{cfg.actor_q}'.")
        if not hasattr(self.policy, "sample_with_log_prob"):
            raise ConfigError(f"recipe {type(self).__name__.lower()} trains its policy by the reparameterized gradient "
                              f"and needs `sample_with_log_prob` (policy=gaussian); for '{cfg.policy}' use parl-calql.")
        self.log_ent = torch.nn.Parameter(torch.zeros(()))
        self.target_entropy = -float(action_dim)
        self.ent_opt = torch.optim.Adam([self.log_ent], lr=cfg.policy_lr, fused=True)

    def critic_loss(self, obs, next_obs, batch):
        cfg = self.cfg
        with torch.no_grad():
            next_action = self.policy.sample_with_log_prob(self.policy_input(next_obs), 1)[0][:, 0]
            target_q = self.q_target.subset_min(self.q_target(next_obs, next_action), cfg.target_heads)
            target = batch["rewards"] + cfg.discount * batch["masks"] * target_q
            n = cfg.cql_states or len(obs)  # the regularizer's states: the policy's actions for those only
            a_cur, logp_cur = self.policy.sample_with_log_prob(self.policy_input(self.first_states(obs, n)),
                                                               cfg.cql_actions)
            a_next, logp_next = self.policy.sample_with_log_prob(self.policy_input(self.first_states(next_obs, n)),
                                                                 cfg.cql_actions)
        return conservative_td_loss(
            self.q, obs, batch["actions"], target, torch.cat([a_cur, a_next], 1), self.action_low, self.action_high,
            cfg.cql_alpha, cfg.cql_actions, torch.cat([logp_cur, logp_next], 1),
            batch["mc_returns"] if cfg.calibrated else None, cfg.cql_temperature, cfg.cql_heads, cfg.cql_states)

    def actor_loss(self, obs):
        actions, log_prob = self.policy.sample_with_log_prob(self.policy_input(obs), 1)
        ent = self.log_ent.exp().detach()
        q = self.q(obs.detach(), actions)[..., 0]
        q = q.min(0).values if self.cfg.actor_q == "min" else q.mean(0)
        policy_loss = (ent * log_prob[:, 0] - q).mean()
        return policy_loss, {"policy_loss": policy_loss.detach(), "log_prob": log_prob.detach()}

    def update(self, batch):
        obs, next_obs = self.normalize(batch["observations"]), self.normalize(batch["next_observations"])
        metrics = self.step_on(self.critic_opt, self.critic_loss, obs, next_obs, batch)
        actor = self.step_on(self.policy_opt, self.actor_loss, obs)
        log_prob = actor["log_prob"]
        # L_ent's gradient in closed form: d/d log ent of -log ent * mean(log pi + target entropy)
        self.log_ent.grad = -(log_prob.mean() + self.target_entropy).to(self.log_ent.dtype)
        self.ent_opt.step()
        polyak_update(self.q_target, self.q, self.cfg.target_tau)
        return {**{k: v.detach() for k, v in metrics.items()}, "policy_loss": actor["policy_loss"],
                "entropy_weight": self.log_ent.exp().detach(), "log_prob": log_prob.mean()}


class CQL(CalQL):
    Config = CQLConfig
