"""Deterministic (tanh MLP), Gaussian-mixture and VAE (BCQ-style) policies."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from anypolicy.nets.mlp import mlp
from anypolicy.policies.base import as_targets, weighted_mean
from anypolicy.policies.bounded import BoundedPolicy


class DeterministicPolicy(BoundedPolicy):
    """a = tanh(MLP(s)); trained by (weighted) squared error; `sample` repeats the one action n times."""

    def __init__(self, obs_dim, action_dim, action_low, action_high, hidden=(256, 256), activation="gelu"):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        self.net = mlp(obs_dim, hidden, action_dim, activation=activation)

    def sample(self, obs, n):
        return self.from_unit(torch.tanh(self.net(obs))).unsqueeze(1).expand(-1, n, -1)

    def loss(self, obs, actions, weights=None):
        obs, actions, weights = as_targets(obs, actions, weights)
        err = (torch.tanh(self.net(obs)) - self.to_unit(actions)).pow(2).sum(-1)
        return weighted_mean(err, weights)


class MixturePolicy(BoundedPolicy):
    """A mixture of N diagonal Gaussians over actions in the unit box (clipped when sampled), exposing its
    weights, means and covariances in action units for closed-form improvement (CFPI)."""

    def __init__(self, obs_dim, action_dim, action_low, action_high, hidden=(256, 256), components: int = 8,
                 activation="gelu", log_std_min: float = -5.0, log_std_max: float = 1.0):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        self.components = components
        self.net = mlp(obs_dim, hidden, components * (1 + 2 * action_dim), activation=activation)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def _params(self, obs):
        out = self.net(obs)
        n, a = self.components, self.action_dim
        logits, means, log_std = out[:, :n], out[:, n:n + n * a], out[:, n + n * a:]
        means = torch.tanh(means.reshape(-1, n, a))
        return logits, means, log_std.reshape(-1, n, a).clamp(self.log_std_min, self.log_std_max)

    def sample(self, obs, n):
        logits, means, log_std = self._params(obs)
        comp = torch.distributions.Categorical(logits=logits).sample((n,)).T  # [B, n]
        idx = comp.unsqueeze(-1).expand(-1, -1, self.action_dim)
        mu, std = means.gather(1, idx), log_std.exp().gather(1, idx)
        return self.from_unit(mu + std * torch.randn_like(mu))

    def act(self, obs, deterministic=False):
        if not deterministic:
            return self.sample(obs, 1)[:, 0]
        logits, means, _ = self._params(obs)  # the mean of the most probable component
        return self.from_unit(means[torch.arange(len(obs)), logits.argmax(-1)])

    def log_prob(self, obs, actions):
        logits, means, log_std = self._params(obs)
        u = self.to_unit(actions).unsqueeze(1)
        comp = (-0.5 * ((u - means) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        return torch.logsumexp(F.log_softmax(logits, -1) + comp, -1) - torch.log(self.action_scale).sum()

    def loss(self, obs, actions, weights=None):
        obs, actions, weights = as_targets(obs, actions, weights)
        return weighted_mean(-self.log_prob(obs, actions), weights)

    def gaussian_mixture(self, obs):
        """(weights [B,N], means [B,N,A], diagonal covariances [B,N,A]) in action units."""
        logits, means, log_std = self._params(obs)
        scale = self.action_scale
        return F.softmax(logits, -1), means * scale + self.action_center, (log_std.exp() * scale) ** 2


class VAEPolicy(BoundedPolicy):
    """BCQ's behavior VAE: q(z|s,a) and a tanh decoder p(a|s,z); samples decode z ~ N(0, I) clipped to
    [-latent_clip, latent_clip]. Loss as BCQ: mean squared error + kl_weight * KL averaged over latent
    dimensions. Defaults differ from BCQ's (KL 0.5, clip 0.5) where measured on a 4-mode target
    (docs/results/multimodal.md): a clip of 0.5 decodes only the centre of the latent space, which lies
    between the modes (no sample near any mode), and KL 0.1 separates the modes more sharply than 0.5."""

    def __init__(self, obs_dim, action_dim, action_low, action_high, hidden=(256, 256), latent_dim: int | None = None,
                 kl_weight: float = 0.1, latent_clip: float = 2.0, activation="gelu"):
        super().__init__(obs_dim, action_dim, action_low, action_high)
        self.latent_dim = latent_dim or 2 * action_dim
        self.encoder = mlp(obs_dim + action_dim, hidden, 2 * self.latent_dim, activation=activation)
        self.decoder = mlp(obs_dim + self.latent_dim, hidden, action_dim, activation=activation)
        self.kl_weight, self.latent_clip = kl_weight, latent_clip

    def decode(self, obs, z):
        return torch.tanh(self.decoder(torch.cat([obs, z], -1)))

    def sample(self, obs, n):
        b = obs.shape[0]
        z = torch.randn(b * n, self.latent_dim, device=obs.device).clamp(-self.latent_clip, self.latent_clip)
        return self.from_unit(self.decode(obs.repeat_interleave(n, 0), z)).reshape(b, n, -1)

    def act(self, obs, deterministic=False):
        if deterministic:
            return self.from_unit(self.decode(obs, torch.zeros(len(obs), self.latent_dim, device=obs.device)))
        return self.sample(obs, 1)[:, 0]

    def loss(self, obs, actions, weights=None):
        obs, actions, weights = as_targets(obs, actions, weights)
        u = self.to_unit(actions)
        mean, log_std = self.encoder(torch.cat([obs, u], -1)).chunk(2, -1)
        log_std = log_std.clamp(-4, 15)
        z = mean + log_std.exp() * torch.randn_like(mean)
        recon = (self.decode(obs, z) - u).pow(2).mean(-1)
        kl = 0.5 * (mean.pow(2) + (2 * log_std).exp() - 2 * log_std - 1).mean(-1)
        return weighted_mean(recon + self.kl_weight * kl, weights)
