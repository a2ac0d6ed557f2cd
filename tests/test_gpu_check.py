"""benchmarks/gpu_check.sh, the prepared GPU check, starts and writes every figure: its dry mode runs the same
script and the same checks on this CPU with tiny networks."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_check_runs_dry_on_the_cpu(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "dry"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gpu-check-dry.json").read_text())
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from gpu_check import CHECKS

    assert result["dry"] and result["machine"]["device"] == "cpu" and set(result["checks"]) == set(CHECKS)
    for name, check in result["checks"].items():
        assert "error" not in check, (name, check)
        assert check["updates_per_s"] > 0 and check["hours_for_budget"] > 0 and check["precision"] in ("fp32", "bf16")
    bad = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr
