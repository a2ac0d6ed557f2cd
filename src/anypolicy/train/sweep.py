"""`anypolicy sweep SWEEP.yaml`: a grid of recipes x datasets x overrides x seeds, run with Ray (local by
default on all cores, or an existing cluster through `address`), resumable: a finished run (summary.json)
is skipped, a started one is resumed from its checkpoint. Results are collected into `results.csv` and
`report.html` in the sweep directory.

    name: toy                     # the sweep directory is runs/sweeps/<name> unless `out` is given
    recipes: [bc, iql]
    datasets: [toy:nav, {dataset: "ogbench:cube-single-play", env: cube-single-singletask-task2-v0}]
    # an entry may name its task and carry train settings of its own (a variant of the same data and env):
    #   {dataset: "ogbench:scene-play", task: scene-sparse, overrides: {sparse_reward: true}}
    seeds: [0, 1, 2]
    steps: 1000
    overrides: {hidden: "64,64"}  # every run
    grid: {lr: [1e-3, 3e-4]}      # every combination becomes its own method
    recipe_overrides: {iql: {beta: 3}}
    online_steps: 100000          # optional: then fine-tune each finished run online (offline -> online)
    online_overrides: {eval_every: 10000}   # OnlineConfig, train or agent fields of the fine-tuning
    recipe_online_overrides: {parl-calql: {action_cache: 2500}}   # ... of one recipe's fine-tuning
    online_recipes: [fql, calql]  # optional: only these recipes' runs are fine-tuned (default: all)
"""
from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from anypolicy.config import ConfigError

KEYS = {"name", "out", "recipes", "datasets", "seeds", "steps", "overrides", "grid", "recipe_overrides", "online_steps",
        "online_overrides", "recipe_online_overrides", "online_recipes"}
DATASET_KEYS = {"dataset", "env", "task", "overrides"}
COLUMNS = ["method", "task", "seed", "success", "return_mean", "online_success", "run_dir", "status"]


@dataclass
class RunSpec:
    recipe: str
    dataset: str
    env: str | None
    seed: int
    steps: int | None
    overrides: dict[str, str] = field(default_factory=dict)
    method: str = ""
    run_dir: str = ""
    online_steps: int | None = None  # then fine-tuned online into run_dir + "-online"
    online_overrides: dict[str, str] = field(default_factory=dict)
    task: str = ""  # the dataset entry's name for its task (its env unless it names one)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "-" for c in text)


def load_sweep(path: str | Path) -> dict:
    import yaml

    spec = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: a sweep file is a mapping with keys {', '.join(sorted(KEYS))}.")
    unknown = set(spec) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown sweep keys {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}.")
    for key in ("recipes", "datasets"):
        if not spec.get(key):
            raise ConfigError(f"{path}: `{key}` must list at least one entry.")
    if spec.get("online_steps") is not None and int(spec["online_steps"]) < 1:
        raise ConfigError(f"{path}: online_steps must be >= 1, got {spec['online_steps']}.")
    stray = set(spec.get("online_recipes") or []) - set(spec["recipes"])
    if stray:
        raise ConfigError(f"{path}: online_recipes {', '.join(sorted(stray))} are not among the recipes.")
    spec.setdefault("name", Path(path).stem)
    spec.setdefault("out", str(Path("runs") / "sweeps" / spec["name"]))
    return spec


def expand(spec: dict) -> list[RunSpec]:
    """Every run of the sweep, each with its directory out/<task>/<method>-s<seed>."""
    from anypolicy.envs.registry import default_env_for
    from anypolicy.train.loop import make_configs

    grid = spec.get("grid") or {}
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] if grid else [{}]
    runs = []
    for recipe, data, combo, seed in itertools.product(spec["recipes"], spec["datasets"], combos, spec.get("seeds", [0])):
        data = data if isinstance(data, dict) else {"dataset": data}
        stray = set(data) - DATASET_KEYS
        if stray or "dataset" not in data:
            raise ConfigError(f"unknown dataset entry key(s) {', '.join(sorted(stray))}; known: "
                              f"{', '.join(sorted(DATASET_KEYS))}.")
        dataset = data["dataset"]
        env = data.get("env") or default_env_for(dataset)
        task = data.get("task") or env
        overrides = {k: str(v) for k, v in {**(spec.get("overrides") or {}), **(data.get("overrides") or {}),
                                           **((spec.get("recipe_overrides") or {}).get(recipe) or {}),
                                           **combo}.items()}
        overrides.setdefault("threads", "1")  # one core per run; Ray runs as many as there are cores
        tcfg, acfg = make_configs(recipe, dict(overrides), dataset=dataset, env=env)  # refuse bad keys before any run
        method = recipe + "".join(f"_{k}={v}" for k, v in combo.items())
        run_dir = Path(spec["out"]).resolve() / _slug(task) / f"{_slug(method)}-s{seed}"  # workers' cwd may differ
        online = spec.get("online_steps") if recipe in (spec.get("online_recipes") or spec["recipes"]) else None
        online_overrides = {k: str(v) for k, v in {**(spec.get("online_overrides") or {}),
                                                   **((spec.get("recipe_online_overrides") or {}).get(recipe) or {})}.items()}
        if online:  # fine-tuning takes online, train and agent fields
            from anypolicy.train.online import OnlineConfig

            known = {f.name for c in (OnlineConfig(), tcfg, acfg) for f in dataclasses.fields(c)}
            unknown = set(online_overrides) - known
            if unknown:
                raise ConfigError(f"unknown online_overrides key(s) {', '.join(sorted(unknown))} for {recipe}.")
        runs.append(RunSpec(recipe, dataset, env, int(seed), spec.get("steps"), overrides, method, str(run_dir),
                            online and int(online), online_overrides, task))
    return runs


def run_one(run: RunSpec) -> dict:
    """Train (or resume, or skip) one run; returns its row of results."""
    from anypolicy.train.loop import resume, train

    run_dir = Path(run.run_dir)
    if (run_dir / "summary.json").exists():
        status = "skipped (finished)"
    elif (run_dir / "config.json").exists():
        resume(run_dir)
        status = "resumed"
    else:
        train(run.recipe, run.dataset, run.env, run.steps, run.seed, run_dir, dict(run.overrides))
        status = "trained"
    summary = json.loads((run_dir / "summary.json").read_text())
    online_success = None
    if run.online_steps:
        online_success = run_online(run, run_dir)
        status += ", fine-tuned online"
    return {"method": run.method, "task": run.task, "seed": run.seed, "success": summary["final_eval"].get("success"),
            "return_mean": summary["final_eval"].get("return_mean"), "online_success": online_success,
            "run_dir": str(run_dir), "status": status}


def run_online(run: RunSpec, run_dir: Path) -> float | None:
    """Fine-tune a finished offline run online (or resume, or skip); its final success."""
    from anypolicy.train.online import finetune, resume_online

    online_dir = run_dir.with_name(run_dir.name + "-online")
    if (online_dir / "config.json").exists() and not (online_dir / "summary.json").exists():
        resume_online(online_dir)  # from its last checkpoint, or from the offline one if it wrote none
    elif not (online_dir / "config.json").exists():
        finetune(run_dir, run.online_steps, online_dir, dict(run.online_overrides))
    return json.loads((online_dir / "summary.json").read_text())["final_eval"].get("success")


def run_sweep(path: str | Path, address: str | None = None, num_cpus: int | None = None, report=None) -> Path:
    """Run (or resume) every run of a sweep file on Ray, write results.csv; `report(run_dirs, path, title)`
    (the CLI passes evaluate/report.py's build_report) then makes report.html of the finished runs."""
    try:
        import ray
    except ImportError:
        raise ConfigError("anypolicy sweep runs on Ray, an optional extra: pip install 'anypolicy[sweep]'.") from None

    spec = load_sweep(path)
    runs = expand(spec)
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    # a local Ray starts its workers at nice 15, where anything else running starves the training runs
    os.environ.setdefault("RAY_worker_niceness", "0")
    init = {"address": address} if address else {"num_cpus": num_cpus or os.cpu_count()}
    ray.init(**init, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        task = ray.remote(num_cpus=1)(run_one)
        pending = {task.remote(r): r for r in runs}
        rows = []
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)  # Ctrl-C is seen within a second
            if not done:
                continue
            run = pending.pop(done[0])
            try:
                rows.append(ray.get(done[0]))
            except Exception as exc:  # one failed run does not stop the sweep; it is reported
                rows.append({"method": run.method, "task": run.task, "seed": run.seed, "success": None,
                             "return_mean": None, "online_success": None, "run_dir": run.run_dir,
                             "status": f"failed: {exc}".splitlines()[0]})
            print(f"[{len(rows)}/{len(runs)}] {run.run_dir}: {rows[-1]['status']}, success {rows[-1]['success']}",
                  flush=True)
    finally:
        ray.shutdown()
    rows.sort(key=lambda r: (r["task"], r["method"], r["seed"]))
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    finished = [r["run_dir"] for r in rows if not r["status"].startswith("failed")]
    if report is not None and finished:
        report(finished, out / "report.html", title=f"sweep {spec['name']}")
    return out
