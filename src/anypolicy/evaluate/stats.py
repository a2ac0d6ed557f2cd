"""Aggregate statistics over runs for reliable comparisons (Agarwal et al., 2021, "Deep RL at the edge of
the statistical precipice"; the `rliable` package is the reference, which does not import here).

Scores are arrays [runs, tasks] (normalized, e.g. success in [0, 1]). Confidence intervals come from the
stratified bootstrap: each task's runs are resampled with replacement on their own, so every resample
keeps the number of runs per task; percentile intervals.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

Metric = Callable[[np.ndarray], float]


def aggregate_mean(scores: np.ndarray) -> float:
    """Mean over tasks of the mean over runs."""
    return float(np.mean(np.mean(scores, axis=0)))


def aggregate_median(scores: np.ndarray) -> float:
    """Median over tasks of the mean over runs."""
    return float(np.median(np.mean(scores, axis=0)))


def aggregate_iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all runs pooled: floor(n/4) runs cut from each end, the rest averaged (as
    rliable, through scipy's trim_mean)."""
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(scores, dtype=np.float64), 0.25, axis=None))


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    """How far runs fall short of gamma on average (scores above gamma count as gamma)."""
    return float(gamma - np.mean(np.minimum(scores, gamma)))


METRICS: dict[str, Metric] = {"mean": aggregate_mean, "median": aggregate_median, "iqm": aggregate_iqm,
                              "optimality_gap": optimality_gap}


def stratified_resample(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One bootstrap resample: runs drawn with replacement within each task (column)."""
    runs, tasks = scores.shape
    idx = rng.integers(runs, size=(runs, tasks))
    return np.take_along_axis(scores, idx, axis=0)


def bootstrap_ci(scores: np.ndarray, metric: Metric, reps: int = 2000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(point estimate, lower, upper) with a stratified-bootstrap percentile interval."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or 0 in scores.shape:
        raise ValueError(f"scores must be a non-empty [runs, tasks] array, got shape {scores.shape}.")
    rng = np.random.default_rng(seed)
    stats = np.array([metric(stratified_resample(scores, rng)) for _ in range(reps)])
    alpha = (1 - confidence) / 2
    lower, upper = np.quantile(stats, [alpha, 1 - alpha])
    return metric(scores), float(lower), float(upper)


def performance_profile(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Fraction of runs (pooled over tasks) whose score exceeds each threshold tau."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    return np.array([np.mean(scores > t) for t in np.asarray(thresholds)])


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y): for each task the chance that a random run of X scores above a random run of Y (ties
    count half; the Mann-Whitney U statistic over the two sets of runs), averaged over tasks."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"both methods need the same tasks, got {x.shape[1]} and {y.shape[1]}.")
    per_task = [np.mean((x[:, None, t] > y[None, :, t]) + 0.5 * (x[:, None, t] == y[None, :, t]))
                for t in range(x.shape[1])]
    return float(np.mean(per_task))


def summarize(scores: np.ndarray, reps: int = 2000, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Every aggregate metric with its 95% stratified-bootstrap interval."""
    return {name: bootstrap_ci(scores, fn, reps, seed=seed) for name, fn in METRICS.items()}
