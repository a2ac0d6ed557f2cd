"""PA-RL's action optimization (Sobol Mark et al., 2024, Algorithm 1), batched over states and candidates:

    global:  sample k actions per state from the policy, keep the m with the highest Q
    local:   T steps a <- clip(a + alpha * grad_a Q(s, a)), each kept only where it raised Q
    select:  argmax over the candidates, or a draw from softmax(Q / temperature)  (pi_Opt, eq. 4.3)

Q here is any callable q_fn(obs [B,S], actions [B,n,A]) -> [B,n] (an ensemble's mean, say).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.profiler import record_function

QFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class Candidates:
    actions: torch.Tensor  # [B, m, A]
    q: torch.Tensor  # [B, m]

    def add(self, actions: torch.Tensor, q: torch.Tensor) -> "Candidates":
        """Append candidates actions [B, j, A] with values q [B, j]."""
        return Candidates(torch.cat([self.actions, actions], 1), torch.cat([self.q, q], 1))


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
              low: torch.Tensor, high: torch.Tensor) -> Candidates:
    """`steps` gradient-ascent steps on every candidate; a step is kept only where it raised Q, so Q never
    falls, and actions stay inside [low, high]. One forward-backward pass per step: the gradient at a
    proposed point is reused as the next step's direction when the point is accepted."""
    actions, q = candidates.actions.detach(), candidates.q.detach()
    if steps == 0:
        return Candidates(actions, q)

    def value_and_grad(a):
        with torch.enable_grad():
            a = a.detach().requires_grad_(True)
            value = q_fn(obs, a)
            return value.detach(), torch.autograd.grad(value.sum(), a)[0]

    _, grad = value_and_grad(actions)
    for _ in range(steps):
        proposal = torch.maximum(torch.minimum(actions + step_size * grad, high), low)
        q_new, grad_new = value_and_grad(proposal)
        better = q_new > q
        actions = torch.where(better.unsqueeze(-1), proposal, actions)
        grad = torch.where(better.unsqueeze(-1), grad_new, grad)
        q = torch.where(better, q_new, q)
    return Candidates(actions, q)


def select(candidates: Candidates, mode: str = "argmax", temperature: float = 1.0) -> torch.Tensor:
    """One action per state [B, A]: the best candidate, or a draw from softmax(Q / temperature)."""
    if mode == "argmax":
        index = candidates.q.argmax(-1)
    else:
        index = torch.multinomial(torch.softmax(candidates.q / temperature, -1), 1).squeeze(-1)
    return candidates.actions[torch.arange(len(index), device=index.device), index]


def distillation_targets(candidates: Candidates, mode: str = "argmax", temperature: float = 1.0):
    """What the policy imitates: the argmax action ([B, A], no weights), or every candidate with weight
    m * softmax(Q / temperature) ([B, m, A], [B, m]; the m keeps the loss on the argmax scale)."""
    if mode == "argmax":
        return select(candidates, "argmax"), None
    m = candidates.q.shape[-1]
    return candidates.actions, m * torch.softmax(candidates.q / temperature, -1)


@dataclass
class ActionOptimization:
    """Global then local optimization with the paper's defaults (k = 32, m = 10, T = 10, alpha = 3e-4)."""

    samples: int = 32
    keep: int = 10
    local_steps: int = 10
    step_size: float = 3e-4

    def __call__(self, obs, policy, q_fn: QFn, low, high, data_actions: torch.Tensor | None = None,
                 samples: torch.Tensor | None = None) -> Candidates:
        with record_function("parl/global"):  # labels for benchmarks/parl_throughput.py's time shares
            candidates = global_opt(obs, policy, q_fn, self.samples, self.keep, samples)
            if data_actions is not None:  # the dataset action joins the candidates (Algorithm 1, line 3)
                with torch.no_grad():
                    data_actions = data_actions.unsqueeze(1)
                    candidates = candidates.add(data_actions, q_fn(obs, data_actions))
        with record_function("parl/local"):
            return local_opt(obs, candidates, q_fn, self.local_steps, self.step_size, low, high)
