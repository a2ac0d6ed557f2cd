"""Flow Q-learning (Park, Li & Levine, 2025): a flow-matching BC policy, and a one-step policy mu(s, z) that
maximizes Q while staying close to the flow policy's action for the same noise z. One update takes one Adam
step on the sum of three losses (as the reference, agents/fql.py of seohongpark/fql), which share no weights:

    a' = clip(mu(s', z')),  z' ~ N(0, I)
    L_Q    = mean_i (Q_i(s, a) - r - gamma * mask * agg_i Q_t,i(s', a'))^2          agg: mean (or min) of heads
    L_flow = E_{t ~ U[0,1], x_0 ~ N(0, I)} |v(s, (1 - t) x_0 + t a, t) - (a - x_0)|^2          (per action dim)
    L_mu   = alpha * E_z |mu(s, z) - flow(s, z)|^2 - E_z mean_i Q_i(s, clip(mu(s, z)))   flow(s, z): Euler, no grad;
                                                                                     Q's weights held fixed
    Q_t <- polyak(Q_t, Q, tau)

Actions live in the unit box [-1, 1]^A (OGBench's own); the agent acts with mu and fresh noise, also at
evaluation, as the reference. Online fine-tuning uses the same objective.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch

from anypolicy.agents.base import Agent
from anypolicy.config import ConfigError
from anypolicy.critics.q import QEnsemble, polyak_update
from anypolicy.nets.mlp import mlp
from anypolicy.policies.bounded import BoundedPolicy


class OneStepFlowPolicy(BoundedPolicy):
    """FQL's two actors: the velocity field v(s, x, t) of a flow BC policy and the one-step policy mu(s, z),
    plain MLPs (the reference's ActorVectorField, time fed as a raw scalar in [0, 1))."""

    def __init__(self, obs_dim, action_dim, action_low, action_high, hidden=(512, 512, 512, 512),
                 activation: str = "gelu", init: str = "xavier", flow_steps: int = 10):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        self.flow_steps = flow_steps
        self.velocity = mlp(obs_dim + action_dim + 1, hidden, action_dim, activation=activation, init=init)
        self.onestep = mlp(obs_dim + action_dim, hidden, action_dim, activation=activation, init=init)

    def flow_loss(self, obs, unit_actions):
        x0 = torch.randn_like(unit_actions)
        t = torch.rand(len(unit_actions), 1, device=obs.device)
        xt = (1 - t) * x0 + t * unit_actions
        return (self.velocity(torch.cat([obs, xt, t], -1)) - (unit_actions - x0)).pow(2).mean()

    def flow_actions(self, obs, noise):
        """The flow policy's action for noise x_0 by `flow_steps` Euler steps, clipped to the unit box."""
        x = noise
        for k in range(self.flow_steps):
            t = torch.full((len(x), 1), k / self.flow_steps, device=x.device, dtype=x.dtype)
            x = x + self.velocity(torch.cat([obs, x, t], -1)) / self.flow_steps
        return x.clamp(-1.0, 1.0)

    def onestep_actions(self, obs, noise):
        """mu(s, z) in unit-box coordinates, before the clip."""
        return self.onestep(torch.cat([obs, noise], -1))

    def sample(self, obs, n):
        obs_n = obs.repeat_interleave(n, 0)
        noise = torch.randn(len(obs_n), self.action_dim, device=obs.device, dtype=obs.dtype)
        return self.from_unit(self.onestep_actions(obs_n, noise)).reshape(len(obs), n, -1)

    def loss(self, obs, actions, weights=None):
        """The flow BC loss (weights ignored: FQL's policies are not advantage-weighted)."""
        return self.flow_loss(obs, self.to_unit(actions))


@dataclass
class FQLConfig:
    hidden: tuple[int, ...] = (512, 512, 512, 512)  # widths of both actors
    critic_hidden: tuple[int, ...] | None = None  # Q widths when different from `hidden`
    ensemble: int = 2  # Q heads
    q_agg: str = "mean"  # how the target (and the actor's Q) combines the heads: mean or min
    lr: float = 3e-4  # one Adam over the critic and both actors
    discount: float = 0.99
    target_tau: float = 0.005
    alpha: float = 10.0  # distillation weight (per OGBench domain: DOMAIN_DEFAULTS)
    flow_steps: int = 10  # Euler steps of the flow policy
    normalize_q_loss: bool = False  # divide the actor's Q term by mean |Q| (no gradient)
    critic_layer_norm: bool = True
    norm_after_activation: bool = True  # Linear -> activation -> LayerNorm in the Q heads
    init: str = "xavier"
    activation: str = "gelu"
    ONLINE_SAMPLING: ClassVar[str] = "uniform"  # fine-tuning samples one buffer holding offline and online data
    # FQL's per-domain alpha (its README and appendix): cube and scene 300, puzzle 1000
    DOMAIN_DEFAULTS: ClassVar[dict] = {"cube-single": {"alpha": "300"}, "cube-double": {"alpha": "300"},
                                       "scene": {"alpha": "300"}, "puzzle-3x3": {"alpha": "1000"},
                                       "puzzle-4x4": {"alpha": "1000"}}

    def check(self):
        if self.q_agg not in ("mean", "min") or self.flow_steps < 1:
            raise ConfigError(f"q_agg must be mean or min and flow_steps >= 1, got '{self.q_agg}', {self.flow_steps}.")


class FQL(Agent):
    Config = FQLConfig
    seed_batchable = True
    fuses_steps = True
    takes_images = False

    def __init__(self, cfg: FQLConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        cfg.check()
        self.q = QEnsemble.from_config(cfg, obs_dim, action_dim)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.policy = OneStepFlowPolicy(obs_dim, action_dim, action_low, action_high, cfg.hidden, cfg.activation,
                                        cfg.init, cfg.flow_steps)
        self.opt = self.make_optimizer(torch.nn.ModuleList([self.q, self.policy]), cfg.lr)

    def aggregate(self, q):
        return q.mean(0) if self.cfg.q_agg == "mean" else q.min(0).values

    def losses(self, batch):
        cfg, policy = self.cfg, self.policy
        obs, next_obs = self.normalize(batch["observations"]), self.normalize(batch["next_observations"])
        with torch.no_grad():
            next_actions = policy.sample(next_obs, 1)[:, 0]
            target = batch["rewards"] + cfg.discount * batch["masks"] * self.aggregate(self.q_target(next_obs, next_actions))
        q = self.q(obs, batch["actions"])
        critic_loss = (q - target).pow(2).mean()

        flow_loss = policy.flow_loss(obs, policy.to_unit(batch["actions"]))
        noise = torch.randn_like(batch["actions"])
        with torch.no_grad():
            flow_target = policy.flow_actions(obs, noise)
        mu = policy.onestep_actions(obs, noise)
        distill_loss = (mu - flow_target).pow(2).mean()
        q_pi = self.q.frozen(obs, policy.from_unit(mu)).mean(0)  # from_unit clips to the box
        q_loss = -q_pi.mean()
        if cfg.normalize_q_loss:
            q_loss = q_loss / q_pi.abs().mean().detach()
        actor_loss = flow_loss + cfg.alpha * distill_loss + q_loss

        metrics = {"critic_loss": critic_loss, "flow_loss": flow_loss, "distill_loss": distill_loss,
                   "q_loss": q_loss, "q_mean": q.mean()}
        return critic_loss + actor_loss, metrics

    def moving_averages(self):
        return [("q_target", "q", self.cfg.target_tau)]

    def update(self, batch):
        metrics = self.step_on(self.opt, self.losses, batch)
        polyak_update(self.q_target, self.q, self.cfg.target_tau)
        return {k: v.detach() for k, v in metrics.items()}
