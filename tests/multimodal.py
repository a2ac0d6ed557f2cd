"""A state-conditioned 4-mode target in 2-D, and how well a policy's samples cover it (shared by the test
and benchmarks/multimodal.py)."""
import torch

OFFSETS = torch.tensor([[0.5, 0.5], [0.5, -0.5], [-0.5, 0.5], [-0.5, -0.5]])
NOISE, RADIUS = 0.05, 0.15


def modes(obs: torch.Tensor) -> torch.Tensor:
    """[B, 4, 2]: the four mode centres for states obs [B, 2] (they shift with the state)."""
    return (0.3 * obs).unsqueeze(1) + OFFSETS


def draw(batch: int, generator=None):
    obs = torch.rand(batch, 2, generator=generator) * 2 - 1
    k = torch.randint(4, (batch,), generator=generator)
    act = modes(obs)[torch.arange(batch), k] + NOISE * torch.randn(batch, 2, generator=generator)
    return obs, act.clamp(-1, 1)


def train(make_policy, steps: int, batch: int = 256, lr: float = 1e-3, seed: int = 0):
    """Build the policy from `make_policy()` under `seed` (initialization included) and fit the target."""
    torch.manual_seed(seed)
    policy = make_policy()
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        obs, act = draw(batch, g)
        opt.zero_grad()
        policy.loss(obs, act).backward()
        opt.step()
        if hasattr(policy, "after_step"):
            policy.after_step()
    return policy


@torch.no_grad()
def coverage(policy, states: int = 64, samples: int = 64, seed: int = 1) -> dict:
    """Share of samples within RADIUS of each mode, and of samples near any mode (precision)."""
    torch.manual_seed(seed)
    obs = torch.rand(states, 2, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    a = policy.sample(obs, samples)  # [S, n, 2]
    dist = (a.unsqueeze(2) - modes(obs).unsqueeze(1)).norm(dim=-1)  # [S, n, 4]
    near = dist.min(-1).values <= RADIUS
    nearest = dist.argmin(-1)
    per_mode = [float(((nearest == k) & near).float().mean()) for k in range(4)]
    return {"per_mode": per_mode, "precision": float(near.float().mean()), "min_mode": min(per_mode)}
