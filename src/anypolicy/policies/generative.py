"""Expressive policies: DDPM diffusion (noise prediction, cosine schedule, DDPM/DDIM sampling, EMA) and
flow matching (straight-path velocity regression, Euler integration). Both work in the unit action box,
sample B*n actions in one batched pass per denoising step, and clip to the bounds."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from anypolicy.nets.mlp import ResidualMLP, sinusoidal_embedding
from anypolicy.policies.base import as_targets, weighted_mean
from anypolicy.policies.bounded import BoundedPolicy


class _Denoiser(nn.Module):
    """f(s, x_t, t) with a Fourier time embedding."""

    def __init__(self, obs_dim, action_dim, width, blocks, time_dim=32):
        super().__init__()
        self.time_dim = time_dim
        self.net = ResidualMLP(obs_dim + action_dim + time_dim, width, action_dim, blocks)

    def forward(self, obs, x, t):
        return self.net(torch.cat([obs, x, sinusoidal_embedding(t, self.time_dim)], -1))


def cosine_alphas_cumprod(steps: int, s: float = 0.008) -> torch.Tensor:
    """alpha-bar_t, t = 1..T, of the cosine schedule (Nichol & Dhariwal), betas clipped at 0.999."""
    x = torch.linspace(0, steps, steps + 1, dtype=torch.float64)
    f = torch.cos(((x / steps) + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0).float()


class DiffusionPolicy(BoundedPolicy):
    def __init__(self, obs_dim, action_dim, action_low, action_high, width: int = 256, blocks: int = 3,
                 steps: int = 5, sampler: str = "ddpm", ema: float = 0.995):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        if sampler not in ("ddpm", "ddim"):
            raise ValueError(f"diffusion sampler must be ddpm or ddim, got '{sampler}'.")
        self.steps, self.sampler, self.ema_decay = steps, sampler, ema
        self.model = _Denoiser(obs_dim, action_dim, width, blocks)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)  # the weights used for sampling
        abar = cosine_alphas_cumprod(steps)
        self.register_buffer("abar", abar)
        self.register_buffer("abar_prev", torch.cat([torch.ones(1), abar[:-1]]))

    def loss(self, obs, actions, weights=None):
        obs, actions, weights = as_targets(obs, actions, weights)
        x0 = self.to_unit(actions)
        t = torch.randint(0, self.steps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        abar = self.abar[t].unsqueeze(-1)
        xt = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
        return weighted_mean((self.model(obs, xt, t) - noise).pow(2).sum(-1), weights)

    @torch.no_grad()
    def after_step(self) -> None:
        """Move the EMA weights towards the trained ones; call after each optimizer step."""
        torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 1 - self.ema_decay)

    def sample(self, obs, n):
        b = obs.shape[0]
        obs_n = obs.repeat_interleave(n, 0)
        x = torch.randn(b * n, self.action_dim, device=obs.device)
        for t in reversed(range(self.steps)):
            tt = torch.full((b * n,), t, device=obs.device)
            eps = self.ema(obs_n, x, tt)
            abar, abar_prev = self.abar[t], self.abar_prev[t]
            x0 = ((x - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1)
            if self.sampler == "ddim" or t == 0:  # deterministic step
                x = abar_prev.sqrt() * x0 + (1 - abar_prev).sqrt() * eps if t > 0 else x0
            else:  # DDPM posterior q(x_{t-1} | x_t, x0)
                beta = 1 - abar / abar_prev
                mean = (abar_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - abar_prev) * x) / (1 - abar)
                var = beta * (1 - abar_prev) / (1 - abar)
                x = mean + var.sqrt() * torch.randn_like(x)
        return self.from_unit(x).reshape(b, n, -1)


class FlowPolicy(BoundedPolicy):
    """x_t = (1 - t) x_0 + t a with x_0 ~ N(0, I); regress v(s, x_t, t) on a - x_0; sample by Euler steps."""

    def __init__(self, obs_dim, action_dim, action_low, action_high, width: int = 256, blocks: int = 3,
                 steps: int = 10):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        self.steps = steps
        self.model = _Denoiser(obs_dim, action_dim, width, blocks)

    def loss(self, obs, actions, weights=None):
        obs, actions, weights = as_targets(obs, actions, weights)
        a = self.to_unit(actions)
        x0 = torch.randn_like(a)
        t = torch.rand(len(a), device=a.device)
        xt = (1 - t).unsqueeze(-1) * x0 + t.unsqueeze(-1) * a
        return weighted_mean((self.model(obs, xt, t * 100) - (a - x0)).pow(2).sum(-1), weights)

    def sample(self, obs, n):
        b = obs.shape[0]
        obs_n = obs.repeat_interleave(n, 0)
        x = torch.randn(b * n, self.action_dim, device=obs.device)
        dt = 1.0 / self.steps
        for k in range(self.steps):
            t = torch.full((b * n,), k * dt * 100, device=obs.device)  # time in [0, 100) for the embedding
            x = x + dt * self.model(obs_n, x, t)
        return self.from_unit(x).reshape(b, n, -1)
