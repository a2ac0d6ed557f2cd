"""Several seeds of one recipe trained as one batched model: every weight gets a leading seed dimension.

Small networks leave the hardware idle between kernel launches. Stacking S seeds' weights and vmapping the
recipe's loss over them turns S small updates into one update made of S-times-larger kernels. Each seed's
gradient is the one its separate run computes (the seeds' losses share nothing, so the summed loss
separates) and Adam is elementwise, so each seed follows its separate run to floating-point tolerance as
long as its loss draws no random numbers (random draws inside the loss come from one stream here).

Every seed gets an ordinary run directory (config, metrics, evaluations, checkpoints) under one root, so
evaluation, reports and `--resume` of a single seed work as for any run; `resume_seeds(ROOT)` continues
all of them together.
"""
from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, vmap

from anypolicy.agents.base import RECIPES, Agent, recipe_class
from anypolicy.config import ConfigError, parse_assignments
from anypolicy.train.checkpoint import load_checkpoint
from anypolicy.train.logger import Loggers
from anypolicy.train.loop import (build_agent, checked_data, make_configs, read_run_config, refuse_existing_run,
                                  resolve_device, restore_rng, rng_state, run_eval, save_rotating, training_data,
                                  with_precision, write_run_config, write_summary)

SEEDS_FILE = "seeds.json"  # marks a root directory holding the runs of one batched multi-seed training


def check_batchable(agent_cls: type[Agent]) -> None:
    if not agent_cls.seed_batchable:
        batchable = sorted(name for name in RECIPES if recipe_class(name).seed_batchable)
        raise ConfigError(f"{agent_cls.__name__} cannot train seeds as one batched model (its update is more than "
                          f"one step on one loss); recipes that can: {', '.join(batchable)}. Train the seeds as "
                          "separate runs (a sweep) instead.")


class _Losses(nn.Module):
    """Calls the agent's `losses` as `forward`, which is what `functional_call` runs."""

    def __init__(self, agent: Agent):
        super().__init__()
        self.agent = agent

    def forward(self, batch):
        return self.agent.losses(batch)


class SeedBatch:
    """S agents of one recipe held as stacked tensors; `update(batch)` with batch tensors [S, B, ...] takes
    one step of all of them. The agents themselves only receive weights when `write_back` is called."""

    def __init__(self, agents: list[Agent], compile: bool = False):
        template = agents[0]
        check_batchable(type(template))
        self.template, self.agents = template, agents
        states = [a.state_dict() for a in agents]
        self.tensors = {n: torch.stack([s[n] for s in states]) for n in states[0]}
        names = {id(p): n for n, p in template.named_parameters()}
        self.trainable = [n for n, p in template.named_parameters() if p.requires_grad]
        for n in self.trainable:
            self.tensors[n].requires_grad_()
        # each of the agent's optimizers again, same class, groups and settings, over the stacked weights
        self.optimizers = {
            key: type(opt)([{**{k: v for k, v in g.items() if k != "params"},
                             "params": [self.tensors[names[id(p)]] for p in g["params"]]} for g in opt.param_groups])
            for key, opt in template.optimizers().items()}
        self.averages = [(rate, [self.tensors[target + n[len(source):]] for n in self.trainable if n.startswith(source + ".")],
                          [self.tensors[n] for n in self.trainable if n.startswith(source + ".")])
                         for target, source, rate in template.moving_averages()]
        self.prefixed = {"agent." + n: t for n, t in self.tensors.items()}  # the same tensors, as _Losses names them
        wrapper = _Losses(template)
        self.batched_losses = vmap(lambda tensors, batch: functional_call(wrapper, tensors, (batch,)),
                                   randomness="different")
        if compile:
            self.batched_losses = torch.compile(self.batched_losses)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        loss, metrics = self.batched_losses(self.prefixed, batch)
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        loss.sum().backward()  # the seeds' losses share no weights: each seed receives its own gradient
        for opt in self.optimizers.values():
            opt.step()
        with torch.no_grad():
            for rate, targets, sources in self.averages:
                torch._foreach_lerp_(targets, sources, rate)
        return {k: v.detach() for k, v in metrics.items()}

    def weights(self, i: int) -> dict[str, torch.Tensor]:
        return {n: t[i].detach() for n, t in self.tensors.items()}

    def write_back(self) -> None:
        """Load each seed's current weights into its agent (to act or evaluate)."""
        for i, agent in enumerate(self.agents):
            agent.load_state_dict(self.weights(i))

    def optimizer_states(self, i: int) -> dict[str, dict]:
        """Seed i's optimizer states in the format of its own agent's optimizers (a separate run can load them)."""
        out = {}
        for key, opt in self.optimizers.items():
            sd = opt.state_dict()
            out[key] = {"state": {idx: {k: v[i] if v.dim() else v for k, v in st.items()} for idx, st in sd["state"].items()},
                        "param_groups": sd["param_groups"]}
        return out

    def load(self, weights: list[dict[str, torch.Tensor]], optimizer_states: list[dict[str, dict]]) -> None:
        with torch.no_grad():
            for n, t in self.tensors.items():
                t.copy_(torch.stack([w[n] for w in weights]))
        for key, opt in self.optimizers.items():
            per_seed = [s[key] for s in optimizer_states]
            state = {idx: {k: torch.stack([s["state"][idx][k] for s in per_seed]) if v.dim() else v for k, v in st.items()}
                     for idx, st in per_seed[0]["state"].items()}
            opt.load_state_dict({"state": state, "param_groups": per_seed[0]["param_groups"]})


def train_seeds(recipe: str, dataset: str | None = None, seeds: list[int] = (0, 1, 2), env: str | None = None,
                steps: int | None = None, run_root: str | Path | None = None,
                overrides: list[str] | dict | None = None, stop_after: int | None = None) -> Path:
    """Train `recipe` with each of `seeds` as one batched model; returns the root holding one run per seed."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ConfigError(f"seeds must be distinct and at least one, got {list(seeds)}.")
    assignments = overrides if isinstance(overrides, dict) else parse_assignments(overrides or [])
    configs = [make_configs(recipe, assignments, dataset=dataset, env=env, steps=steps, seed=s) for s in seeds]
    check_batchable(recipe_class(recipe))
    root = Path(run_root or Path("runs") / f"{recipe}-seeds-{datetime.now():%Y%m%d-%H%M%S}")
    if (root / SEEDS_FILE).exists():
        raise FileExistsError(f"{root} already holds a multi-seed run: resume it with `anypolicy train --resume {root}`.")
    for tcfg, _ in configs:
        refuse_existing_run(root / f"seed{tcfg.seed}")
    tcfg, data = checked_data(*configs[0], resolve_device(configs[0][0].device))  # before any directory exists
    configs = [(dataclasses.replace(t, observation_keys=tcfg.observation_keys), a) for t, a in configs]
    for tcfg, acfg in configs:
        write_run_config(root / f"seed{tcfg.seed}", tcfg, acfg, seed_batch={"root": str(root), "seeds": list(seeds)})
    (root / SEEDS_FILE).write_text(json.dumps({"seeds": list(seeds)}))
    return _run_seeds(root, [t for t, _ in configs], configs[0][1], resuming=False, stop_after=stop_after, data=data)


def resume_seeds(root: str | Path, stop_after: int | None = None) -> Path:
    root = Path(root)
    seeds = json.loads((root / SEEDS_FILE).read_text())["seeds"]
    configs = [read_run_config(root / f"seed{s}") for s in seeds]
    return _run_seeds(root, [t for t, _ in configs], configs[0][1], resuming=True, stop_after=stop_after)


def _common_step(dirs: list[Path]) -> int:
    """The newest checkpoint step every seed has (a kill between two seeds' saves leaves them apart)."""
    steps = [{int(p.name[5:]) for p in (d / "checkpoints").glob("step_*") if (p / "state.json").exists()} for d in dirs]
    common = set.intersection(*steps)
    return max(common) if common else 0


def _run_seeds(root: Path, tcfgs: list, acfg, resuming: bool, stop_after: int | None, data=None) -> Path:
    tcfg = tcfgs[0]  # all fields but the seed are shared
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    sampler, dims, stats = data or training_data(tcfg, acfg, device)
    if "image_shape" in dims:
        raise ConfigError("seed-batched training from images is not supported yet; train the seeds one by one.")
    agents = [build_agent(t, acfg, dims, device, *stats) for t in tcfgs]
    seeds = SeedBatch(agents, compile=tcfg.compile)
    update = with_precision(seeds.update, tcfg.precision, device)  # as each seed's own run would
    generators = [torch.Generator(device=device).manual_seed(t.seed) for t in tcfgs]  # each seed's data order
    dirs = [root / f"seed{t.seed}" for t in tcfgs]
    start = _common_step(dirs) if resuming else 0
    if start:
        loaded = [load_checkpoint(d / "checkpoints" / f"step_{start:09d}", device) for d in dirs]
        seeds.load([w for w, _ in loaded], [s["optimizers"] for _, s in loaded])
        for generator, (_, state) in zip(generators, loaded):
            restore_rng(state["rng"], generator, device)
        train_before = float(loaded[0][1].get("train_seconds", 0.0))
    else:
        torch.manual_seed(tcfg.seed + 1)
        train_before = 0.0
    loggers = [Loggers(d, tensorboard=tcfg.tensorboard, wandb=tcfg.wandb) for d in dirs]
    for log in loggers:
        log.truncate_after(start)

    end = tcfg.steps if stop_after is None else min(stop_after, tcfg.steps)
    sums: dict[str, torch.Tensor] = {}
    count, busy, train_time, results = 0, 0.0, 0.0, [None] * len(dirs)
    t_mark = time.perf_counter()
    for step in range(start + 1, end + 1):
        batches = [sampler.sample(tcfg.batch_size, g) for g in generators]
        metrics = update({k: torch.stack([b[k] for b in batches]) for k in batches[0]})
        for k, v in metrics.items():
            sums[k] = sums[k] + v if k in sums else v.clone()
        count += 1
        if step % tcfg.log_every == 0 or step == end:
            values = {k: (v / count).tolist() for k, v in sums.items()}
            busy += time.perf_counter() - t_mark
            train_time += busy
            for i, log in enumerate(loggers):  # updates_per_s: batched updates, each a step of every seed
                log.log("train", step, {**{k: v[i] for k, v in values.items()}, "updates_per_s": count / busy})
            sums, count, busy = {}, 0, 0.0
            t_mark = time.perf_counter()
        evaluate_now = (tcfg.eval_every and step % tcfg.eval_every == 0) or step == tcfg.steps
        if evaluate_now or step % tcfg.checkpoint_every == 0 or step == end:
            busy += time.perf_counter() - t_mark
            seeds.write_back()
            for i, (agent, t, log) in enumerate(zip(agents, tcfgs, loggers)):
                if evaluate_now:
                    results[i] = run_eval(agent.eval(), t)
                    log.log("eval", step, results[i])
                if step % tcfg.checkpoint_every == 0 or step == end:
                    state = {"step": step, "optimizers": seeds.optimizer_states(i),
                             "rng": rng_state(generators[i], device), "dims": dims,
                             "train_seconds": train_before + train_time + busy}
                    save_rotating(dirs[i], step, seeds.weights(i), state, tcfg.keep_checkpoints)
            t_mark = time.perf_counter()
    for log in loggers:
        log.close()
    if end == tcfg.steps:
        for d, t, result in zip(dirs, tcfgs, results):
            write_summary(d, t, result, train_time, device, train_before + train_time)
    return root
