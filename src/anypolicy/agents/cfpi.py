"""Closed-form policy improvement (CFPI; Li et al., thesis chapter 3) as offline algorithms:

    cfpi-onestep    (Algorithm 1, T = 0): behavior cloning of pi_b and a SARSA critic,
                     y = r + gamma * mask * min_i Q_t,i(s', a'_data); at action time a = I(pi_b, Q)(s)
    cfpi-iterative  (Algorithm 2): the TD target's next action is the improved one, smoothed as TD3:
                     a' = clip(I(pi_b, Q)(s') + clip(N(0, sigma^2), -c, c))

No policy is trained against Q. The operator (`operator`) decides what acting means:
    mg (I_MG), lse, jensen, sg (I_SG; moment-matched if the mixture has several components),
    det (Algorithm 3: EBCQ over `samples` draws, then I_DET; any policy class, e.g. a VAE),
    ebcq (argmax of Q over `samples` draws), mg-ms (best component mean), none (the BC policy's own action).
The Gaussian operators need a policy with `gaussian_mixture(obs)` (policy=mixture; components=1 is SG-BC).
Q for the operators is mean - lcb_beta * std over the heads (with 2 heads and 1/sqrt(2): their minimum).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from anypolicy.agents.base import Agent, step
from anypolicy.critics.q import QEnsemble, polyak_update
from anypolicy.improve import cfpi
from anypolicy.improve.registry import STANDALONE, Settings, check_operator, improve_actions
from anypolicy.policies import policy_from_config


@dataclass
class CFPIConfig:
    NORMALIZE_OBSERVATIONS: ClassVar[bool] = True  # states standardized by the dataset's statistics (paper)
    policy: str = "mixture"  # behavior policy; the Gaussian operators need `gaussian_mixture` (mixture)
    policy_options: str = "components=4"  # the thesis' MG-BC on Gym-MuJoCo (components=1: SG-BC)
    hidden: tuple[int, ...] | None = (256, 256, 256)  # policy widths (the thesis: 3 x 256)
    critic_hidden: tuple[int, ...] = (256, 256, 256)
    activation: str = "relu"
    ensemble: int = 2
    critic_layer_norm: bool = True
    bins: int = 0  # >0: distributional Q heads (HL-Gauss) over [v_min, v_max]
    v_min: float = -100.0
    v_max: float = 0.0
    critic_lr: float = 3e-4
    policy_lr: float = 1e-4
    discount: float = 0.99
    target_tau: float = 0.005
    operator: str = "mg"  # improvement at action time (and in the TD target when iterative): improve/registry.py
    log_tau: float = 0.5  # trust region of the Gaussian operators: pi_b(a) >= pi_b(mean) / tau
    delta: float = 0.1  # I_DET step: a move of length sqrt(2 delta) in action units
    samples: int = 10  # draws for ebcq / det
    threshold: float = 0.05  # mixture components lighter than this are left out
    lcb_beta: float = 0.7071  # Q for the operators: mean - beta * std over heads
    iterative: bool = False  # Algorithm 2: the improved action at s' in the TD target
    target_noise: float = 0.2  # TD3 smoothing of that action, as a fraction of the half-range
    noise_clip: float = 0.5
    needs_next_actions: bool = True  # SARSA needs the dataset's next actions

    def __post_init__(self):
        check_operator(self.operator, allowed=STANDALONE)


@dataclass
class IterativeCFPIConfig(CFPIConfig):
    iterative: bool = True
    needs_next_actions: bool = False


class CFPI(Agent):
    Config = CFPIConfig
    separate_encoders = False  # its operators take the policy and the critic at one input

    def __init__(self, cfg: CFPIConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        self.q = QEnsemble.from_config(cfg, obs_dim, action_dim)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.policy = policy_from_config(cfg, obs_dim, action_dim, self.action_low, self.action_high)
        check_operator(cfg.operator, self.policy, STANDALONE)
        self.critic_opt = self.make_optimizer(self.q, cfg.critic_lr)
        self.policy_opt = self.make_optimizer(self.policy, cfg.policy_lr)

    def pessimistic_q(self, obs, actions):
        return cfpi.lower_confidence(self.q(obs, actions), self.cfg.lcb_beta)

    def improved(self, obs: torch.Tensor) -> torch.Tensor:
        """I(pi_b, Q)(s) for normalized observations [B, S] -> actions [B, A] inside the action box."""
        cfg = self.cfg
        return improve_actions(cfg.operator, obs, self.policy, self.pessimistic_q, self.action_low, self.action_high,
                               Settings(cfg.samples, cfg.delta, cfg.log_tau, cfg.threshold))

    def update(self, batch):
        cfg = self.cfg
        obs, next_obs = self.normalize(batch["observations"]), self.normalize(batch["next_observations"])
        policy_loss = self.policy.loss(self.policy_input(obs), batch["actions"])
        step(self.policy_opt, policy_loss)
        self.after_policy_step()
        if cfg.iterative:
            next_action = self.smoothed(self.improved(next_obs), cfg.target_noise, cfg.noise_clip)
        elif "next_actions" in batch:
            next_action = batch["next_actions"]
        else:
            raise ValueError("cfpi-onestep's SARSA critic needs the data's next actions, which online transitions "
                             "lack; fine-tune online with --recipe cfpi-iterative.")
        with torch.no_grad():
            target = batch["rewards"] + cfg.discount * batch["masks"] * self.q_target(next_obs, next_action).min(0).values
        critic_loss, q = self.q.td_loss(obs, batch["actions"], target)
        step(self.critic_opt, critic_loss)
        polyak_update(self.q_target, self.q, cfg.target_tau)
        return {"critic_loss": critic_loss.detach(), "q_mean": q.detach().mean(), "policy_loss": policy_loss.detach()}

    def act(self, obs: np.ndarray | torch.Tensor, deterministic: bool = True) -> np.ndarray:
        obs_t = self.normalize(self.observation_tensor(obs))
        return self.improved(obs_t).detach().cpu().numpy()


class IterativeCFPI(CFPI):
    Config = IterativeCFPIConfig

