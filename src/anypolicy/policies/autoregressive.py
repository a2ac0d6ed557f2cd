"""Autoregressive transformer policy: every action dimension is discretized into uniform bins and a small
causal transformer predicts dimension i from the state and dimensions < i (token cross-entropy)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from anypolicy.policies.base import as_targets, weighted_mean
from anypolicy.policies.bounded import BoundedPolicy


class AutoregressivePolicy(BoundedPolicy):
    def __init__(self, obs_dim, action_dim, action_low, action_high, bins: int = 128, layers: int = 4,
                 width: int = 256, heads: int = 8, temperature: float = 1.0):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        self.bins, self.temperature = bins, temperature
        self.state_token = nn.Linear(obs_dim, width)
        self.action_tokens = nn.Embedding(bins, width)
        self.position = nn.Parameter(torch.zeros(action_dim, width))
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, bins))
        mask = torch.triu(torch.full((action_dim, action_dim), float("-inf")), diagonal=1)
        self.register_buffer("causal_mask", mask)

    def to_bins(self, u: torch.Tensor) -> torch.Tensor:
        return ((u + 1) / 2 * self.bins).long().clamp(0, self.bins - 1)

    def bin_centers(self, idx: torch.Tensor) -> torch.Tensor:
        return (idx.float() + 0.5) / self.bins * 2 - 1

    def _logits(self, obs: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """Logits [B, L+1, bins] for dimensions 0..L given the state and the first L bins [B, L]."""
        tokens = torch.cat([self.state_token(obs).unsqueeze(1), self.action_tokens(prefix)], 1)
        length = tokens.shape[1]
        h = self.transformer(tokens + self.position[:length], mask=self.causal_mask[:length, :length])
        return self.head(h)

    def loss(self, obs, actions, weights=None):
        obs, actions, weights = as_targets(obs, actions, weights)
        target = self.to_bins(self.to_unit(actions))
        logits = self._logits(obs, target[:, :-1])
        ce = F.cross_entropy(logits.reshape(-1, self.bins), target.reshape(-1), reduction="none")
        return weighted_mean(ce.reshape(len(obs), -1).sum(-1), weights)

    def sample(self, obs, n, greedy: bool = False):
        b = obs.shape[0]
        obs_n = obs.repeat_interleave(n, 0)
        prefix = torch.zeros(b * n, 0, dtype=torch.long, device=obs.device)
        for _ in range(self.action_dim):  # one pass per action dimension, batched over all B*n samples
            logits = self._logits(obs_n, prefix)[:, -1]
            nxt = logits.argmax(-1) if greedy else torch.multinomial(
                F.softmax(logits / self.temperature, -1), 1).squeeze(-1)
            prefix = torch.cat([prefix, nxt.unsqueeze(-1)], 1)
        return self.from_unit(self.bin_centers(prefix)).reshape(b, n, -1)

    def act(self, obs, deterministic=False):
        return self.sample(obs, 1, greedy=deterministic)[:, 0]
