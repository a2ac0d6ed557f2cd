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

    def _next_logits(self, token: torch.Tensor, cache: list) -> torch.Tensor:
        """Logits [N, bins] of the next dimension from the newest token [N, width] (position added), each layer's
        keys and values of the earlier tokens kept in `cache` (extended here): the same computation as one more
        causal pass of `_logits`, without recomputing the prefix (the norm-first layers built in __init__)."""
        x = token.unsqueeze(1)
        for i, layer in enumerate(self.transformer.layers):
            attn = layer.self_attn
            heads = attn.num_heads
            q, k, v = F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, -1)
            q, k, v = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))  # [N, heads, 1, dh]
            if i < len(cache):
                k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
            cache[i:i + 1] = [(k, v)]  # the layer's keys and values so far (appended at the first token)
            # the newest token attends to every earlier one; with one query and a few keys, products and a sum
            # beat the fused attention kernel several times over on the CPU
            weights = torch.softmax((q * k).sum(-1, keepdim=True) * q.shape[-1] ** -0.5, 2)  # [N, heads, L, 1]
            mixed = (weights * v).sum(2, keepdim=True)
            x = x + attn.out_proj(mixed.transpose(1, 2).flatten(-2))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
        return self.head(x[:, 0])

    def sample(self, obs, n, greedy: bool = False):
        b = obs.shape[0]
        token = self.state_token(obs.repeat_interleave(n, 0)) + self.position[0]
        cache, picked = [], []
        for i in range(self.action_dim):  # one token per action dimension, batched over all B*n samples
            logits = self._next_logits(token, cache)
            if greedy:
                nxt = logits.argmax(-1)
            else:  # inverse-CDF draw: one uniform per sample (multinomial draws one exponential per bin)
                cdf = F.softmax(logits / self.temperature, -1).cumsum(-1)
                u = torch.rand(len(cdf), 1, device=cdf.device) * cdf[:, -1:]
                nxt = torch.searchsorted(cdf, u).squeeze(-1).clamp_max(self.bins - 1)
            picked.append(nxt)
            if i + 1 < self.action_dim:
                token = self.action_tokens(nxt) + self.position[i + 1]
        return self.from_unit(self.bin_centers(torch.stack(picked, 1))).reshape(b, n, -1)

    def act(self, obs, deterministic=False):
        return self.sample(obs, 1, greedy=deterministic)[:, 0]
