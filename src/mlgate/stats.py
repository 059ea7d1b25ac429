"""Pure statistics for the gate: is a metric's change between two revisions real or noise?

Paired bootstrap of a metric's difference where both revisions scored the same rows, unpaired
where the rows differ, and McNemar's exact test for accuracy. Resamples are drawn as counts per
row (a multinomial draw), so every metric is a weighted sum over rows and a block of resamples
is a handful of NumPy matrix operations; ROC AUC and average precision use one sort of the
scores shared by all resamples. NumPy is imported here only: the gate loads this module only
when a rule asks for significance.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20261123
CONFIDENCE = 0.95
_BLOCK_CELLS = 4_000_000  # resamples x rows handled at once: bounds memory at about 100 MB
_EPSILON = np.finfo(np.float64).eps  # log loss clips probabilities as scikit-learn does

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Scored:
    """One revision's predictions on a binary problem, rows in the same order across revisions
    when the comparison is paired."""

    labels: NDArray[np.int8]  # 1 for the positive class
    predictions: NDArray[np.int8]
    scores: Floats  # the positive class's probability

    def __len__(self) -> int:
        return len(self.labels)

    @functools.cached_property
    def ranks(self) -> Ranks:
        return Ranks.of(self.labels, self.scores)


@dataclass(frozen=True)
class Difference:
    """head minus base for one metric, with its bootstrap interval and two-sided p-value."""

    metric: str
    base: float
    head: float
    low: float
    high: float
    p_value: float
    method: str  # "paired bootstrap", "unpaired bootstrap" or "McNemar exact"
    rows: int
    resamples: int
    seed: int

    @property
    def difference(self) -> float:
        return self.head - self.base


# A metric of weighted rows: weights has one row per resample, one column per prediction.
WeightedMetric = Callable[[Scored, Floats], Floats]


def _accuracy(data: Scored, weights: Floats) -> Floats:
    return _ratio(weights @ (data.labels == data.predictions), weights.sum(axis=1))


def _precision(data: Scored, weights: Floats) -> Floats:
    return _ratio(weights @ (data.labels & data.predictions), weights @ data.predictions)


def _recall(data: Scored, weights: Floats) -> Floats:
    return _ratio(weights @ (data.labels & data.predictions), weights @ data.labels)


def _f1(data: Scored, weights: Floats) -> Floats:
    true_positives = weights @ (data.labels & data.predictions)
    return _ratio(2 * true_positives, weights @ data.predictions + weights @ data.labels)


def _log_loss(data: Scored, weights: Floats) -> Floats:
    p = np.clip(data.scores, _EPSILON, 1 - _EPSILON)
    losses = -np.where(data.labels == 1, np.log(p), np.log1p(-p))
    return _ratio(weights @ losses, weights.sum(axis=1))


def _roc_auc(data: Scored, weights: Floats) -> Floats:
    """Mann-Whitney: the weighted share of (positive, negative) pairs ranked right, ties half."""
    below, up_to, positive, negatives = data.ranks.negatives_around_positives(weights)
    ranked_right = (positive * 0.5 * (below + up_to)).sum(axis=1)
    return _ratio(ranked_right, positive.sum(axis=1) * negatives)


def _average_precision(data: Scored, weights: Floats) -> Floats:
    """scikit-learn's definition: the mean, over positives, of the precision at their score
    (every row scored at least as high counted, ties included)."""
    below, _, positive, negatives = data.ranks.negatives_around_positives(weights)
    false_positives = negatives[:, None] - below
    true_positives = data.ranks.positives_at_or_above(positive)
    precision = _ratio(true_positives, true_positives + false_positives)
    return _ratio((positive * precision).sum(axis=1), positive.sum(axis=1))


@dataclass(frozen=True)
class Ranks:
    """Where each positive's score falls among the negatives' (and the positives'), computed
    once per revision: each resample is then a cumulative sum and a few gathers."""

    negatives: NDArray[np.intp]  # negative rows, by ascending score
    positives: NDArray[np.intp]  # positive rows, by ascending score
    negatives_below: NDArray[np.intp]  # per positive: negatives scored strictly lower
    negatives_up_to: NDArray[np.intp]  # per positive: negatives scored lower or equal
    positives_below: NDArray[np.intp]  # per positive: positives scored strictly lower

    @classmethod
    def of(cls, labels: NDArray[np.int8], scores: Floats) -> Ranks:
        negatives = np.flatnonzero(labels == 0)
        negatives = negatives[np.argsort(scores[negatives], kind="stable")]
        positives = np.flatnonzero(labels == 1)
        positives = positives[np.argsort(scores[positives], kind="stable")]
        negative_scores, positive_scores = scores[negatives], scores[positives]
        return cls(
            negatives, positives,
            np.searchsorted(negative_scores, positive_scores, side="left"),
            np.searchsorted(negative_scores, positive_scores, side="right"),
            np.searchsorted(positive_scores, positive_scores, side="left"),
        )  # fmt: skip

    def negatives_around_positives(self, weights: Floats) -> tuple[Floats, Floats, Floats, Floats]:
        """Per resample and positive: the negative weight scored below it, at or below it, the
        positive's own weight; and per resample the whole negative weight."""
        cumulative = np.zeros((len(weights), len(self.negatives) + 1), dtype=weights.dtype)
        np.cumsum(weights[:, self.negatives], axis=1, out=cumulative[:, 1:])
        wide = np.float64  # products of counts outgrow float32's exact integers
        return (cumulative[:, self.negatives_below].astype(wide),
                cumulative[:, self.negatives_up_to].astype(wide),
                weights[:, self.positives].astype(wide), cumulative[:, -1].astype(wide))  # fmt: skip

    def positives_at_or_above(self, positive: Floats) -> Floats:
        cumulative = np.zeros((len(positive), positive.shape[1] + 1))
        np.cumsum(positive, axis=1, out=cumulative[:, 1:])
        return cumulative[:, -1:] - cumulative[:, self.positives_below]


def _ratio(numerator: Floats, denominator: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(numerator, dtype=np.float64) / denominator


METRICS: dict[str, WeightedMetric] = {
    "accuracy": _accuracy,
    "precision": _precision,
    "recall": _recall,
    "f1": _f1,
    "roc_auc": _roc_auc,
    "average_precision": _average_precision,
    "log_loss": _log_loss,
}


def point_estimate(metric: str, data: Scored) -> float:
    return float(METRICS[metric](data, np.ones((1, len(data))))[0])


def paired_bootstrap(metrics: Sequence[str], base: Scored, head: Scored,
                     resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> list[Difference]:  # fmt: skip
    """Resample rows (the same rows for both revisions) and recompute each metric's difference;
    all metrics share the resamples."""
    if len(base) != len(head):
        raise ValueError("a paired comparison needs the same rows at both revisions")
    differences: dict[str, list[Floats]] = {m: [] for m in metrics}
    for weights in _weight_blocks(np.random.default_rng(seed), len(base), resamples):
        for metric in metrics:
            compute = METRICS[metric]
            differences[metric].append(compute(head, weights) - compute(base, weights))
    return [_summarise(m, base, head, np.concatenate(d), "paired bootstrap", seed)
            for m, d in differences.items()]  # fmt: skip


def unpaired_bootstrap(metrics: Sequence[str], base: Scored, head: Scored,
                       resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> list[Difference]:  # fmt: skip
    """Resample each revision's rows on their own (the test set changed between them)."""
    rng = np.random.default_rng(seed)
    values: dict[tuple[str, int], list[Floats]] = {
        (m, side): [] for m in metrics for side in (0, 1)
    }
    for side, data in enumerate((base, head)):
        for weights in _weight_blocks(rng, len(data), resamples):
            for metric in metrics:
                values[metric, side].append(METRICS[metric](data, weights))
    return [_summarise(m, base, head, np.concatenate(values[m, 1]) - np.concatenate(values[m, 0]),
                       "unpaired bootstrap", seed) for m in metrics]  # fmt: skip


def _weight_blocks(rng: np.random.Generator, rows: int, resamples: int) -> Iterator[Floats]:
    """Bootstrap resamples as counts per row (how often each row was drawn), a block at a time."""
    per_block = max(1, min(resamples, _BLOCK_CELLS // max(rows, 1)))
    for start in range(0, resamples, per_block):
        count = min(per_block, resamples - start)
        drawn = rng.integers(0, rows, size=(count, rows)) + rows * np.arange(count)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=count * rows).reshape(count, rows)
        yield counts.astype(np.float32)  # exact: counts stay far below 2**24


def _summarise(metric: str, base: Scored, head: Scored, differences: Floats, method: str,
               seed: int) -> Difference:  # fmt: skip
    finite = differences[np.isfinite(differences)]
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(finite, [tail, 1 - tail]) if len(finite) else (math.nan, math.nan)
    p_value = (min(1.0, 2 * min(np.mean(finite <= 0), np.mean(finite >= 0)))
               if len(finite) else math.nan)  # fmt: skip
    return Difference(metric, point_estimate(metric, base), point_estimate(metric, head),
                      float(low), float(high), float(p_value), method,
                      min(len(base), len(head)), len(differences), seed)  # fmt: skip


def mcnemar_exact(base: Scored, head: Scored) -> float:
    """Two-sided exact McNemar p-value for accuracy on paired rows: of the rows the revisions
    disagree on, is the split between 'only base right' and 'only head right' a fair coin?"""
    base_right = base.labels == base.predictions
    head_right = head.labels == head.predictions
    only_base = int(np.sum(base_right & ~head_right))
    only_head = int(np.sum(head_right & ~base_right))
    return binomial_two_sided(min(only_base, only_head), only_base + only_head)


def binomial_two_sided(k: int, n: int) -> float:
    """P(X <= k) * 2 for X ~ Binomial(n, 1/2), k <= n/2, capped at 1 (in log space: n is large)."""
    if n == 0:
        return 1.0
    ks = np.arange(k + 1)
    log_pmf = (math.lgamma(n + 1) - np.vectorize(math.lgamma)(ks + 1)
               - np.vectorize(math.lgamma)(n - ks + 1) - n * math.log(2))  # fmt: skip
    peak = log_pmf.max()
    return float(min(1.0, 2 * math.exp(peak) * np.exp(log_pmf - peak).sum()))
