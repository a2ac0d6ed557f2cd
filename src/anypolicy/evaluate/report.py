"""`anypolicy report RUN_DIR... --out report.html`: one self-contained HTML page (tables, plots as inline
PNG, configs, commands, versions, rollout videos) that opens in any browser without other files.

Runs are grouped into methods by their directory name without its `-s<seed>` suffix (so
`runs/iql-s0 runs/iql-s1` are two seeds of `iql`) and into tasks by their environment. A directory that
holds run directories (a sweep) stands for all of them.
"""
from __future__ import annotations

import base64
import csv
import html
import json
import re
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

from anypolicy.evaluate import plots, stats

VIDEO_TYPES = {".gif": "image/gif", ".mp4": "video/mp4"}


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Run directories (holding config.json) among `paths` and, for a sweep directory, below it."""
    runs = []
    for p in map(Path, paths):
        if (p / "config.json").exists():
            runs.append(p)
        elif p.is_dir():
            runs.extend(sorted(c.parent for c in p.glob("**/config.json")))
        else:
            raise FileNotFoundError(f"{p} is not a run directory (no config.json) nor a directory of runs.")
    if not runs:
        raise FileNotFoundError(f"no run directories (with config.json) under {', '.join(map(str, paths))}.")
    return runs


def _read_csv(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def load_run(run_dir: Path) -> dict:
    config = json.loads((run_dir / "config.json").read_text())
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    evals = _read_csv(run_dir / "eval.csv")
    final = (summary.get("final_eval") or (evals[-1] if evals else {})).get("success")
    return {"dir": run_dir, "name": run_dir.name, "method": re.sub(r"-s\d+$", "", run_dir.name),
            "task": config["train"].get("env") or config["train"].get("dataset"), "seed": config["train"].get("seed"),
            "config": config, "summary": summary, "evals": evals, "final": final,
            "videos": sorted(p for p in (run_dir / "videos").glob("*") if p.suffix in VIDEO_TYPES)}


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _video(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    mime = VIDEO_TYPES[path.suffix]
    if mime.startswith("image"):
        return f'<figure><img alt="{html.escape(path.name)}" src="data:{mime};base64,{data}"><figcaption>{html.escape(path.name)}</figcaption></figure>'
    return (f'<figure><video controls muted src="data:{mime};base64,{data}"></video>'
            f'<figcaption>{html.escape(path.name)}</figcaption></figure>')


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def score_matrix(runs: list[dict], method: str, tasks: list[str]) -> np.ndarray | None:
    """[seeds, tasks] final success in [0, 1] of one method; None unless every task has runs (the fewest
    seeds of any task are used so that the matrix is rectangular)."""
    columns = [[r["final"] / 100 for r in runs if r["method"] == method and r["task"] == t and r["final"] is not None]
               for t in tasks]
    if any(not c for c in columns):
        return None
    n = min(len(c) for c in columns)
    return np.array([c[:n] for c in columns]).T


def curves_for(runs: list[dict], task: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """method -> (steps, success [seeds, steps]) on the steps that every seed evaluated."""
    out = {}
    for method in sorted({r["method"] for r in runs if r["task"] == task}):
        seeds = [r for r in runs if r["method"] == method and r["task"] == task and r["evals"]]
        if not seeds:
            continue
        steps = sorted(set.intersection(*[{e["step"] for e in r["evals"]} for r in seeds]))
        if steps:
            values = np.array([[next(e["success"] for e in r["evals"] if e["step"] == s) for s in steps] for r in seeds])
            out[method] = (np.array(steps), values)
    return out


CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img,video{max-width:100%}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}figure{display:inline-block;margin:8px}"""


def build_report(paths: list[str | Path], out: str | Path, title: str = "anypolicy report", reps: int = 2000) -> Path:
    runs = [load_run(p) for p in find_runs(paths)]
    methods = sorted({r["method"] for r in runs})
    tasks = sorted({r["task"] for r in runs})
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{len(runs)} runs, {len(methods)} methods, {len(tasks)} tasks; generated "
             f"{datetime.now():%Y-%m-%d %H:%M}. Success in % of evaluation episodes at the last evaluation; "
             "intervals are 95% bootstrap intervals over seeds (stratified by task for aggregates).</p>"]

    rows = []
    for method in methods:
        for task in tasks:
            finals = [r["final"] for r in runs if r["method"] == method and r["task"] == task and r["final"] is not None]
            if finals:
                point, lo, hi = stats.bootstrap_ci(np.array(finals)[:, None], stats.aggregate_mean, reps)
                rows.append([method, task, len(finals), _fmt(point), f"[{_fmt(lo)}, {_fmt(hi)}]", _fmt(np.std(finals))])
    parts += ["<h2>Final success per method and task</h2>",
              _table(["method", "task", "seeds", "mean", "95% CI", "std"], rows)]

    matrices = {m: s for m in methods if (s := score_matrix(runs, m, tasks)) is not None}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if matrices:
            agg_rows = [[m] + [f"{_fmt(100 * p)} [{_fmt(100 * lo)}, {_fmt(100 * hi)}]" for p, lo, hi in
                               stats.summarize(s, reps).values()] for m, s in matrices.items()]
            parts += [f"<h2>Aggregates over {len(tasks)} task(s)</h2>",
                      _table(["method"] + [k.replace("_", " ") for k in stats.METRICS], agg_rows),
                      _img(plots.interval_plot(matrices, tmp / "intervals", reps=reps)[0]),
                      _img(plots.profile_plot(matrices, tmp / "profile")[0])]
        for i, task in enumerate(tasks):
            curves = curves_for(runs, task)
            if curves:
                parts += [f"<h2>Learning curves: {html.escape(str(task))}</h2>",
                          _img(plots.learning_curves(curves, tmp / f"curves{i}", title=str(task))[0])]

    parts += ["<h2>Runs</h2>", _table(
        ["run", "recipe", "task", "seed", "steps", "final success", "train s", "commit"],
        [[str(r["dir"]), r["config"]["train"]["recipe"], r["task"], r["seed"], r["config"]["train"].get("steps"),
          _fmt(r["final"]), _fmt(r["summary"].get("train_seconds", r["summary"].get("train_seconds_last_session"))),
          (r["config"].get("git_commit") or "-")[:10]] for r in runs])]
    videos = [(r, v) for r in runs for v in r["videos"]]
    if videos:
        parts += ["<h2>Rollout videos</h2>"] + [_video(v) for _, v in videos]
    parts.append("<h2>Configs, commands, versions</h2>")
    for r in runs:
        command = r["config"].get("command", "(not recorded)")
        parts.append(f"<details><summary>{html.escape(str(r['dir']))}</summary><p>command: <code>"
                     f"{html.escape(command)}</code></p><p>versions: {html.escape(json.dumps(r['config'].get('versions', {})))}"
                     f"</p><pre>{html.escape(json.dumps(r['config'], indent=2))}</pre></details>")
    # the page reports how many of its images decoded (read by the headless-browser test)
    script = ("<script>window.addEventListener('load',()=>{document.body.dataset.imagesLoaded="
              "[...document.images].filter(i=>i.complete&&i.naturalWidth>0).length;});</script>")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}{script}</body></html>")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(out.suffix + ".tmp")
    tmp_out.write_text(page)
    tmp_out.replace(out)  # never a half-written report
    return out
