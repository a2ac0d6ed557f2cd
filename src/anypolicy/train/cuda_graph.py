"""Replay a whole agent update (forward, backward, optimizer step, target update) as one CUDA graph.

On a GPU a small-network update is bound by kernel-launch overhead, not arithmetic; one graph replay
launches everything at once. The capture runs a few warm-up updates, then restores weights, optimizer
moments and the RNG, so training is the same as without the graph.
"""
from __future__ import annotations

from typing import Callable

import torch

from anypolicy.agents.base import Agent


def capture_update(agent: Agent, example_batch: dict[str, torch.Tensor], step: Callable | None = None,
                   warmup: int = 3) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """Returns `update(batch) -> metrics` that copies the batch into static buffers and replays the graph of
    `step` (default: agent.update; the loop passes it wrapped in its precision)."""
    step = step or agent.update
    for opt in agent.optimizers().values():
        for group in opt.param_groups:
            group["capturable"] = True  # optimizer step counters live on the GPU
    weights = {k: v.detach().clone() for k, v in agent.state_dict().items()}
    rng = torch.cuda.get_rng_state()
    static = {k: v.clone() for k, v in example_batch.items()}
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.stream(side):
            for _ in range(warmup):
                step(static)
        torch.cuda.current_stream().wait_stream(side)
        with torch.cuda.graph(graph):
            out = step(static)
    finally:  # undo the warm-up (also when capture fails): weights back, Adam moments and counts as if fresh
        with torch.no_grad():
            for k, v in agent.state_dict().items():
                v.copy_(weights[k])
            for opt in agent.optimizers().values():
                for state in opt.state.values():
                    for t in state.values():
                        if torch.is_tensor(t):
                            t.zero_()
        torch.cuda.set_rng_state(rng)

    def update(batch):
        for k, v in static.items():
            v.copy_(batch[k])
        graph.replay()
        return out

    return update


def load_optimizer_in_place(opt: torch.optim.Optimizer, saved: dict) -> None:
    """Load a saved optimizer state into the existing state tensors, which a captured graph points at."""
    params = [p for group in opt.param_groups for p in group["params"]]
    with torch.no_grad():
        for idx, state in saved["state"].items():
            for k, v in state.items():
                opt.state[params[int(idx)]][k].copy_(v)
