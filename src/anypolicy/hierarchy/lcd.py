"""Language control diffusion (LCD, thesis ch. 4, Algorithm 4) and its two baselines.

    lcd       1. low level: a goal-conditioned policy pi(a | s, g) = phi(E(s), E(g)) factorized through one state
                 encoder E (thesis 4.2.1), trained by hindsight relabelling (g is the state k ~ U{1..c} steps
                 ahead in the same episode), any policy class; E learns through phi's likelihood, so its latent
                 carries what acting needs (`state_encoder=false`: phi(s, E(g)), E a goal encoder only);
              2. E frozen, the latents of every dataset state cached (standardized);
              3. high level: a diffusion model over the next H latent goals z_{t+c}, ..., z_{t+Hc} given z_t and
                 the instruction's embedding, trained on the language windows (t anywhere inside a window,
                 goals past its end repeat its last state), or with `planner_rollouts` on the low level's own
                 replays of them that achieve their subtask (Algorithm 4, line 1; hierarchy/rollouts.py); an EMA
                 of its weights plans (thesis Table 4.5);
                 acting: plan with DDIM every c steps and follow the first goal with the low level for c steps.
    lcd-mlp   the same low level; the high level regresses z_{t+c} from (z_t, instruction) with an MLP.
    lcd-flat  no hierarchy: a language-conditioned policy (diffusion by default) on the windows' steps.

`steps` counts both stages of lcd and lcd-mlp: the first `low_steps` train the low level. Evaluation runs
CALVIN-style instruction chains on scene (hierarchy/chains.py).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from anypolicy.agents.base import Agent, step
from anypolicy.config import ConfigError
from anypolicy.critics.q import polyak_update
from anypolicy.envs.registry import LANGUAGE_DATASET
from anypolicy.hierarchy.planner import GoalDiffusion
from anypolicy.nets.mlp import mlp
from anypolicy.policies import policy_from_config


@dataclass
class FlatConfig:
    policy: str = "diffusion"  # policy class (the project's contract); the flat baseline's default is diffusion
    policy_options: str = ""  # class-specific options, e.g. "steps=10,sampler=ddim"
    hidden: tuple[int, ...] | None = None  # policy size (None: the class's default)
    activation: str = "gelu"
    lr: float = 3e-4
    lang_dim: int = 384  # instruction embedding size (all-MiniLM-L6-v2: 384)
    language_encoder: str = "minilm"  # minilm, hashing (no weights), or package.module:Class with encode(list[str]) and dim
    drawer_boost: float = 0.0  # data: extra probability of cube targets in the open drawer (the rare subtask)
    holdout_task: str = ""  # a subtask whose windows are kept out of language training (zero-shot test)
    goal_steps: int = 8  # c: steps between the planner's goals (lcd, lcd-mlp), kept here for the shared sampler
    horizon: int = 8  # H: goals per plan
    hindsight_steps: int = 0  # the low level's hindsight goals lie k ~ U{1..this} steps ahead (0: c)


@dataclass
class LCDConfig(FlatConfig):
    policy: str = "gaussian"  # the low-level policy class
    hidden: tuple[int, ...] | None = (256, 256)
    latent_dim: int = 16  # size of E(s), the planner's space
    encoder_hidden: tuple[int, ...] = (256, 256)
    state_encoder: bool = True  # the low level sees E(s) and E(g) (thesis); false: the raw s and E(g)
    planner_ema: float = 0.995  # decay of the planner's EMA weights, which plan (0: the trained weights plan)
    planner_ema_every: int = 10  # high-level updates between EMA updates
    planner_ema_start: int = 2000  # high-level updates during which the EMA copies the weights
    low_steps: int = 20_000  # updates of the low level; the rest of `steps` train the high level
    planner_width: int = 64  # temporal U-Net channels
    diffusion_steps: int = 100  # training noise levels of the planner
    ddim_steps: int = 10  # planner sampling steps
    planner_lr: float = 2e-4
    planner_rollouts: int = 0  # >0: replay this many language windows with the low level (Algorithm 4, line 1)
    rollout_slack: int = 16  # steps a replayed window may run past its length to achieve its subtask
    rollout_share: float = 1.0  # of each planner batch, the share drawn from the achieved rollouts (1: Algorithm 4)


def window_sequence(start: torch.Tensor, end: torch.Tensor, u: torch.Tensor, c: int, horizon: int):
    """The planner's example in a window [start, end]: t = start + floor(u (end - start)) for u in [0, 1), and the
    indices t, t + c, ..., t + Hc clipped to the window's end [B, H + 1] (dataset windows and rollouts alike)."""
    t = start + (u * (end - start)).long()
    return torch.minimum(t[:, None] + c * torch.arange(horizon + 1, device=t.device), end[:, None])


class LanguageSampler:
    """Batches for the three language recipes, drawn together so every recipe consumes one random stream:
    low level (observations, actions, hindsight goals k ~ U{1..K} ahead, K = hindsight_steps or c, clipped to the
    episode), high level
    (hl_indices [B, H + 1]: a step t inside a language window and t + c, ..., t + Hc clipped to the window's
    end; lang [B, L]) and flat (flat_observations / flat_actions at t)."""

    def __init__(self, dataset, windows: dict, embed, goal_steps: int, horizon: int, device, holdout_task: str = "",
                 hindsight_steps: int = 0):
        from anypolicy.data.scene_lang import SUBTASKS

        if holdout_task and holdout_task not in SUBTASKS:
            raise ConfigError(f"holdout_task '{holdout_task}' is not a subtask: {', '.join(SUBTASKS)}.")
        keep = windows["task"] != holdout_task
        if not keep.any():
            raise ConfigError("no language windows left to train on.")
        to = lambda x, dt=torch.float32: torch.as_tensor(np.asarray(x), dtype=dt, device=device)  # noqa: E731
        last = np.empty(len(dataset), np.int64)
        for ep in dataset.episode_slices():
            last[ep] = ep.stop - 1
        self.data = {"observations": to(dataset.observations.reshape(len(dataset), -1)), "actions": to(dataset.actions),
                     "episode_last": to(last, torch.long)}
        self.start, self.end = to(windows["start"][keep], torch.long), to(windows["end"][keep], torch.long)
        self.lang = to(embed(list(windows["instruction"][keep])))
        # what replaying the windows needs (hierarchy/rollouts.py): the simulator state of every step, the windows
        self.data.update({k: to(v) for k, v in dataset.extras.items() if k in ("qpos", "qvel", "button_states")})
        self.data.update({"window_start": self.start, "window_end": self.end, "window_lang": self.lang,
                          "window_task": to([list(SUBTASKS).index(t) for t in windows["task"][keep]], torch.long)})
        self.c, self.horizon, self.size, self.device = goal_steps, horizon, len(dataset), torch.device(device)
        self.hindsight = hindsight_steps or goal_steps

    def sample(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        def randint(high, size=(batch_size,)):
            return torch.randint(high, size, generator=generator, device=generator.device).to(self.device)

        d = self.data
        idx = randint(self.size)
        goal = torch.minimum(idx + 1 + randint(self.hindsight), d["episode_last"][idx])
        w = randint(len(self.start))
        u = torch.rand(batch_size, generator=generator, device=generator.device).to(self.device)
        seq = window_sequence(self.start[w], self.end[w], u, self.c, self.horizon)
        t = seq[:, 0]
        return {"observations": d["observations"][idx], "actions": d["actions"][idx],
                "goals": d["observations"][goal], "hl_indices": seq, "lang": self.lang[w],
                "flat_observations": d["observations"][t], "flat_actions": d["actions"][t]}


class LanguageAgent(Agent):
    """Shared by the language recipes: their own data (scene play + language windows), acting from an
    instruction embedding, and chain evaluation."""

    capturable = False  # stages and re-planning are Python decisions
    takes_images = False

    @classmethod
    def offline_data(cls, tcfg, acfg, device):
        from anypolicy.data.scene_lang import make_lang_dataset
        from anypolicy.data.storage import read_minari
        from anypolicy.hierarchy.language import cached_encoder

        if tcfg.dataset != LANGUAGE_DATASET:
            raise ConfigError(f"recipe {tcfg.recipe} trains on {LANGUAGE_DATASET} (scene play data with language "
                              f"windows), not '{tcfg.dataset}'.")
        if hasattr(acfg, "low_steps") and not 0 < acfg.low_steps < tcfg.steps:
            raise ConfigError(f"low_steps ({acfg.low_steps}) must lie between 0 and steps ({tcfg.steps}): the rest "
                              "train the high level.")
        path, windows = make_lang_dataset(tcfg.dataset_episodes or 100, drawer_boost=acfg.drawer_boost)
        dataset = read_minari(path)
        encoder = cached_encoder(acfg.language_encoder)
        if encoder.dim != acfg.lang_dim:
            raise ConfigError(f"the language encoder gives {encoder.dim}-D embeddings; set lang_dim={encoder.dim}.")
        sampler = LanguageSampler(dataset, windows, encoder.encode, acfg.goal_steps, acfg.horizon, device,
                                  acfg.holdout_task, acfg.hindsight_steps)
        return sampler, dataset.dims(), dataset.observation_stats()

    def evaluate_run(self, tcfg, episodes: int) -> dict:
        """`episodes` instruction chains from the 32 start states, held-out phrasings."""
        from anypolicy.hierarchy.chains import evaluate_chains

        return evaluate_chains(self, episodes, seed=tcfg.seed)

    def initial_goals(self, n: int) -> torch.Tensor:
        return torch.zeros(n, 0, device=self.obs_mean.device)

    @torch.no_grad()
    def act_language(self, obs, lang, goals, replan):
        """obs [n, S], lang [n, L] (tensors), goals from `initial_goals` or the previous call, replan [n] bool
        -> (actions [n, A], goals)."""
        raise NotImplementedError


class LCDFlat(LanguageAgent):
    Config = FlatConfig

    def __init__(self, cfg: FlatConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        self.policy = policy_from_config(cfg, obs_dim + cfg.lang_dim, action_dim, action_low, action_high)
        self.policy_opt = self.make_optimizer(self.policy, cfg.lr)

    def update(self, batch):
        obs = torch.cat([self.normalize(batch["flat_observations"]), batch["lang"]], -1)
        loss = self.policy.loss(obs, batch["flat_actions"])
        step(self.policy_opt, loss)
        self.after_policy_step()
        return {"policy_loss": loss.detach()}

    @torch.no_grad()
    def act_language(self, obs, lang, goals, replan):
        return self.policy.act(torch.cat([self.normalize(obs), lang], -1), deterministic=True), goals


class LCD(LanguageAgent):
    Config = LCDConfig

    def __init__(self, cfg: LCDConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        self.encoder = mlp(obs_dim, tuple(cfg.encoder_hidden), cfg.latent_dim, activation=cfg.activation)
        state_dim = cfg.latent_dim if cfg.state_encoder else obs_dim
        self.policy = policy_from_config(cfg, state_dim + cfg.latent_dim, action_dim, action_low, action_high)
        self.policy_opt = self.make_optimizer(torch.nn.ModuleList([self.policy, self.encoder]), cfg.lr)  # E learns through pi
        self.build_high_level(cfg)
        self.high_opt = self.make_optimizer(self.high, cfg.planner_lr)
        self.high_ema = copy.deepcopy(self.high).requires_grad_(False) if cfg.planner_ema > 0 else None
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_dim))
        self.register_buffer("latent_std", torch.ones(cfg.latent_dim))
        self.latents: torch.Tensor | None = None  # standardized E(s) of every dataset state (not saved: rebuilt)
        self.rollouts: dict | None = None  # the achieved rollouts' latents and windows (not saved: replayed again)
        self.rollouts_achieved = 0
        if cfg.planner_rollouts < 0 or cfg.rollout_slack < 0 or not 0 <= cfg.rollout_share <= 1:
            raise ConfigError("planner_rollouts and rollout_slack must be >= 0 and rollout_share in [0, 1], got "
                              f"{cfg.planner_rollouts}, {cfg.rollout_slack}, {cfg.rollout_share}.")
        self.high_step = 0  # high-level updates so far (<= 0 while the low level trains), from the run's step

    def build_high_level(self, cfg):
        self.high = GoalDiffusion(cfg.latent_dim, cfg.horizon, cfg.latent_dim + cfg.lang_dim, cfg.planner_width,
                                  cfg.diffusion_steps, cfg.ddim_steps)

    def embed(self, obs_normalized):
        return self.encoder(obs_normalized)

    @property
    def high_stage(self) -> bool:
        return self.high_step > 0

    def low_input(self, obs_normalized, goal_latent):
        """phi's input: (E(s), E(g)), or (s, E(g)) without the state encoder."""
        state = self.embed(obs_normalized) if self.cfg.state_encoder else obs_normalized
        return torch.cat([state, goal_latent], -1)

    @property
    def planner(self):
        """The weights that plan: the EMA where there is one."""
        return self.high if self.high_ema is None else self.high_ema

    @torch.no_grad()
    def cache_latents(self, observations: torch.Tensor) -> None:
        """Freeze E: latents of every dataset state, standardized by their own statistics."""
        z = self.embed_all(observations)
        self.latent_mean.copy_(z.mean(0))
        self.latent_std.copy_(z.std(0).clamp_min(1e-6))
        self.latents = (z - self.latent_mean) / self.latent_std

    def embed_all(self, observations: torch.Tensor) -> torch.Tensor:
        """E(s) of many raw observations, in chunks."""
        return torch.cat([self.embed(self.normalize(o)) for o in observations.split(65_536)])

    def before_update(self, step, data):
        self.high_step = step - self.cfg.low_steps
        if self.high_stage and self.latents is None:
            self.cache_latents(data["observations"])
            if self.cfg.planner_rollouts:
                self.collect_rollouts(data)

    @torch.no_grad()
    def collect_rollouts(self, data) -> None:
        """Algorithm 4, line 1 (hierarchy/rollouts.py): `planner_rollouts` training windows, evenly spaced,
        replayed by the frozen low level (deterministic, so a resumed run replays the same); the planner then
        learns from the achieved ones (`rollout_share` of each batch)."""
        from anypolicy.data.scene_lang import SUBTASKS
        from anypolicy.hierarchy.rollouts import replay_windows

        if "qpos" not in data:
            raise ConfigError("planner_rollouts needs the simulator states of the play data (scene-play-lang keeps them).")
        cfg, tasks = self.cfg, list(SUBTASKS)
        total = len(data["window_start"])
        pick = np.unique(np.linspace(0, total - 1, min(cfg.planner_rollouts, total)).round().astype(int))
        windows = {"start": data["window_start"][pick].cpu().numpy(), "end": data["window_end"][pick].cpu().numpy(),
                   "task": [tasks[i] for i in data["window_task"][pick].tolist()]}
        sim = {k: data[k].cpu().numpy() for k in ("qpos", "qvel", "button_states")}

        def act(obs, goal_obs, _):
            obs_n, goal_n = (self.normalize(torch.as_tensor(x, device=self.obs_mean.device)) for x in (obs, goal_obs))
            return self.policy.act(self.low_input(obs_n, self.embed(goal_n)), deterministic=True).cpu().numpy()

        kept = replay_windows(act, data["observations"].cpu().numpy(), sim, windows, cfg.goal_steps, cfg.rollout_slack)
        self.rollouts_achieved = len(kept)
        if not kept:  # nothing achieved: the planner keeps the dataset windows
            return
        lengths = torch.tensor([len(obs) for _, obs in kept], device=self.obs_mean.device)
        end = lengths.cumsum(0) - 1
        observations = torch.as_tensor(np.concatenate([obs for _, obs in kept]), device=self.obs_mean.device)
        self.rollouts = {"latents": (self.embed_all(observations) - self.latent_mean) / self.latent_std,
                         "start": end - lengths + 1, "end": end,
                         "lang": data["window_lang"][torch.as_tensor(pick[[w for w, _ in kept]])]}

    def rollout_batch(self, n: int):
        """n planner examples from the achieved rollouts, drawn as the sampler draws dataset windows: a window,
        a step t inside it, the latents at t, t + c, ..., t + Hc clipped to its end; and its instruction."""
        r = self.rollouts
        w = torch.randint(len(r["start"]), (n,), device=r["end"].device)
        seq = window_sequence(r["start"][w], r["end"][w], torch.rand(n, device=w.device), self.cfg.goal_steps,
                              self.cfg.horizon)
        return r["latents"][seq], r["lang"][w]

    def update(self, batch):
        if not self.high_stage:
            goal = self.embed(self.normalize(batch["goals"]))
            loss = self.policy.loss(self.low_input(self.normalize(batch["observations"]), goal), batch["actions"])
            step(self.policy_opt, loss)
            self.after_policy_step()
            return {"low_loss": loss.detach()}
        z, lang = self.latents[batch["hl_indices"]], batch["lang"]  # [B, H + 1, d], [B, L]
        if self.rollouts is not None and self.cfg.rollout_share > 0:  # Algorithm 4: the low level's own rollouts
            k = round(len(z) * self.cfg.rollout_share)
            z_r, lang_r = self.rollout_batch(k)
            z, lang = torch.cat([z_r, z[k:]]), torch.cat([lang_r, lang[k:]])
        loss = self.high_loss(z[:, 1:], torch.cat([z[:, 0], lang], -1))
        step(self.high_opt, loss)
        self.update_ema()
        extra = {"rollouts_achieved": torch.tensor(float(self.rollouts_achieved))} if self.cfg.planner_rollouts else {}
        return {"high_loss": loss.detach(), **extra}

    @torch.no_grad()
    def update_ema(self) -> None:
        """The diffuser trainer's EMA: a copy for the first `planner_ema_start` updates, then every
        `planner_ema_every`-th update ema <- decay ema + (1 - decay) weights."""
        cfg = self.cfg
        if self.high_ema is None:
            return
        if self.high_step <= cfg.planner_ema_start:
            self.high_ema.load_state_dict(self.high.state_dict())
        elif self.high_step % cfg.planner_ema_every == 0:
            polyak_update(self.high_ema, self.high, 1.0 - cfg.planner_ema)

    def high_loss(self, goals, cond):
        return self.high.loss(goals, cond)

    def next_goal(self, cond):
        """The first planned goal, standardized."""
        return self.planner.sample(cond)[:, 0]

    def initial_goals(self, n: int) -> torch.Tensor:
        return torch.zeros(n, self.cfg.latent_dim, device=self.obs_mean.device)

    @torch.no_grad()
    def act_language(self, obs, lang, goals, replan):
        obs_n = self.normalize(obs)
        if replan.any():
            goals = goals.clone()
            z = (self.embed(obs_n[replan]) - self.latent_mean) / self.latent_std
            goals[replan] = self.next_goal(torch.cat([z, lang[replan]], -1)) * self.latent_std + self.latent_mean
        return self.policy.act(self.low_input(obs_n, goals), deterministic=True), goals


class LCDMLP(LCD):
    """The MLP high-level baseline: z_{t+c} regressed from (z_t, instruction)."""

    def build_high_level(self, cfg):
        self.high = mlp(cfg.latent_dim + cfg.lang_dim, (256, 256), cfg.latent_dim, activation=cfg.activation)

    def high_loss(self, goals, cond):
        return F.mse_loss(self.high(cond), goals[:, 0])

    def next_goal(self, cond):
        return self.planner(cond)
