"""Regenerate the comparison tables of docs/results/ from the raw results under docs/results/raw/ with
the project's statistics (mean and IQM with 95% stratified-bootstrap intervals, probability of
improvement over a baseline), writing them between the `<!-- table:NAME -->` markers of each document.

    .venv/bin/python benchmarks/results_tables.py           # rewrite the tables
    .venv/bin/python benchmarks/results_tables.py --check   # exit 1 if a document's table is stale (a test runs this)
"""
import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from anypolicy.data.ogbench import DOMAINS
from anypolicy.evaluate.tables import chain_table, markdown_table, score_table, update_blocks

TASKS = [*DOMAINS, *(d + "-sparse" for d in DOMAINS)]  # ogbench_cpu.sh's DOMAIN argument: -sparse, sparse rewards

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
RAW = RESULTS / "raw"


def final_success(summary: Path) -> float:
    return float(json.loads(summary.read_text())["final_eval"]["success"])


def success_at(eval_csv: Path, step: int) -> float:
    with eval_csv.open() as f:
        return next(float(r["success"]) for r in csv.DictReader(f) if int(float(r["step"])) == step)


def parl_toy():
    recipes = {"bc (diffusion)": "bc-diffusion", "calql (tanh-Gaussian, reparameterized)": "calql",
               "idql (IQL critic, diffusion BC, re-rank 8 samples)": "idql", "parl-calql (diffusion)": "parl-calql",
               "parl-iql (diffusion)": "parl-iql"}
    return {label: {"toy-nav": {s: final_success(RAW / "parl" / "toy" / f"{run}-s{s}-summary.json") for s in (0, 1, 2)}}
            for label, run in recipes.items()}


def parl_toy_cql_states():
    """benchmarks/parl_toy_cql_states.sh: the regularizer on every state of the batch against 64 of its 256."""
    out = {}
    for path in sorted((RAW / "parl" / "toy-cql-states").glob("*-summary.json")):
        recipe, rest = path.name.split("-states-")
        states, seed = rest[:-len("-summary.json")].split("-s")
        label = f"{recipe}, regularizer on {'every state' if states == '0' else states + ' states'}"
        out.setdefault(label, {"toy-nav": {}})["toy-nav"][int(seed)] = final_success(path)
    return dict(sorted(out.items())) or None


def parl_toy_online_cache():
    """benchmarks/parl_toy_online_cache.sh: online PA-RL with fresh samples against the cache in rounds."""
    def label(mode):
        rounds = 250 if mode == "pool" else int(mode[len("pool-R"):])
        return f"cache in rounds ({rounds} updates, pool of {rounds * 2048 // 250})"
    out = {}
    for path in sorted((RAW / "parl" / "toy-online-cache").glob("*-summary.json")):
        mode, seed = path.name[:-len("-summary.json")].rsplit("-s", 1)
        name = "fresh samples at every update" if mode == "fresh" else label(mode)
        out.setdefault(name, {"toy-nav": {}})["toy-nav"][int(seed)] = final_success(path)
    return dict(sorted(out.items(), key=lambda kv: not kv[0].startswith("fresh"))) or None


def parl_search():
    saved = json.loads((RAW / "parl" / "toy-search.json").read_text())
    labels = {"candidates": "PA-RL candidates", "policy": "policy alone", "cem-policy": "CEM from policy",
              "cem-random": "CEM from random"}
    out = {}
    for critic in ("parl-calql", "idql"):
        for key, label in labels.items():
            out[f"{label}, {critic} checkpoints"] = {"toy-nav": {
                int(run.rsplit("-s", 1)[1]): by[key]["success"] for run, by in saved.items()
                if Path(run).name.rsplit("-s", 1)[0] == critic}}
    return out


def cfpi(files: dict[str, str]):
    """CFPI rows from benchmarks/cfpi_table.py outputs, one task per file that exists."""
    out: dict = {}
    for task, name in files.items():
        path = RAW / "cfpi" / name
        if path.exists():
            for row, by_seed in json.loads(path.read_text())["rows"].items():
                out.setdefault(row, {})[task] = {int(s): v for s, v in by_seed.items()}
    return out


def iql_isg(pattern: str):
    """benchmarks/cfpi_improve_iql.py outputs (files matching `pattern`): IQL checkpoints acting plainly and
    with I_SG."""
    out: dict = {}
    for path in sorted((RAW / "cfpi").glob(pattern)):
        for run in json.loads(path.read_text()).values():
            task = run["task"].split("-singletask")[0] + ("-sparse" if run.get("sparse_reward") else "")
            for method, success in run["success"].items():
                out.setdefault(method, {}).setdefault(task, {})[run["seed"]] = success
    return out


def bfm_entries(name: str):
    path = RAW / "bfm" / name
    return json.loads(path.read_text()).values() if path.exists() else []


def seed_of(entry) -> int:
    return int(json.loads((Path(entry["run"]) / "config.json").read_text())["train"]["seed"]) \
        if (Path(entry["run"]) / "config.json").exists() else int(entry["run"].rsplit("-s", 1)[1])


def bfm_adaptation(name: str, budgets=(10, 25, 50)):
    """Success of the zero-shot policy and of each adaptation method after 10 / 25 / 50 budget episodes
    (the last evaluation at or before that budget)."""
    out: dict = {}
    for e in bfm_entries(name):
        task, seed = e["zero_shot"]["env"], seed_of(e)
        methods = [m for m in ("lola", "rela", "cem", "random", "finetune") if m in e]
        if methods:
            out.setdefault("zero-shot", {}).setdefault(task, {})[seed] = e[methods[0]]["curve"][0]["success"]
        for m in methods:
            for b in budgets:
                point = [c for c in e[m]["curve"] if c["budget"] <= b + 1e-6][-1]
                out.setdefault(f"{m}, {b} episodes", {}).setdefault(task, {})[seed] = point["success"]
    return out


def bfm_worst_drop(name: str):
    out: dict = {}
    for e in bfm_entries(name):
        for m in ("lola", "rela", "cem", "random", "finetune"):
            if m in e:
                out.setdefault(m, {}).setdefault(e["zero_shot"]["env"], {})[seed_of(e)] = e[m]["worst_drop"]
    return out


def bfm_headroom(name: str):
    out: dict = {}
    for e in bfm_entries(name):
        if "headroom" in e:
            task, seed = e["zero_shot"]["env"], seed_of(e)
            out.setdefault("z_r (10 episodes)", {}).setdefault(task, {})[seed] = e["headroom"]["z_r"]["success"]
            out.setdefault(f"best of {e['headroom']['latents']} latents (10 episodes each)", {}).setdefault(
                task, {})[seed] = e["headroom"]["best"]["success"]
    return out


def task_label(env: str) -> str:
    """'task N' from an OGBench singletask environment id."""
    return "task " + env.split("task")[-1].split("-")[0]


def bfm_zero_shot(name: str, baselines: str):
    """FB zero-shot success per task and seed, beside single-policy baselines evaluated on the same tasks."""
    out: dict = {}
    for e in bfm_entries(name):
        out.setdefault("FB zero-shot (reward-free pretraining)", {}).setdefault(task_label(e["zero_shot"]["env"]), {})[
            seed_of(e)] = e["zero_shot"]["success"]
    labels = {"bc": "BC (task-agnostic, 200k)", "iql": "IQL trained on task 2's rewards (200k)"}
    for r in bfm_entries(baselines):
        out.setdefault(labels[r["recipe"]], {}).setdefault(task_label(r["env"]), {})[r["seed"]] = r["success"]
    per_task = sorted((RAW / "bfm").glob("iql-task*-s*-summary.json"))
    if len(per_task) == 5:  # IQL trained on each task's own rewards
        for path in per_task:
            summary = json.loads(path.read_text())
            out.setdefault("IQL trained per task (20k)", {}).setdefault(task_label(summary["env"]), {})[
                summary["seed"]] = summary["final_eval"]["success"]
    return out if any(k.startswith("FB") for k in out) else {}


FB_ACTORS = {"fb": "TD3-style", "fb-awr": "in-sample", "fb-awr-beta3": "in-sample (beta 3)"}  # bfm_ogbench.sh rows


def bfm_ogbench_zero_shot():
    """Zero-shot of the FB cells of bfm_ogbench.sh (100k updates) per task and seed, by reward and by goal
    inference."""
    out: dict = {}
    for path in sorted((RAW / "bfm").glob("zero-shot-fb*-cube-single-s*.json")):
        row, seed = path.stem.removeprefix("zero-shot-").split("-cube-single-s")
        for e in json.loads(path.read_text()).values():
            for key, inference in (("zero_shot", "reward"), ("zero_shot_goal", "goal")):
                if key in e:
                    out.setdefault(f"FB, {FB_ACTORS[row]} actor, {inference} inference", {}).setdefault(
                        task_label(e[key]["env"]), {})[int(seed)] = e[key]["success"]
    tasks = {t for row in out.values() for t in row}
    return {method: row for method, row in out.items() if set(row) == tasks}  # a run still evaluating waits


def bfm_diagnosis():
    """fb_diagnose.py's measurements of each FB cube-single run, per task: reward inference, F's ranking, actor."""
    # the 20k runs of faithful_cube.sh (its fb-awr ran the old beta 3), then bfm_ogbench.sh's 100k runs
    files = [(f"{FB_ACTORS[row]}, 20k", RAW / "bfm" / f"diagnose-cube-single-{name}-s0.json")
             for name, row in (("fb", "fb"), ("fb-awr", "fb-awr-beta3"))]
    for path in sorted((RAW / "bfm").glob("diagnose-fb*-cube-single-s*.json")):
        files.append((f"{FB_ACTORS[path.stem.removeprefix('diagnose-').split('-cube-single-s')[0]]}, 100k", path))
    rows = []
    for label, path in files:
        if path.exists():
            for r in json.loads(path.read_text())["rows"]:
                rows.append([label, str(r["task"]), f"{100 * r['success_share']:.1f}%",
                             f"{r['reward_auc_of_z_r']:.2f}", f"{r['reward_auc_best_linear']:.2f}",
                             f"{r['q_spearman_with_mc_returns']:.2f}", f"{100 * r['actor_beats_data_share']:.0f}%"])
    return markdown_table(["FB run (seed 0)", "task", "success states", "AUC of B(s')^T z_r", "best linear AUC",
                           "Spearman(F^T z_r, MC return)", "actor's Q above the data action's"], rows) if rows else None


def bfm_goal_probe():
    """fb_diagnose.py's task-free probe of each 100k FB run: M = F(s_t, a_t, B(g))^T B(g) for g = s_{t+k}, and the
    actor's distance to the data action per k and its change between two goals."""
    rows = []
    for path in sorted((RAW / "bfm").glob("diagnose-fb*-cube-single-s*.json")):
        probe = json.loads(path.read_text()).get("successor_ordering")
        if probe:
            ks = list(probe["mean_m_by_k"])
            run = path.stem.removeprefix("diagnose-")
            rows.append([f"{run}: mean M", *(f"{probe['mean_m_by_k'][k]:.0f}" for k in ks),
                         f"{probe['spearman_m_with_minus_k']:.2f}", "-"])
            rows.append([f"{run}: mean abs(pi(s_t, B(g)) - a_t)", *(f"{probe['actor_to_data_action_by_k'][k]:.3f}"
                                                                       for k in ks), "-",
                         f"{probe['actor_change_between_two_goals']:.3f} (data actions' mean abs "
                         f"{probe['data_action_mean_abs']:.2f})"])
    if not rows:
        return None
    return markdown_table(["run, measure", *(f"k = {k}" for k in ks), "Spearman(M, -k)",
                           "action change between two goals"], rows)


def sweep_toy():
    out: dict = {}
    with (RAW / "sweep-toy-results.csv").open() as f:
        for r in csv.DictReader(f):
            out.setdefault(r["method"], {}).setdefault(r["task"], {})[int(r["seed"])] = float(r["success"])
    return out


def iql_cube_gpu():
    step = 65_000  # the last evaluation all three IQL seeds reached
    return {"IQL (4 x 512, H100)": {"cube-single task 2": {
                s: success_at(RAW / f"gpu-iql-4x512-s{s}-eval.csv", step) for s in (0, 1, 2)}},
            "BC (4 x 512, H100)": {"cube-single task 2": {0: success_at(RAW / "gpu-bc-4x512-s0-eval.csv", step)}}}


def throughput_cpu(name: str = "throughput-cpu.json"):
    """benchmarks/throughput.py: median updates/s per contender and the ratio to d3rlpy (a finished table)."""
    path = RAW / name
    if not path.exists():
        return None
    algos = json.loads(path.read_text())["algos"]
    contenders = list(next(iter(algos.values()))["median_updates_per_s"])
    return markdown_table(["algorithm", *contenders], [
        [algo, *(f"{r['median_updates_per_s'][c]:.1f}" + ("" if c == "d3rlpy" else f" (**{r['ratio_vs_d3rlpy'][c]:.2f}x**)")
                 for c in contenders)] for algo, r in algos.items()])


def throughput_flops(name: str = "throughput-cpu.json"):
    """FLOPs per update (counted) and the GFLOP/s each contender achieves at that work."""
    path = RAW / name
    algos = json.loads(path.read_text())["algos"] if path.exists() else {}
    if not algos or "flops_per_update" not in next(iter(algos.values())):
        return None
    contenders = list(next(iter(algos.values()))["achieved_gflops"])
    return markdown_table(["algorithm", "MFLOP per update", *(f"{c} GFLOP/s" for c in contenders)], [
        [algo, f"{r['flops_per_update'] / 1e6:.0f}", *(f"{r['achieved_gflops'][c]:.0f}" for c in contenders)]
        for algo, r in algos.items()])


def compile_gain(name: str):
    """benchmarks/compile_gain.py: eager and compiled updates/s side by side (compile=auto's probe), GFLOP/s."""
    path = RAW / name
    if not path.exists():
        return None
    rows = json.loads(path.read_text())["rows"]
    return markdown_table(["recipe", "networks", "threads", "GFLOP per update", "eager updates/s",
                           "compiled updates/s", "compiled / eager", "GFLOP/s (eager)"],
                          [[r["recipe"], r["hidden"], str(r["threads"]), f"{r['gflop_per_update']:.2f}",
                            f"{r['eager_updates_per_s']:.1f}", f"{r['compiled_updates_per_s']:.1f}",
                            f"**{r['compiled_over_eager']:.2f}x**", f"{r['gflop_per_s_eager']:.0f}"] for r in rows])


def pixel_throughput():
    """benchmarks/pixel_throughput.py: updates/s from pixels, without the encoder, and the encoder's share."""
    path = RAW / "pixel-throughput-cpu.json"
    if not path.exists():
        return None
    rows = json.loads(path.read_text())["rows"]
    return markdown_table(["setting", "updates/s", "updates/s with a no-cost encoder", "encoder share of an update"],
                          [[r["setting"], f"{r['updates_per_s']:.2f}", f"{r['updates_per_s_without_encoder']:.2f}",
                            f"{100 * r['encoder_share']:.0f}%"] for r in rows])


def pixels_cube():
    """benchmarks/pixels_cube.sh runs (summary.json + metrics.csv per run): final success, pixels beside states."""
    runs = {}
    for summary in sorted((RAW / "pixels").glob("*/summary.json")):
        tag, recipe = summary.parent.name.split("-", 1)
        metrics = summary.parent / "metrics.csv"
        rates = [float(row["updates_per_s"]) for row in csv.DictReader(metrics.open())] if metrics.exists() else []
        runs.setdefault(recipe.rsplit("-s", 1)[0], {})[tag] = (json.loads(summary.read_text()), rates)
    if not runs:
        return None
    rows = []
    for recipe, by_tag in runs.items():
        cells = []
        for tag in ("pixels", "states"):
            if tag not in by_tag:
                cells.append(["-"] * (3 if tag == "pixels" else 1))
                continue
            summary, rates = by_tag[tag]
            success = f"{summary['final_eval']['success']:.0f} ({summary['final_eval']['episodes']:.0f} episodes)"
            cells.append([success, f"{statistics.median(rates):.2f}" if rates else "-",
                          f"{summary['train_seconds_last_session'] / 60:.0f}"] if tag == "pixels" else [success])
        rows.append([recipe, *cells[0], *cells[1]])
    return markdown_table(["recipe", "from pixels: success %", "updates/s (1 thread, shared)", "train minutes",
                           "from states: success %"], rows)


def precision_toy():
    path = RAW / "precision-toy-iql.json"
    if not path.exists():
        return None
    saved = json.loads(path.read_text())["results"]
    return {f"IQL {p}": {"toy-nav": {int(s): r["success"] for s, r in by_seed.items()}} for p, by_seed in saved.items()}


def lcd_chains(phrasing: str, holdout: str = ""):
    """benchmarks/lcd_table.py results: {method: [per-seed chain metrics]}, the oracle last."""
    out: dict = {}
    for path in sorted((RAW / "lcd").glob("*-s*.json")):
        r = json.loads(path.read_text())
        if r["holdout_task"] == holdout:
            label = f"{r['method']} ({holdout} held out)" if holdout and "(" not in r["method"] else r["method"]
            out.setdefault(label, []).append({**r[phrasing], "train_seconds": r["train_seconds"]})
    order = ["lcd", "lcd (subtask in training)", "lcd-mlp", "lcd-flat"]  # then the variants
    out = dict(sorted(out.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])))
    oracle = RAW / "lcd" / "oracle.json"
    if out and oracle.exists() and not holdout:
        out["scripted oracle (plan oracles, retried)"] = [json.loads(oracle.read_text())]
    return chain_table(out, length=1 if holdout else 5) if out else None


FAITHFUL_ROWS = {"iql": "IQL (new defaults)", "iql-old": "IQL (defaults before issue 19)",
                 "calql": "Cal-QL (new defaults)", "calql-old": "Cal-QL (defaults before issue 19)",
                 "parl-calql": "parl-calql (diffusion, staged)", "parl-calql-old": "parl-calql (before issue 19)"}


def faithful_cube():
    """benchmarks/faithful_cube.sh rows on cube-single task 2: final success per seed (50 episodes)."""
    out: dict = {}
    for summary in sorted((RAW / "faithful").glob("*-s*/summary.json")):
        row, seed = summary.parent.name.rsplit("-s", 1)
        if row in FAITHFUL_ROWS:
            out.setdefault(FAITHFUL_ROWS[row], {"cube-single task2": {}})["cube-single task2"][int(seed)] = \
                final_success(summary)
    return dict(sorted(out.items(), key=lambda kv: list(FAITHFUL_ROWS.values()).index(kv[0]))) or None


def ogbench_cpu_online():
    """benchmarks/ogbench_cpu.sh online-ROW cells: success every 10k environment steps after the offline
    checkpoint's final evaluation (step 0), each run's finished curve, and its training minutes."""
    rows = []
    for summary in sorted((RAW / "ogbench-cpu-online").glob("*-s*/summary.json")):
        name = summary.parent.name
        offline = RAW / "ogbench-cpu" / name[len("online-"):] / "summary.json"
        evals = {int(float(r["step"])): float(r["success"]) for r in csv.DictReader((summary.parent / "eval.csv").open())}
        rows.append([name[len("online-"):], f"{final_success(offline):.0f}" if offline.exists() else "-",
                     *(f"{evals[s]:.0f}" if s in evals else "-" for s in range(10000, 100001, 10000)),
                     f"{train_minutes(summary.parent / 'metrics.csv'):.0f}"])
    if not rows:
        return None
    return markdown_table(["offline cell", "offline final", *(f"{k}k" for k in range(10, 101, 10)),
                           "update minutes"], rows)


def faithful_protocol():
    """Issue 19's rows at the CPU protocol's budget (benchmarks/ogbench_cpu.sh cells on cube-single): each recipe
    with its new defaults beside its defaults before the issue."""
    rows = {"iql": "IQL (new defaults)", "iql-old": "IQL (defaults before issue 19)",
            "calql": "Cal-QL (new defaults)", "calql-old": "Cal-QL (defaults before issue 19)",
            "parl-calql": "parl-calql (diffusion, staged)"}
    out: dict = {}
    for row, label in rows.items():
        for summary in sorted((RAW / "ogbench-cpu").glob(f"{row}-cube-single-s*/summary.json")):
            seed = int(summary.parent.name.rsplit("-s", 1)[1])
            out.setdefault(label, {"cube-single task2": {}})["cube-single task2"][seed] = final_success(summary)
    return out or None


def faithful_parity():
    """The parity runs beside the reference figures of ../shared/BENCHMARKS.md (IQL, 4x512, cube-single task 2):
    success of each seed at every evaluation, their mean, and each run's median rate."""
    runs = sorted((RAW / "faithful").glob("parity-iql-s*/eval.csv"))
    if not runs:
        return None
    reference = {10000: "10 (4 in a second run)", 20000: "42"}
    evals = [{int(float(r["step"])): float(r["success"]) for r in csv.DictReader(path.open())} for path in runs]
    rates = [statistics.median(float(r["updates_per_s"]) for r in csv.DictReader((path.parent / "metrics.csv").open()))
             for path in runs]
    seeds = [path.parent.name.rsplit("-s", 1)[1] for path in runs]
    rows = []
    for step in sorted(set().union(*evals)):
        here = [e[step] for e in evals if step in e]
        rows.append([f"{step:,}", *(f"{e[step]:.0f}" if step in e else "-" for e in evals),
                     f"{statistics.mean(here):.0f}" if len(here) == len(evals) else "-", reference.get(step, "-")])
    header = ["steps", *(f"anypolicy IQL success %, seed {s}" for s in seeds), "mean", "reference IQL success %"]
    return markdown_table(header, rows) + "\n\nanypolicy updates/s (median of each run, 1 thread): " + ", ".join(
        f"seed {s} {r:.1f}" for s, r in zip(seeds, rates))


OGBENCH_ROWS = {"bc": "BC (diffusion)", "iql": "IQL", "rebrac": "ReBRAC", "fql": "FQL (3x256)",
                "calql": "Cal-QL (2x256, regularizer on 32 states)",
                "idql": "IDQL", "parl-iql": "parl-iql (diffusion 2x128, k 8)",
                "parl-calql": "parl-calql (diffusion 2x128, k 8, heads 2x256)",
                "parl-calql-ar": "parl-calql (autoregressive 2x64, k 8, heads 2x256)"}  # the CPU setting: parl-throughput.md


def train_minutes(metrics_csv: Path) -> float:
    """Training time of a run from its logged rates (updates between rows / updates per second), summed over
    every session it ran in; evaluation excluded."""
    rows = list(csv.DictReader(metrics_csv.open()))
    steps = [int(float(r["step"])) for r in rows]
    return sum((b - a) / float(r["updates_per_s"]) for a, b, r in zip([0] + steps, steps, rows)) / 60


def ogbench_cpu():
    """benchmarks/ogbench_cpu.sh cells under the CPU protocol: final success per task and seed, the statistics
    over them, P(parl-calql > each) once parl-calql has runs; then training minutes per run."""
    scores: dict = {}
    minutes: dict = {}
    for summary in sorted((RAW / "ogbench-cpu").glob("*-s*/summary.json")):
        name, seed = summary.parent.name.rsplit("-s", 1)
        task = next((d for d in TASKS if name.endswith("-" + d)), None)
        row = name[:-len(task) - 1] if task else None
        if row not in OGBENCH_ROWS:  # the parity runs, issue 19's old-defaults cells (faithful_protocol)
            continue
        scores.setdefault(OGBENCH_ROWS[row], {}).setdefault(task, {})[int(seed)] = final_success(summary)
        minutes.setdefault(OGBENCH_ROWS[row], {}).setdefault(task, []).append(train_minutes(summary.parent / "metrics.csv"))
    if not scores:
        return None
    order = list(OGBENCH_ROWS.values())
    parl = OGBENCH_ROWS["parl-calql"]
    tasks = sorted({t for by_task in scores.values() for t in by_task})
    blocks = []
    for task in tasks:  # one table per task: runs finish at different times, and a row may cover fewer tasks
        here = {m: {task: by_task[task]} for m, by_task in sorted(scores.items(), key=lambda kv: order.index(kv[0]))
                if task in by_task}
        blocks.append(f"**{task}** (task {4 if task.startswith('puzzle') else 2}), final success %:\n\n"
                      + score_table(here, baseline=parl if parl in here else None))
    time_rows = [[m, *(f"{statistics.mean(minutes[m][t]):.0f}" if t in minutes[m] else "-" for t in tasks)]
                 for m in sorted(minutes, key=order.index)]
    curve_rows = []  # every finished run's evaluations: the final one counts, the path to it shows stability
    for summary in sorted((RAW / "ogbench-cpu").glob("*-s*/summary.json")):
        if summary.parent.name.startswith("parity-"):
            continue
        evals = {int(float(r["step"])): float(r["success"]) for r in csv.DictReader((summary.parent / "eval.csv").open())}
        curve_rows.append([summary.parent.name, *(f"{evals[s]:.0f}" if s in evals else "-"
                                                  for s in range(25000, 100001, 25000))])
    return "\n\n".join(blocks) + "\n\nTraining minutes per run (mean over seeds, one thread, evaluation " \
        "excluded):\n\n" + markdown_table(["method", *tasks], time_rows) + "\n\nSuccess % at every evaluation " \
        "of each finished run:\n\n" + markdown_table(["run", "25k", "50k", "75k", "100k"], curve_rows)


PARL_ACTING = {"candidates": "parl-calql (the row: acting with k 8, m 4, T 10)",
               "global-only": "global optimization only (T 0 at acting)",
               "local-only": "local optimization only (k = m = 1 at acting)",
               "policy": "the policy's own sample (no optimization at acting)",
               "cfpi-local": "one CFPI step in place of the T gradient steps (at acting)"}
PARL_TRAINING = {"parl-calql-nodata": "no dataset action among the candidates (trained so)",
                 "parl-calql-distill": "distillation during critic pre-training (trained so)"}


def parl_ablations():
    """PA-RL's ablations (section 5.3) on the protocol's cells: the acting-time ones evaluated on each finished
    parl-calql cell's checkpoint (benchmarks/parl_search.py, same episodes), the training ones as cells."""
    scores: dict = {}
    for path in sorted((RAW / "ogbench-cpu").glob("parl-acting-parl-calql-*-s*.json")):
        name, seed = path.stem[len("parl-acting-parl-calql-"):].rsplit("-s", 1)
        for mode, result in next(iter(json.loads(path.read_text()).values())).items():
            scores.setdefault(PARL_ACTING[mode], {}).setdefault(name, {})[int(seed)] = result["success"]
    for row, label in PARL_TRAINING.items():
        for summary in sorted((RAW / "ogbench-cpu").glob(f"{row}-*-s*/summary.json")):
            name, seed = summary.parent.name[len(row) + 1:].rsplit("-s", 1)
            scores.setdefault(label, {}).setdefault(name, {})[int(seed)] = final_success(summary)
    order = [*PARL_ACTING.values(), *PARL_TRAINING.values()]
    return dict(sorted(scores.items(), key=lambda kv: order.index(kv[0]))) or None


def parity_fql():
    """FQL and IQL at the reference settings (4x512, 50k updates, cube-single task 2): success every 10k."""
    runs = {label: RAW / "ogbench-cpu" / f"parity-{row}-cube-single-s0"
            for row, label in (("fql", "FQL"), ("iql", "IQL"))}
    if not (runs["IQL"] / "eval.csv").exists():  # the same settings' IQL run of issue 19 (faithful.md, 30k steps)
        runs["IQL"] = RAW / "faithful" / "parity-iql-s0"
    runs = {label: d for label, d in runs.items() if (d / "eval.csv").exists()}
    if not runs:
        return None
    rows = []
    for label, d in runs.items():
        evals = {int(float(r["step"])): float(r["success"]) for r in csv.DictReader((d / "eval.csv").open())}
        rates = [float(r["updates_per_s"]) for r in csv.DictReader((d / "metrics.csv").open())]
        done = "" if (d / "summary.json").exists() else " (unfinished)"
        rows.append([label + done, *(f"{evals[s]:.0f}" if s in evals else "-" for s in range(10000, 50001, 10000)),
                     f"{statistics.median(rates):.1f}" if rates else "-", f"{train_minutes(d / 'metrics.csv'):.0f}"])
    return markdown_table(["recipe", "10k", "20k", "30k", "40k", "50k", "updates/s (median, 1 thread)",
                           "training minutes"], rows)


def protocol_rates():
    """benchmarks/protocol_rates.py: compiled updates/s of each candidate size, and minutes per 100k updates."""
    blocks = []
    for name in ("cpu", "cql-states-cpu", "fit-cpu", "fit-calql-cpu", "bc-stage-cpu"):  # one run each, oldest first
        path = RAW / f"protocol-rates-{name}.json"
        if path.exists():
            raw = json.loads(path.read_text())
            rows, load = raw["rows"], f" ({raw['load']})" if "load" in raw else ""
            blocks.append(f"`raw/{path.name}`{load}:\n\n" + markdown_table(
                ["setting", "recipe", "overrides", "updates/s (median)", "rounds", "minutes per 100k"],
                [[name, r["recipe"], " ".join(f"{k}={v}" for k, v in r["overrides"].items()), f"{r['median']:.1f}",
                  ", ".join(f"{x:.1f}" for x in r["updates_per_s"]), f"{r['minutes_per_100k']:.0f}"]
                 for name, r in rows.items()]))
    return "\n\n".join(blocks) or None


TABLES = {  # block name: (document, scores, baseline of the probability of improvement[, bold the best])
    "faithful-cube": ("faithful.md", faithful_cube, None),
    "faithful-parity": ("faithful.md", faithful_parity, None),
    "faithful-protocol": ("faithful.md", faithful_protocol, None),
    "ogbench-cpu": ("ogbench-cpu.md", ogbench_cpu, None),
    "parity-fql": ("ogbench-cpu.md", parity_fql, None),
    "ogbench-cpu-online": ("ogbench-cpu.md", ogbench_cpu_online, None),
    "parl-ablations": ("ogbench-cpu.md", parl_ablations, PARL_ACTING["candidates"]),
    "protocol-rates": ("ogbench-cpu.md", protocol_rates, None),
    "parl-toy": ("parl.md", parl_toy, "bc (diffusion)"),
    "parl-toy-cql-states": ("parl.md", parl_toy_cql_states, None),
    "parl-search": ("parl.md", parl_search, None),
    "parl-toy-online-cache": ("parl.md", parl_toy_online_cache, "fresh samples at every update"),
    "cfpi-toy": ("cfpi.md", lambda: cfpi({"toy-nav": "toy.json"}), "MG-BC"),
    "cfpi-ogbench": ("cfpi.md", lambda: cfpi({"cube-single": "cube-single.json", "cube-double": "cube-double.json",
                                              "scene": "scene.json"}), "MG-BC"),
    "cfpi-iql-toy": ("cfpi.md", lambda: iql_isg("iql-isg-toy.json"), "IQL"),
    "cfpi-iql-cube": ("cfpi.md", lambda: iql_isg("iql-isg-cube-single.json"), "IQL"),
    "cfpi-iql-cube-parity": ("cfpi.md", lambda: iql_isg("iql-isg-cube-single-parity-*.json"), "IQL"),
    "cfpi-iql-ogbench": ("cfpi.md", lambda: iql_isg("iql-isg-iql-*.json"), "IQL"),  # ogbench_cpu.sh's IQL cells
    "bfm-toy-adapt": ("bfm.md", lambda: bfm_adaptation("toy.json"), "zero-shot"),
    "bfm-toy-drop": ("bfm.md", lambda: bfm_worst_drop("toy.json"), None, False),
    "bfm-toy-headroom": ("bfm.md", lambda: bfm_headroom("toy.json"), None),
    "bfm-cube-zero-shot": ("bfm.md", lambda: bfm_zero_shot("cube-single.json", "cube-single-bc-iql-tasks.json"), None),
    "bfm-cube-zero-shot-100k": ("bfm.md", bfm_ogbench_zero_shot, None),
    "bfm-diagnosis": ("bfm.md", bfm_diagnosis, None),
    "bfm-goal-probe": ("bfm.md", bfm_goal_probe, None),
    "sweep-toy": ("evaluation.md", sweep_toy, "bc"),
    "iql-cube-gpu": ("iql-cube-single.md", iql_cube_gpu, None),
    "precision-toy": ("throughput.md", precision_toy, "IQL fp32"),
    "throughput-cpu": ("throughput.md", throughput_cpu, None),
    "throughput-cpu-rerun": ("throughput.md", lambda: throughput_cpu("throughput-cpu-rerun.json"), None),
    "throughput-flops": ("throughput.md", throughput_flops, None),
    # a CPU without AVX-512 or native bf16 (issue 26): one table per CPU kind, each side by side in one process
    "throughput-cpu-avx2": ("throughput.md", lambda: throughput_cpu("throughput-cpu-avx2.json"), None),
    "throughput-flops-avx2": ("throughput.md", lambda: throughput_flops("throughput-cpu-avx2.json"), None),
    "compile-gain": ("throughput.md", lambda: compile_gain("compile-gain-cpu.json"), None),
    "fb-throughput": ("bfm.md", lambda: compile_gain("fb-throughput-cpu.json"), None),
    "pixel-throughput": ("pixels.md", pixel_throughput, None),
    "pixels-cube": ("pixels.md", pixels_cube, None),
    "lcd-held-out": ("lcd.md", lambda: lcd_chains("held-out"), None),
    "lcd-training": ("lcd.md", lambda: lcd_chains("training"), None),
    "lcd-holdout-held-out": ("lcd.md", lambda: lcd_chains("held-out", "lock_drawer"), None),
    "lcd-holdout-training": ("lcd.md", lambda: lcd_chains("training", "lock_drawer"), None),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is out of date")
    p.add_argument("--only", nargs="+", default=None, help="block names (default: all)")
    args = p.parse_args()
    by_doc: dict[str, dict[str, str]] = {}
    for name, (doc, scores, baseline, *bold) in TABLES.items():
        values = scores() if args.only is None or name in args.only else None
        if isinstance(values, str):  # a finished table (instruction chains)
            by_doc.setdefault(doc, {})[name] = values
        elif values:  # a table whose raw results do not exist yet is left as it is
            by_doc.setdefault(doc, {})[name] = score_table(values, baseline=baseline, bold_best=bold != [False])
    stale = []
    for doc, tables in by_doc.items():
        path = RESULTS / doc
        text, changed = update_blocks(path.read_text(), tables)
        stale += [f"{doc}: {name}" for name in changed]
        if changed and not args.check:
            path.write_text(text)
    print(("stale: " if args.check else "updated: ") + (", ".join(stale) or "none"))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
