"""The gate's statistics against scikit-learn's metrics and SciPy's exact binomial test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn import metrics as sk

from mlgate import stats

SKLEARN = {
    "accuracy": lambda y, p, s, w: sk.accuracy_score(y, p, sample_weight=w),
    "precision": lambda y, p, s, w: sk.precision_score(y, p, sample_weight=w),
    "recall": lambda y, p, s, w: sk.recall_score(y, p, sample_weight=w),
    "f1": lambda y, p, s, w: sk.f1_score(y, p, sample_weight=w),
    "roc_auc": lambda y, p, s, w: sk.roc_auc_score(y, s, sample_weight=w),
    "average_precision": lambda y, p, s, w: sk.average_precision_score(y, s, sample_weight=w),
    "log_loss": lambda y, p, s, w: sk.log_loss(y, s, sample_weight=w),
}


def scored(
    seed: int, rows: int = 3000, noise: float = 0.3, decimals: int | None = 2
) -> stats.Scored:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.15).astype(np.int8)
    scores = np.clip(0.35 * labels + noise * rng.random(rows) + 0.2, 0.0, 1.0)
    if decimals is not None:
        scores = np.round(scores, decimals)  # ties, as a model's coarse scores have
    return stats.Scored(labels, (scores >= 0.5).astype(np.int8), scores)


@pytest.mark.parametrize("metric", sorted(stats.METRICS))
def test_every_metric_equals_scikit_learn_with_and_without_resampling_weights(metric: str) -> None:
    data = scored(1)
    weights = np.random.default_rng(2).integers(0, 4, size=len(data)).astype(np.float64)
    ours = stats.METRICS[metric](data, np.vstack([np.ones(len(data)), weights]))
    args = (data.labels, data.predictions, data.scores)
    assert ours[0] == pytest.approx(SKLEARN[metric](*args, None), rel=1e-12)
    assert ours[1] == pytest.approx(SKLEARN[metric](*args, weights), rel=1e-12)
    assert stats.point_estimate(metric, data) == pytest.approx(ours[0], rel=1e-12)


@pytest.mark.parametrize(
    ("k", "n"), [(0, 0), (0, 5), (3, 20), (40, 100), (9_700, 20_000), (10, 10)]
)
def test_the_exact_binomial_tail_equals_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n, 0.5).pvalue if n else 1.0
    assert stats.binomial_two_sided(min(k, n - k), n) == pytest.approx(expected, rel=1e-9)


def test_mcnemar_counts_only_the_rows_the_revisions_disagree_on() -> None:
    labels = np.ones(100, dtype=np.int8)
    base_predictions = np.r_[np.ones(90), np.zeros(10)].astype(np.int8)  # right on 0..89
    head_predictions = np.r_[np.zeros(30), np.ones(70)].astype(np.int8)  # right on 30..99
    scores = np.full(100, 0.5)
    base = stats.Scored(labels, base_predictions, scores)
    head = stats.Scored(labels, head_predictions, scores)
    # only base right on rows 0..29 (30), only head right on 90..99 (10)
    assert stats.mcnemar_exact(base, head) == pytest.approx(binomtest(10, 40, 0.5).pvalue)


def test_identical_predictions_differ_by_exactly_nothing() -> None:
    data = scored(3)
    [result] = stats.paired_bootstrap(["roc_auc"], data, data, resamples=200)
    assert (result.difference, result.low, result.high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_a_real_regression_is_significant_and_noise_is_not() -> None:
    base = scored(4, rows=4000, noise=0.8, decimals=None)
    rng = np.random.default_rng(5)
    worse_scores = np.where(rng.random(len(base)) < 0.3, rng.random(len(base)), base.scores)
    worse = stats.Scored(base.labels, (worse_scores >= 0.5).astype(np.int8), worse_scores)
    [real] = stats.paired_bootstrap(["roc_auc"], base, worse, resamples=500)
    assert real.high < 0 and real.p_value < 0.01 and real.low <= real.difference <= real.high
    # another model as good as base: the same recipe with its own noise
    equal_scores = np.clip(0.35 * base.labels + 0.8 * rng.random(len(base)) + 0.2, 0.0, 1.0)
    equal = stats.Scored(base.labels, (equal_scores >= 0.5).astype(np.int8), equal_scores)
    [noise] = stats.paired_bootstrap(["roc_auc"], base, equal, resamples=500)
    assert noise.low < 0 < noise.high and noise.p_value > 0.05


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    base, head = scored(6), scored(7)
    [first] = stats.paired_bootstrap(["f1"], base, head, resamples=300, seed=11)
    assert stats.paired_bootstrap(["f1"], base, head, resamples=300, seed=11) == [first]
    assert stats.paired_bootstrap(["f1"], base, head, resamples=300, seed=12) != [first]
    assert (first.method, first.rows, first.resamples, first.seed) == (
        "paired bootstrap",
        3000,
        300,
        11,
    )


def test_unpaired_bootstrap_takes_row_sets_of_different_sizes() -> None:
    [result] = stats.unpaired_bootstrap(
        ["accuracy"], scored(8, rows=2000), scored(9, rows=2500), resamples=200
    )
    assert result.method == "unpaired bootstrap" and result.rows == 2000
    assert result.low <= result.difference <= result.high


def test_a_paired_comparison_of_different_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="same rows"):
        stats.paired_bootstrap(["accuracy"], scored(1, rows=10), scored(1, rows=11))
