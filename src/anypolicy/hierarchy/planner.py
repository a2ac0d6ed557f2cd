"""The high-level planner of LCD: a diffusion model over a sequence of latent goals.

x0 is [B, H, d]: the low-level encoder's latents of the states c, 2c, ..., Hc steps ahead (standardized).
A temporal U-Net (1-D convolutions over the H goals, one down/up level) predicts the noise, conditioned
by FiLM on the diffusion time, the instruction's embedding and the current state's latent. Training is the
usual epsilon objective on a cosine schedule; sampling is deterministic DDIM with a few steps.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from anypolicy.policies.generative import cosine_alphas_cumprod


def time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class FiLMBlock(nn.Module):
    """conv -> GroupNorm -> Mish, scaled and shifted by the condition, conv -> GroupNorm -> Mish, plus a skip."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int = 5):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, padding=kernel // 2)
        self.norm1, self.norm2 = nn.GroupNorm(8, c_out), nn.GroupNorm(8, c_out)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, cond):
        h = F.mish(self.norm1(self.conv1(x)))
        scale, shift = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        h = h * (1 + scale) + shift
        return F.mish(self.norm2(self.conv2(h))) + self.skip(x)


class TemporalUNet(nn.Module):
    """Noise prediction for [B, H, d] goal sequences (H even). Channels: d -> width -> 2 width (at H / 2) -> back."""

    def __init__(self, dim: int, cond_dim: int, width: int = 64, time_dim: int = 32):
        super().__init__()
        self.time_dim = time_dim
        c = width + time_dim
        self.cond = nn.Sequential(nn.Linear(cond_dim + time_dim, 2 * c), nn.Mish(), nn.Linear(2 * c, c))
        self.down1 = FiLMBlock(dim, width, c)
        self.down = nn.Conv1d(width, width, 3, stride=2, padding=1)
        self.mid = FiLMBlock(width, 2 * width, c)
        self.up = nn.ConvTranspose1d(2 * width, width, 4, stride=2, padding=1)
        self.up1 = FiLMBlock(2 * width, width, c)
        self.out = nn.Conv1d(width, dim, 1)

    def forward(self, x, t, cond):
        c = self.cond(torch.cat([cond, time_embedding(t, self.time_dim)], dim=-1))
        h1 = self.down1(x.transpose(1, 2), c)  # [B, width, H]
        h = self.up(self.mid(self.down(h1), c))  # back to [B, width, H]
        return self.out(self.up1(torch.cat([h, h1], dim=1), c)).transpose(1, 2)


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
