"""Improvement operators by name, one registry for training and acting: each turns the policy's proposals at
states `obs` into one action per state [B, A] inside the box, against a critic q(obs, actions [B, n, A]) -> [B, n].

    none        the policy's own deterministic action
    ebcq        the argmax of Q over `samples` draws (IDQL's and EBCQ's re-ranking; any class)
    det         EBCQ, then CFPI's I_DET step of length sqrt(2 delta) (Algorithm 3; any class)
    sg          CFPI's I_SG: one closed-form step of a Gaussian (the mixture's moment match, or a tanh-Gaussian's
                pre-tanh Gaussian) to the boundary of its log-tau trust region
    mg, lse, jensen, mg-ms   CFPI's mixture operators on `gaussian_mixture` (thesis 3.13, 3.10, 3.12, 3.15)
    candidates  PA-RL: k samples, the top m by Q, T local steps, the argmax (`optimization`, ActionOptimization)
    cem-policy, cem-random   CEM on the critic, from the policy's samples or from the whole box

Recipes pick one by name (CFPI's `operator`, IQL's `act_improve`, PA-RL's `act_search`); `check_operator`
refuses an unknown name or a policy without what the operator reads, before a run starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from anypolicy.config import ConfigError
from anypolicy.improve import cfpi
from anypolicy.improve.action_opt import ActionOptimization, QFn, select
from anypolicy.improve.cem import cem_search


@dataclass
class Settings:
    """What the operators read besides states, policy and critic (each its own defaults)."""
    samples: int = 10  # ebcq / det / cem-policy: policy draws
    delta: float = 0.1  # det: step length sqrt(2 delta)
    log_tau: float = 0.5  # sg and the mixture operators: trust region
    threshold: float = 0.05  # mixture components lighter than this are left out
    optimization: ActionOptimization | None = None  # candidates: PA-RL's global + local optimization
    cem_iterations: int = 5
    cem_population: int = 64
    policy_obs: torch.Tensor | None = None  # none / cem-policy: the policy's own input where it differs (images)


def _policy_obs(obs, s):
    return obs if s.policy_obs is None else s.policy_obs


@torch.no_grad()
def _none(obs, policy, q, low, high, s):
    return policy.act(_policy_obs(obs, s), deterministic=True)


def _sg(obs, policy, q, low, high, s):
    if hasattr(policy, "gaussian_mixture"):  # one Gaussian with the mixture's mean and covariance
        with torch.no_grad():
            weights, means, variances = policy.gaussian_mixture(obs)
        covs = torch.diag_embed(variances)
        mean = (weights.unsqueeze(-1) * means).sum(1)
        spread = (means - mean.unsqueeze(1)).unsqueeze(-1)
        cov = (weights[..., None, None] * (covs + spread @ spread.transpose(-1, -2))).sum(1)
        return cfpi.single_gaussian(obs, q, mean, cov, s.log_tau)
    with torch.no_grad():  # a tanh-Gaussian: the step in its pre-tanh space, then squashed
        mean, std = policy.pre_tanh(_policy_obs(obs, s))
    u = cfpi.single_gaussian(obs, lambda o, x: q(o, policy.squash(x)), mean, torch.diag_embed(std.pow(2)), s.log_tau)
    return policy.squash(u)


def _mixture(bound):
    def operator(obs, policy, q, low, high, s):
        with torch.no_grad():
            weights, means, variances = policy.gaussian_mixture(obs)
        if bound is None:
            return cfpi.mixture_best_mean(obs, q, weights, means, s.threshold)
        return bound(obs, q, weights, means, torch.diag_embed(variances), s.log_tau, s.threshold)
    return operator


def _candidates(obs, policy, q, low, high, s):
    return select(s.optimization(obs, policy, q, low, high), "argmax")


def _cem(from_policy: bool):
    def operator(obs, policy, q, low, high, s):
        init = policy.sample(_policy_obs(obs, s), s.samples) if from_policy else None
        return cem_search(obs, q, low, high, init, s.cem_iterations, s.cem_population, max(1, s.cem_population // 10))
    return operator


OPERATORS: dict[str, Callable] = {
    "none": _none,
    "ebcq": lambda obs, policy, q, low, high, s: cfpi.ebcq(obs, q, policy, s.samples),
    "det": lambda obs, policy, q, low, high, s: cfpi.any_sampler(obs, q, policy, s.samples, s.delta, low, high),
    "sg": _sg,
    "mg": _mixture(cfpi.mixture),
    "lse": _mixture(lambda *a: cfpi.logsumexp_bound(*a)[0]),
    "jensen": _mixture(lambda *a: cfpi.jensen_bound(*a)[0]),
    "mg-ms": _mixture(None),
    "candidates": _candidates,
    "cem-policy": _cem(True),
    "cem-random": _cem(False),
}
STANDALONE = tuple(name for name in OPERATORS if name != "candidates")  # those that need no PA-RL optimization
NEEDS = {"sg": ("gaussian_mixture", "pre_tanh"), "mg": ("gaussian_mixture",), "lse": ("gaussian_mixture",),
         "jensen": ("gaussian_mixture",), "mg-ms": ("gaussian_mixture",)}  # a policy method, any of them


def check_operator(name: str, policy=None, allowed=None, key: str = "operator") -> None:
    """Refuse an operator that is unknown (or not among `allowed`), or that reads what `policy` lacks."""
    names = tuple(allowed or OPERATORS)
    if name not in names:
        raise ConfigError(f"{key} must be one of {', '.join(names)}, got '{name}'.")
    if policy is not None and name in NEEDS and not any(hasattr(policy, m) for m in NEEDS[name]):
        raise ConfigError(f"{key}={name} needs a Gaussian policy (one with {' or '.join(NEEDS[name])}: gaussian, "
                          f"mixture); for {type(policy).__name__} use det, ebcq, candidates or cem-policy.")


def improve_actions(name: str, obs: torch.Tensor, policy, q: QFn, low: torch.Tensor, high: torch.Tensor,
                    settings: Settings | None = None) -> torch.Tensor:
    """One improved action per state [B, A] by operator `name`, clipped to the box."""
    action = OPERATORS[name](obs, policy, q, low, high, settings or Settings())
    return action.detach().clamp(low, high)
