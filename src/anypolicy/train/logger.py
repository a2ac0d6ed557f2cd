"""Metric sinks: CSV files in the run directory, TensorBoard events, and W&B when asked for."""
from __future__ import annotations

import csv
from pathlib import Path


class CSVLog:
    """Append-only CSV whose header grows with new keys; `truncate_after(step)` drops rows a resumed run
    will write again."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: list[dict] = []
        if self.path.exists():
            with self.path.open() as f:
                self.rows = list(csv.DictReader(f))

    def truncate_after(self, step: int) -> None:
        self.rows = [r for r in self.rows if int(float(r["step"])) <= step]
        self._write()

    def log(self, step: int, metrics: dict) -> None:
        self.rows.append({"step": step, **metrics})
        self._write()

    def _write(self) -> None:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)
        tmp.replace(self.path)


class Loggers:
    def __init__(self, run_dir: Path, tensorboard: bool = True, wandb: bool = False, config: dict | None = None):
        self.run_dir = run_dir
        self.csv = {"train": CSVLog(run_dir / "metrics.csv"), "eval": CSVLog(run_dir / "eval.csv")}
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise ImportError("TensorBoard logging needs the tensorboard package: pip install tensorboard") from exc
            self.tb = SummaryWriter(str(run_dir / "tensorboard"))
        self.wandb = None
        if wandb:
            try:
                import wandb as wb
            except ImportError as exc:
                raise ImportError("W&B logging needs wandb: pip install 'anypolicy[wandb]'") from exc
            self.wandb = wb.init(dir=str(run_dir), config=config, resume="allow")

    def log(self, kind: str, step: int, metrics: dict) -> None:
        if kind not in self.csv:  # e.g. "episodes" of online fine-tuning -> episodes.csv
            self.csv[kind] = CSVLog(self.run_dir / f"{kind}.csv")
        self.csv[kind].log(step, metrics)
        if self.tb is not None:
            for k, v in metrics.items():
                self.tb.add_scalar(f"{kind}/{k}", v, step)
        if self.wandb is not None:
            self.wandb.log({f"{kind}/{k}": v for k, v in metrics.items()}, step=step)

    def truncate_after(self, step: int, kinds=("train", "eval")) -> None:
        for kind in kinds:
            if kind not in self.csv:
                self.csv[kind] = CSVLog(self.run_dir / f"{kind}.csv")
            self.csv[kind].truncate_after(step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()
