"""The gate's statistics: every metric against scikit-learn's, the exact tests against SciPy's,
and the bootstrap against constructed data whose true difference is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, norm
from sklearn import metrics as sk
from sklearn.preprocessing import label_binarize

from mlgate.gate import stats
from mlgate.measures import LABELS, MEASURES, SCORES, VALUES
from mlgate.policy import PREDICTION_METRICS

SKLEARN_BINARY = {
    "accuracy": lambda y, p, s, w: sk.accuracy_score(y, p, sample_weight=w),
    "precision": lambda y, p, s, w: sk.precision_score(y, p, sample_weight=w, zero_division=0),
    "recall": lambda y, p, s, w: sk.recall_score(y, p, sample_weight=w, zero_division=0),
    "f1": lambda y, p, s, w: sk.f1_score(y, p, sample_weight=w, zero_division=0),
    "roc_auc": lambda y, p, s, w: sk.roc_auc_score(y, s[:, 1], sample_weight=w),
    "average_precision": lambda y, p, s, w: sk.average_precision_score(y, s[:, 1], sample_weight=w),
    "log_loss": lambda y, p, s, w: sk.log_loss(y, s, sample_weight=w),
}
SKLEARN_MACRO = {
    "accuracy": SKLEARN_BINARY["accuracy"],
    "precision": lambda y, p, s, w: sk.precision_score(
        y, p, average="macro", sample_weight=w, zero_division=0
    ),
    "recall": lambda y, p, s, w: sk.recall_score(
        y, p, average="macro", sample_weight=w, zero_division=0
    ),
    "f1": lambda y, p, s, w: sk.f1_score(y, p, average="macro", sample_weight=w, zero_division=0),
    "roc_auc": lambda y, p, s, w: sk.roc_auc_score(
        _one_hot(y, s), s, average="macro", sample_weight=w
    ),
    "average_precision": lambda y, p, s, w: sk.average_precision_score(
        _one_hot(y, s), s, average="macro", sample_weight=w
    ),
    "log_loss": lambda y, p, s, w: sk.log_loss(y, s, sample_weight=w, labels=range(s.shape[1])),
}


def _one_hot(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return label_binarize(labels, classes=range(scores.shape[1]))


def binary(
    seed: int, rows: int = 3000, noise: float = 0.3, decimals: int | None = 2
) -> stats.Scored:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.15).astype(int)
    scores = np.clip(0.35 * labels + noise * rng.random(rows) + 0.2, 0.0, 1.0)
    if decimals is not None:
        scores = np.round(scores, decimals)  # ties, as a model's coarse scores have
    return stats.scored(labels, (scores >= 0.5).astype(int), scores)


def multiclass(seed: int, rows: int = 2000, classes: int = 4) -> stats.Scored:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    logits = rng.normal(size=(rows, classes)) + 1.5 * np.eye(classes)[labels]
    probabilities = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 3)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return stats.Scored(labels, probabilities.argmax(axis=1), probabilities)


def weighted(data: stats.Scored, metric: str, weights: np.ndarray) -> float:
    """Our metric under integer row weights, through the same code paths as a resample."""
    if metric in stats.COUNT_METRICS:
        k = data.classes
        cells = np.bincount(data.labels * k + data.predictions, weights=weights, minlength=k * k)
        counts = cells.reshape(1, k, k).astype(np.float64)
        return float(stats.COUNT_METRICS[metric](counts, data.present)[0])
    return float(
        stats.SCORE_METRICS[metric](data, stats.Resample(weights.astype(np.uint8)[None]))[0]
    )


def test_the_statistics_cover_the_policys_prediction_metrics() -> None:
    assert set(stats.METRICS) == set(PREDICTION_METRICS) == set(MEASURES)
    by_reads: dict[str, set[str]] = {m.reads: set() for m in MEASURES.values()}
    for measure in MEASURES.values():
        by_reads[measure.reads].add(measure.name)
    assert set(stats.COUNT_METRICS) == by_reads[LABELS]
    assert set(stats.SCORE_METRICS) == by_reads[SCORES]
    assert set(stats.VALUE_METRICS) == by_reads[VALUES]


@pytest.mark.parametrize("metric", sorted(stats.CLASS_METRICS))
@pytest.mark.parametrize(
    ("make", "sklearn"),
    [(binary, SKLEARN_BINARY), (multiclass, SKLEARN_MACRO)],
    ids=["binary", "multiclass"],
)
def test_every_metric_equals_scikit_learn_with_and_without_resampling_weights(
    metric: str,
    make,
    sklearn,  # type: ignore[no-untyped-def]
) -> None:
    data = make(1)
    weights = np.random.default_rng(2).integers(0, 4, size=len(data))
    args = (data.labels, data.predictions, data.probabilities)
    expected = sklearn[metric](*args, None)
    assert stats.point_estimate(metric, data) == pytest.approx(expected, rel=1e-9)
    assert weighted(data, metric, weights) == pytest.approx(
        sklearn[metric](*args, weights), rel=1e-9
    )


def test_poisson_weights_have_the_poisson_distributions_mean_and_variance() -> None:
    weights = stats._poisson_weights(np.random.default_rng(3), 100, 20_000)
    assert weights.dtype == np.uint8 and weights.shape == (100, 20_000)
    assert weights.mean() == pytest.approx(1.0, abs=0.002)
    assert weights.var() == pytest.approx(1.0, abs=0.005)
    share = np.bincount(weights.ravel(), minlength=9)[:9] / weights.size
    pmf = [math.exp(-1) / math.factorial(k) for k in range(9)]
    assert share == pytest.approx(pmf, abs=0.001)


@pytest.mark.parametrize(
    ("k", "n"), [(0, 0), (0, 5), (3, 20), (40, 100), (9_700, 20_000), (10, 10)]
)
def test_the_exact_binomial_tail_equals_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n, 0.5).pvalue if n else 1.0
    assert stats.binomial_two_sided(min(k, n - k), n) == pytest.approx(expected, rel=1e-9)


def test_mcnemar_counts_only_the_rows_the_revisions_disagree_on() -> None:
    labels = np.ones(100, dtype=int)
    base_predictions = np.r_[np.ones(90), np.zeros(10)].astype(int)  # right on 0..89
    head_predictions = np.r_[np.zeros(30), np.ones(70)].astype(int)  # right on 30..99
    scores = np.full(100, 0.5)
    base = stats.scored(labels, base_predictions, scores)
    head = stats.scored(labels, head_predictions, scores)
    # only base right on rows 0..29 (30), only head right on 90..99 (10)
    assert stats.mcnemar_exact(base, head) == pytest.approx(binomtest(10, 40, 0.5).pvalue)


def everything(confidence: float = 0.95) -> dict[str, float]:
    return dict.fromkeys(stats.CLASS_METRICS, confidence)


def test_identical_models_are_within_noise_on_every_metric() -> None:
    data = binary(3)
    for result in stats.compare(everything(), data, data, paired=True, resamples=300).values():
        assert (result.difference, result.low, result.high, result.p_value) == (0, 0, 0, 1)


def flip_correct_answers(data: stats.Scored, share: float, seed: int) -> stats.Scored:
    """The same model, but wrong on ``share`` of the rows it had right (a real regression)."""
    rng = np.random.default_rng(seed)
    right = np.flatnonzero(data.labels == data.predictions)
    flipped = rng.choice(right, size=round(share * len(right)), replace=False)
    predictions, probabilities = data.predictions.copy(), data.probabilities.copy()
    predictions[flipped] = 1 - predictions[flipped]
    probabilities[flipped] = probabilities[flipped][:, ::-1]
    return stats.Scored(data.labels, predictions, probabilities)


def test_flipping_two_percent_of_correct_answers_on_50000_rows_is_a_significant_regression() -> (
    None
):
    base = binary(4, rows=50_000, noise=0.6, decimals=None)
    head = flip_correct_answers(base, 0.02, seed=5)
    results = stats.compare(everything(), base, head, paired=True)
    for name in ("accuracy", "roc_auc", "average_precision"):
        result = results[name]
        assert result.high < 0 and result.p_value < 0.01, name
        assert result.low <= result.difference <= result.high
    assert results["log_loss"].low > 0  # lower is better: the loss went up
    assert results["accuracy"].test == stats.MCNEMAR and results["accuracy"].p_value < 1e-50
    assert results["roc_auc"].test == stats.BOOTSTRAP and results["roc_auc"].rows == 50_000


def test_a_tiny_difference_on_200_rows_is_within_noise() -> None:
    base = binary(6, rows=200, noise=0.6, decimals=None)
    head = flip_correct_answers(base, 0.01, seed=7)  # 1 or 2 rows of 200
    results = stats.compare(everything(), base, head, paired=True)
    assert results["accuracy"].difference < 0
    for result in results.values():
        assert result.low <= 0 <= result.high and result.p_value > 0.05, result.metric


def paired_trial(rng: np.random.Generator, rows: int) -> tuple[stats.Scored, stats.Scored]:
    """Base and head scores of one sample: binormal scores whose true ROC AUCs are known, and
    predictions right with known probabilities (the rows' types drawn from fixed shares)."""
    labels = (rng.random(rows) < 0.4).astype(int)
    shared = rng.normal(size=rows)
    base_scores = 1.2 * labels + 0.8 * shared + 0.6 * rng.normal(size=rows)
    head_scores = 1.0 * labels + 0.8 * shared + 0.6 * rng.normal(size=rows)
    kind = rng.choice(4, size=rows, p=[0.80, 0.06, 0.04, 0.10])  # both right, base, head, none
    base_right, head_right = np.isin(kind, (0, 1)), np.isin(kind, (0, 2))
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731 (monotone: ranks unchanged)
    return (
        stats.scored(labels, np.where(base_right, labels, 1 - labels), sigmoid(base_scores)),
        stats.scored(labels, np.where(head_right, labels, 1 - labels), sigmoid(head_scores)),
    )


TRUE_DIFFERENCE = {
    "accuracy": (0.80 + 0.04) - (0.80 + 0.06),
    "roc_auc": norm.cdf(1.0 / math.sqrt(2)) - norm.cdf(1.2 / math.sqrt(2)),  # binormal, sd 1
}


def test_the_95_percent_interval_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(8)
    trials = 200
    covered = dict.fromkeys(TRUE_DIFFERENCE, 0)
    for trial in range(trials):
        base, head = paired_trial(rng, rows=600)
        results = stats.compare(
            dict.fromkeys(TRUE_DIFFERENCE, 0.95), base, head, paired=True, resamples=400, seed=trial
        )
        for name, truth in TRUE_DIFFERENCE.items():
            covered[name] += results[name].low <= truth <= results[name].high
    for name, count in covered.items():
        assert 0.90 <= count / trials <= 0.99, (name, count)


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    base, head = binary(6), binary(7)

    def run(seed: int) -> dict[str, stats.Difference]:
        return stats.compare(
            {"f1": 0.95, "roc_auc": 0.9}, base, head, paired=True, resamples=300, seed=seed
        )

    first = run(11)
    assert run(11) == first and run(12) != first
    assert (first["f1"].method, first["f1"].rows, first["f1"].resamples, first["f1"].seed) == (
        stats.PAIRED,
        3000,
        300,
        11,
    )
    assert first["roc_auc"].confidence == 0.9


def test_results_do_not_depend_on_the_number_of_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    base, head = binary(9, rows=30_000), binary(10, rows=30_000)
    monkeypatch.setattr(stats, "_BLOCK_CELLS", 1_000_000)  # several blocks
    monkeypatch.setattr(stats, "_WORKERS", 1)
    one = stats.compare(everything(), base, head, paired=True, resamples=200)
    monkeypatch.setattr(stats, "_WORKERS", 2)
    assert stats.compare(everything(), base, head, paired=True, resamples=200) == one


def test_unpaired_bootstrap_takes_row_sets_of_different_sizes() -> None:
    results = stats.compare(
        everything(), binary(8, rows=2000), binary(9, rows=2500), paired=False, resamples=200
    )
    for result in results.values():
        assert result.method == stats.UNPAIRED and result.test == stats.BOOTSTRAP
        assert result.rows == 2000 and result.low <= result.difference <= result.high


def test_multiclass_differences_are_macro_averages() -> None:
    base = multiclass(11)
    head = multiclass(12)  # other rows, so unpaired
    results = stats.compare(everything(), base, head, paired=False, resamples=200)
    macro_f1 = sk.f1_score(head.labels, head.predictions, average="macro")
    assert results["f1"].head == pytest.approx(macro_f1)
    assert results["roc_auc"].low <= results["roc_auc"].difference <= results["roc_auc"].high


def test_a_paired_comparison_of_different_rows_is_refused() -> None:
    with pytest.raises(ValueError, match="same rows"):
        stats.compare({"accuracy": 0.95}, binary(1, rows=10), binary(1, rows=11), paired=True)


def test_interval_quantiles_are_numpys_linear_quantiles_exactly() -> None:
    """stats computes them itself (np.quantile imports numpy.ma, 15 ms of the gate's start)."""
    from mlgate.gate.stats import _quantiles

    rng = np.random.default_rng(7)
    for rows in (1, 2, 3, 10, 999, 1000, 1001):
        values = rng.normal(size=rows)
        for levels in ((0.025, 0.975), (0.005, 0.995), (0.0, 1.0), (0.5, 0.5)):
            assert _quantiles(values, levels) == tuple(np.quantile(values, list(levels)))


# --- regression: predicted values -------------------------------------------------------------

SKLEARN_VALUES = {
    "mae": lambda y, p, w: sk.mean_absolute_error(y, p, sample_weight=w),
    "rmse": lambda y, p, w: sk.root_mean_squared_error(y, p, sample_weight=w),
    "r2": lambda y, p, w: sk.r2_score(y, p, sample_weight=w),
}


def valued(seed: int, rows: int = 500, noise: float = 1.0) -> stats.Valued:
    rng = np.random.default_rng(seed)
    labels = rng.normal(10, 3, rows)
    return stats.Valued(labels, labels + rng.normal(0, noise, rows))


@pytest.mark.parametrize("metric", sorted(stats.VALUE_METRICS))
def test_value_metrics_equal_scikit_learn_with_and_without_resampling_weights(
    metric: str,
) -> None:
    data = valued(1)
    weights = np.random.default_rng(2).integers(0, 4, size=len(data)).astype(np.uint8)
    sklearn = SKLEARN_VALUES[metric]
    assert stats.point_estimate(metric, data) == pytest.approx(
        sklearn(data.labels, data.predictions, None), rel=1e-9
    )
    resampled = stats.VALUE_METRICS[metric](*stats._value_sums(data, weights[None]))[0]
    assert resampled == pytest.approx(sklearn(data.labels, data.predictions, weights), rel=1e-9)


def test_a_constant_target_scores_r2_as_scikit_learn_does() -> None:
    same = np.full(20, 3.0)
    exact, off = stats.Valued(same, same.copy()), stats.Valued(same, same + 1)
    assert stats.point_estimate("r2", exact) == sk.r2_score(same, same) == 1.0
    assert stats.point_estimate("r2", off) == sk.r2_score(same, same + 1) == 0.0


# errors N(0, 1) at base and N(0, 1.2) at head, values N(10, 3): the population's differences
TRUE_VALUE_DIFFERENCE = {
    "mae": (1.2 - 1.0) * math.sqrt(2 / math.pi),
    "rmse": 1.2 - 1.0,
    "r2": -(1.2**2 - 1.0) / 9,
}


def test_value_intervals_cover_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(9)
    trials = 200
    covered = dict.fromkeys(TRUE_VALUE_DIFFERENCE, 0)
    for trial in range(trials):
        labels = rng.normal(10, 3, 600)
        base = stats.Valued(labels, labels + rng.normal(0, 1.0, 600))
        head = stats.Valued(labels, labels + rng.normal(0, 1.2, 600))
        results = stats.compare(
            dict.fromkeys(TRUE_VALUE_DIFFERENCE, 0.95),
            base,
            head,
            paired=True,
            resamples=400,
            seed=trial,
        )
        for name, truth in TRUE_VALUE_DIFFERENCE.items():
            covered[name] += results[name].low <= truth <= results[name].high
    for name, count in covered.items():
        assert 0.90 <= count / trials <= 0.99, (name, count)


def test_a_worse_regressor_is_significant_and_the_same_one_within_noise() -> None:
    base = valued(3, rows=5000)
    worse = stats.Valued(
        base.labels, base.predictions + np.random.default_rng(4).normal(0, 1, 5000)
    )
    levels = dict.fromkeys(stats.VALUE_METRICS, 0.95)
    for name, found in stats.compare(levels, base, worse, paired=True).items():
        assert found.p_value < 0.01 and found.method == stats.PAIRED, name
        assert (found.difference > 0) == (name != "r2"), name  # errors up, r2 down
    same = stats.compare(levels, base, base, paired=True)
    assert all(d.difference == 0 and d.p_value == 1.0 for d in same.values())
    unpaired = stats.compare({"mae": 0.95}, base, valued(5, rows=3000), paired=False)
    assert unpaired["mae"].method == stats.UNPAIRED and unpaired["mae"].rows == 3000


def test_values_and_classes_are_never_compared() -> None:
    with pytest.raises(ValueError, match="both revisions must predict values"):
        stats.compare({"mae": 0.95}, valued(1), binary(1), paired=False)
    with pytest.raises(ValueError, match="not metrics of predicted values"):
        stats.compare({"accuracy": 0.95}, valued(1), valued(2), paired=True)
