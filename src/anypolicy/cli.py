"""The `anypolicy` command. Every subcommand is a thin wrapper over one Python call."""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path


def _data_make(args) -> None:
    from anypolicy.data import ogbench as og

    if args.source in ("ogbench:scene-play-lang", "scene-play-lang"):  # play data + language windows
        from collections import Counter

        from anypolicy.data.scene_lang import make_lang_dataset

        path, windows = make_lang_dataset(args.episodes, args.workers, args.seed, args.force, args.drawer_boost)
        print(f"{path} ({len(windows['task'])} language windows: "
              f"{', '.join(f'{t} {n}' for t, n in sorted(Counter(windows['task']).items()))})")
        return
    from anypolicy.data import visual

    if visual.is_visual(args.source):  # the state dataset's episodes, rendered as OGBench's pixel envs show them
        path = visual.generate_frames(args.source, episodes=args.episodes, seed=args.seed, workers=args.workers,
                                      force=args.force)
    else:
        path = og.generate(args.source, episodes=args.episodes, workers=args.workers, seed=args.seed, force=args.force)
    print(path)


def _data_info(args) -> None:
    from anypolicy.envs.registry import load_dataset

    ds = load_dataset(args.dataset, args.env, episodes=args.episodes)
    print(json.dumps(ds.summary(), indent=2))


def _data_import(args) -> None:
    from anypolicy.data.storage import data_dir, read_any, save_dataset

    ds = read_any(args.path, args.format)
    name = args.name or Path(args.path).stem
    if not re.search(r"-v\d+$", name):
        name += "-v0"
    out = save_dataset(ds, data_dir() / "imported" / name)
    print(f"imported {len(ds)} transitions in {ds.num_episodes} episodes as minari id imported/{name} -> {out}")


def _train(args) -> None:
    from anypolicy.train import loop, multiseed

    if args.resume:
        seeds_root = (Path(args.resume) / multiseed.SEEDS_FILE).exists()
        run_dir = multiseed.resume_seeds(args.resume) if seeds_root else loop.resume(args.resume)
        return print(f"run directory: {run_dir}")
    if not args.recipe:
        raise SystemExit("error: give a RECIPE (e.g. `anypolicy train iql --dataset toy:nav`) or --resume RUN_DIR.")
    if args.seeds and args.seed is not None:
        from anypolicy.config import ConfigError

        raise ConfigError("give --seed or --seeds, not both.")
    if args.dry:
        from anypolicy.config import parse_assignments, to_dict

        tcfg, acfg = loop.make_configs(args.recipe, parse_assignments(args.set), dataset=args.dataset,
                                       env=args.env, steps=args.steps, seed=args.seed)
        return print(json.dumps({"train": to_dict(tcfg), "agent": to_dict(acfg)}, indent=2))
    if args.seeds:
        run_dir = multiseed.train_seeds(args.recipe, args.dataset, args.seeds, args.env, args.steps, args.run_dir,
                                        args.set)
    else:
        run_dir = loop.train(args.recipe, args.dataset, args.env, args.steps, args.seed, args.run_dir, args.set)
    print(f"run directory: {run_dir}")


def _finetune(args) -> None:
    from anypolicy.train import online

    if args.resume:
        run_dir = online.resume_online(args.run_dir)
    else:
        run_dir = online.finetune(args.run_dir, args.online_steps, args.out, args.set, recipe=args.recipe)
    print(f"run directory: {run_dir}")


def _eval(args) -> None:
    from anypolicy.config import ConfigError
    from anypolicy.train.loop import eval_frame_stack, load_agent, read_run_config, run_eval

    if read_run_config(Path(args.run_dir))[0].recipe == "fb":  # zero-shot: infer z_r from the task's labels
        from anypolicy.bfm.adapt import zero_shot

        return print(json.dumps(zero_shot(*load_agent(args.run_dir), args.task, episodes=args.episodes or 50), indent=2))
    if args.task is not None:
        raise ConfigError("--task selects the task of a zero-shot evaluation: only fb runs have one.")
    agent, tcfg = load_agent(args.run_dir)
    if args.chains or args.subtask:  # language runs: CALVIN-style instruction chains on scene
        from anypolicy.hierarchy.chains import evaluate_chains

        if not hasattr(agent, "act_language"):
            raise ConfigError("--chains evaluates language recipes (lcd, lcd-mlp, lcd-flat).")
        result = evaluate_chains(agent, args.chains or 100, seed=tcfg.seed, held_out=args.phrasings == "held-out",
                                 task=args.subtask)
        return print(json.dumps({**result, "phrasings": args.phrasings}, indent=2))
    if args.set:  # acting settings, e.g. operator=lse (cfpi), act_improve=sg (iql), act_search=cem-policy (parl)
        from anypolicy.config import override, parse_assignments

        agent.cfg, _ = override(agent.cfg, parse_assignments(args.set))
    print(json.dumps(run_eval(agent, tcfg, args.episodes), indent=2))
    if args.video:
        from anypolicy.envs.rollout import record_video
        from anypolicy.train.checkpoint import latest_checkpoint

        step = latest_checkpoint(Path(args.run_dir)).name.split("_")[-1]
        path = Path(args.run_dir) / "videos" / f"eval-{step}.{args.video_format}"
        record_video(lambda o: agent.act(o, deterministic=True), tcfg.env, path, args.video_episodes, tcfg.seed,
                     frame_stack=eval_frame_stack(agent, tcfg), observation_keys=tcfg.observation_keys)
        print(f"video: {path}")


def _adapt(args) -> None:
    from anypolicy.bfm.adapt import AdaptConfig, adapt
    from anypolicy.config import override, parse_assignments
    from anypolicy.train.loop import load_agent

    cfg, _ = override(AdaptConfig(method=args.method, episodes=args.episodes, seed=args.seed), parse_assignments(args.set))
    result = adapt(*load_agent(args.run_dir), cfg, task=args.task)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("method", "env", "zero_shot", "final", "worst_drop")}, indent=2))


def quickstart(out: str | Path = "runs/quickstart", steps: int = 3000) -> Path:
    """The README demo: BC vs IQL on the toy task, then IQL on a small regenerated OGBench dataset."""
    from anypolicy.data import ogbench as og
    from anypolicy.train.loop import train

    out = Path(out) / time.strftime("%Y%m%d-%H%M%S")
    common = ["eval_every=1000", "eval_episodes=50", "log_every=500", "hidden=128,128", "lr=1e-3"]
    results = {}
    for recipe in ("bc", "iql"):
        extra = ["beta=3"] if recipe == "iql" else []
        run = train(recipe, "toy:nav", steps=steps, run_dir=out / f"toy-{recipe}", overrides=common + extra)
        results[f"toy-nav {recipe}"] = json.loads((run / "summary.json").read_text())["final_eval"]
    path = og.generate("ogbench:cube-single-play", episodes=4, workers=2)
    print(f"generated a small OGBench dataset (4 episodes of 1001 steps) at {path}")
    run = train("iql", "ogbench:cube-single-play", steps=500, run_dir=out / "cube-single-iql",
                overrides=["dataset_episodes=4", "eval_every=0", "eval_episodes=4", "eval_envs=4", "log_every=100"])
    results["cube-single task2 iql (500 steps, 4 episodes)"] = json.loads((run / "summary.json").read_text())["final_eval"]
    print("\nresults (final evaluation):")
    for name, r in results.items():
        print(f"  {name:48s} success {r['success']:5.1f}%  return {r['return_mean']:8.2f}")
    print(f"\nall runs, metrics, checkpoints and TensorBoard events are in {out.resolve()}")
    return out


def _report(args) -> None:
    from anypolicy.evaluate.report import build_report

    print(f"report: {build_report(args.runs, args.out, args.title)}")


def _sweep(args) -> None:
    from anypolicy.evaluate.report import build_report
    from anypolicy.train.sweep import run_sweep

    out = run_sweep(args.sweep, address=args.address, num_cpus=args.num_cpus,
                    report=None if args.no_report else build_report)
    print(f"sweep directory: {out} (results.csv, report.html)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anypolicy", description="Offline RL and fine-tuning for any policy class.")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="generate, inspect and import datasets").add_subparsers(dest="data_cmd", required=True)
    p = data.add_parser("make", help="generate a benchmark dataset (e.g. ogbench:cube-single-play)")
    p.add_argument("source")
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="regenerate even if cached")
    p.add_argument("--drawer-boost", type=float, default=0.0,
                   help="scene-play-lang: extra probability that a cube target goes into the open drawer")
    p.set_defaults(func=_data_make)
    p = data.add_parser("info", help="sizes, returns, success rates and action statistics")
    p.add_argument("dataset")
    p.add_argument("--env", default=None, help="task whose labels to use (OGBench sources)")
    p.add_argument("--episodes", type=int, default=None)
    p.set_defaults(func=_data_info)
    p = data.add_parser("import", help="import a Minari directory, OGBench .npz or D4RL .hdf5 file")
    p.add_argument("path")
    p.add_argument("--format", choices=["minari", "ogbench", "d4rl"], default=None)
    p.add_argument("--name", default=None)
    p.set_defaults(func=_data_import)

    p = sub.add_parser("train", help="train a recipe offline, or resume a run")
    p.add_argument("recipe", nargs="?")
    p.add_argument("--dataset", default=None)
    p.add_argument("--env", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="train these seeds as one batched model (bc, iql); one run per seed under --run-dir")
    p.add_argument("--run-dir", default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--dry", action="store_true", help="print the resolved config and exit")
    p.add_argument("--resume", default=None, metavar="RUN_DIR")
    p.set_defaults(func=_train)

    p = sub.add_parser("finetune", help="continue an offline run online (offline -> online fine-tuning)")
    p.add_argument("run_dir", help="the offline run to start from (with --resume: the online run)")
    p.add_argument("--online-steps", type=int, default=None, help="environment steps")
    p.add_argument("--out", default=None, metavar="DIR", help="online run directory (default RUN_DIR-online)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="online (online_ratio, updates_per_step, reset_optimizers...), train or agent fields")
    p.add_argument("--recipe", default=None, help="fine-tune with another recipe, starting from the run's policy "
                   "(hybrid: parl-rlpd from a BC run)")
    p.add_argument("--resume", action="store_true", help="resume the online run RUN_DIR")
    p.set_defaults(func=_finetune)

    p = sub.add_parser("eval", help="evaluate a run's latest checkpoint")
    p.add_argument("run_dir")
    p.add_argument("--episodes", type=int, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="an acting setting of the recipe for this evaluation, e.g. act_improve=sg (iql)")
    p.add_argument("--task", type=int, default=None, help="fb runs: the task to infer z_r for (default: the run's)")
    p.add_argument("--chains", type=int, default=None, help="language runs: instruction chains of 5 to evaluate")
    p.add_argument("--phrasings", choices=["held-out", "training"], default="held-out",
                   help="language runs: instruction phrasings (held-out ones are never seen in training)")
    p.add_argument("--subtask", default=None, help="language runs: single-instruction chains of this subtask")
    p.add_argument("--video", action="store_true", help="also record rollouts offscreen to RUN_DIR/videos/")
    p.add_argument("--video-episodes", type=int, default=2)
    p.add_argument("--video-format", choices=["gif", "mp4"], default="gif")
    p.set_defaults(func=_eval)

    p = sub.add_parser("adapt", help="adapt an fb run to a task with a budget of online episodes (latent search)")
    p.add_argument("run_dir")
    p.add_argument("--task", type=int, default=None, help="OGBench task number (default: the run's task)")
    p.add_argument("--method", default="lola", help="lola, rela, cem, random or finetune")
    p.add_argument("--episodes", type=int, default=50, help="budget in episodes; every environment step counts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an AdaptConfig field")
    p.add_argument("--out", default=None, help="write the whole result (curve, latents) as JSON")
    p.set_defaults(func=_adapt)

    p = sub.add_parser("report", help="one self-contained HTML page comparing runs (tables, plots, configs)")
    p.add_argument("runs", nargs="+", help="run directories, or directories holding runs (a sweep)")
    p.add_argument("--out", default="report.html")
    p.add_argument("--title", default="anypolicy report")
    p.set_defaults(func=_report)

    p = sub.add_parser("sweep", help="run a grid of recipes x datasets x seeds on Ray (resumable)")
    p.add_argument("sweep", help="a SWEEP.yaml file (see anypolicy/train/sweep.py)")
    p.add_argument("--address", default=None, help="an existing Ray cluster (default: a local one on all cores)")
    p.add_argument("--num-cpus", type=int, default=None, help="cores of the local Ray instance (default: all)")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.set_defaults(func=_sweep)

    p = sub.add_parser("quickstart", help="a short end-to-end demo on built-in defaults")
    p.set_defaults(func=lambda a: quickstart())

    args = parser.parse_args(argv)
    if getattr(args, "video", False):
        import os

        os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering, before MuJoCo is imported
    # OGBench builds float64 Box spaces; gymnasium warns on every environment it makes
    warnings.filterwarnings("ignore", message=".*precision lowered by casting")
    from anypolicy.config import ConfigError
    from anypolicy.data.dataset import DatasetError
    from anypolicy.envs.registry import EnvError

    try:
        args.func(args)
    except (ConfigError, DatasetError, EnvError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
