"""A temporal U-Net: noise prediction for sequences [B, H, d] (1-D convolutions over the H steps, one
down/up level, FiLM conditioning on the diffusion time and a condition vector), as in Diffuser / LCD."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


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
