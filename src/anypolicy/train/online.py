"""Offline-to-online fine-tuning: continue a run in its environment with mixed offline/online batches.

Each environment step takes `updates_per_step` updates on batches drawn `online_ratio` from the replay
buffer and the rest from the offline data. A finished episode enters the buffer whole (so that Cal-QL's
Monte-Carlo returns are known). Checkpoints are written at episode ends and hold the buffer, the
optimizers and every random stream; episodes are reset with seeds derived from their index, so a killed
run resumes exactly.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from anypolicy.agents.base import recipe_class
from anypolicy.config import ConfigError, override, parse_assignments, to_dict
from anypolicy.data.dataset import return_to_go, sparse_rewards
from anypolicy.data.sampler import MixedSampler, PoolSampler, ReplayBuffer
from anypolicy.envs.registry import load_dataset, make_env
from anypolicy.envs.rollout import step_success
from anypolicy.train.checkpoint import latest_checkpoint, load_checkpoint
from anypolicy.train.logger import Loggers
from anypolicy.train.loop import (build_agent, make_sampler, read_run_config, resolve_device, restore_rng,
                                  rng_state, run_eval, save_rotating, with_precision)


@dataclass
class OnlineConfig:
    online_steps: int = 100_000  # environment steps
    online_ratio: float = 0.5  # share of each batch drawn from the online replay buffer (online_sampling=ratio)
    online_sampling: str = ""  # ratio, or uniform over offline + online transitions; "": the recipe's (FQL: uniform)
    updates_per_step: int | None = None  # updates per environment step (None: the recipe's, else 1)
    reset_optimizers: bool = False  # start fine-tuning with fresh optimizer states
    explore: bool = True  # collect with the stochastic policy (false: its deterministic action)
    eval_every: int = 5_000  # environment steps between evaluations
    checkpoint_every: int = 5_000  # environment steps between checkpoints (written at the next episode end)
    log_every: int = 1_000  # environment steps between train-metric rows
    buffer_capacity: int = 1_000_000  # online transitions kept


def finetune(source: str | Path, online_steps: int | None = None, run_dir: str | Path | None = None,
             overrides: list[str] | dict | None = None, stop_after: int | None = None,
             recipe: str | None = None) -> Path:
    """Fine-tune the latest checkpoint of offline run `source` online; returns the new run directory
    (default SOURCE-online). `overrides` may set online, train and agent fields. With a `recipe` other
    than the source's (hybrid: `recipe="parl-rlpd"` from a BC run), a fresh agent of that recipe starts
    from the source's policy (same class and size) and observation statistics."""
    source = Path(source)
    tcfg, acfg = read_run_config(source)
    ckpt = latest_checkpoint(source)
    if ckpt is None:
        raise FileNotFoundError(f"{source} has no checkpoint to fine-tune.")
    warm_start = recipe is not None and recipe != tcfg.recipe
    if warm_start:
        shared = {f.name for f in dataclasses.fields(acfg)} & {"policy", "policy_options", "hidden", "activation"}
        new_cfg = recipe_class(recipe).Config()
        acfg = dataclasses.replace(new_cfg, **{k: getattr(acfg, k) for k in shared if hasattr(new_cfg, k)})
        tcfg = dataclasses.replace(tcfg, recipe=recipe)
    assignments = overrides if isinstance(overrides, dict) else parse_assignments(overrides or [])
    ocfg, rest = override(OnlineConfig(), assignments, strict=False)
    if online_steps is not None:
        ocfg = dataclasses.replace(ocfg, online_steps=online_steps)
    tcfg, rest = override(tcfg, rest, strict=False)
    acfg, unknown = override(acfg, rest, strict=False)
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(sorted(unknown))} for fine-tuning.")
    if ocfg.updates_per_step is None:
        ocfg = dataclasses.replace(ocfg, updates_per_step=getattr(acfg, "online_updates_per_step", 1))
    if not ocfg.online_sampling:
        ocfg = dataclasses.replace(ocfg, online_sampling=getattr(acfg, "ONLINE_SAMPLING", "ratio"))
    if ocfg.online_steps < 1 or ocfg.updates_per_step < 0 or not 0 <= ocfg.online_ratio <= 1 or \
            ocfg.online_sampling not in ("ratio", "uniform"):
        raise ConfigError("online_steps must be >= 1, updates_per_step >= 0, online_ratio in [0, 1] and "
                          f"online_sampling ratio or uniform (got '{ocfg.online_sampling}').")
    run_dir = Path(run_dir or f"{source}-online")
    if (run_dir / "config.json").exists():
        raise FileExistsError(f"{run_dir} already holds a run: resume it with `anypolicy finetune --resume {run_dir}`.")
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"train": to_dict(tcfg), "agent": to_dict(acfg), "online": to_dict(ocfg), "source": str(ckpt),
              "warm_start": warm_start}
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    return _run_online(run_dir, stop_after=stop_after)


def resume_online(run_dir: str | Path, stop_after: int | None = None) -> Path:
    return _run_online(Path(run_dir), stop_after=stop_after)


def _episode_seed(seed: int, episode: int) -> int:
    return int(np.random.SeedSequence([seed, episode]).generate_state(1)[0])


def _run_online(run_dir: Path, stop_after: int | None = None) -> Path:
    tcfg, acfg = read_run_config(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    ocfg = OnlineConfig(**config["online"])
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    dataset = load_dataset(tcfg.dataset, tcfg.env, episodes=tcfg.dataset_episodes, seed=0)
    if dataset.frames is not None:
        raise ConfigError(f"{tcfg.dataset}: online fine-tuning from images is not supported yet (the replay buffer "
                          "holds state vectors); fine-tune from the state dataset.")
    offline = make_sampler(tcfg, acfg, dataset, device)
    mc = "mc_returns" in offline.data
    buffer = ReplayBuffer(ocfg.buffer_capacity, dataset.obs_dim, dataset.action_dim, device,
                          ("mc_returns",) if mc else ())
    sampler = MixedSampler(offline, buffer, ocfg.online_ratio, uniform=ocfg.online_sampling == "uniform")
    # PA-RL with an action cache online: rounds of `action_cache` updates on a pool whose samples are cached
    rounds = getattr(acfg, "action_cache", 0)
    pool = PoolSampler(sampler, acfg.cache_pool, tcfg.seed) if rounds else None
    generator = torch.Generator(device=device).manual_seed(tcfg.seed + 2)

    resume_from = latest_checkpoint(run_dir)
    weights, state = load_checkpoint(resume_from or Path(config["source"]), device)
    agent = build_agent(tcfg, acfg, state["dims"], device)
    fresh_start = resume_from is None
    update = with_precision(agent.update, tcfg.precision, device)  # the offline run's precision, as recorded
    if fresh_start and config.get("warm_start"):  # another recipe: take what matches (policy, statistics)
        own = agent.state_dict()
        matched = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
        if any(k.startswith("policy.") and k not in matched for k in own):
            raise ConfigError(f"the policy of {config['source']} does not fit recipe {tcfg.recipe}'s policy "
                              "(class or size differ); set policy, hidden and policy_options as in the source run.")
        agent.load_state_dict(matched, strict=False)
    else:
        agent.load_state_dict(weights)
    fresh_optimizers = fresh_start and (ocfg.reset_optimizers or config.get("warm_start"))
    if not fresh_optimizers:
        for name, opt in agent.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])
    counters = {"env_steps": 0, "episodes": 0, "updates": 0}
    if resume_from is not None:
        restore_rng(state["rng"], generator, device)
        buffer.load_state_dict(state["buffer"])
        counters = {k: int(state[k]) for k in counters}
        if pool is not None and counters["updates"] % rounds:  # stopped inside a round: the same pool again
            pool.refresh(counters["updates"] // rounds, int(state["pool_online_size"]))
    else:
        agent.start_online()
        torch.manual_seed(tcfg.seed + 3)

    loggers = Loggers(run_dir, tensorboard=tcfg.tensorboard, wandb=tcfg.wandb)
    loggers.truncate_after(counters["env_steps"], kinds=("train", "eval", "episodes"))
    env = make_env(tcfg.env, observation_keys=tcfg.observation_keys)
    end = ocfg.online_steps if stop_after is None else min(stop_after, ocfg.online_steps)
    sums, count, busy, next_checkpoint = {}, 0, 0.0, counters["env_steps"] + ocfg.checkpoint_every
    eval_result = None
    while counters["env_steps"] < ocfg.online_steps:
        obs, _ = env.reset(seed=_episode_seed(tcfg.seed, counters["episodes"]))
        episode, done, success = [], False, False
        while not done and counters["env_steps"] < ocfg.online_steps:
            agent.eval()
            action = agent.act(obs[None].astype(np.float32), deterministic=not ocfg.explore)[0]
            agent.train()
            next_obs, reward, terminal, truncated, info = env.step(action)
            episode.append((obs, action, reward, next_obs, terminal))
            success = success or step_success(info)
            obs, done = next_obs, terminal or truncated
            counters["env_steps"] += 1
            t0 = time.perf_counter()
            for i in range(ocfg.updates_per_step):
                done_updates = counters["updates"] + i
                if pool is not None and done_updates % rounds == 0:
                    pool.refresh(done_updates // rounds, buffer.size)
                agent.before_update(done_updates + 1, offline.data if pool is None else pool.data)
                metrics = update((sampler if pool is None else pool).sample(tcfg.batch_size, generator))
                for k, v in metrics.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                count += 1
            counters["updates"] += ocfg.updates_per_step
            busy += time.perf_counter() - t0
            step = counters["env_steps"]
            if step % ocfg.log_every == 0 and count:
                values = {k: float(v) / count for k, v in sums.items()}
                values["updates_per_s"] = count / max(busy, 1e-9)
                values["buffer_size"] = buffer.size
                loggers.log("train", step, values)
                sums, count, busy = {}, 0, 0.0
            if step % ocfg.eval_every == 0 or step == ocfg.online_steps:
                eval_result = run_eval(agent.eval(), tcfg)
                agent.train()
                loggers.log("eval", step, eval_result)
                print(f"online step {step}: " + ", ".join(f"{k} {v:.3g}" for k, v in eval_result.items()), flush=True)
        _add_episode(buffer, episode, tcfg, acfg if mc else None)
        counters["episodes"] += 1
        loggers.log("episodes", counters["env_steps"], {"episode": counters["episodes"], "success": float(success),
                                                         "return": float(sum(t[2] for t in episode)),
                                                         "length": len(episode)})
        finished = counters["env_steps"] >= ocfg.online_steps
        if counters["env_steps"] >= next_checkpoint or counters["env_steps"] >= end or finished:
            state = {**counters, "optimizers": {k: o.state_dict() for k, o in agent.optimizers().items()},
                     "rng": rng_state(generator, device), "dims": state["dims"], "buffer": buffer.state_dict(),
                     "step": counters["env_steps"], "pool_online_size": pool.online_size if pool else 0}
            save_rotating(run_dir, counters["env_steps"], agent.state_dict(), state, tcfg.keep_checkpoints)
            next_checkpoint = counters["env_steps"] + ocfg.checkpoint_every
            if counters["env_steps"] >= end and not finished:
                break
    loggers.close()
    env.close()
    if counters["env_steps"] >= ocfg.online_steps:
        summary = {"online_steps": ocfg.online_steps, "recipe": tcfg.recipe, "env": tcfg.env, "seed": tcfg.seed,
                   "source": config["source"], "final_eval": eval_result, "episodes": counters["episodes"]}
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return run_dir


def _add_episode(buffer: ReplayBuffer, episode: list, tcfg, acfg) -> None:
    """Store a finished episode: rewards scaled as the offline data, Monte-Carlo returns when needed."""
    obs, actions, rewards, next_obs, terminals = (np.array(x, np.float32) for x in zip(*episode))
    rewards = (sparse_rewards(rewards) if tcfg.sparse_reward else rewards) * tcfg.reward_scale + tcfg.reward_bias
    extra = {}
    if acfg is not None:  # an episode cut by the time limit continues its last reward (data/dataset.py)
        extra["mc_returns"] = return_to_go(rewards, acfg.discount, truncated=not terminals[-1]).astype(np.float32)
    buffer.add(obs, actions, rewards, next_obs, terminals, **extra)
