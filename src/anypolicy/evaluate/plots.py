"""Plots for comparisons across seeds: learning curves with bootstrap bands, aggregate intervals and
performance profiles. Colour-blind-safe palette (Okabe-Ito); every figure saved as PNG and SVG."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from anypolicy.evaluate import stats

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> list[Path]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = [path.with_suffix(".png"), path.with_suffix(".svg")]
    for p in out:
        fig.savefig(p, dpi=130, bbox_inches="tight")
    _pyplot().close(fig)
    return out


def curve_band(values: np.ndarray, reps: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and a 95% percentile-bootstrap band, per step: values [seeds, steps]."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(values), size=(reps, len(values)))
    means = values[idx].mean(1)  # [reps, steps]
    return values.mean(0), np.quantile(means, 0.025, axis=0), np.quantile(means, 0.975, axis=0)


def learning_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], path, ylabel: str = "success (%)",
                    title: str = "") -> list[Path]:
    """curves: method -> (steps [T], values [seeds, T]); the mean with its 95% bootstrap band."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for i, (name, (steps, values)) in enumerate(curves.items()):
        mean, lo, hi = curve_band(np.atleast_2d(values))
        color = PALETTE[i % len(PALETTE)]
        # markers and error bars keep a run with a single evaluation visible (a line of one point is not)
        ax.errorbar(steps, mean, yerr=[mean - lo, hi - mean], color=color, lw=2, marker="o", ms=4, capsize=3,
                    label=f"{name} ({np.atleast_2d(values).shape[0]} seeds)")
        if len(steps) > 1:
            ax.fill_between(steps, lo, hi, color=color, alpha=0.2, lw=0)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def interval_plot(scores: dict[str, np.ndarray], path, metrics=("median", "iqm", "mean", "optimality_gap"),
                  reps: int = 2000, scale: float = 100.0, unit: str = "success (%)") -> list[Path]:
    """One panel per aggregate metric: each method's point estimate and 95% stratified-bootstrap interval.
    scores: method -> [runs, tasks] in [0, 1]; drawn times `scale` (percent, as the report's tables)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 0.5 * len(scores) + 1.2), sharey=True)
    names = list(scores)
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        for i, name in enumerate(names):
            point, lo, hi = (scale * v for v in stats.bootstrap_ci(scores[name], stats.METRICS[metric], reps))
            color = PALETTE[i % len(PALETTE)]
            ax.barh(i, hi - lo, left=lo, height=0.6, color=color, alpha=0.75)
            # a point marker: one seed gives an interval of zero width, which a bar alone does not show
            ax.plot([point], [i], marker="D", color="black", ms=5)
        ax.set_xlim(-0.05 * scale, 1.05 * scale)
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel(unit)
        ax.grid(axis="x", alpha=0.3)
    np.atleast_1d(axes)[0].set_yticks(range(len(names)), names)
    return _save(fig, path)


def profile_plot(scores: dict[str, np.ndarray], path, thresholds: np.ndarray | None = None) -> list[Path]:
    """Performance profiles: the fraction of runs scoring above each threshold."""
    plt = _pyplot()
    taus = np.linspace(0, 1, 101) if thresholds is None else thresholds
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, (name, s) in enumerate(scores.items()):
        ax.plot(taus, stats.performance_profile(s, taus), color=PALETTE[i % len(PALETTE)], lw=2, label=name)
    ax.set_xlabel("normalized score threshold tau")
    ax.set_ylabel("fraction of runs with score > tau")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
