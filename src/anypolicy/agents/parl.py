"""Policy-agnostic RL (Sobol Mark et al., 2024): improve actions, not parameters. parl-calql runs the
paper's pipeline (PARLCalQL): BC of the base policy, critic pre-training against it frozen, then online
fine-tuning in which every update does all three steps below (offline_distill: stage 2 distills too).
An update

    1. action optimization (improve/action_opt.py): from k policy samples keep the top m by Q, add the
       dataset action, take T gradient-ascent steps on each (kept only where Q rose);
    2. critic: Cal-QL, with the next action of the TD target and the regularizer's policy actions taken
       from the optimized candidates (parl-calql); or IQL's critic, which needs no policy (parl-iql);
    3. distillation: the policy's own supervised loss on the best candidate (or on all, weighted by
       softmax(Q / temperature)), for any policy class.

At evaluation the agent acts with the argmax of the optimized candidates (act_optimize=true), or by CEM
search on the critic started from the policy's samples or from the whole action box, or any other operator of
improve/registry.py (act_search).
Options for expensive policies and hybrid starts: an action cache (policy samples drawn ahead in large
batches from a snapshot of the policy, refreshed every `action_cache` updates; the critic still re-ranks them
each update): offline for every dataset state, online (Appendix E) for a pool of `cache_pool` offline and online
transitions drawn at each round's start, from which the round's batches come (data/sampler.py, PoolSampler), a critic warm-up (no distillation for the first `distill_after` updates), distillation every
`distill_every` updates, and a cheaper late setting (fewer samples and local steps after `late_after`).
parl-rlpd is parl-calql without the regularizer, for hybrid online training (RLPD, Ball et al., 2023).
IDQL (Hansen-Estruch et al., 2023) is the same machinery without local steps or distillation: IQL's
critic, a diffusion policy cloned from the data, and re-ranking of its samples at action time.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch.profiler import record_function

from anypolicy.agents.base import Agent, step
from anypolicy.agents.calql import CalQLConfig, build_critic_and_policy
from anypolicy.agents.iql import IQL, IQLConfig
from anypolicy.config import ConfigError
from anypolicy.critics.losses import conservative_td_loss
from anypolicy.critics.q import polyak_update
from anypolicy.improve import ActionOptimization, distillation_targets, select
from anypolicy.improve.registry import Settings, check_operator, improve_actions


@dataclass
class ActionOptConfig:
    samples: int = 32  # k: actions sampled from the policy per state
    keep: int = 10  # m: kept by Q after global optimization (keep = samples: no re-ranking)
    local_steps: int = 10  # T: gradient-ascent steps on each kept action (0: global only)
    step_size: float = 3e-4  # alpha of the local steps
    local_step: str = "gradient"  # gradient (T steps of alpha), or cfpi: one closed-form trust-region step
    cfpi_log_tau: float = 0.5  # trust region of the cfpi step, relative to the spread of the policy's samples
    data_action: bool = True  # the dataset action joins the candidates (Algorithm 1)
    data_action_replaces: bool = True  # ... in the place of the lowest-Q one, m candidates in all (reference code)
    local_rule: str = "best-of-T"  # all T steps, best iterate kept (reference code); first-failure: stop there
    selection: str = "argmax"  # TD-target action: argmax, or sample from softmax(Q / temperature)
    distill: str = "argmax"  # policy targets: argmax, sample (a softmax draw), all (softmax-weighted), or auto
    distill_auto_std: float = 1.0  # auto (Appendix B): argmax while the candidates' Q std stays below this
    temperature: float = 1.0  # of the softmax over candidate Q-values
    act_optimize: bool = True  # act with the argmax of optimized candidates (false: the policy's own act)
    act_search: str = "candidates"  # acting operator (improve/registry.py): candidates (global + local), cem-policy, ...
    cem_iterations: int = 5  # CEM rounds at action time
    cem_population: int = 64  # CEM draws per round (the best tenth are the elites)
    action_cache: int = 0  # >0: draw the k samples ahead, refresh every N updates (offline: of every dataset state)
    cache_pool: int = 32768  # online with action_cache: the transitions of each round's pool (its batches' states)
    distill_after: int = 0  # critic warm-up: no distillation during the first N updates of a run
    distill_every: int = 1  # distill at every N-th update only (the critic still learns at each)
    late_after: int = 0  # >0: after N updates switch to the cheaper late setting below
    late_samples: int = 0  # k late in training (0: unchanged); kept candidates are min(keep, k)
    late_local_steps: int = -1  # T late in training (-1: unchanged)
    offline_distill: bool = False  # distil offline too (false: the paper's stages, offline the policy is only cloned)

    def __post_init__(self):  # refused when the config is made, before a run directory exists
        for name, low in (("distill_every", 1), ("late_after", 0), ("late_samples", 0), ("late_local_steps", -1)):
            if getattr(self, name) < low:
                raise ConfigError(f"{name} must be at least {low}, got {getattr(self, name)}.")
        if self.late_samples > self.samples:
            raise ConfigError(f"late_samples ({self.late_samples}) must not exceed samples ({self.samples}): the "
                              "late setting draws fewer candidates, not more.")
        for name, allowed in (("selection", ("argmax", "sample")), ("distill", ("argmax", "sample", "all", "auto")),
                              ("local_rule", ("best-of-T", "first-failure")),
                              ("local_step", ("gradient", "cfpi"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got '{getattr(self, name)}'.")
        check_operator(self.act_search, key="act_search")


class ActionOptimizing:
    """What the PA-RL recipes share: the improvement operator on the current critic, distillation, acting."""

    def setup_improvement(self, cfg: ActionOptConfig) -> None:
        self.optimize = ActionOptimization(cfg.samples, min(cfg.keep, cfg.samples), cfg.local_steps, cfg.step_size,
                                           cfg.local_step, cfg.cfpi_log_tau, cfg.data_action_replaces, cfg.local_rule)
        # Appendix B's rule for distill=auto: the spread of candidate Q-values, followed while the critic learns
        self.register_buffer("candidate_q_spread", torch.zeros(()))
        self.train_optimize = self.optimize  # what the updates use: the late setting replaces it (acting never)
        check_operator(cfg.act_search, self.policy, key="act_search")
        self.distilling = True
        # Python decisions between updates (warm-up, schedules, cache refresh) cannot live inside a replayed
        # CUDA graph
        self.capturable = not (cfg.action_cache or cfg.distill_after or cfg.distill_every > 1 or cfg.late_after)
        self.action_cache, self.filled_round = {}, None  # samples [N, k, A] per key of the offline data
        if cfg.action_cache:  # the cache is a function of this policy snapshot and the round: rebuilt on resume
            self.cache_policy = copy.deepcopy(self.policy).requires_grad_(False)
            self.register_buffer("cache_round", torch.tensor(-1))

    def start_online(self) -> None:
        """Online rounds count from 0 again: the first one snapshots the policy and fills the cache anew."""
        super().start_online()
        self.action_cache, self.filled_round = {}, None
        if self.cfg.action_cache:
            self.cache_round.fill_(-1)

    def load_state_dict(self, state, strict: bool = True):
        """A run trained without the cache (e.g. offline, fine-tuned online with one) has no snapshot yet: it
        starts as the policy, replaced at the first round."""
        if self.cfg.action_cache and "cache_round" not in state:
            state = {**state, "cache_round": torch.tensor(-1),
                     **{"cache_" + k: v for k, v in state.items() if k.startswith("policy.")}}
        return super().load_state_dict(state, strict)

    def before_update(self, step: int, data: dict[str, torch.Tensor] | None) -> None:
        """Called by the training loops before update number `step` (1-based) with the offline data: the
        schedules (warm-up, distillation interval, late setting) and the action cache's refresh."""
        cfg = self.cfg
        self.distilling = step > cfg.distill_after and (step - cfg.distill_after - 1) % cfg.distill_every == 0
        if 0 < cfg.late_after < step and self.train_optimize is self.optimize:
            samples = cfg.late_samples or cfg.samples
            self.train_optimize = dataclasses.replace(
                self.optimize, samples=samples, keep=min(cfg.keep, samples),
                local_steps=cfg.local_steps if cfg.late_local_steps < 0 else cfg.late_local_steps)
        if not cfg.action_cache or data is None:
            return
        round_ = (step - 1) // cfg.action_cache
        if round_ != self.filled_round:
            if round_ != int(self.cache_round):  # a new round: snapshot the distilled policy
                self.cache_policy.load_state_dict(self.policy.state_dict())
                self.cache_round.fill_(round_)
            self.fill_cache(data, round_, self.cache_policy)

    @torch.no_grad()
    def fill_cache(self, data: dict[str, torch.Tensor], round_: int, policy, chunk: int = 256) -> None:
        """k samples of `policy` for every state of the offline data, from a random stream of the round's own
        (chunks of 256 states: 1.26x faster than 4096 for a diffusion policy at k = 8, one thread)."""
        device = self.obs_mean.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(7919 + round_)  # the main random stream is untouched
            for key in ("observations", "next_observations"):
                obs = data[key]
                self.action_cache[key] = torch.cat([policy.sample(self.normalize(obs[i:i + chunk]), self.cfg.samples)
                                                    for i in range(0, len(obs), chunk)])
        self.filled_round = round_

    def cached_samples(self, batch: dict[str, torch.Tensor], key: str) -> torch.Tensor | None:
        """The cached policy samples of the batch's dataset states (None: sample afresh, e.g. online data)."""
        if "indices" not in batch or key not in self.action_cache:
            return None
        return self.action_cache[key][batch["indices"], :self.train_optimize.samples]  # fewer late in training

    def ranking_q(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.q(obs, actions).mean(0)  # ensemble mean, as the paper ranks actions

    def improve(self, obs: torch.Tensor, data_actions: torch.Tensor | None = None,
                samples: torch.Tensor | None = None, acting: bool = False):
        operator = self.optimize if acting else self.train_optimize
        candidates = operator(obs, self.policy, self.ranking_q, self.action_low, self.action_high, data_actions,
                              samples, self.policy_input(obs))
        if not acting:
            self.track_spread(candidates)
        return candidates

    def track_spread(self, candidates) -> None:
        """Running mean (rate 0.001) of the candidates' Q std per state: what distill=auto decides by."""
        with torch.no_grad():
            self.candidate_q_spread.lerp_(candidates.q.std(-1).mean(), 1e-3)

    def distillation_loss(self, obs: torch.Tensor, candidates) -> torch.Tensor:
        cfg = self.cfg
        if cfg.distill == "auto":  # argmax while the spread is small, else a softmax draw (no host sync)
            best, _ = distillation_targets(candidates, "argmax")
            drawn, _ = distillation_targets(candidates, "sample", cfg.temperature)
            targets, weights = torch.where(self.candidate_q_spread < cfg.distill_auto_std, best, drawn), None
        else:
            targets, weights = distillation_targets(candidates, cfg.distill, cfg.temperature)
        return self.policy.loss(self.policy_input(obs), targets, weights)

    def act(self, obs: np.ndarray | torch.Tensor, deterministic: bool = True) -> np.ndarray:
        if not self.cfg.act_optimize:
            return Agent.act(self, obs, deterministic)
        obs_t = self.normalize(self.observation_tensor(obs))
        cfg = self.cfg
        if cfg.act_search != "candidates":  # another operator of the registry (CEM, re-ranking, ...)
            settings = Settings(samples=cfg.samples, log_tau=cfg.cfpi_log_tau, cem_iterations=cfg.cem_iterations,
                                cem_population=cfg.cem_population, policy_obs=self.policy_input(obs_t))
            return improve_actions(cfg.act_search, obs_t, self.policy, self.ranking_q, self.action_low,
                                   self.action_high, settings).cpu().numpy()
        candidates = self.improve(obs_t, acting=True)
        return select(candidates, "argmax" if deterministic else self.cfg.selection,
                      self.cfg.temperature).detach().cpu().numpy()


@dataclass
class PARLCalQLConfig(ActionOptConfig, CalQLConfig):
    policy: str = "diffusion"  # any policy class (its own supervised loss is all PA-RL uses)
    hidden: tuple[int, ...] | None = None  # policy size (None: the class's default)
    ensemble: int = 10  # Q heads (2: the small setting)
    policy_lr: float = 3e-4  # Adam learning rate of BC and of the distillation
    # the PA-RL reference's critic (cql_alpha 0.005, bins 128, cql_heads 2) is an option: on toy-nav's -1/0
    # rewards (OGBench's scale) it reached 0% where Cal-QL's alpha 5 on every MSE head reached 50% (defaults.py)
    bc_steps: int | None = None  # stage 1: BC updates of the base policy (None: half of the run's --steps)
    bc_run: str = ""  # a BC run (recipe bc, same policy) whose policy is stage 1: bc_steps becomes 0
    pretrain_local_steps: int = -1  # T of the stage-2 updates (-1: local_steps; acting always keeps local_steps)

    def resolved(self, tcfg) -> "PARLCalQLConfig":
        """bc_steps for a run of tcfg.steps offline updates, refused where no update would be left for the
        critic."""
        bc_steps = 0 if self.bc_run else tcfg.steps // 2 if self.bc_steps is None else self.bc_steps
        if not 0 <= bc_steps < tcfg.steps:
            raise ConfigError(f"bc_steps={bc_steps} leaves no critic pre-training in a run of {tcfg.steps} steps: "
                              "choose 0 <= bc_steps < steps (0 with bc_run=RUN, or to skip BC).")
        return dataclasses.replace(self, bc_steps=bc_steps)


BC, CRITIC, ONLINE = 0, 1, 2  # the stages of PA-RL's pipeline (paper, Algorithm 2 and section 5)


class PARLCalQL(ActionOptimizing, Agent):
    """The staged pipeline of the paper: (1) BC of the base policy with its own loss; (2) critic pre-training
    against the frozen base policy, whose k samples for every dataset state are drawn once (the cache is
    never refreshed while the policy is frozen); (3) online fine-tuning with distillation at every update.
    With offline_distill, stage 2 distills as well (the cache then follows `action_cache`)."""

    Config = PARLCalQLConfig

    def __init__(self, cfg: PARLCalQLConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        build_critic_and_policy(self, cfg)
        self.setup_improvement(cfg)
        self.bc_steps = cfg.bc_steps or 0  # None (unresolved, an agent built outside a run): no BC stage
        self.register_buffer("stage", torch.tensor(BC if self.bc_steps else CRITIC))  # saved: resume knows it
        self.stage_now = None  # a host copy of `stage`, read once per process

    def start_online(self) -> None:
        """Stage 3: the fine-tuning loop calls this once, before its first update."""
        super().start_online()
        self.stage.fill_(ONLINE)
        self.stage_now = ONLINE
        self.train_optimize = self.optimize  # stage 2's cheaper setting ends here

    def before_update(self, step: int, data: dict[str, torch.Tensor] | None) -> None:
        cfg = self.cfg
        if self.stage_now is None:
            self.stage_now = int(self.stage)
        if self.stage_now != ONLINE:  # offline: the stage follows the step (the buffer is written on a switch)
            stage = BC if step <= self.bc_steps else CRITIC
            if stage != self.stage_now:
                self.stage.fill_(stage)
            self.stage_now = stage
        if self.stage_now == BC:
            return
        if self.stage_now == CRITIC and cfg.pretrain_local_steps >= 0 and self.train_optimize is self.optimize:
            self.train_optimize = dataclasses.replace(self.optimize, local_steps=cfg.pretrain_local_steps)
        if self.stage_now == CRITIC and not cfg.offline_distill:
            self.distilling = False
            # the frozen policy's samples of every dataset state, drawn once (again alike on resume: same
            # weights, same stream); image data carry no state vectors to cache: sampled afresh
            if self.filled_round is None and data is not None and "observations" in data:
                self.fill_cache(data, 0, self.policy)
            return
        if self.stage_now == ONLINE and not cfg.action_cache:
            self.action_cache = {}  # online the policy moves at every update: fresh samples
        super().before_update(step - (self.bc_steps if self.stage_now == CRITIC else 0), data)

    def act(self, obs, deterministic: bool = True):
        if int(self.stage) == BC:  # no critic yet: the base policy acts
            return Agent.act(self, obs, deterministic)
        return super().act(obs, deterministic)

    def bc_update(self, batch):
        loss = self.policy.loss(self.policy_input(self.normalize(batch["observations"])), batch["actions"])
        step(self.policy_opt, loss)
        self.after_policy_step()
        zero = torch.zeros((), device=loss.device)
        return {"td_loss": zero, "cql_gap": zero, "q_data": zero, "policy_loss": loss.detach(),
                "candidate_q": zero, "candidate_q_std": zero, "stage": self.stage.float()}

    def update(self, batch):
        if self.stage_now == BC:
            return self.bc_update(batch)
        cfg = self.cfg
        obs, next_obs = self.normalize(batch["observations"]), self.normalize(batch["next_observations"])
        # the states' own candidates serve the regularizer (its first cql_states states) and distillation (all)
        n = len(obs) if self.distilling or not cfg.cql_states else cfg.cql_states
        cached = self.cached_samples(batch, "observations")
        here = self.improve(self.first_states(obs, n), batch["actions"][:n] if cfg.data_action else None,
                            None if cached is None else cached[:n])
        there = self.improve(next_obs, samples=self.cached_samples(batch, "next_observations"))
        m = cfg.cql_states or len(obs)
        with record_function("parl/critic"):
            with torch.no_grad():
                next_action = select(there, cfg.selection, cfg.temperature)
                target_q = self.q_target.subset_min(self.q_target(next_obs, next_action), cfg.target_heads)
                target = batch["rewards"] + cfg.discount * batch["masks"] * target_q
            critic_loss, metrics = conservative_td_loss(
                self.q, obs, batch["actions"], target, torch.cat([here.actions[:m], there.actions[:m]], 1),
                self.action_low, self.action_high, cfg.cql_alpha, cfg.cql_actions, None,
                batch["mc_returns"] if cfg.calibrated else None, cfg.cql_temperature, cfg.cql_heads, cfg.cql_states)
            step(self.critic_opt, critic_loss)
        policy_loss = torch.zeros((), device=obs.device)
        if self.distilling:
            with record_function("parl/distill"):
                policy_loss = self.distillation_loss(obs, here)
                step(self.policy_opt, policy_loss)
                self.after_policy_step()
        polyak_update(self.q_target, self.q, cfg.target_tau)
        return {**{k: v.detach() for k, v in metrics.items()}, "policy_loss": policy_loss.detach(),
                "candidate_q": here.q.mean(), "candidate_q_std": here.q.std(-1).mean(),
                "stage": self.stage.float()}  # metrics.csv records the stage of every row (0 BC, 1 critic, 2 online)


@dataclass
class PARLRLPDConfig(PARLCalQLConfig):
    cql_alpha: float = 0.0  # RLPD: no conservatism; the offline data enter through the mixed batches
    bins: int = 0  # RLPD's critics regress with MSE
    calibrated: bool = False
    needs_mc_returns: bool = False
    online_updates_per_step: int = 10  # update-to-data ratio when fine-tuned online (PA-RL's RLPD: 10)


class PARLRLPD(PARLCalQL):
    """Hybrid RLPD + PA-RL: start online from a BC policy (`anypolicy finetune BC_RUN --recipe parl-rlpd`)
    with a fresh critic, 50/50 offline/online batches, 10 updates per step, 2 of 10 heads per target."""

    Config = PARLRLPDConfig


@dataclass
class PARLIQLConfig(ActionOptConfig, IQLConfig):
    policy: str = "diffusion"  # any policy class
    hidden: tuple[int, ...] | None = None  # policy size (None: the class's default)
    critic_hidden: tuple[int, ...] | None = (256, 256)  # Q and V widths
    bc_only: bool = False  # distill nothing, online either: clone the dataset actions (IDQL)


class PARLIQL(ActionOptimizing, IQL):
    """IQL's critic as is; PA-RL replaces the advantage-weighted extraction. The paper's stages: offline, the
    base policy is cloned while the critic learns; IQL's critic learns from dataset actions alone, so BC (stage 1)
    and critic pre-training (stage 2) are independent and run side by side in one update; distillation of the
    improved actions starts online (stage 3), or offline too with offline_distill."""

    Config = PARLIQLConfig
    seed_batchable = False  # action optimization and its cache decide between steps
    fuses_steps = False  # the action optimization takes gradients of its own inside the loss

    def __init__(self, cfg: PARLIQLConfig, obs_dim, action_dim, action_low, action_high, **kw):
        super().__init__(cfg, obs_dim, action_dim, action_low, action_high, **kw)
        self.setup_improvement(cfg)
        self.register_buffer("online", torch.tensor(False))  # saved: a resumed fine-tuning run keeps distilling
        self.online_now = False  # its host copy, read by the update without a device sync

    def start_online(self) -> None:
        super().start_online()
        self.online.fill_(True)
        self.online_now = True

    def load_state_dict(self, state, strict: bool = True):
        """Checkpoints from before the stages (which distilled offline) load as offline ones."""
        result = super().load_state_dict({"online": torch.tensor(False), **state}, strict)
        self.online_now = bool(self.online)
        return result

    def extraction_loss(self, obs, batch, advantage):
        if not self.distilling:  # critic warm-up: the policy gets no gradient
            return torch.zeros((), device=obs.device)
        if self.cfg.bc_only or not (self.cfg.offline_distill or self.online_now):
            return self.policy.loss(self.policy_input(obs), batch["actions"])
        return self.distillation_loss(obs, self.improve(obs, batch["actions"] if self.cfg.data_action else None,
                                                        self.cached_samples(batch, "observations")))


@dataclass
class IDQLConfig(PARLIQLConfig):
    expectile: float = 0.7  # IDQL's (and PA-RL's IDQL baseline's) tau outside AntMaze
    keep: int = 32  # re-rank all samples
    local_steps: int = 0  # no gradient steps
    data_action: bool = False
    bc_only: bool = True  # the diffusion policy is plain behavior cloning


class IDQL(PARLIQL):
    Config = IDQLConfig
