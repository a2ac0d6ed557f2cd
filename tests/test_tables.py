"""Result tables: values against hand computation, block upkeep in documents, and the published tables
in docs/results/ matching what their raw results give."""
import subprocess
import sys
from pathlib import Path

import pytest

from anypolicy.evaluate.tables import matrix, score_table, update_blocks

ROOT = Path(__file__).resolve().parent.parent


def test_score_table_values_by_hand():
    scores = {"a": {"t1": {0: 10, 1: 20, 2: 30, 3: 100}, "t2": {0: 0, 1: 0, 2: 50, 3: 50}},
              "b": {"t1": {0: 5, 1: 5, 2: 5, 3: 5}, "t2": {0: 60, 1: 60, 2: 60, 3: 60}}}
    table = score_table(scores, baseline="b", reps=200)
    rows = {line.split(" | ")[0].strip("| *"): line.split(" | ") for line in table.splitlines()[2:]}
    # per-task means: a 40.0 and 25.0; mean over tasks 32.5; IQM of the 8 pooled runs: drop 2 per end ->
    # (10 + 20 + 30 + 50) / 4 = 27.5; P(a > b): t1 16/16 pairs, t2 0/16 -> 0.5
    assert rows["a"][1:3] == ["40.0", "25.0"]
    assert rows["a"][3].startswith("32.5 [") and rows["a"][4].startswith("27.5 [")
    assert rows["a"][5].rstrip(" |") == "0.50" and rows["b"][5].rstrip(" |") == "-"
    assert table.splitlines()[2].startswith("| **a**") and table.splitlines()[3].startswith("| **b**")  # tied best
    lo, hi = (float(x) for x in rows["b"][3].split("[")[1].rstrip("]").split(", "))
    assert lo == hi == 32.5  # b's runs never vary within a task: a stratified bootstrap cannot move it


def test_a_single_task_lists_seeds_and_uneven_tasks_are_refused():
    table = score_table({"m": {"t": {0: 1.0, 2: 3.0}}})
    assert table.splitlines()[0] == "| method | seed 0 | seed 2 | mean [95% CI] | IQM [95% CI] |"
    with pytest.raises(ValueError, match="same number of runs"):
        matrix({"t1": {0: 1.0}, "t2": {0: 1.0, 1: 2.0}}, ["t1", "t2"])
    assert matrix({"t1": {0: 1.0, 1: 2.0}}, ["t1"]).shape == (2, 1)


def test_blocks_are_replaced_in_place_and_only_when_changed():
    doc = "intro\n<!-- table:x -->\nold\n<!-- /table -->\nmiddle\n<!-- table:y -->\n<!-- /table -->\nend\n"
    new, changed = update_blocks(doc, {"x": "| a |", "y": "| b |"})
    assert new == "intro\n<!-- table:x -->\n| a |\n<!-- /table -->\nmiddle\n<!-- table:y -->\n| b |\n<!-- /table -->\nend\n"
    assert changed == ["x", "y"]
    assert update_blocks(new, {"x": "| a |"}) == (new, [])
    with pytest.raises(KeyError, match="z"):
        update_blocks(doc, {"z": "| c |"})


def test_published_tables_match_their_raw_results():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_tables.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
