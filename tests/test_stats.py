"""Aggregate statistics against hand-computed values, and the bootstrap's stratification by task."""
import numpy as np
import pytest

from anypolicy.evaluate import stats


def test_point_metrics_match_hand_computed_values():
    scores = np.array([[0.1, 0.9], [0.3, 0.5], [0.2, 1.0]])  # 3 runs x 2 tasks
    assert stats.aggregate_mean(scores) == pytest.approx((0.2 + 0.8) / 2)
    assert stats.aggregate_median(np.array([[0.0, 0.5, 0.9]])) == pytest.approx(0.5)
    # 6 runs pooled, sorted 0.1 0.2 0.3 0.5 0.9 1.0: floor(6/4) = 1 cut from each end
    assert stats.aggregate_iqm(scores) == pytest.approx((0.2 + 0.3 + 0.5 + 0.9) / 4)
    # 8 runs: 2 cut from each end
    assert stats.aggregate_iqm(np.arange(8.0).reshape(4, 2)) == pytest.approx((2 + 3 + 4 + 5) / 4)
    assert stats.optimality_gap(scores) == pytest.approx(1 - np.mean([0.1, 0.9, 0.3, 0.5, 0.2, 1.0]))
    assert stats.optimality_gap(np.array([[1.2, 0.5]])) == pytest.approx(0.25)  # above gamma counts as gamma


def test_few_runs_and_profiles_and_improvement():
    one = np.array([[0.4]])  # a single run: every resample is the run itself
    assert stats.bootstrap_ci(one, stats.aggregate_mean, reps=50) == (0.4, 0.4, 0.4)
    profile = stats.performance_profile(np.array([[0.0, 0.5], [1.0, 0.5]]), np.array([-0.1, 0.0, 0.5, 0.99]))
    assert np.allclose(profile, [1.0, 0.75, 0.25, 0.25])
    x, y = np.array([[3.0, 1.0], [1.0, 1.0]]), np.array([[2.0, 1.0]])
    # task 0: P(3 > 2) = 1, P(1 > 2) = 0 -> 0.5; task 1: all ties -> 0.5
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.5)
    assert stats.probability_of_improvement(np.ones((3, 2)), np.zeros((4, 2))) == 1.0
    with pytest.raises(ValueError, match="same tasks"):
        stats.probability_of_improvement(np.ones((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="runs, tasks"):
        stats.bootstrap_ci(np.ones(3), stats.aggregate_mean)


def test_bootstrap_is_stratified_by_task():
    """Task 0 always scores 0, task 1 always 1, with different runs per task: a stratified resample keeps
    each task's runs in their task, so the mean is 0.5 in every resample; pooling the runs would not."""
    scores = np.array([[0.0, 1.0]] * 5)
    assert stats.bootstrap_ci(scores, stats.aggregate_mean, reps=200) == (0.5, 0.5, 0.5)
    rng = np.random.default_rng(0)
    noisy = rng.random((10, 3)) + np.array([0.0, 10.0, 20.0])
    for _ in range(20):
        sample = stats.stratified_resample(noisy, rng)
        for t in range(3):  # each column drawn from its own task only
            assert set(sample[:, t]) <= set(noisy[:, t])


def test_interval_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits = 0
    for trial in range(100):
        scores = rng.normal(0.5, 0.1, size=(20, 2))
        _, lo, hi = stats.bootstrap_ci(scores, stats.aggregate_mean, reps=300, seed=trial)
        hits += lo <= 0.5 <= hi
    assert 85 <= hits <= 100


def test_plots_are_written_as_png_and_svg(tmp_path):
    from anypolicy.evaluate import plots

    same = np.tile(np.array([0.0, 0.5, 1.0]), (4, 1))
    mean, lo, hi = plots.curve_band(same)
    assert np.allclose(mean, lo) and np.allclose(mean, hi)  # identical seeds: no band
    mean, lo, hi = plots.curve_band(np.random.default_rng(0).random((6, 5)))
    assert (lo <= mean).all() and (mean <= hi).all()
    scores = {"a": np.random.default_rng(1).random((5, 3)), "b": np.random.default_rng(2).random((5, 3)) * 0.5}
    written = (plots.learning_curves({"a": (np.arange(5), np.random.default_rng(3).random((3, 5)))}, tmp_path / "curves")
               + plots.interval_plot(scores, tmp_path / "intervals", reps=100)
               + plots.profile_plot(scores, tmp_path / "profile"))
    assert sorted(p.name for p in written) == sorted(f"{n}.{e}" for n in ("curves", "intervals", "profile")
                                                     for e in ("png", "svg"))
    for p in written:
        assert p.stat().st_size > 1000
        assert p.read_bytes()[:4] == b"\x89PNG" if p.suffix == ".png" else b"<svg" in p.read_bytes()[:2000]


def test_one_evaluation_and_one_seed_still_draw_and_intervals_are_in_percent(tmp_path, monkeypatch):
    from anypolicy.evaluate import plots

    figures = []
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: (figures.append(fig), save(fig, path))[1])

    def single_points(ax):  # the plotted series of one point (error-bar caps aside), and whether each shows a marker
        return [line.get_marker() not in (None, "None", "", " ") for line in ax.get_lines()
                if len(line.get_xdata()) == 1 and line.get_marker() not in ("_", "|")]

    plots.learning_curves({"a": (np.array([1000]), np.array([[0.4]]))}, tmp_path / "c")
    shown = single_points(figures[-1].axes[0])
    assert shown and all(shown)  # not a line of one point, which draws nothing
    plots.interval_plot({"a": np.array([[0.4]])}, tmp_path / "i", metrics=("mean",), reps=50)
    ax = figures[-1].axes[0]
    shown = single_points(ax)
    assert shown and all(shown)  # a zero-width interval still shows its point estimate
    assert ax.get_xlim()[1] >= 100 and ax.get_xlabel() == "success (%)"  # percent, as the report's tables
    assert [line.get_xdata()[0] for line in ax.get_lines() if len(line.get_xdata()) == 1] == [40.0]  # 0.4 in %
