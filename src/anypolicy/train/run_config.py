"""A run's configs: the train config, the recipe's config resolved from overrides (strings from the command
line, typed values from the Python API) with every refusal before anything is written, and the run
directory's config.json."""
from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from anypolicy.agents.base import recipe_class
from anypolicy.config import ConfigError, check_ranges, override, to_dict
from anypolicy.envs.registry import EnvError, default_env_for
from anypolicy.hardware import machine, resolve_compile, resolve_device, resolve_precision
from anypolicy.policies import check_policy_config
from anypolicy.train.checkpoint import latest_checkpoint


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
    sparse_reward: bool = False  # r <- -1 unless r == 0 (every subtask of the task done), before scale and bias
    normalize_observations: bool | None = None  # standardize observations by dataset statistics (None: the recipe's)
    encoder: str = "impala"  # image datasets (ogbench:visual-*): impala or resnet18, in front of every network
    encoder_features: int = 256  # its output size (the obs_dim the recipe's networks are built for)
    encoder_sharing: str = "shared"  # shared: one encoder, trained by the critic; separate: the policy has its own
    frame_stack: int = 3  # image datasets: the last k frames form an observation
    augment_pad: int = 4  # image datasets: DrQ random shift of up to this many pixels while training (0: none)
    device: str = "auto"  # cpu, cuda, or auto
    threads: int = 0  # torch CPU threads (0: torch's default)
    cuda_graph: bool = True  # on a GPU, replay each update as one captured CUDA graph
    compile: bool | None = None  # torch.compile the update, each step one graph where the recipe allows; None
    # (auto): a CPU run of 10k+ updates of a fused recipe times both at its start and keeps the faster (recorded)
    precision: str = "auto"  # auto: bf16 where the device has native bf16 (recorded), else fp32; fp32; or bf16:
    # the update's matrix products in bfloat16 (autocast; weights stay fp32)
    tensorboard: bool = True  # write TensorBoard events to RUN_DIR/tensorboard
    wandb: bool = False  # log to Weights & Biases (needs wandb installed)
    progress: bool = True  # show a progress bar


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
    given = {f.name: getattr(acfg, f.name) for f in dataclasses.fields(acfg)
             if getattr(acfg, f.name) != getattr(base, f.name)}
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
    # the machine's choice made once, recorded in config.json, kept on resume (wherever that runs)
    device = resolve_device(tcfg.device)
    tcfg = dataclasses.replace(tcfg, precision=resolve_precision(check_precision(tcfg.precision), device),
                               compile=resolve_compile(tcfg.compile, device, recipe_class(tcfg.recipe).fuses_steps,
                                                       tcfg.steps))
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
              "versions": {p: version(p) for p in ("torch", "numpy", "gymnasium")},
              "machine": machine(resolve_device(tcfg.device)), **extra}
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


def check_precision(precision: str) -> str:
    if precision not in ("auto", "fp32", "bf16"):
        raise ConfigError(f"precision must be auto, fp32 or bf16, got '{precision}'.")
    return precision
