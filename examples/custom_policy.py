"""Train your own policy module with any anypolicy recipe, without touching algorithm code.

The module needs two methods: `sample(obs [B,S], n) -> actions [B,n,A]` and
`loss(obs [B,S], actions [B,A], weights [B] or None) -> scalar` (its own supervised objective). Here:
a mixture of K learned action prototypes per state, trained by a soft nearest-prototype loss.

    python examples/custom_policy.py                       # BC on the toy task, from Python
    anypolicy train bc --dataset toy:nav --set policy=examples.custom_policy:PrototypePolicy   # (from the repo root)
"""
from __future__ import annotations

import torch
from torch import nn


class PrototypePolicy(nn.Module):
    def __init__(self, obs_dim, action_dim, action_low, action_high, prototypes: int = 4, hidden: int = 128):
        super().__init__()
        self.k, self.a = prototypes, action_dim
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.GELU(), nn.Linear(hidden, prototypes * (action_dim + 1)))

    def _heads(self, obs):
        out = self.net(obs)
        return torch.tanh(out[:, : self.k * self.a]).reshape(-1, self.k, self.a), out[:, self.k * self.a:]

    def sample(self, obs, n):
        protos, logits = self._heads(obs)
        idx = torch.distributions.Categorical(logits=logits).sample((n,)).T
        return protos.gather(1, idx.unsqueeze(-1).expand(-1, -1, self.a))

    def loss(self, obs, actions, weights=None):
        protos, logits = self._heads(obs)
        dist = (protos - actions.unsqueeze(1)).pow(2).sum(-1)  # [B, K]
        nll = -torch.logsumexp(torch.log_softmax(logits, -1) - dist / 0.02, -1)
        return (nll * weights).mean() if weights is not None else nll.mean()


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from anypolicy.train.loop import train

    run = train("bc", "toy:nav", steps=2000,
                overrides=["policy=examples.custom_policy:PrototypePolicy", "eval_episodes=20"])
    print(json.loads((run / "summary.json").read_text())["final_eval"])
