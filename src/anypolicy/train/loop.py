"""The offline training loop: a run directory, periodic evaluation and logging, exact resume."""
from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from anypolicy.agents.base import Agent, recipe_class
from anypolicy.config import ConfigError, check_ranges, override, parse_assignments, to_dict
from anypolicy.data.sampler import ImageSampler, OfflineSampler
from anypolicy.envs.registry import EnvError, check_env_matches, default_env_for, env_spaces, load_dataset
from anypolicy.envs.rollout import evaluate
from anypolicy.policies import check_policy_config
from anypolicy.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from anypolicy.train.logger import Loggers


@dataclass
class TrainConfig:
    recipe: str = "iql"  # algorithm name (anypolicy.agents.base.RECIPES)
    dataset: str = "toy:nav"  # dataset spec: ogbench:<domain>-<kind>, toy:nav, or a path
    env: str | None = None  # evaluation environment (default: the dataset's default task); module:EnvId imports module
    observation_keys: tuple[str, ...] = ()  # Dict observations: the keys flattened, in order (default: all; recorded)
    dataset_episodes: int | None = None  # episodes to generate/load (None: the source's full size)
    steps: int = 10_000  # gradient steps
    seed: int = 0  # fixes initialization, data order, sampling and evaluation
    batch_size: int = 256  # transitions per update
    log_every: int = 1_000  # steps between train-metric rows
    eval_every: int = 10_000  # steps between evaluations (0: only at the end)
    eval_episodes: int = 10  # episodes per evaluation
    eval_envs: int = 10  # environments stepped in lockstep during evaluation
    checkpoint_every: int = 10_000  # steps between checkpoints (always one at the end)
    keep_checkpoints: int = 2  # most recent checkpoints kept on disk
    reward_scale: float = 1.0  # r <- r * scale + bias
    reward_bias: float = 0.0
    normalize_observations: bool | None = None  # standardize observations by dataset statistics (None: the recipe's)
    encoder: str = "impala"  # image datasets (ogbench:visual-*): impala or resnet18, in front of every network
    encoder_features: int = 256  # its output size (the obs_dim the recipe's networks are built for)
    encoder_sharing: str = "shared"  # shared: one encoder, trained by the critic; separate: the policy has its own
    frame_stack: int = 3  # image datasets: the last k frames form an observation
    augment_pad: int = 4  # image datasets: DrQ random shift of up to this many pixels while training (0: none)
    device: str = "auto"  # cpu, cuda, or auto
    threads: int = 0  # torch CPU threads (0: torch's default)
    cuda_graph: bool = True  # on a GPU, replay each update as one captured CUDA graph
    compile: bool = False  # torch.compile the update, each step one graph where the recipe allows (CPU: ~1.3x)
    precision: str = "fp32"  # fp32, or bf16: matrix products of the update in bfloat16 (autocast; weights stay fp32)
    tensorboard: bool = True  # write TensorBoard events to RUN_DIR/tensorboard
    wandb: bool = False  # log to Weights & Biases (needs wandb installed)
    progress: bool = True  # show a progress bar


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def make_configs(recipe: str, assignments: dict[str, str], **train_fields):
    """Train and agent configs from a recipe name, explicit fields and `key=value` overrides."""
    tcfg = dataclasses.replace(TrainConfig(recipe=recipe), **{k: v for k, v in train_fields.items() if v is not None})
    tcfg, rest = override(tcfg, assignments, strict=False)
    agent_cls = recipe_class(tcfg.recipe)
    acfg, unknown = override(domain_defaults(agent_cls.Config(), tcfg.dataset), rest, strict=False)
    if unknown:
        valid = sorted({f.name for f in dataclasses.fields(tcfg)} | {f.name for f in dataclasses.fields(acfg)})
        raise ConfigError(f"unknown config key(s) {', '.join(sorted(unknown))} for recipe '{tcfg.recipe}'; "
                          f"valid keys: {', '.join(valid)}.")
    return checked_configs(tcfg, acfg)


def explicit_configs(tcfg: TrainConfig, acfg):
    """Typed configs from the Python API: the agent config's fields left at their class defaults take the
    dataset's domain defaults, as the command line's unset keys do; the rest are checked as there."""
    tcfg = override(TrainConfig(), {f.name: getattr(tcfg, f.name) for f in dataclasses.fields(tcfg)})[0]
    base = type(acfg)()
    given = {f.name: getattr(acfg, f.name) for f in dataclasses.fields(acfg) if getattr(acfg, f.name) != getattr(base, f.name)}
    return checked_configs(tcfg, override(domain_defaults(base, tcfg.dataset), given)[0])  # values type-checked


def checked_configs(tcfg: TrainConfig, acfg):
    """Every refusal of a bad value and every run-dependent field, before anything is written."""
    check_policy_config(acfg)
    check_ranges(tcfg)
    check_ranges(acfg)
    if hasattr(acfg, "check"):  # a recipe's own refusals of bad values, before anything is written
        acfg.check()
    if tcfg.normalize_observations is None:  # TD3+BC and CFPI standardize states in their papers
        tcfg = dataclasses.replace(tcfg, normalize_observations=getattr(acfg, "NORMALIZE_OBSERVATIONS", False))
    if hasattr(acfg, "resolved"):  # fields that depend on the run (PA-RL: the length of its BC stage)
        acfg = acfg.resolved(tcfg)
    if getattr(acfg, "bc_run", ""):
        check_bc_run(Path(acfg.bc_run), acfg)
    if tcfg.env is None:  # a dataset with no default environment (a file) is validated first, then asks for --env
        try:
            tcfg = dataclasses.replace(tcfg, env=default_env_for(tcfg.dataset))
        except EnvError:
            pass
    check_precision(tcfg.precision)
    from anypolicy.nets.encoders import ENCODERS

    if tcfg.encoder not in ENCODERS or tcfg.augment_pad < 0 or tcfg.encoder_sharing not in ("shared", "separate"):
        raise ConfigError(f"encoder must be one of {', '.join(ENCODERS)}, augment_pad >= 0 and encoder_sharing "
                          f"shared or separate; got '{tcfg.encoder}', {tcfg.augment_pad}, '{tcfg.encoder_sharing}'.")
    for name in ("steps", "batch_size", "log_every", "eval_episodes", "frame_stack", "encoder_features"):
        if getattr(tcfg, name) < 1:
            raise ConfigError(f"{name} must be at least 1, got {getattr(tcfg, name)}.")
    return tcfg, acfg


def check_bc_run(run_dir: Path, acfg) -> None:
    """A BC run that can be stage 1 of a staged recipe: finished, with the same policy class and size."""
    tcfg_bc, bc_cfg = read_run_config(run_dir)
    if latest_checkpoint(run_dir) is None:
        raise ConfigError(f"bc_run={run_dir} has no checkpoint yet: finish or resume it first.")
    same = all(getattr(bc_cfg, k, None) == getattr(acfg, k) for k in ("policy", "hidden", "policy_options", "activation"))
    if tcfg_bc.recipe != "bc" or not same:
        raise ConfigError(f"bc_run={run_dir} is a {tcfg_bc.recipe} run with policy {getattr(bc_cfg, 'policy', '?')}: "
                          "it must be a bc run of the same policy, hidden, policy_options and activation.")


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


def domain_defaults(acfg, dataset: str):
    """The recipe's defaults for the dataset's OGBench domain (a config's DOMAIN_DEFAULTS, e.g. IQL's AWR
    temperature per domain as in the FQL paper); explicit --set values still override them."""
    table = getattr(type(acfg), "DOMAIN_DEFAULTS", {})
    if not table or not dataset.startswith("ogbench:"):
        return acfg
    from anypolicy.data.ogbench import parse_source
    from anypolicy.data.visual import state_source

    domain, _ = parse_source(state_source(dataset))
    return override(acfg, table.get(domain, {}))[0]


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


def refuse_existing_run(run_dir: Path) -> None:
    if (run_dir / "config.json").exists():
        raise FileExistsError(f"{run_dir} already holds a run: resume it with `anypolicy train --resume {run_dir}` "
                              "or choose another --run-dir.")


def write_run_config(run_dir: Path, tcfg: TrainConfig, acfg, **extra) -> None:
    """Create a run directory with its config.json (refusing one that already holds a run)."""
    refuse_existing_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    config = {"train": to_dict(tcfg), "agent": to_dict(acfg), "git_commit": _git_commit(),
              "command": shlex.join(sys.argv),
              "versions": {p: version(p) for p in ("torch", "numpy", "gymnasium")}, **extra}
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))


def read_run_config(run_dir: Path):
    """The train and agent configs a run was started with."""
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json).")
    return configs_from(json.loads((run_dir / "config.json").read_text()), run_dir)


def configs_from(config: dict, where) -> tuple:
    """The train and agent configs of a config.json or agent.json ({"train": ..., "agent": ...})."""
    def build(cls, values: dict):  # keys an older version wrote and this one no longer has are dropped
        known = {f.name for f in dataclasses.fields(cls)}
        if set(values) - known:
            import warnings

            warnings.warn(f"{where}: ignoring config keys this version does not have: "
                          f"{', '.join(sorted(set(values) - known))}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in known})

    tcfg = build(TrainConfig, config["train"])
    return tcfg, build(recipe_class(tcfg.recipe).Config, config["agent"])


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


def check_precision(precision: str) -> str:
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"precision must be fp32 or bf16, got '{precision}'.")
    return precision


def with_precision(update, precision: str, device):
    """The update run under bf16 autocast (linear layers and matmuls in bfloat16, their inputs cast on the fly,
    optimizer states and weights fp32), or unchanged for fp32."""
    if check_precision(precision) == "fp32":
        return update

    def update_bf16(batch):
        with torch.autocast(device.type, dtype=torch.bfloat16):
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


def make_sampler(tcfg: TrainConfig, acfg, dataset, device) -> OfflineSampler:
    """Offline batches; recipes whose config sets needs_mc_returns (Cal-QL) get Monte-Carlo returns,
    those that set needs_next_actions (SARSA) the data's next actions, reward_free ones (FB) masks that no
    task label sets."""
    discount = getattr(acfg, "discount", None) if getattr(acfg, "needs_mc_returns", False) else None
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
            update = capture_update(agent, sampler.sample(tcfg.batch_size, torch.Generator(device).manual_seed(0)))
        except RuntimeError as exc:  # an update that cannot be captured still trains, without the graph
            import warnings

            warnings.warn(f"CUDA graph capture failed ({exc}); training without it (set cuda_graph=false to skip).")
            graphed = False
    elif tcfg.compile:
        update = agent.compiled_update()
    update = with_precision(update, tcfg.precision, device)
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
