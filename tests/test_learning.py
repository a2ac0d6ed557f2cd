"""Learning on a small problem: IQL must beat behavior cloning on the toy task's mixed-quality data."""
import json

from anypolicy.train.loop import train

COMMON = ["hidden=128,128", "lr=1e-3", "eval_every=0", "eval_episodes=50", "log_every=1000", "progress=false",
          "tensorboard=false", "checkpoint_every=100000", "threads=1"]


def final_success(run_dir):
    return json.loads((run_dir / "summary.json").read_text())["final_eval"]["success"]


def test_iql_beats_behavior_cloning_on_toy_nav(tmp_path):
    bc = final_success(train("bc", "toy:nav", steps=3000, seed=0, run_dir=tmp_path / "bc", overrides=COMMON))
    iql = final_success(train("iql", "toy:nav", steps=3000, seed=0, run_dir=tmp_path / "iql",
                              overrides=COMMON + ["beta=3"]))
    assert iql >= bc + 25, f"IQL {iql:.0f}% vs BC {bc:.0f}% success"
