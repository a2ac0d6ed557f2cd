"""PA-RL's action optimization (Sobol Mark et al., 2024, Algorithm 1), batched over states and candidates:

    global:  sample k actions per state from the policy, keep the m with the highest Q
    local:   T steps a <- clip(a + alpha * grad_a Q(s, a)), the best iterate of each candidate kept
    select:  argmax over the candidates, or a draw from softmax(Q / temperature)  (pi_Opt, eq. 4.3)

Q here is any callable q_fn(obs [B,S], actions [B,n,A]) -> [B,n] (an ensemble's mean, say).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.profiler import record_function

from anypolicy.improve.cfpi import QFn, trust_region_step, value_and_grad


@dataclass
class Candidates:
    actions: torch.Tensor  # [B, m, A]
    q: torch.Tensor  # [B, m]

    def add(self, actions: torch.Tensor, q: torch.Tensor) -> "Candidates":
        """Append candidates actions [B, j, A] with values q [B, j]."""
        return Candidates(torch.cat([self.actions, actions], 1), torch.cat([self.q, q], 1))

    def replace_lowest(self, action: torch.Tensor, q: torch.Tensor) -> "Candidates":
        """Put one action [B, A] with value q [B] in the place of each state's lowest-Q candidate."""
        lowest = torch.nn.functional.one_hot(self.q.argmin(-1), self.q.shape[-1]).bool()  # [B, m]
        return Candidates(torch.where(lowest.unsqueeze(-1), action.unsqueeze(1), self.actions),
                          torch.where(lowest, q.unsqueeze(1), self.q))


@torch.no_grad()
def global_opt(obs: torch.Tensor, policy, q_fn: QFn, samples: int, keep: int,
               actions: torch.Tensor | None = None) -> Candidates:
    """Sample `samples` actions per state and keep the top `keep` by Q (`actions` [B, k, A]: samples drawn
    earlier, e.g. from an action cache)."""
    if actions is None:
        actions = policy.sample(obs, samples)
    samples = actions.shape[1]
    q = q_fn(obs, actions)
    if keep >= samples:
        return Candidates(actions, q)
    top = q.topk(keep, dim=-1)
    index = top.indices.unsqueeze(-1).expand(-1, -1, actions.shape[-1])
    return Candidates(actions.gather(1, index), top.values)


def local_opt(obs: torch.Tensor, candidates: Candidates, q_fn: QFn, steps: int, step_size: float,
              low: torch.Tensor, high: torch.Tensor, rule: str = "best-of-T") -> Candidates:
    """`steps` gradient-ascent steps a <- clip(a + alpha grad_a Q(s, a)) on every candidate, inside [low, high].
    best-of-T (PA-RL's reference code): all T steps are taken and each candidate's best iterate is kept, so
    a step that overshoots does not end the walk. first-failure: a step is kept only where it raised Q and
    the candidate otherwise stays put (its walk ends at its first failed step). Either way Q never falls
    below the start. One forward-backward pass per step."""
    best, best_q = candidates.actions.detach(), candidates.q.detach()
    if steps == 0:
        return Candidates(best, best_q)
    actions = best
    _, grad = value_and_grad(q_fn, obs, actions)
    for _ in range(steps):
        proposal = torch.maximum(torch.minimum(actions + step_size * grad, high), low)
        q, grad_new = value_and_grad(q_fn, obs, proposal)
        better = q > best_q
        best = torch.where(better.unsqueeze(-1), proposal, best)
        best_q = torch.where(better, q, best_q)
        if rule == "best-of-T":
            actions, grad = proposal, grad_new
        else:  # stay at the best point, with its gradient
            actions, grad = best, torch.where(better.unsqueeze(-1), grad_new, grad)
    return Candidates(best, best_q)


def cfpi_local_opt(obs: torch.Tensor, candidates: Candidates, q_fn: QFn, cov: torch.Tensor, log_tau: float,
                   low: torch.Tensor, high: torch.Tensor) -> Candidates:
    """One closed-form step per candidate in place of T gradient steps: CFPI's I_SG step (thesis eq. 3.4)
    with the covariance cov [B, A, A] of the policy's samples at that state as the trust region, so the
    step's length is set by the policy's own spread and log_tau (no step size). Kept only where Q rose."""
    actions, q = candidates.actions.detach(), candidates.q.detach()
    _, grad = value_and_grad(q_fn, obs, actions)
    proposal = trust_region_step(actions, cov.unsqueeze(1), grad, math.sqrt(2 * log_tau))
    proposal = proposal.clamp(low, high)
    with torch.no_grad():
        q_new = q_fn(obs, proposal)
    better = q_new > q
    return Candidates(torch.where(better.unsqueeze(-1), proposal, actions), torch.where(better, q_new, q))


def sample_covariance(actions: torch.Tensor, ridge: float = 1e-6) -> torch.Tensor:
    """Covariance [B, A, A] of samples [B, n, A], with a small ridge so that it is positive definite."""
    centred = actions - actions.mean(1, keepdim=True)
    cov = centred.transpose(1, 2) @ centred / max(actions.shape[1] - 1, 1)
    return cov + ridge * torch.eye(actions.shape[-1], dtype=actions.dtype, device=actions.device)


def select(candidates: Candidates, mode: str = "argmax", temperature: float = 1.0) -> torch.Tensor:
    """One action per state [B, A]: the best candidate, or a draw from softmax(Q / temperature)."""
    if mode == "argmax":
        index = candidates.q.argmax(-1)
    else:
        index = torch.multinomial(torch.softmax(candidates.q / temperature, -1), 1).squeeze(-1)
    return candidates.actions[torch.arange(len(index), device=index.device), index]


def distillation_targets(candidates: Candidates, mode: str = "argmax", temperature: float = 1.0):
    """What the policy imitates: the argmax action ([B, A], no weights), one draw from softmax(Q /
    temperature) per state ("sample", [B, A]), or every candidate with weight m * softmax(Q / temperature)
    ("all", [B, m, A], [B, m]; the m keeps the loss on the argmax scale)."""
    if mode in ("argmax", "sample"):
        return select(candidates, mode, temperature), None
    m = candidates.q.shape[-1]
    return candidates.actions, m * torch.softmax(candidates.q / temperature, -1)


@dataclass
class ActionOptimization:
    """Global then local optimization with the paper's defaults (k = 32, m = 10, T = 10, alpha = 3e-4)."""

    samples: int = 32
    keep: int = 10
    local_steps: int = 10
    step_size: float = 3e-4
    local: str = "gradient"  # or "cfpi": one closed-form step (cfpi_local_opt) instead of T gradient steps
    log_tau: float = 0.5  # trust region of the cfpi step
    data_action_replaces: bool = True  # the dataset action takes the lowest kept candidate's place (m in all)
    local_rule: str = "best-of-T"  # best-of-T (the reference) or first-failure (see local_opt)

    def __call__(self, obs, policy, q_fn: QFn, low, high, data_actions: torch.Tensor | None = None,
                 samples: torch.Tensor | None = None, policy_obs: torch.Tensor | None = None) -> Candidates:
        """`policy_obs`: what the policy is sampled at when it differs from the critic's input `obs` (its own
        image features)."""
        with record_function("parl/global"):  # labels for benchmarks/parl_throughput.py's time shares
            if samples is None:
                with torch.no_grad():
                    samples = policy.sample(obs if policy_obs is None else policy_obs, self.samples)
            candidates = global_opt(obs, policy, q_fn, self.samples, self.keep, samples)
            if data_actions is not None:  # the dataset action joins the candidates (Algorithm 1, line 3)
                with torch.no_grad():
                    data_actions = data_actions.unsqueeze(1)
                    q_data = q_fn(obs, data_actions)
                    if self.data_action_replaces:
                        candidates = candidates.replace_lowest(data_actions[:, 0], q_data[:, 0])
                    else:
                        candidates = candidates.add(data_actions, q_data)
        with record_function("parl/local"):
            if self.local == "cfpi":
                return cfpi_local_opt(obs, candidates, q_fn, sample_covariance(samples), self.log_tau, low, high)
            return local_opt(obs, candidates, q_fn, self.local_steps, self.step_size, low, high, self.local_rule)
