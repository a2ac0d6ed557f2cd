"""The offline training loop: a run directory, periodic evaluation and logging, exact resume."""
from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from anypolicy.agents.base import Agent, recipe_class
from anypolicy.config import ConfigError, parse_assignments, to_dict
from anypolicy.data.dataset import sparse_rewards
from anypolicy.data.sampler import ImageSampler, OfflineSampler
from anypolicy.envs.registry import EnvError, check_env_matches, env_spaces, load_dataset
from anypolicy.envs.rollout import evaluate
from anypolicy.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from anypolicy.train.logger import Loggers
from anypolicy.hardware import resolve_device, resolve_precision
from anypolicy.train.run_config import (TrainConfig, check_precision, make_configs, read_run_config, refuse_existing_run,
                                        write_run_config)


def load_policy_from(agent: Agent, run_dir: Path, device) -> None:
    """The policy weights (and observation statistics) of another run's latest checkpoint."""
    weights, _ = load_checkpoint(latest_checkpoint(run_dir), device)
    own = agent.state_dict()
    keep = {k: v for k, v in weights.items() if (k.startswith("policy.") or k in ("obs_mean", "obs_std")) and k in own}
    agent.load_state_dict(keep, strict=False)


def check_value_range(acfg, data: dict[str, torch.Tensor]) -> None:
    """A distributional critic's support [v_min, v_max] must hold every value the rewards allow,
    [min(r, 0), max(r, 0)] / (1 - gamma); refused with the range to set otherwise."""
    if not getattr(acfg, "bins", 0):
        return
    scale = 1.0 / (1.0 - acfg.discount)
    low, high = min(float(data["rewards"].min()), 0.0) * scale, max(float(data["rewards"].max()), 0.0) * scale
    tol = 1e-3 * (high - low + 1.0)
    if acfg.v_min > low + tol or acfg.v_max < high - tol:
        raise ConfigError(f"the critic's value range [{acfg.v_min:g}, {acfg.v_max:g}] does not hold this data's values "
                          f"[{low:g}, {high:g}] (rewards / (1 - discount)): set v_min={low:g} v_max={high:g}.")


def build_agent(tcfg: TrainConfig, acfg, dims: dict, device, obs_mean=None, obs_std=None) -> Agent:
    """The recipe's agent; for image data (dims has image_shape) with an encoder in front, the recipe's
    networks built for its features."""
    torch.manual_seed(tcfg.seed)
    images = dims.get("image_shape")
    obs_dim = tcfg.encoder_features if images else dims["obs_dim"]
    agent = recipe_class(tcfg.recipe)(acfg, obs_dim, dims["action_dim"], np.array(dims["action_low"]),
                                      np.array(dims["action_high"]), obs_mean=obs_mean, obs_std=obs_std)
    if images:
        from anypolicy.nets.encoders import PixelInput, make_encoder

        channels, size, _ = images
        encoders = [make_encoder(tcfg.encoder, channels, size, tcfg.encoder_features)
                    for _ in range(2 if tcfg.encoder_sharing == "separate" else 1)]
        agent.attach_encoder(PixelInput(encoders[0], tcfg.augment_pad, *encoders[1:]))
    agent.built_from = {"format": 1, "train": to_dict(tcfg), "agent": to_dict(acfg), "dims": dims}
    return agent.to(device)  # moves parameters in place: the optimizers keep pointing at them


def train(recipe: str, dataset: str | None = None, env: str | None = None, steps: int | None = None,
          seed: int | None = None, run_dir: str | Path | None = None, overrides: list[str] | dict | None = None,
          stop_after: int | None = None) -> Path:
    """Train `recipe` on `dataset` and return the run directory. `stop_after` ends the run early at that
    step after writing a checkpoint, as a kill would (used to test resume)."""
    assignments = overrides if isinstance(overrides, dict) else parse_assignments(overrides or [])
    tcfg, acfg = make_configs(recipe, assignments, dataset=dataset, env=env, steps=steps, seed=seed)
    return train_configs(tcfg, acfg, run_dir, stop_after)


def train_configs(tcfg: TrainConfig, acfg, run_dir: str | Path | None = None, stop_after: int | None = None) -> Path:
    """Train from checked configs (`make_configs`, `explicit_configs`) and return the run directory."""
    run_dir = Path(run_dir or Path("runs") / f"{tcfg.recipe.split(':')[-1]}-{datetime.now():%Y%m%d-%H%M%S}")
    refuse_existing_run(run_dir)  # before the data are loaded
    device = resolve_device(tcfg.device)
    tcfg, data = checked_data(tcfg, acfg, device)
    agent = build_agent(tcfg, acfg, data[1], device, *data[2])
    write_run_config(run_dir, tcfg, acfg)
    return _run(run_dir, tcfg, acfg, stop_after=stop_after, data=data, agent=agent)


def evaluates_in_env(tcfg: TrainConfig) -> bool:
    """Whether the recipe is evaluated by episodes of `tcfg.env` (LCD evaluates by instruction chains)."""
    return recipe_class(tcfg.recipe).evaluate_run is Agent.evaluate_run


def checked_data(tcfg: TrainConfig, acfg, device):
    """The training data, and everything that can refuse a run before its directory exists: the evaluation
    environment (made before the data, which a first use generates: half an hour for OGBench), the dataset, its
    value range, and the match of their sizes. Returns the config with a Dict env's flattened keys recorded."""
    spaces = env_spaces(tcfg.env, tcfg.observation_keys) if evaluates_in_env(tcfg) and tcfg.env else None
    data = training_data(tcfg, acfg, device)
    check_value_range(acfg, data[0].data)
    if not evaluates_in_env(tcfg):
        return tcfg, data
    if spaces is None:
        raise EnvError(f"the dataset {tcfg.dataset} is valid ({data[1]['obs_dim']}-dim observations, "
                       f"{data[1]['action_dim']}-dim actions) but has no default environment to evaluate in: pass --env.")
    check_env_matches(tcfg.env, spaces, data[1])
    return dataclasses.replace(tcfg, observation_keys=tuple(spaces[2])), data


def resume(run_dir: str | Path, stop_after: int | None = None) -> Path:
    """Continue a stopped or killed run from its latest checkpoint."""
    run_dir = Path(run_dir)
    tcfg, acfg = read_run_config(run_dir)
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        print(f"{run_dir} has no checkpoint yet (stopped before step {tcfg.checkpoint_every}): "
              "training starts again from step 0.", file=sys.stderr)
    return _run(run_dir, tcfg, acfg, checkpoint=checkpoint, stop_after=stop_after)


def load_agent(run_dir: str | Path, device: str = "cpu") -> tuple[Agent, TrainConfig]:
    """The agent of a run's latest checkpoint, ready to act."""
    run_dir = Path(run_dir)
    tcfg, acfg = read_run_config(run_dir)
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"{run_dir} has no checkpoint yet.")
    weights, state = load_checkpoint(ckpt, device)
    agent = build_agent(tcfg, acfg, state["dims"], device)
    # buffers an older checkpoint lacks (e.g. the action bounds) keep the values built from its dims;
    # a missing learned parameter is still an error
    rebuilt = {n for n, _ in agent.named_buffers()} - set(weights)
    agent.load_state_dict({**{n: agent.get_buffer(n) for n in rebuilt}, **weights})
    return agent.eval(), tcfg


def run_eval(agent: Agent, tcfg: TrainConfig, episodes: int | None = None) -> dict:
    devices = [agent.obs_mean.device] if agent.obs_mean.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):  # evaluation never disturbs the training random streams,
        torch.manual_seed(tcfg.seed + 4)  # and a checkpoint evaluates the same whenever it is evaluated
        own = agent.evaluate_run(tcfg, episodes or tcfg.eval_episodes)
        if own is not None:
            return own
        return evaluate(lambda o: agent.act(o, deterministic=True), tcfg.env, episodes or tcfg.eval_episodes,
                        seed=tcfg.seed, num_envs=tcfg.eval_envs, frame_stack=eval_frame_stack(agent, tcfg),
                        observation_keys=tcfg.observation_keys)


def eval_frame_stack(agent: Agent, tcfg: TrainConfig) -> int:
    """Frames per observation in evaluation environments: the training stack for agents that see images."""
    return tcfg.frame_stack if agent.pixels is not None else 1


def with_precision(update, precision: str, device, graph: bool = False):
    """The update run under bf16 autocast (linear layers and matmuls in bfloat16, their inputs cast on the fly,
    optimizer states and weights fp32), or unchanged for fp32. For CUDA graph capture, without autocast's cache
    of cast weights (a cached cast would be replayed stale)."""
    if resolve_precision(check_precision(precision), device) == "fp32":
        return update

    def update_bf16(batch):
        with torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=not graph):
            return update(batch)
    return update_bf16


def rng_state(generator: torch.Generator, device: torch.device) -> dict:
    rng = {"sampler": generator.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state()
    return rng


def restore_rng(rng: dict, generator: torch.Generator, device: torch.device) -> None:
    generator.set_state(rng["sampler"])
    torch.set_rng_state(rng["torch"])
    if device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"])


def save_rotating(run_dir: Path, step: int, weights: dict, state: dict, keep: int) -> None:
    """Checkpoint RUN_DIR/checkpoints/step_N atomically and keep only the `keep` most recent."""
    save_checkpoint(run_dir / "checkpoints" / f"step_{step:09d}", weights, state)
    for old in sorted((run_dir / "checkpoints").glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def as_trained(tcfg: TrainConfig, dataset):
    """The dataset with the rewards the run trains on (sparse if it asks; scale and bias are the sampler's)."""
    return dataclasses.replace(dataset, rewards=sparse_rewards(dataset.rewards)) if tcfg.sparse_reward else dataset


def make_sampler(tcfg: TrainConfig, acfg, dataset, device) -> OfflineSampler:
    """Offline batches (rewards made sparse if the run asks); recipes whose config sets needs_mc_returns
    (Cal-QL) get Monte-Carlo returns, those that set needs_next_actions (SARSA) the data's next actions,
    reward_free ones (FB) masks that no task label sets."""
    discount = getattr(acfg, "discount", None) if getattr(acfg, "needs_mc_returns", False) else None
    dataset = as_trained(tcfg, dataset)
    kw = dict(reward_scale=tcfg.reward_scale, reward_bias=tcfg.reward_bias, discount=discount,
              next_actions=getattr(acfg, "needs_next_actions", False), reward_free=getattr(acfg, "reward_free", False))
    if dataset.frames is not None:
        return ImageSampler(dataset, device, tcfg.frame_stack, **kw)
    return OfflineSampler(dataset, device, **kw)


def training_data(tcfg: TrainConfig, acfg, device):
    """The offline sampler, the dimensions an agent is built with, and observation statistics (or Nones)."""
    own = recipe_class(tcfg.recipe).offline_data(tcfg, acfg, device)
    if own is not None:
        return own
    dataset = load_dataset(tcfg.dataset, tcfg.env, episodes=tcfg.dataset_episodes, seed=0)
    dims = dataset.dims(tcfg.frame_stack)
    stats = dataset.observation_stats() if tcfg.normalize_observations and dataset.frames is None else (None, None)
    return make_sampler(tcfg, acfg, dataset, device), dims, stats


def _run(run_dir: Path, tcfg: TrainConfig, acfg, checkpoint: Path | None = None,
         stop_after: int | None = None, data=None, agent: Agent | None = None) -> Path:
    from tqdm import tqdm

    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    sampler, dims, stats = data or training_data(tcfg, acfg, device)
    agent = agent or build_agent(tcfg, acfg, dims, device, *stats)
    generator = torch.Generator(device=device).manual_seed(tcfg.seed)
    update = agent.update
    graphed = device.type == "cuda" and tcfg.cuda_graph and agent.capturable
    if graphed:
        from anypolicy.train.cuda_graph import capture_update, load_optimizer_in_place

        try:
            update = capture_update(agent, sampler.sample(tcfg.batch_size, torch.Generator(device).manual_seed(0)),
                                    with_precision(agent.update, tcfg.precision, device, graph=True))
        except RuntimeError as exc:  # an update that cannot be captured still trains, without the graph
            import warnings

            warnings.warn(f"CUDA graph capture failed ({exc}); training without it (set cuda_graph=false to skip).")
            graphed = False
    if not graphed:  # a graph replays the kernels it captured, under the precision it was captured in
        if tcfg.compile is None:  # auto, for a long CPU run of a fused recipe: the faster of the two, measured
            from anypolicy.train.autocompile import choose_compile

            tcfg = dataclasses.replace(tcfg, compile=choose_compile(run_dir, agent, sampler, tcfg.batch_size, device))
        update = with_precision(agent.compiled_update() if tcfg.compile else update, tcfg.precision, device)
    start = 0
    if checkpoint is not None:
        weights, state = load_checkpoint(checkpoint, device)
        agent.load_state_dict(weights)
        for name, opt in agent.optimizers().items():
            if graphed:
                load_optimizer_in_place(opt, state["optimizers"][name])
            else:
                opt.load_state_dict(state["optimizers"][name])
        restore_rng(state["rng"], generator, device)
        start = int(state["step"])
        train_before = float(state.get("train_seconds", 0.0))  # update time of the sessions before this one
    else:
        train_before = 0.0
        if getattr(acfg, "bc_run", ""):  # stage 1 done elsewhere: start from that run's policy
            load_policy_from(agent, Path(acfg.bc_run), device)
        torch.manual_seed(tcfg.seed + 1)  # the training stream, distinct from initialization

    loggers = Loggers(run_dir, tensorboard=tcfg.tensorboard, wandb=tcfg.wandb)
    loggers.truncate_after(start)

    def save(step: int) -> None:
        state = {"step": step, "optimizers": {k: o.state_dict() for k, o in agent.optimizers().items()},
                 "rng": rng_state(generator, device), "dims": dims, "train_seconds": train_before + train_time + busy}
        save_rotating(run_dir, step, agent.state_dict(), state, tcfg.keep_checkpoints)

    end = tcfg.steps if stop_after is None else min(stop_after, tcfg.steps)
    bar = tqdm(total=tcfg.steps, initial=start, disable=not tcfg.progress, dynamic_ncols=True,
               desc=f"{tcfg.recipe} {Path(run_dir).name}", unit="step")
    sums: dict[str, torch.Tensor] = {}
    count, busy, train_time, eval_result = 0, 0.0, 0.0, None  # busy: update seconds in this log interval
    t_mark = time.perf_counter()
    agent.train()
    for step in range(start + 1, end + 1):
        agent.before_update(step, sampler.data)
        metrics = update(sampler.sample(tcfg.batch_size, generator))
        for k, v in metrics.items():  # stay on the device; read only at log time
            sums[k] = sums[k] + v if k in sums else v.clone()
        count += 1
        if step % tcfg.log_every == 0 or step == end:
            values = {k: float(v) / count for k, v in sums.items()}  # reading synchronizes the device
            busy += time.perf_counter() - t_mark
            train_time += busy
            values["updates_per_s"] = count / busy
            loggers.log("train", step, values)
            bar.update(count)
            bar.set_postfix({k: f"{v:.3g}" for k, v in list(values.items())[:3]})
            sums, count, busy = {}, 0, 0.0
            t_mark = time.perf_counter()
        evaluate_now = (tcfg.eval_every and step % tcfg.eval_every == 0) or step == tcfg.steps
        if evaluate_now or step % tcfg.checkpoint_every == 0 or step == end:
            busy += time.perf_counter() - t_mark  # evaluation and checkpoints do not count as update time
            if evaluate_now:
                agent.eval()
                agent.before_eval(sampler.data)
                eval_result = run_eval(agent, tcfg)
                agent.train()
                loggers.log("eval", step, eval_result)
                bar.write(f"step {step}: " + ", ".join(f"{k} {v:.3g}" for k, v in eval_result.items()))
            if step % tcfg.checkpoint_every == 0 or step == end:
                save(step)
            t_mark = time.perf_counter()
    bar.close()
    loggers.close()
    if end == tcfg.steps:
        write_summary(run_dir, tcfg, eval_result, train_time, device, train_before + train_time)
    return run_dir


def write_summary(run_dir: Path, tcfg: TrainConfig, eval_result: dict | None, train_time: float, device,
                  total_time: float | None = None) -> None:
    """summary.json: what a finished run reached (a run without one is unfinished). train_seconds: update
    time over every session of the run (resumes included); train_seconds_last_session: this session's."""
    summary = {"steps": tcfg.steps, "recipe": tcfg.recipe, "dataset": tcfg.dataset, "env": tcfg.env,
               "seed": tcfg.seed, "final_eval": eval_result,
               "train_seconds": round(train_time if total_time is None else total_time, 1),
               "train_seconds_last_session": round(train_time, 1), "device": str(device)}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
