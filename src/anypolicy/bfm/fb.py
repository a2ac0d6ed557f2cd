"""Forward-backward (FB) representations (Touati & Ollivier, 2021), trained on reward-free transitions.

The successor measure of the latent-conditioned policy pi_z factors as M(s, a, ds') ~ F(s, a, z)^T B(s') rho(ds'),
so for any reward r, Q_r(s, a, z) = F(s, a, z)^T E_rho[B(s) r(s)], and pi_z acts greedily on F(s, a, z)^T z.
Per batch of N transitions, one latent z_i per row (uniform on the sphere of radius sqrt(d), or with
probability z_mix the B of a shuffled batch state):

    M_ij = F(s_i, a_i, z_i)^T B(s'_j),   target T_ij = mean_k Fbar_k(s'_i, a'_i, z_i)^T Bbar(s'_j),  a'_i ~ pi(s'_i, z_i)
    L_FB    = 1/(2N(N-1)) sum_{i!=j} (M_ij - gamma mask_i T_ij)^2 - 1/N sum_i M_ii           (each F head)
    L_ortho = 1/(2N(N-1)) sum_{i!=j} (B_i^T B_j)^2 - 1/N sum_i |B_i|^2   = 1/2 |E[B B^T] - I|_F^2 + const
    actor, td3bc: max lambda Q(s, pi(s, z), z) - |pi(s, z) - a|^2,  Q = mean_k F_k^T z - 0.5 |F_1^T z - F_2^T z|
    actor, awr (BREEZE-style, in-sample): V(s, z) expectile of min_k F_k(s, a, z)^T z on dataset actions, the
        policy's own loss weighted by exp(beta (Q - V)) (any policy class; with a diffusion policy and
        best-of-K acting this is BREEZE's extraction)
    actor, parl: PA-RL's action optimization on F^T z (samples re-ranked, then gradient steps on the best,
        the dataset action among the candidates), the best distilled with the policy's own loss (any class)

Rewards are never read by `update`. Inference turns rewards or a goal into a latent:
    z_r = sqrt(d) normalize(E[B(s') r]),   z_g = B(g)   (B's output already lies on the sphere).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from anypolicy.agents.base import Agent, step
from anypolicy.config import ConfigError
from anypolicy.critics.losses import expectile_loss
from anypolicy.critics.q import polyak_update
from anypolicy.improve.action_opt import ActionOptimization, distillation_targets
from anypolicy.nets.mlp import EnsembleMLP, mlp
from anypolicy.policies import policy_from_config


@dataclass
class FBConfig:
    z_dim: int = 50  # d: latent and representation size
    f_hidden: tuple[int, ...] = (512, 512)  # F (two heads) and V widths
    b_hidden: tuple[int, ...] = (256, 256)  # B widths
    policy: str = "deterministic"  # the latent-conditioned actor pi(s, z); any class with actor=awr
    policy_options: str = ""
    hidden: tuple[int, ...] | None = (512, 512)  # actor widths
    activation: str = "relu"
    lr: float = 1e-4  # Adam, every network
    discount: float = 0.99
    target_tau: float = 0.01  # Polyak rate of Fbar and Bbar
    ortho_weight: float = 1.0  # weight of L_ortho (BREEZE: 10)
    z_mix: float = 0.5  # fraction of latents taken from B of batch states
    actor: str = "td3bc"  # td3bc (maximizes F^T z near the data), awr (in-sample, any class) or parl (any class)
    bc_alpha: float = 2.5  # td3bc: weight of the Q term against behavior cloning
    target_noise: float = 0.2  # td3bc: smoothing noise of the next action (fraction of the half-range)
    noise_clip: float = 0.3
    expectile: float = 0.99  # awr: V(s, z) expectile (BREEZE)
    beta: float = 0.05  # awr: inverse temperature of the advantage weights (on F^T z, whose scale is in the 100s)
    max_weight: float = 100.0
    parl_samples: int = 16  # parl: policy samples per state, of which the best `parl_keep` by F^T z take
    parl_keep: int = 4  # `parl_steps` gradient steps on the action; the best is distilled into the policy
    parl_steps: int = 3
    parl_step_size: float = 3e-4
    act_samples: int = 1  # >1: act with the argmax of F^T z over this many policy samples (BREEZE: 64)
    inference_samples: int = 100_000  # dataset transitions used for reward inference at evaluation
    reward_free: bool = True  # masks from the environment's terminals only, never a task's successes


def on_sphere(x: torch.Tensor) -> torch.Tensor:
    """Project rows onto the sphere of radius sqrt(d)."""
    return math.sqrt(x.shape[-1]) * F.normalize(x, dim=-1)


def off_diagonal_mean(m: torch.Tensor) -> torch.Tensor:
    """Mean over i != j of m [..., N, N]."""
    n = m.shape[-1]
    return (m.sum((-2, -1)) - m.diagonal(dim1=-2, dim2=-1).sum(-1)) / (n * (n - 1))


def fb_loss(m: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The FB measure loss for M [..., N, N] against the discounted target [N, N], summed over leading heads."""
    off = 0.5 * off_diagonal_mean((m - target).pow(2))
    return (off - m.diagonal(dim1=-2, dim2=-1).mean(-1)).sum()


def orthonormality_loss(b: torch.Tensor) -> torch.Tensor:
    """Estimate of 1/2 |E[B B^T] - I|^2 (up to a constant) from features b [N, d]."""
    cov = b @ b.T
    return 0.5 * off_diagonal_mean(cov.pow(2)) - cov.diagonal().mean()


def reward_latent(b_next: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
    """z_r = sqrt(d) normalize(E[B(s') r]) from features b_next [N, d] and rewards [N]."""
    return on_sphere((b_next * rewards.unsqueeze(-1)).mean(0))


class FB(Agent):
    Config = FBConfig
    takes_images = False
    fuses_steps = True  # compiled: the representation step and the actor step (but PA-RL's) are one graph each

    def __init__(self, cfg: FBConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        if cfg.actor not in ("td3bc", "awr", "parl"):
            raise ConfigError(f"actor must be td3bc, awr or parl, got '{cfg.actor}'.")
        self.improve = ActionOptimization(cfg.parl_samples, min(cfg.parl_keep, cfg.parl_samples), cfg.parl_steps,
                                          cfg.parl_step_size)
        d = cfg.z_dim
        self.f = EnsembleMLP(2, (obs_dim, action_dim, d), cfg.f_hidden, d, layer_norm=True, activation=cfg.activation)
        self.b_net = mlp(obs_dim, cfg.b_hidden, d, layer_norm=True, activation=cfg.activation)
        self.f_target = copy.deepcopy(self.f).requires_grad_(False)
        self.b_target = copy.deepcopy(self.b_net).requires_grad_(False)
        # the actor sees (s, z) as one observation, so any policy class can be latent-conditioned
        self.policy = policy_from_config(cfg, obs_dim + d, action_dim, self.action_low, self.action_high)
        actor_modules = [self.policy]
        if cfg.actor == "awr":
            self.v = EnsembleMLP(1, (obs_dim, d), cfg.f_hidden, 1, layer_norm=True, activation=cfg.activation)
            actor_modules.append(self.v)
        self.fb_opt = self.make_optimizer(torch.nn.ModuleList([self.f, self.b_net]), cfg.lr)
        self.actor_opt = self.make_optimizer(torch.nn.ModuleList(actor_modules), cfg.lr)
        self.register_buffer("z_task", torch.zeros(d))  # the latent `act` uses when given none

    # --- the representation -------------------------------------------------------------------------
    def backward_map(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """B(s) [N, d] on the sphere of radius sqrt(d), from normalized observations."""
        return on_sphere((self.b_target if target else self.b_net)(obs))

    def q_heads(self, obs: torch.Tensor, actions: torch.Tensor, z: torch.Tensor, target: bool = False) -> torch.Tensor:
        """F_k(s, a, z)^T z for both heads: [2, N] (actions [N, A]) or [2, N, n] (actions [N, n, A])."""
        f = (self.f_target if target else self.f)(obs, actions, z)
        return (f * (z.unsqueeze(-2) if actions.dim() == 3 else z)).sum(-1)

    def actor_input(self, obs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([obs, z.expand(len(obs), -1)], -1)

    def q_of_input(self, obs_z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Mean over heads of F^T z for actions [N, n, A], from the actor's input (s, z): [N, n]."""
        return self.q_heads(obs_z[:, :self.obs_dim], actions, obs_z[:, self.obs_dim:]).mean(0)

    def sample_latents(self, next_obs: torch.Tensor) -> torch.Tensor:
        n, d = len(next_obs), self.cfg.z_dim
        z = on_sphere(torch.randn(n, d, device=next_obs.device))
        with torch.no_grad():
            from_data = self.backward_map(next_obs[torch.randperm(n, device=next_obs.device)])
        return torch.where(torch.rand(n, 1, device=next_obs.device) < self.cfg.z_mix, from_data, z)

    # --- training (rewards are never read) -----------------------------------------------------------
    def update(self, batch):
        obs, next_obs, actions = self.normalize(batch["observations"]), self.normalize(batch["next_observations"]), batch["actions"]
        z = self.sample_latents(next_obs)  # one latent per row, shared by both steps
        metrics = self.step_on(self.fb_opt, self.representation_loss, obs, actions, next_obs, batch["masks"], z)
        polyak_update(self.f_target, self.f, self.cfg.target_tau)
        polyak_update(self.b_target, self.b_net, self.cfg.target_tau)
        if self.cfg.actor == "parl":  # its action search takes gradients inside the loss: an eager step
            actor_loss, actor_metrics = self.actor_loss(obs, actions, z)
            step(self.actor_opt, actor_loss)
        else:
            actor_metrics = self.step_on(self.actor_opt, self.actor_loss, obs, actions, z)
        self.after_policy_step()
        return {**metrics, **actor_metrics}

    def representation_loss(self, obs, actions, next_obs, masks, z):
        """L_FB of both F heads plus the weighted L_ortho of B, against the target networks."""
        cfg = self.cfg
        with torch.no_grad():
            next_actions = self.policy.sample(self.actor_input(next_obs, z), 1)[:, 0]
            if cfg.actor == "td3bc":
                next_actions = self.smoothed(next_actions, cfg.target_noise, cfg.noise_clip)
            target_m = torch.einsum("knd,md->knm", self.f_target(next_obs, next_actions, z),
                                    self.backward_map(next_obs, target=True)).mean(0)
            target_m = cfg.discount * masks.unsqueeze(-1) * target_m
        f = self.f(obs, actions, z)  # [2, N, d]
        b = self.backward_map(next_obs)
        loss_fb = fb_loss(torch.einsum("knd,md->knm", f, b), target_m)
        loss_ortho = orthonormality_loss(b)
        return loss_fb + cfg.ortho_weight * loss_ortho, {
            "fb_loss": loss_fb.detach(), "ortho_loss": loss_ortho.detach(),
            "diag_m": torch.einsum("knd,nd->kn", f, b).mean().detach()}

    def actor_loss(self, obs, actions, z):
        cfg = self.cfg
        if cfg.actor == "td3bc":
            pi = self.policy.sample(self.actor_input(obs, z), 1)[:, 0]
            q_heads = self.q_heads(obs, pi, z)
            q = q_heads.mean(0) - 0.5 * (q_heads[0] - q_heads[1]).abs()
            bc = (pi - actions).pow(2).mean()
            loss = -cfg.bc_alpha / q.abs().mean().detach() * q.mean() + bc
            return loss, {"actor_loss": loss.detach(), "bc_loss": bc.detach(), "q_pi": q.mean().detach()}
        if cfg.actor == "parl":  # PA-RL: improve the policy's own samples against F^T z, distill the best
            obs_z = self.actor_input(obs, z)
            candidates = self.improve(obs_z, self.policy, self.q_of_input, self.action_low, self.action_high, actions)
            targets, weights = distillation_targets(candidates)
            loss = self.policy.loss(obs_z, targets, weights)
            return loss, {"actor_loss": loss.detach(), "q_target_action": candidates.q.max(-1).values.mean().detach()}
        with torch.no_grad():
            q = self.q_heads(obs, actions, z).min(0).values
        v = self.v(obs, z)[0, :, 0]
        v_loss = expectile_loss(q - v, cfg.expectile)
        weights = torch.exp(cfg.beta * (q - v.detach())).clamp(max=cfg.max_weight)
        policy_loss = self.policy.loss(self.actor_input(obs, z), actions, weights)
        return policy_loss + v_loss, {"actor_loss": policy_loss.detach(), "v_loss": v_loss.detach(),
                                      "q_data": q.mean().detach()}

    # --- inference and acting ------------------------------------------------------------------------
    @torch.no_grad()
    def reward_inference(self, next_obs, rewards) -> torch.Tensor:
        """z_r from transitions' next observations [N, S] (raw) and their rewards [N]."""
        device = self.obs_mean.device
        next_obs = self.normalize(torch.as_tensor(np.asarray(next_obs), dtype=torch.float32, device=device))
        rewards = torch.as_tensor(np.asarray(rewards), dtype=torch.float32, device=device)
        return reward_latent(self.backward_map(next_obs), rewards)

    @torch.no_grad()
    def goal_inference(self, goal_obs) -> torch.Tensor:
        """z_g = B(g) for a goal observation [S] (raw), or one latent per goal for goals [N, S]."""
        goal = torch.as_tensor(np.asarray(goal_obs), dtype=torch.float32, device=self.obs_mean.device)
        z = self.backward_map(self.normalize(goal.reshape(-1, goal.shape[-1])))
        return z[0] if goal.dim() == 1 else z

    @torch.no_grad()
    def act(self, obs, deterministic: bool = True, z: torch.Tensor | None = None) -> np.ndarray:
        """pi(s, z) for observations [B, S]; z [d] or [B, d] (default: the inferred task latent)."""
        device = self.obs_mean.device
        obs_t = self.normalize(torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=device))
        z = (self.z_task if z is None else torch.as_tensor(z, dtype=torch.float32, device=device)).expand(len(obs_t), -1)
        if self.cfg.act_samples > 1:  # best of K samples by the policy's own value F^T z
            candidates = self.policy.sample(self.actor_input(obs_t, z), self.cfg.act_samples)
            best = self.q_heads(obs_t, candidates, z).mean(0).argmax(-1)
            return candidates[torch.arange(len(obs_t), device=device), best].cpu().numpy()
        return self.policy.act(self.actor_input(obs_t, z), deterministic=deterministic).cpu().numpy()

    def before_eval(self, data: dict[str, torch.Tensor] | None) -> None:
        """Zero-shot evaluation on the training environment: z_r from the dataset's own reward labels
        (shifted to start at 0, so that a constant offset such as OGBench's -1 adds no -E[B])."""
        if data is None:
            return
        n = min(self.cfg.inference_samples, len(data["rewards"]))
        idx = torch.randperm(len(data["rewards"]), generator=torch.Generator().manual_seed(0))[:n].to(data["rewards"].device)
        rewards = data["rewards"][idx]
        with torch.no_grad():
            self.z_task.copy_(reward_latent(self.backward_map(self.normalize(data["next_observations"][idx])),
                                            rewards - rewards.min()))
