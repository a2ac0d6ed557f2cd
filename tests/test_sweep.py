"""`anypolicy sweep`: a 2 recipes x 2 tasks x 3 seeds grid through a local Ray instance, interrupted and
resumed without redoing finished runs, collected into results.csv and report.html."""
import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import render_in_chromium

from anypolicy.config import ConfigError
from anypolicy.train.sweep import expand, load_sweep

SWEEP = """
name: toy
out: {out}
recipes: [bc, iql]
datasets: [toy:nav, toy:nav-corner]
seeds: [0, 1, 2]
steps: 600
overrides: {{hidden: "32,32", eval_every: 100, eval_episodes: 5, eval_envs: 5, log_every: 50, checkpoint_every: 50,
             batch_size: 64, tensorboard: false}}
recipe_overrides: {{iql: {{beta: 3}}}}
"""


@pytest.mark.slow  # Ray, 12 runs and a browser: the second tier
def test_sweep_runs_on_ray_resumes_without_redoing_finished_runs(tmp_path):
    sweep = tmp_path / "toy.yaml"
    sweep.write_text(SWEEP.format(out=tmp_path / "out"))
    runs = expand(load_sweep(sweep))
    assert len(runs) == 12 and {r.overrides["beta"] for r in runs if r.recipe == "iql"} == {"3"}
    cmd = [sys.executable, "-m", "anypolicy.cli", "sweep", str(sweep), "--num-cpus", "2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # a background job (CI) starts children with SIGINT ignored; Ctrl-C must reach this one
    log = open(tmp_path / "first-sweep.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    summaries = lambda: sorted((tmp_path / "out").glob("*/*/summary.json"))  # noqa: E731
    deadline = time.time() + 300
    while not summaries() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)  # Ctrl-C in the middle of the sweep
    proc.wait(timeout=120)
    finished = {p: p.stat().st_mtime_ns for p in summaries()}
    assert 1 <= len(finished) < 12, "the sweep was not interrupted in the middle"

    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())  # finished runs were not redone
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    assert len(rows) == 12 and {r["task"] for r in rows} == {"toy-nav", "toy-nav-corner"}
    assert sum(r["status"] == "skipped (finished)" for r in rows) == len(finished)
    assert all(r["success"] not in ("", None) for r in rows)
    page = (tmp_path / "out" / "report.html").read_text()
    assert "sweep toy" in page and page.count("<img") == 4  # intervals, profile, one curve per task
    dom, pixels = render_in_chromium(tmp_path / "out" / "report.html", tmp_path / "report.png")
    assert 'data-images-loaded="4"' in dom and dom.count("<table>") == 3  # per method and task, aggregates, runs
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50  # the screenshot shows a page


def test_bad_sweep_files_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipes: [bc]\ndatasets: [toy:nav]\nsteeps: 10\n")
    with pytest.raises(ConfigError, match="unknown sweep keys steeps"):
        load_sweep(bad)
    bad.write_text("recipes: []\ndatasets: [toy:nav]\n")
    with pytest.raises(ConfigError, match="recipes"):
        load_sweep(bad)
    bad.write_text("recipes: [bc]\ndatasets: [toy:nav]\noverrides: {hiden: 3}\n")
    with pytest.raises(ConfigError, match="hiden"):
        expand(load_sweep(bad))


def test_a_sweep_run_is_fine_tuned_online_once_and_bad_online_keys_are_refused(tmp_path):
    """online_steps: each finished offline run of the listed recipes is fine-tuned into RUN-online; a second
    pass skips both stages; the online run's figure is the one in the row."""
    from anypolicy.train.sweep import run_one

    sweep = tmp_path / "online.yaml"
    sweep.write_text(f"""
out: {tmp_path / "out"}
recipes: [bc, calql]
datasets: [toy:nav]
steps: 40
overrides: {{hidden: "32,32", eval_every: 0, eval_episodes: 3, eval_envs: 3, log_every: 20, checkpoint_every: 40,
             batch_size: 32, tensorboard: false, progress: false}}
recipe_overrides: {{calql: {{critic_hidden: "32,32"}}}}
online_steps: 80
online_overrides: {{eval_every: 40, log_every: 40, checkpoint_every: 40}}
recipe_online_overrides: {{calql: {{online_ratio: 0.25}}}}
online_recipes: [calql]
""")
    runs = {r.recipe: r for r in expand(load_sweep(sweep))}
    assert runs["bc"].online_steps is None and runs["calql"].online_steps == 80
    assert runs["calql"].online_overrides == {"eval_every": "40", "log_every": "40", "checkpoint_every": "40",
                                              "online_ratio": "0.25"}
    row = run_one(runs["calql"])
    online = tmp_path / "out" / "toy-nav" / "calql-s0-online"
    summary = (online / "summary.json").read_text()
    assert row["status"] == "trained, fine-tuned online" and row["online_success"] is not None
    assert [int(float(r["step"])) for r in csv.DictReader(open(online / "eval.csv"))] == [40, 80]
    again = run_one(runs["calql"])
    assert again["status"] == "skipped (finished), fine-tuned online" and again["online_success"] == row["online_success"]
    assert (online / "summary.json").read_text() == summary  # not redone

    for text, match in (("online_steps: 0", "online_steps"), ("online_recipes: [iql]", "online_recipes iql"),
                        ("online_steps: 5\nonline_overrides: {eval_evry: 5}", "eval_evry"),
                        ("online_steps: 5\nrecipe_online_overrides: {bc: {cache_pol: 5}}", "cache_pol")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(f"recipes: [bc]\ndatasets: [toy:nav]\n{text}\n")
        with pytest.raises(ConfigError, match=match):
            expand(load_sweep(bad))


def test_the_online_sweep_reuses_the_offline_sweeps_runs():
    """benchmarks/sweeps: every offline run of the offline -> online sweep is the offline table's run (same
    directory, same settings), so neither file can drift from the other."""
    from pathlib import Path

    sweeps = Path(__file__).parent.parent / "benchmarks" / "sweeps"
    offline = {r.run_dir: r for r in expand(load_sweep(sweeps / "ogbench-cpu.yaml"))}
    online = expand(load_sweep(sweeps / "ogbench-cpu-online.yaml"))
    assert len(online) == 18 and all(r.online_steps == 100_000 for r in online)
    assert all((r.online_overrides.get("action_cache") == "2500") == (r.recipe == "parl-calql") for r in online)
    for run in online:
        same = offline[run.run_dir]
        assert (same.recipe, same.dataset, same.env, same.seed, same.steps, same.overrides) == \
            (run.recipe, run.dataset, run.env, run.seed, run.steps, run.overrides)


def test_the_autoregressive_sweep_is_the_parl_calql_row_with_another_policy():
    from pathlib import Path

    sweeps = Path(__file__).parent.parent / "benchmarks" / "sweeps"
    row = {(r.env, r.seed): r for r in expand(load_sweep(sweeps / "ogbench-cpu.yaml")) if r.recipe == "parl-calql"}
    ar = expand(load_sweep(sweeps / "ogbench-cpu-ar.yaml"))
    assert len(ar) == 3
    for run in ar:
        same = row[(run.env, run.seed)]
        assert run.overrides == {**same.overrides, "policy": "autoregressive", "hidden": "64,64"}
        assert run.steps == same.steps
        assert run.run_dir != same.run_dir


def test_a_dataset_entry_names_its_task_and_carries_its_own_settings(tmp_path):
    """A variant of the same data and env (scene with sparse rewards) is a task of its own: its own directory and
    report rows, its settings in every run of it and in no other."""
    spec = tmp_path / "variant.yaml"
    spec.write_text('recipes: [iql]\ndatasets: [toy:nav, {dataset: "toy:nav", task: nav-sparse, '
                    'overrides: {sparse_reward: true}}]\noverrides: {hidden: "32,32"}\nseeds: [0]\n')
    plain, sparse = expand(load_sweep(spec))
    assert plain.env == sparse.env and (plain.task, sparse.task) == (plain.env, "nav-sparse")
    assert "sparse_reward" not in plain.overrides and sparse.overrides["sparse_reward"] == "True"
    assert sparse.overrides["hidden"] == "32,32" and plain.run_dir != sparse.run_dir
    assert sparse.run_dir.endswith("nav-sparse/iql-s0")
    spec.write_text('recipes: [iql]\ndatasets: [{dataset: "toy:nav", name: x}]\n')
    with pytest.raises(ConfigError, match="unknown dataset entry key"):
        expand(load_sweep(spec))
