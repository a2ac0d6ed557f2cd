"""One optimizer step as one compiled graph: the loss, its gradients (torch.func) and Adam's update of the
parameters and moments. On the CPU a small update is bound by per-call costs (autograd's engine, the
optimizer's Python, a guard check per compiled piece), which this removes; the numbers are Adam's
(torch.optim.Adam's state is read and written in place, so checkpoints and eager steps continue it).
Each step of each agent is one cache entry of the compiled function: past dynamo's recompile limit (8 by
default, `torch._dynamo.config.recompile_limit`) in one process, dynamo warns and runs further steps eagerly."""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad_and_value


class _Call(nn.Module):
    """`fn(*args)` with the agent as a submodule, so functional_call can swap the agent's parameters."""

    def __init__(self, agent: nn.Module, fn):
        super().__init__()
        self.agent, self.fn = agent, fn

    def forward(self, *args):
        return self.fn(*args)


def adam_state(optimizer: torch.optim.Adam, p: torch.Tensor) -> dict:
    """The parameter's Adam state, created as torch.optim.Adam creates it (step on the parameter's device)."""
    state = optimizer.state[p]
    if not state:
        state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
        state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
    return state


def fused_adam_step(agent: nn.Module, optimizer: torch.optim.Optimizer, loss_fn):
    """A compiled function of `*args` that minimizes `loss_fn(*args) -> (loss, metrics)` by one Adam step of
    `optimizer`, gradients for the optimizer's own parameters only, and returns the metrics."""
    if not isinstance(optimizer, torch.optim.Adam) or any(
            group["weight_decay"] or group["amsgrad"] or group["maximize"] for group in optimizer.param_groups):
        raise ValueError("a fused step implements plain Adam (no weight decay, amsgrad or maximize).")
    names = {p: name for name, p in agent.named_parameters()}
    groups = [(group, list(group["params"])) for group in optimizer.param_groups]
    params = [p for _, ps in groups for p in ps]
    caller = _Call(agent, loss_fn)

    def loss_of(trainable: dict, *args):
        return functional_call(caller, trainable, args)

    @torch.compile
    def fused(*args):
        trainable = {"agent." + names[p]: p.detach() for p in params}
        grads, (_, metrics) = grad_and_value(loss_of, has_aux=True)(trainable, *args)
        with torch.no_grad():
            for group, ps in groups:
                (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]
                for p in ps:
                    g, state = grads["agent." + names[p]], optimizer.state[p]
                    state["step"] += 1
                    state["exp_avg"].lerp_(g, 1 - beta1)
                    state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    denom = state["exp_avg_sq"].sqrt() / (1 - beta2 ** state["step"]).sqrt() + eps
                    p.sub_(lr * state["exp_avg"] / ((1 - beta1 ** state["step"]) * denom))
        return metrics

    for p in params:  # states exist before tracing, so the graph reads and writes the optimizer's tensors
        adam_state(optimizer, p)
    return fused
