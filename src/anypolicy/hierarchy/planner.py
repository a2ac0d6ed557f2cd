"""The high-level planner of LCD: a diffusion model over a sequence of latent goals.

x0 is [B, H, d]: the low-level encoder's latents of the states c, 2c, ..., Hc steps ahead (standardized).
A temporal U-Net (1-D convolutions over the H goals, one down/up level) predicts the noise, conditioned
by FiLM on the diffusion time, the instruction's embedding and the current state's latent. Training is the
usual epsilon objective on a cosine schedule; sampling is deterministic DDIM with a few steps.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from anypolicy.nets.unet import TemporalUNet
from anypolicy.policies.generative import cosine_alphas_cumprod


class GoalDiffusion(nn.Module):
    """p(goals | condition) by denoising diffusion; `sample` runs DDIM (eta 0) with `sample_steps` steps."""

    def __init__(self, dim: int, horizon: int, cond_dim: int, width: int = 64, train_steps: int = 100,
                 sample_steps: int = 10, clip: float = 5.0):
        super().__init__()
        if horizon % 2:
            raise ValueError(f"the planner's horizon must be even (one down/up level), got {horizon}.")
        if not 1 <= sample_steps <= train_steps:
            raise ValueError(f"sample_steps must lie in [1, {train_steps}], got {sample_steps}.")
        self.dim, self.horizon, self.train_steps, self.sample_steps, self.clip = dim, horizon, train_steps, sample_steps, clip
        self.net = TemporalUNet(dim, cond_dim, width)
        self.register_buffer("alphas_cumprod", cosine_alphas_cumprod(train_steps))

    def loss(self, goals: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        t = torch.randint(self.train_steps, (goals.shape[0],), device=goals.device)
        noise = torch.randn_like(goals)
        a = self.alphas_cumprod[t].view(-1, 1, 1)
        noisy = a.sqrt() * goals + (1 - a).sqrt() * noise
        return F.mse_loss(self.net(noisy, t, cond), noise)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor) -> torch.Tensor:
        x = torch.randn(cond.shape[0], self.horizon, self.dim, device=cond.device)
        times = torch.linspace(self.train_steps - 1, 0, self.sample_steps, device=cond.device).round().long()
        for i, t in enumerate(times):
            a = self.alphas_cumprod[t]
            eps = self.net(x, t.expand(x.shape[0]), cond)
            x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-self.clip, self.clip)
            if i + 1 == len(times):
                return x0
            a_next = self.alphas_cumprod[times[i + 1]]
            eps = (x - a.sqrt() * x0) / (1 - a).sqrt()  # consistent with the clipped x0
            x = a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps
        return x
