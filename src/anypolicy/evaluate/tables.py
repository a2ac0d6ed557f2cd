"""Markdown result tables computed with the statistics of `stats`, and their upkeep inside documents.

`score_table` turns {method: {task: {seed: score}}} into a table with each method's runs, its mean and IQM
with 95% stratified-bootstrap intervals and, against a named baseline, the probability of improvement.
`update_blocks` rewrites the tables between `<!-- table:NAME -->` and `<!-- /table -->` markers of a
document, so the published tables are regenerated from raw results rather than typed by hand.
"""
from __future__ import annotations

import re

import numpy as np

from anypolicy.evaluate import stats

Scores = dict[str, dict[str, dict[int, float]]]  # method -> task -> seed -> score


def matrix(by_task: dict[str, dict[int, float]], tasks: list[str]) -> np.ndarray:
    """[runs, tasks] for one method; every task needs the same number of runs (tasks are the strata)."""
    columns = [[by_task[t][s] for s in sorted(by_task[t])] for t in tasks]
    if len({len(c) for c in columns}) != 1:
        raise ValueError(f"every task needs the same number of runs, got {[len(c) for c in columns]} for {tasks}.")
    return np.array(columns, dtype=np.float64).T


def _interval(point: float, lo: float, hi: float, digits: int = 1) -> str:
    return f"{point:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(row) + " |" for row in [header, ["---"] * len(header), *rows])


def score_table(scores: Scores, baseline: str | None = None, reps: int = 2000, seed: int = 0,
                bold_best: bool = True) -> str:
    """One row per method. With a single task the runs are listed per seed; with several, per task (mean
    over seeds). Mean and IQM come with 95% stratified-bootstrap intervals (runs resampled within tasks);
    `baseline` adds P(method > baseline)."""
    tasks = sorted({t for by_task in scores.values() for t in by_task})
    seeds = sorted({s for by_task in scores.values() for by_seed in by_task.values() for s in by_seed})
    single = len(tasks) == 1
    columns = [f"seed {s}" for s in seeds] if single else list(tasks)
    header = ["method", *columns, "mean [95% CI]", "IQM [95% CI]"] + ([f"P(> {baseline})"] if baseline else [])
    summaries = {}
    for m, by_task in scores.items():
        runs = matrix(by_task, tasks)
        summaries[m] = runs, {name: stats.bootstrap_ci(runs, stats.METRICS[name], reps, seed=seed) for name in ("mean", "iqm")}
    best = max(s["mean"][0] for _, s in summaries.values())
    rows = []
    for method, (m, summary) in summaries.items():
        if single:
            cells = [f"{scores[method][tasks[0]][s]:.0f}" if s in scores[method][tasks[0]] else "-" for s in seeds]
        else:
            cells = [f"{np.mean(list(scores[method][t].values())):.1f}" for t in tasks]
        name = f"**{method}**" if bold_best and summary["mean"][0] == best and len(scores) > 1 else method
        row = [name, *cells, _interval(*summary["mean"]), _interval(*summary["iqm"])]
        if baseline:
            row.append("-" if method == baseline else
                       f"{stats.probability_of_improvement(m, matrix(scores[baseline], tasks)):.2f}")
        rows.append(row)
    return markdown_table(header, rows)


def chain_table(runs: dict[str, list[dict]], length: int = 5, reps: int = 2000, seed: int = 0) -> str:
    """Instruction-chain results (hierarchy/chains.py), one row per method over its seeds: success at
    chain lengths 1..length (mean over seeds), average completed length with a 95% bootstrap interval over
    seeds and the per-seed values, training minutes and milliseconds per action (means)."""
    header = ["method", *(f"{k}/{length}" for k in range(1, length + 1)), "avg len [95% CI]", "per seed",
              "train min", "ms / action"]
    rows = []
    for method, results in runs.items():
        lengths = np.array([[r["avg_len"]] for r in results])
        row = [method, *(f"{np.mean([r.get(f'success_{k}', 0.0) for r in results]):.1f}" for k in range(1, length + 1)),
               _interval(*stats.bootstrap_ci(lengths, stats.METRICS["mean"], reps, seed=seed), digits=2)
               if len(results) > 1 else f"{lengths[0, 0]:.2f} (one run)",
               " / ".join(f"{v:.2f}" for v in lengths[:, 0]),
               "-" if results[0].get("train_seconds") is None else f"{np.mean([r['train_seconds'] for r in results]) / 60:.1f}",
               f"{np.mean([r['ms_per_action'] for r in results]):.2f}"]
        rows.append(row)
    return markdown_table(header, rows)


BLOCK = re.compile(r"(?P<head>^<!-- table:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(?P<tail>^<!-- /table -->)", re.S | re.M)


def update_blocks(text: str, tables: dict[str, str]) -> tuple[str, list[str]]:
    """Replace the body of each named block found in `text`; returns the new text and the names whose
    body changed. A name in `tables` without a block in the text is an error (a table with nowhere to go)."""
    found = {m.group("name") for m in BLOCK.finditer(text)}
    missing = sorted(set(tables) - found)
    if missing:
        raise KeyError(f"no <!-- table:NAME --> block for {', '.join(missing)}.")
    changed = []

    def replace(m):
        name = m.group("name")
        body = tables.get(name, "").rstrip("\n") + "\n"
        if name not in tables or m.group("body") == body:
            return m.group(0)
        changed.append(name)
        return m.group("head") + body + m.group("tail")

    return BLOCK.sub(replace, text), changed
