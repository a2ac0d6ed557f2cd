"""`compile=auto` for a long run on a CPU: whether compiling pays depends on the machine, the recipe and the
network sizes (on one Zen 3 core with 4x256 networks compiled IQL ran at 0.99x its eager rate, ReBRAC at 0.88x,
TD3+BC at 1.18x, Cal-QL at 1.12x: docs/results/throughput.md), so the run times both updates side by side on a copy of its agent, keeps the faster and writes
the choice and the rates to config.json, where a resumed run finds it."""
from __future__ import annotations

import copy
import json
import os
import statistics
import time
from pathlib import Path

import torch

MARGIN = 1.05  # compile only when it is at least this much faster: the choice should not follow the noise


def measure(agent, batches: list[dict], rounds: int = 3) -> dict[str, float]:
    """Median updates/s of the eager and the compiled update, interleaved, on a deep copy of `agent` (the run's
    own agent, its optimizers and its counters are left as they were)."""
    probe = copy.deepcopy(agent)
    compiled = probe.compiled_update()
    fused = probe.fused_steps  # compiled steps of a fused recipe; the eager update runs with none

    def rate(compile: bool) -> float:
        probe.fused_steps = fused if compile else None
        update = compiled if compile else probe.update
        start = time.perf_counter()
        for batch in batches:
            update(batch)
        return len(batches) / (time.perf_counter() - start)

    rate(True), rate(False)  # the compiler's warm-up, and eager's first-call costs
    rates: dict[bool, list[float]] = {True: [], False: []}
    for i in range(rounds):
        for compile in ((True, False) if i % 2 else (False, True)):
            rates[compile].append(rate(compile))
    return {"eager_updates_per_s": statistics.median(rates[False]),
            "compiled_updates_per_s": statistics.median(rates[True])}


def choose_compile(run_dir: Path, agent, sampler, batch_size: int, device: torch.device, updates: int = 10) -> bool:
    """Time both updates on `updates` of the run's batches, drawn by a generator of their own (the run's data
    stream is not touched), and record the choice in RUN_DIR/config.json."""
    generator = torch.Generator(device=device).manual_seed(0)
    rates = measure(agent, [sampler.sample(batch_size, generator) for _ in range(updates)])
    choice = rates["compiled_updates_per_s"] >= MARGIN * rates["eager_updates_per_s"]
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    config["train"]["compile"] = choice
    config["compile_auto"] = {**{k: round(v, 2) for k, v in rates.items()}, "compiled": choice}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2))
    os.replace(tmp, path)  # never half written
    return choice

