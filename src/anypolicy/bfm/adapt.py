"""Fast adaptation of a pretrained FB model to one task with a budget of online episodes, searching only
its latent space (the networks stay frozen), against search and fine-tuning baselines.

Every environment step counts against the budget, lookahead rollouts included; the budget is in episode
equivalents (steps / the environment's episode length). Evaluations along the way are not charged.

    lola      Lookahead latent adaptation: a Gaussian search distribution N(mu, sigma^2) over z, mu from z_r;
              k latents roll out H steps from one shared start (the same reset seed), each return closed by
              the frozen value F^T z_r at step H; a leave-one-out baseline, Adam ascent on mu.
    rela      Residual latent adaptation: Q(s, a) = value of the frozen F under the projected reward +
              a small residual critic fitted online; z ascends that Q through the frozen actor.
    cem       the cross-entropy method over z, one episode per latent.
    random    random latents around z_r, one episode each; the best return so far is kept.
    finetune  the actor and a copy of F trained online (TD3-style), z fixed at z_r: the baseline that
              forgets (its first updates usually lose performance before they gain).

z_r is inferred from the task's labelled dataset; F^T z_r is brought to the environment's reward scale
(Q_r = F^T E[B r] = |E[B r]| / sqrt(d) F^T z_r, plus the reward offset removed before inference).
Method choices the paper leaves open (the method note marks them unverified) are fields of AdaptConfig.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from anypolicy.bfm.fb import FB, on_sphere
from anypolicy.config import ConfigError
from anypolicy.envs.registry import make_env
from anypolicy.envs.rollout import evaluate

METHODS = ("lola", "rela", "cem", "random", "finetune")


@dataclass
class AdaptConfig:
    method: str = "lola"
    episodes: int = 50  # budget, in episode equivalents of environment steps
    eval_every: int = 5  # budget episodes between evaluations (evaluations are not charged)
    eval_episodes: int = 20
    seed: int = 0
    threads: int = 1  # torch threads while adapting (batch-1 acting and small updates: one is fastest)
    # lola
    lookahead: int = 50  # H: steps per rollout before bootstrapping with F^T z_r
    latents: int = 8  # k rollouts from each shared start
    sigma: float = 0.15  # search std per coordinate (z has norm sqrt(d), so coordinates are ~1)
    lr: float = 0.02  # Adam step on mu (lola), on z (rela: z_lr)
    # rela / finetune
    z_lr: float = 1e-3
    critic_lr: float = 3e-4
    actor_lr: float = 3e-5  # finetune: the actor's learning rate
    residual_hidden: tuple[int, ...] = (256, 256)
    updates_per_step: int = 2
    batch_size: int = 256
    action_noise: float = 0.1  # exploration noise while collecting (fraction of the half-range)
    discount: float = 0.99
    target_tau: float = 0.005
    # cem / random
    population: int = 8  # latents per CEM generation (one episode each)
    elites: int = 2
    search_sigma: float = 0.3  # initial std of CEM / the radius of random search


class BudgetedEnv:
    """An environment whose steps are counted against a budget of `episodes` x its episode length."""

    def __init__(self, env_id: str, episodes: int):
        self.env = make_env(env_id)
        self.episode_len = int(self.env.spec.max_episode_steps) if self.env.spec and self.env.spec.max_episode_steps else 200
        self.limit, self.used = episodes * self.episode_len, 0

    @property
    def left(self) -> int:
        return self.limit - self.used

    @property
    def episodes_used(self) -> float:
        return self.used / self.episode_len

    def reset(self, seed: int):
        obs, _ = self.env.reset(seed=seed)
        return obs

    def step(self, action):
        if self.used >= self.limit:
            raise RuntimeError("the adaptation budget is spent")
        self.used += 1
        obs, reward, term, trunc, info = self.env.step(action)
        return obs, float(reward), bool(term), bool(term or trunc), info


class TaskValue:
    """The frozen FB value of pi_z under the projected task reward, on the environment's reward scale:
    Q(s, a, z) = scale * mean_k F_k(s, a, z)^T z_r + offset / (1 - gamma)."""

    def __init__(self, agent: FB, next_obs, rewards, discount: float):
        rewards = np.asarray(rewards, np.float32)
        offset = float(rewards.min())
        with torch.no_grad():
            obs_t = agent.normalize(torch.as_tensor(np.asarray(next_obs), dtype=torch.float32))
            m = (agent.backward_map(obs_t) * torch.as_tensor(rewards - offset).unsqueeze(-1)).mean(0)
        self.agent, self.z_r = agent, on_sphere(m)
        self.scale = float(m.norm()) / math.sqrt(agent.cfg.z_dim)
        self.offset = offset / (1 - discount)

    def __call__(self, obs_n: torch.Tensor, actions: torch.Tensor, z: torch.Tensor, f=None) -> torch.Tensor:
        """obs_n: normalized observations [N, S]; z [N, d]."""
        f = (self.agent.f if f is None else f)(obs_n, actions, z).mean(0)
        return self.scale * (f * self.z_r).sum(-1) + self.offset


def _act(agent: FB, obs: np.ndarray, z: torch.Tensor, policy=None) -> torch.Tensor:
    """The deterministic action of pi(s, z) for one observation [S] -> [A] or a batch [n, S] -> [n, A]
    (a fine-tuned copy of the policy when given)."""
    obs = np.asarray(obs, np.float32)
    obs_n = agent.normalize(torch.as_tensor(obs).reshape(-1, obs.shape[-1]))
    actions = (policy or agent.policy).act(agent.actor_input(obs_n, z.reshape(1, -1)), deterministic=True)
    return actions if obs.ndim == 2 else actions[0]


def run_episode(agent, env: BudgetedEnv, z, seed: int, max_steps: int | None = None, policy=None, noise=0.0,
                rng=None, record=None) -> tuple[float, np.ndarray, bool]:
    """Roll pi_z out from reset(seed) for at most max_steps (and the budget); returns (discounted or plain
    return as accumulated by the caller, last observation, whether the episode ended)."""
    obs = env.reset(seed)
    total, steps, done = 0.0, 0, False
    half = (agent.action_high - agent.action_low).numpy() / 2
    while not done and env.left > 0 and (max_steps is None or steps < max_steps):
        with torch.no_grad():
            action = _act(agent, obs, z, policy).numpy()
        if noise:
            action = np.clip(action + rng.normal(0, noise, action.shape) * half, agent.action_low.numpy(),
                             agent.action_high.numpy())
        next_obs, reward, term, done, _ = env.step(action)
        if record is not None:
            record.append((obs, action, reward, next_obs, term))
        total += reward
        obs, steps = next_obs, steps + 1
    return total, obs, done


class Adapter:
    """One adaptation run; `curve` holds (budget episodes used, evaluation) pairs."""

    def __init__(self, agent: FB, env_id: str, next_obs, rewards, cfg: AdaptConfig):
        if cfg.method not in METHODS:
            raise ConfigError(f"unknown adaptation method '{cfg.method}'; choose one of {', '.join(METHODS)}.")
        if cfg.method == "lola" and cfg.latents < 2:
            raise ConfigError("lola needs at least 2 latents per iteration (its baseline leaves one out).")
        self.agent, self.env_id, self.cfg = agent.eval(), env_id, cfg
        self.value = TaskValue(agent, next_obs, rewards, cfg.discount)
        self.z = self.value.z_r.clone()
        self.policy = None  # finetune: the trained copy
        self.env = BudgetedEnv(env_id, cfg.episodes)
        self.rng = np.random.default_rng(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.curve: list[dict] = []
        self.next_eval = 0.0

    def evaluate(self, force: bool = False) -> None:
        if not force and self.env.episodes_used < self.next_eval:
            return
        z, policy = self.z.detach().clone(), self.policy
        act = lambda o: _act(self.agent, o, z, policy).detach().numpy()  # noqa: E731
        result = evaluate(act, self.env_id, self.cfg.eval_episodes, seed=10_000 + self.cfg.seed, num_envs=10)
        self.curve.append({**result, "budget": round(self.env.episodes_used, 2)})
        self.next_eval = self.env.episodes_used + self.cfg.eval_every

    def run(self) -> dict:
        threads = torch.get_num_threads()
        torch.set_num_threads(self.cfg.threads)
        try:
            self.evaluate(force=True)  # zero-shot, before any interaction
            getattr(self, "_" + self.cfg.method)()
            if self.curve[-1]["budget"] != round(self.env.episodes_used, 2):
                self.evaluate(force=True)
        finally:
            torch.set_num_threads(threads)
        zero = self.curve[0]["success"]
        return {"method": self.cfg.method, "env": self.env_id, "curve": self.curve, "zero_shot": self.curve[0],
                "final": self.curve[-1], "worst_drop": max(0.0, zero - min(c["success"] for c in self.curve)),
                "z": self.z.tolist(), "z_r": self.value.z_r.tolist()}

    # --- latent search without a learned critic --------------------------------------------------------
    def _lola(self):
        cfg, d = self.cfg, self.agent.cfg.z_dim
        mu = self.z.clone().requires_grad_(True)
        opt = torch.optim.Adam([mu], lr=cfg.lr)
        iteration = 0
        while self.env.left > 0:
            eps = torch.randn(cfg.latents, d, generator=self.gen)
            latents = on_sphere(mu.detach() + cfg.sigma * eps)
            returns = []
            for z in latents:  # the same start for every latent: one reset seed per iteration
                if self.env.left <= 0:
                    break
                returns.append(self._lookahead(z, seed=cfg.seed * 100_003 + iteration))
            iteration += 1
            if len(returns) < cfg.latents:  # the budget ran out mid-iteration: no update from a partial set
                break
            r = torch.tensor(returns)
            advantages = r - (r.sum() - r) / (len(r) - 1)  # leave-one-out baseline
            if advantages.std() > 0:
                advantages = advantages / advantages.std()
            grad = (advantages.unsqueeze(-1) * eps).mean(0) / cfg.sigma  # grad of E[R] w.r.t. mu
            opt.zero_grad()
            mu.grad = -grad
            opt.step()
            with torch.no_grad():
                mu.copy_(on_sphere(mu))
            self.z = mu.detach().clone()
            self.evaluate()

    def _lookahead(self, z: torch.Tensor, seed: int) -> float:
        """sum_t gamma^t r_t over H steps, + gamma^H Q(s_H, pi(s_H, z), z) where the episode goes on."""
        cfg, agent = self.cfg, self.agent
        obs, ret, discount, done = self.env.reset(seed), 0.0, 1.0, False
        for _ in range(cfg.lookahead):
            if self.env.left <= 0 or done:
                break
            with torch.no_grad():
                action = _act(agent, obs, z).numpy()
            obs, reward, term, done, _ = self.env.step(action)
            ret += discount * reward
            discount *= cfg.discount
            if term:
                return ret
        if not done:
            with torch.no_grad():
                obs_n = agent.normalize(torch.as_tensor(np.asarray(obs, np.float32)).reshape(1, -1))
                ret += discount * float(self.value(obs_n, _act(agent, obs, z).reshape(1, -1), z.reshape(1, -1))[0])
        return ret

    def _cem(self):
        cfg, d = self.cfg, self.agent.cfg.z_dim
        mean, std = self.z.clone(), torch.full((d,), cfg.search_sigma)
        episode = 0
        while self.env.left > 0:
            latents = on_sphere(mean + std * torch.randn(cfg.population, d, generator=self.gen))
            scores = []
            for z in latents:
                if self.env.left <= 0:
                    break
                scores.append(run_episode(self.agent, self.env, z, seed=cfg.seed * 100_003 + episode)[0])
                episode += 1
            if len(scores) < cfg.population:
                break
            elite = latents[torch.tensor(scores).argsort(descending=True)[:cfg.elites]]
            mean, std = on_sphere(elite.mean(0)), elite.std(0).clamp_min(0.1 * cfg.search_sigma) if cfg.elites > 1 else std
            self.z = mean.clone()
            self.evaluate()

    def _random(self):
        cfg, d = self.cfg, self.agent.cfg.z_dim
        best, best_z, episode = -math.inf, self.z.clone(), 0
        while self.env.left > 0:
            z = self.value.z_r if episode == 0 else on_sphere(self.value.z_r + cfg.search_sigma * torch.randn(d, generator=self.gen))
            score = run_episode(self.agent, self.env, z, seed=cfg.seed * 100_003 + episode)[0]
            episode += 1
            if score > best:
                best, best_z = score, z.clone()
            self.z = best_z
            self.evaluate()

    # --- online actor-critic: the residual in z (rela), or the whole actor (finetune) -------------------
    def _rela(self):
        self._actor_critic(finetune=False)

    def _finetune(self):
        self._actor_critic(finetune=True)

    def _actor_critic(self, finetune: bool):
        from anypolicy.nets.mlp import EnsembleMLP

        cfg, agent = self.cfg, self.agent
        agent.requires_grad_(False)  # the pretrained networks stay as they are; finetune trains copies
        obs_dim, action_dim = agent.obs_dim, agent.action_dim
        f = copy.deepcopy(agent.f).requires_grad_(finetune)  # finetune trains F's copy; rela keeps it frozen
        residual = EnsembleMLP(2, (obs_dim, action_dim), cfg.residual_hidden, 1, layer_norm=True)
        with torch.no_grad():  # starts at zero: the critic is the pretrained one
            residual.out.weight.zero_()
            residual.out.bias.zero_()
        critic_params = list(f.parameters()) if finetune else list(residual.parameters())
        residual_target, f_target = copy.deepcopy(residual).requires_grad_(False), copy.deepcopy(f).requires_grad_(False)
        critic_opt = torch.optim.Adam(critic_params, lr=cfg.critic_lr)
        if finetune:
            self.policy = copy.deepcopy(agent.policy).requires_grad_(True)
            actor_params = list(self.policy.parameters())
            z_param = self.z.clone()
        else:
            z_param = self.z.clone().requires_grad_(True)
            actor_params = [z_param]
        actor_opt = torch.optim.Adam(actor_params, lr=cfg.actor_lr if finetune else cfg.z_lr)
        policy = self.policy or agent.policy
        buffer: list = []
        episode = 0

        def q_heads(obs_n, actions, z, target=False):  # [2, N]: the pretrained value plus each residual head
            net_f, net_r = (f_target, residual_target) if target else (f, residual)
            return self.value(obs_n, actions, z, f=net_f) + net_r(obs_n, actions)[..., 0]

        def q_value(obs_n, actions, z, target=False):  # the pessimistic minimum: the TD target and the ascent
            return q_heads(obs_n, actions, z, target).min(0).values

        while self.env.left > 0:
            start = len(buffer)
            run_episode(agent, self.env, z_param.detach(), seed=cfg.seed * 100_003 + episode, policy=self.policy,
                        noise=cfg.action_noise, rng=self.rng, record=buffer)
            episode += 1
            if episode == 1:  # no updates on the first episode's data alone
                self.evaluate()
                continue
            data = [torch.as_tensor(np.array(x), dtype=torch.float32) for x in zip(*buffer)]  # once per episode
            for _ in range(cfg.updates_per_step * (len(buffer) - start)):
                idx = torch.as_tensor(self.rng.integers(len(buffer), size=min(cfg.batch_size, len(buffer))))
                o, a, r, o2, term = (x[idx] for x in data)
                o, o2 = agent.normalize(o), agent.normalize(o2)
                z = z_param.detach().expand(len(o), -1)
                with torch.no_grad():
                    a2 = policy.act(agent.actor_input(o2, z), deterministic=True)
                    y = r + cfg.discount * (1 - term) * q_value(o2, a2, z, target=True)
                loss = (q_heads(o, a, z) - y).pow(2).mean(-1).sum()  # every head regresses on y
                critic_opt.zero_grad()
                loss.backward()
                critic_opt.step()
                zz = z_param.expand(len(o), -1)
                pi = policy.act(agent.actor_input(o, zz), deterministic=True)
                actor_loss = -q_value(o, pi, zz).mean()
                actor_opt.zero_grad()
                actor_loss.backward()
                actor_opt.step()
                with torch.no_grad():
                    if not finetune:
                        z_param.copy_(on_sphere(z_param))
                    torch._foreach_lerp_(list(residual_target.parameters()), list(residual.parameters()), cfg.target_tau)
                    if finetune:  # rela's F is frozen: its target never moves
                        torch._foreach_lerp_(list(f_target.parameters()), list(f.parameters()), cfg.target_tau)
            self.z = z_param.detach().clone()
            self.evaluate()


def headroom(agent: FB, env_id: str, next_obs, rewards, latents: int = 256, episodes: int = 5,
             sigmas=(0.1, 0.2, 0.4), seed: int = 0) -> dict:
    """Are there better policies in the latent space than z_r? Evaluates z_r and `latents` others
    (perturbations of z_r at each sigma, and uniform draws on the sphere), `episodes` each."""
    value = TaskValue(agent, next_obs, rewards, 0.99)
    gen = torch.Generator().manual_seed(seed)
    d = agent.cfg.z_dim
    per_kind = latents // (len(sigmas) + 1)
    candidates = [("z_r", value.z_r)]
    for s in sigmas:
        candidates += [(f"z_r + N(0, {s}^2)", on_sphere(value.z_r + s * torch.randn(d, generator=gen))) for _ in range(per_kind)]
    candidates += [("uniform", on_sphere(torch.randn(d, generator=gen))) for _ in range(latents - per_kind * len(sigmas))]
    results = []
    for kind, z in candidates:
        act = lambda o, z=z: agent.act(o, z=z)  # noqa: E731
        r = evaluate(act, env_id, episodes, seed=20_000 + seed, num_envs=min(episodes, 10))
        results.append({"kind": kind, "success": r["success"], "return_mean": r["return_mean"]})
    base = results[0]
    best = max(results[1:], key=lambda x: (x["success"], x["return_mean"]))
    return {"z_r": base, "best": best, "better_than_z_r": sum(x["return_mean"] > base["return_mean"] for x in results[1:]),
            "latents": len(results) - 1, "all": results}


def task_env(env_id: str, task: int | None) -> str:
    """The singletask environment of task N in the same domain (OGBench ids end in -taskN-v0)."""
    if task is None:
        return env_id
    if not re.search(r"task\d+", env_id):
        raise ConfigError(f"--task needs an OGBench singletask environment; this run evaluates in '{env_id}'.")
    return re.sub(r"task\d+", f"task{task}", env_id)


def require_fb(agent, tcfg) -> None:
    if not isinstance(agent, FB):
        raise ConfigError(f"this is a '{tcfg.recipe}' run; zero-shot inference and adaptation need an fb run.")


def load_task(agent, tcfg, task: int | None = None, env: str | None = None, samples: int = 100_000, seed: int = 0):
    """An FB run's agent (and its train config, as `anypolicy.train.loop.load_agent` returns them) with the
    task's environment and labelled transitions for inference: (agent, env_id, next_observations [n, S], rewards [n])."""
    from anypolicy.envs.registry import load_dataset

    require_fb(agent, tcfg)
    env_id = env or task_env(tcfg.env, task)
    data = load_dataset(tcfg.dataset, env_id, episodes=tcfg.dataset_episodes, seed=0)
    idx = np.random.default_rng(seed).permutation(len(data))[:samples]
    return agent, env_id, data.next_observations.reshape(len(data), -1)[idx], data.rewards[idx]


def zero_shot(agent, tcfg, task: int | None = None, env: str | None = None, episodes: int = 50, seed: int = 0) -> dict:
    """Success and return of pi_{z_r} on a task, z_r inferred from the task's reward labels."""
    agent, env_id, next_obs, rewards = load_task(agent, tcfg, task, env)
    agent.z_task.copy_(TaskValue(agent, next_obs, rewards, 0.99).z_r)
    return {"env": env_id, **evaluate(lambda o: agent.act(o), env_id, episodes, seed=seed)}


def zero_shot_goal(agent, tcfg, task: int | None = None, env: str | None = None, episodes: int = 50,
                   seed: int = 0) -> dict:
    """Success and return of pi_{z_g} on a task, z_g = B(g) from each episode's goal observation (no labels)."""
    require_fb(agent, tcfg)
    env_id = env or task_env(tcfg.env, task)
    return {"env": env_id, **evaluate(lambda obs, goals: agent.act(obs, z=agent.goal_inference(goals)), env_id,
                                      episodes, seed=seed, goal_conditioned=True)}


def adapt(agent, tcfg, cfg: AdaptConfig, task: int | None = None, env: str | None = None) -> dict:
    agent, env_id, next_obs, rewards = load_task(agent, tcfg, task, env)
    torch.manual_seed(cfg.seed)
    return Adapter(agent, env_id, next_obs, rewards, cfg).run()
