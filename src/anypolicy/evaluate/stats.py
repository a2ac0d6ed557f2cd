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
# Every metric takes [runs, tasks] -> float, or a stack [..., runs, tasks] -> array (one bootstrap call).


def _value(x):
    return float(x) if np.ndim(x) == 0 else x


def aggregate_mean(scores: np.ndarray) -> float:
    """Mean over tasks of the mean over runs."""
    return _value(np.mean(scores, axis=(-2, -1)))


def aggregate_median(scores: np.ndarray) -> float:
    """Median over tasks of the mean over runs."""
    return _value(np.median(np.mean(scores, axis=-2), axis=-1))


def aggregate_iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all runs pooled: floor(n/4) runs cut from each end, the rest averaged (as
    rliable, through scipy's trim_mean)."""
    from scipy.stats import trim_mean

    scores = np.asarray(scores, dtype=np.float64)
    return _value(trim_mean(scores.reshape(*scores.shape[:-2], -1), 0.25, axis=-1))


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    """How far runs fall short of gamma on average (scores above gamma count as gamma)."""
    return _value(gamma - np.mean(np.minimum(scores, gamma), axis=(-2, -1)))


METRICS: dict[str, Metric] = {"mean": aggregate_mean, "median": aggregate_median, "iqm": aggregate_iqm,
                              "optimality_gap": optimality_gap}


def stratified_resample(scores: np.ndarray, rng: np.random.Generator, reps: int | None = None) -> np.ndarray:
    """Bootstrap resamples: runs drawn with replacement within each task (column); one [runs, tasks]
    resample, or `reps` of them stacked [reps, runs, tasks]."""
    runs, tasks = scores.shape
    idx = rng.integers(runs, size=(reps or 1, runs, tasks))
    out = np.take_along_axis(np.broadcast_to(scores, idx.shape), idx, axis=1)
    return out if reps else out[0]


def bootstrap_ci(scores: np.ndarray, metric: Metric, reps: int = 2000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(point estimate, lower, upper) with a stratified-bootstrap percentile interval."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or 0 in scores.shape:
        raise ValueError(f"scores must be a non-empty [runs, tasks] array, got shape {scores.shape}.")
    stats = metric(stratified_resample(scores, np.random.default_rng(seed), reps))  # all resamples at once
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
