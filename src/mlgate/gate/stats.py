"""Pure statistics for the gate: is a metric's change between two revisions real or noise?

A bootstrap of each metric's difference: paired (the same resampled rows at both revisions)
where both revisions scored the same rows, unpaired where the rows differ, and McNemar's exact
test for paired accuracy. Two ways to resample, both exact or standard:

- Metrics of the confusion matrix alone (accuracy, precision, recall, f1): a bootstrap resample
  of n rows is a multinomial draw over the confusion cells, (label, base prediction, head
  prediction) when paired. That is the row bootstrap's distribution exactly, at the cost of a
  handful of cells instead of n rows.
- Metrics of scores (roc_auc, average_precision, log_loss): the Poisson bootstrap (each row
  drawn Poisson(1) times, independently), the usual bootstrap for large data; resamples run a
  block at a time on two threads, and ROC AUC and average precision use one sort per revision.

Regression metrics (mae, rmse, r2) of predicted values: the Poisson bootstrap too, each
resample's weighted sums taken as matrix products.

Multi-class data gets macro averages, as the pipeline's metrics are. NumPy is imported here
only: the gate loads this module only when a rule asks for significance.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20261123
PAIRED, UNPAIRED, MCNEMAR, BOOTSTRAP, NORMAL_TEST = (
    "paired bootstrap",
    "unpaired bootstrap",
    "McNemar exact",
    "bootstrap",
    "bootstrap z",
)
PValues = Literal["counted", "normal"]
COUNTED: PValues = "counted"
NORMAL: PValues = "normal"
_BLOCK_CELLS = 4_000_000  # resamples x rows at once: about 30 MB of working arrays per thread
_WORKERS = min(2, os.cpu_count() or 1)
_MIN_BLOCKS = 2
_THREADED_CELLS = 1_000_000  # fewer: starting a thread costs more than it saves (a slice)
_EPSILON = np.finfo(np.float64).eps  # log loss clips probabilities as scikit-learn does

Floats = NDArray[np.float64]
Weights = NDArray[np.uint8]  # one row per resample, one column per data row: draws of that row


def _poisson_table(resolution: int = 1 << 16) -> NDArray[np.uint8]:
    """Maps a uniform 16-bit number to a Poisson(1) draw (quantiles of its distribution)."""
    pmf = [math.exp(-1) / math.factorial(k) for k in range(16)]
    uniform = (np.arange(resolution) + 0.5) / resolution
    return np.searchsorted(np.cumsum(pmf), uniform, side="right").astype(np.uint8)


_POISSON = _poisson_table()
_POISSON_AT_LEAST = np.searchsorted(_POISSON, np.arange(1, 6)).astype(np.uint16)  # k = 1..5


@dataclass(frozen=True)
class Scored:
    """One revision's predictions: class indices and each class's probability per row (for a
    binary problem, column 1 is the positive class). Rows are in the same order at both
    revisions when the comparison is paired."""

    labels: NDArray[np.intp]
    predictions: NDArray[np.intp]
    probabilities: Floats  # rows x classes

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: NDArray[np.intp]) -> Scored:
        """These rows, in this order."""
        return Scored(self.labels[rows], self.predictions[rows], self.probabilities[rows])

    @property
    def classes(self) -> int:
        return int(self.probabilities.shape[1])

    @functools.cached_property
    def present(self) -> NDArray[np.bool_]:
        """The classes macro averages run over: those seen in the labels or the predictions."""
        seen = np.zeros(self.classes, dtype=bool)
        seen[self.labels] = True
        seen[self.predictions] = True
        return seen

    @functools.cached_property
    def ranked(self) -> tuple[Ranks, ...]:
        """One-vs-rest problems: the positive class for binary data, every class otherwise."""
        columns = [1] if self.classes == 2 else range(self.classes)
        return tuple(Ranks.of(self.labels == k, self.probabilities[:, k]) for k in columns)

    @functools.cached_property
    def losses(self) -> Floats:
        own = self.probabilities[np.arange(len(self)), self.labels]
        return -np.log(np.clip(own, _EPSILON, 1 - _EPSILON))


def scored(labels: NDArray[np.intp], predictions: NDArray[np.intp], scores: Floats) -> Scored:
    """A binary problem from the positive class's scores."""
    scores = np.asarray(scores, dtype=np.float64)
    return Scored(
        np.asarray(labels, dtype=np.intp),
        np.asarray(predictions, dtype=np.intp),
        np.column_stack([1 - scores, scores]),
    )


@dataclass(frozen=True)
class Difference:
    """head minus base for one metric, with its bootstrap interval and two-sided p-value."""

    metric: str
    base: float
    head: float
    low: float
    high: float
    confidence: float  # of the interval [low, high]
    p_value: float
    method: str  # how the interval was drawn: PAIRED or UNPAIRED
    test: str  # where the p-value comes from: BOOTSTRAP or MCNEMAR
    rows: int  # the rows it rests on (the smaller revision's, when unpaired)
    resamples: int
    seed: int

    @property
    def difference(self) -> float:
        return self.head - self.base

    @property
    def unjudged(self) -> str | None:
        """Why this difference cannot judge anything, or None: a point estimate, interval end
        or p-value that is not a finite number (one class only, a constant score, no resample
        that could be scored). Such a test says neither "noise" nor "regression"."""
        for name in ("base", "head", "low", "high", "p_value"):
            value = getattr(self, name)
            if not math.isfinite(value):
                shown = {"p_value": "p-value", "low": "interval", "high": "interval"}
                return f"its {shown.get(name, name + ' value')} is {value}"
        return None


# --- metrics of a confusion matrix: counts has shape (resamples, classes, classes) ----------


def _accuracy(counts: Floats, present: NDArray[np.bool_]) -> Floats:
    return _ratio(np.trace(counts, axis1=1, axis2=2), counts.sum(axis=(1, 2)))


def _precision(counts: Floats, present: NDArray[np.bool_]) -> Floats:
    hits, predicted, _ = _per_class(counts)
    return _average(_ratio(hits, predicted, zero=0.0), present)


def _recall(counts: Floats, present: NDArray[np.bool_]) -> Floats:
    hits, _, actual = _per_class(counts)
    return _average(_ratio(hits, actual, zero=0.0), present)


def _f1(counts: Floats, present: NDArray[np.bool_]) -> Floats:
    hits, predicted, actual = _per_class(counts)
    return _average(_ratio(2 * hits, predicted + actual, zero=0.0), present)


def _per_class(counts: Floats) -> tuple[Floats, Floats, Floats]:
    """Per resample and class: rows right, rows predicted as it, rows labelled as it."""
    return np.diagonal(counts, axis1=1, axis2=2), counts.sum(axis=1), counts.sum(axis=2)


def _average(per_class: Floats, present: NDArray[np.bool_]) -> Floats:
    """The positive class's value for binary data, else the macro average (as scikit-learn)."""
    if per_class.shape[1] == 2:
        return per_class[:, 1]
    return per_class[:, present].mean(axis=1)


# --- metrics of scores under resampling weights ---------------------------------------------


class Resample:
    """A block of resamples: the weights, and what several metrics need of them (each
    ranking's cumulative sums) computed once."""

    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        self._splits: dict[int, Split] = {}

    def split(self, ranks: Ranks) -> Split:
        key = id(ranks)
        if key not in self._splits:
            self._splits[key] = ranks.split(self.weights)
        return self._splits[key]


def _log_loss(data: Scored, resample: Resample) -> Floats:
    weights = resample.weights
    return _ratio(weights.astype(np.float64) @ data.losses, weights.sum(axis=1, dtype=np.int64))


def _roc_auc(data: Scored, resample: Resample) -> Floats:
    return np.mean([ranks.roc_auc(resample.split(ranks)) for ranks in data.ranked], axis=0)


def _average_precision(data: Scored, resample: Resample) -> Floats:
    return np.mean(
        [ranks.average_precision(resample.split(ranks)) for ranks in data.ranked], axis=0
    )


@dataclass(frozen=True)
class Split:
    """A ranking's view of a block of weights: per resample and positive, the negative weight
    scored below it and at or below it; the positives' weights, by ascending score."""

    negatives_below: NDArray[np.int32]
    negatives_up_to: NDArray[np.int32]
    positive: Weights
    negative_total: NDArray[np.int64]  # per resample


@dataclass(frozen=True)
class Ranks:
    """One one-vs-rest problem, sorted once: negatives by ascending score, then positives; and
    where each positive's score falls among the negatives and the positives. A resample is then
    a cumulative sum over the negatives and a few gathers."""

    order: NDArray[np.intp]
    in_order: bool  # the rows are sorted this way already: no gather needed
    negatives: int
    negatives_below: NDArray[np.intp]  # per positive: negatives scored strictly lower
    negatives_up_to: NDArray[np.intp]  # per positive: negatives scored lower or equal
    positives_below: NDArray[np.intp]  # per positive: positives scored strictly lower
    edges: NDArray[np.intp]  # 0, then every count above, within (0, negatives): segment starts
    below_at: NDArray[np.intp]  # per positive: where its negatives_below is in the sums
    up_to_at: NDArray[np.intp]

    @classmethod
    def of(cls, positive: NDArray[np.bool_], scores: Floats) -> Ranks:
        negatives = np.flatnonzero(~positive)
        negatives = negatives[np.argsort(scores[negatives], kind="stable")]
        positives = np.flatnonzero(positive)
        positives = positives[np.argsort(scores[positives], kind="stable")]
        negative_scores, positive_scores = scores[negatives], scores[positives]
        order = np.concatenate([negatives, positives])
        below = np.searchsorted(negative_scores, positive_scores, side="left")
        up_to = np.searchsorted(negative_scores, positive_scores, side="right")
        counts = np.sort(np.concatenate([below, up_to]))  # not np.unique: it imports numpy.ma
        inside = counts[(counts > 0) & (counts < len(negatives))]
        edges = np.concatenate([[0], inside[np.diff(inside, prepend=0) > 0]]).astype(np.intp)
        return cls(
            order,
            bool(np.array_equal(order, np.arange(len(order)))),
            len(negatives),
            below,
            up_to,
            np.searchsorted(positive_scores, positive_scores, side="left"),
            edges,
            np.searchsorted(edges, below),
            np.searchsorted(edges, up_to),
        )

    def roc_auc(self, split: Split) -> Floats:
        """Mann-Whitney: the weighted share of (positive, negative) pairs ranked right, ties
        counted half (twice the count, halved at the end, to stay in integers)."""
        positive = split.positive
        twice_right = split.negatives_below + split.negatives_up_to
        pairs = positive.sum(axis=1, dtype=np.int64) * split.negative_total
        return _ratio(np.einsum("ij,ij->i", positive, twice_right, dtype=np.float64), 2.0 * pairs)

    def average_precision(self, split: Split) -> Floats:
        """scikit-learn's definition: the mean, over positives, of the precision at their score
        (every row scored at least as high counted, ties included)."""
        positive = split.positive
        false_positives = split.negative_total[:, None] - split.negatives_below
        positive_sums = _cumulative(positive)
        true_positives = positive_sums[:, -1:] - positive_sums[:, self.positives_below]
        # weights are whole numbers: where none is at or above a positive, that positive has
        # none either, and the precision counts as 0 (a plain division: no masked divide)
        precision = true_positives / np.maximum(true_positives + false_positives, 1)
        return _ratio(np.einsum("ij,ij->i", positive, precision), positive_sums[:, -1])

    def split(self, weights: Weights) -> Split:
        """The negative weight below each positive, from sums over the segments between the
        counts that matter (one pass over the rows, no running sum of every row)."""
        arranged = weights if self.in_order else weights[:, self.order]
        resamples = len(weights)
        sums = np.zeros((resamples, len(self.edges) + 1), dtype=np.int32)
        if self.negatives:
            segments = np.add.reduceat(
                arranged[:, : self.negatives], self.edges, axis=1, dtype=np.int32
            )
            np.cumsum(segments, axis=1, out=sums[:, 1:])
        # sums[:, j]: the weight of negatives before edges[j]; the last column: all of them
        return Split(
            sums[:, self.below_at],
            sums[:, self.up_to_at],
            arranged[:, self.negatives :],
            sums[:, -1].astype(np.int64),
        )


def _cumulative(weights: Weights) -> NDArray[np.int32]:
    """Running sums along each resample, starting at 0 (integer adds: faster than floats)."""
    sums = np.zeros((len(weights), weights.shape[1] + 1), dtype=np.int32)
    np.cumsum(weights, axis=1, dtype=np.int32, out=sums[:, 1:])
    return sums


def _ratio(numerator: NDArray, denominator: NDArray, zero: float = math.nan) -> Floats:
    """numerator / denominator, with ``zero`` where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    result = np.full(np.broadcast(numerator, denominator).shape, zero)
    np.divide(numerator, denominator, out=result, where=np.asarray(denominator) != 0)
    return result


# --- metrics of predicted values under resampling weights (regression) ----------------------


@dataclass(frozen=True)
class Valued:
    """One revision's predictions of a number: the true values and the predicted ones. Rows
    are in the same order at both revisions when the comparison is paired."""

    labels: Floats
    predictions: Floats

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: NDArray[np.intp]) -> Valued:
        return Valued(self.labels[rows], self.predictions[rows])

    @functools.cached_property
    def columns(self) -> Floats:
        """Per row: |error|, error squared, the value, the value squared (one matrix product
        gives every weighted sum a metric needs)."""
        error = self.predictions - self.labels
        return np.column_stack([np.abs(error), error**2, self.labels, self.labels**2])


def _value_sums(data: Valued, weights: Weights) -> tuple[Floats, Floats]:
    """Per resample: the total weight, and the weighted sums of ``data.columns``."""
    total = weights.sum(axis=1, dtype=np.int64).astype(np.float64)
    return total, weights.astype(np.float64) @ data.columns


def _mae(total: Floats, sums: Floats) -> Floats:
    return _ratio(sums[:, 0], total)


def _rmse(total: Floats, sums: Floats) -> Floats:
    return np.sqrt(_ratio(sums[:, 1], total))


def _r2(total: Floats, sums: Floats) -> Floats:
    """1 - residual / total sum of squares about the weighted mean (scikit-learn's r2_score
    with sample weights)."""
    spread = sums[:, 3] - _ratio(sums[:, 2] ** 2, total, zero=0.0)
    spread = np.where(spread > 1e-12 * np.maximum(sums[:, 3], 1.0), spread, 0.0)
    # scikit-learn's force_finite: constant values score 1 when predicted exactly, else 0
    constant = np.where(sums[:, 1] == 0, 1.0, 0.0)
    return np.where(spread > 0, 1 - _ratio(sums[:, 1], spread), constant)


ValueMetric = Callable[[Floats, Floats], Floats]
VALUE_METRICS: dict[str, ValueMetric] = {"mae": _mae, "rmse": _rmse, "r2": _r2}


CountMetric = Callable[[Floats, NDArray[np.bool_]], Floats]
ScoreMetric = Callable[[Scored, Resample], Floats]
COUNT_METRICS: dict[str, CountMetric] = {
    "accuracy": _accuracy,
    "precision": _precision,
    "recall": _recall,
    "f1": _f1,
}
SCORE_METRICS: dict[str, ScoreMetric] = {
    "roc_auc": _roc_auc,
    "average_precision": _average_precision,
    "log_loss": _log_loss,
}
CLASS_METRICS = (*COUNT_METRICS, *SCORE_METRICS)
METRICS = (*CLASS_METRICS, *VALUE_METRICS)


def point_estimate(metric: str, data: Scored | Valued) -> float:
    if isinstance(data, Valued):
        if metric not in VALUE_METRICS:
            raise ValueError(f"{metric} is not a metric of predicted values")
        return float(
            VALUE_METRICS[metric](*_value_sums(data, np.ones((1, len(data)), np.uint8)))[0]
        )
    if metric in VALUE_METRICS:
        raise ValueError(f"{metric} is a metric of predicted values, not of classes")
    if metric in COUNT_METRICS:
        return float(COUNT_METRICS[metric](_confusion(data)[None], data.present)[0])
    return float(SCORE_METRICS[metric](data, Resample(np.ones((1, len(data)), dtype=np.uint8)))[0])


def _confusion(data: Scored) -> Floats:
    k = data.classes
    cells = np.bincount(data.labels * k + data.predictions, minlength=k * k)
    return cells.reshape(k, k).astype(np.float64)


# --- the bootstrap ---------------------------------------------------------------------------


def compare(
    levels: Mapping[str, float],
    base: Scored | Valued,
    head: Scored | Valued,
    *,
    paired: bool,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    p_values: PValues = COUNTED,
) -> dict[str, Difference]:
    """Each metric's difference (head - base) with an interval at its confidence level
    (``levels``: metric -> 0.95, say). ``paired``: both revisions scored the same rows, in the
    same order. ``p_values``: COUNTED (the share of resamples past zero) or NORMAL (from the
    resamples' standard error, for p-values smaller than resampling can count)."""
    if paired and len(base) != len(head):
        raise ValueError("a paired comparison needs the same rows at both revisions")
    if isinstance(base, Valued) or isinstance(head, Valued):
        if not (isinstance(base, Valued) and isinstance(head, Valued)):
            raise ValueError("both revisions must predict values, or both classes")
        return _compare_values(levels, base, head, paired, resamples, seed, p_values)
    if base.classes != head.classes:
        raise ValueError("both revisions must score the same classes")
    metrics = list(levels)
    draws = _count_draws(
        [m for m in metrics if m in COUNT_METRICS],
        base,
        head,
        paired=paired,
        resamples=resamples,
        seed=seed,
    )
    draws |= _score_draws(
        [m for m in metrics if m in SCORE_METRICS],
        base,
        head,
        paired=paired,
        resamples=resamples,
        seed=seed,
    )
    method = PAIRED if paired else UNPAIRED
    results = {}
    for metric in metrics:
        tests = {MCNEMAR: mcnemar_exact(base, head)} if paired and metric == "accuracy" else {}
        results[metric] = _summarise(
            metric, base, head, draws[metric], levels[metric], method, tests, seed, p_values
        )
    return results


def _compare_values(
    levels: Mapping[str, float],
    base: Valued,
    head: Valued,
    paired: bool,
    resamples: int,
    seed: int,
    p_values: PValues,
) -> dict[str, Difference]:
    unknown = [m for m in levels if m not in VALUE_METRICS]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not metrics of predicted values")
    for data in (base, head):  # computed once, before the threads share them
        data.columns  # noqa: B018

    def block(rng: np.random.Generator, count: int) -> dict[str, Floats]:
        base_weights = _poisson_weights(rng, count, len(base))
        head_weights = base_weights if paired else _poisson_weights(rng, count, len(head))
        base_sums, head_sums = _value_sums(base, base_weights), _value_sums(head, head_weights)
        return {m: VALUE_METRICS[m](*head_sums) - VALUE_METRICS[m](*base_sums) for m in levels}

    blocks = list(_run_blocks(block, seed, resamples, max(len(base), len(head))))
    method = PAIRED if paired else UNPAIRED
    return {
        m: _summarise(
            m,
            base,
            head,
            np.concatenate([b[m] for b in blocks]),
            levels[m],
            method,
            {},
            seed,
            p_values,
        )
        for m in levels
    }


def _count_draws(
    metrics: list[str], base: Scored, head: Scored, *, paired: bool, resamples: int, seed: int
) -> dict[str, Floats]:
    if not metrics:
        return {}
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    if paired:
        base_counts, head_counts = _paired_confusions(base, head, rng, resamples)
    else:
        base_counts, head_counts = (_confusions(data, rng, resamples) for data in (base, head))
    return {
        m: COUNT_METRICS[m](head_counts, head.present) - COUNT_METRICS[m](base_counts, base.present)
        for m in metrics
    }


def _confusions(data: Scored, rng: np.random.Generator, resamples: int) -> Floats:
    cells = _confusion(data).ravel()
    drawn = rng.multinomial(len(data), cells / cells.sum(), size=resamples)
    return drawn.reshape(resamples, data.classes, data.classes).astype(np.float64)


def _paired_confusions(
    base: Scored, head: Scored, rng: np.random.Generator, resamples: int
) -> tuple[Floats, Floats]:
    """Draw over the (label, base prediction, head prediction) cells the rows fall in, then
    read each revision's confusion matrix off the draw."""
    k = base.classes
    codes = (base.labels * k + base.predictions) * k + head.predictions
    cells, counts = np.unique(codes, return_counts=True)
    drawn = rng.multinomial(len(codes), counts / len(codes), size=resamples).astype(np.float64)
    labels, base_predicted, head_predicted = cells // (k * k), cells // k % k, cells % k

    def confusions(predicted: NDArray[np.intp]) -> Floats:
        into = np.zeros((len(cells), k * k))
        into[np.arange(len(cells)), labels * k + predicted] = 1
        return (drawn @ into).reshape(resamples, k, k)

    return confusions(base_predicted), confusions(head_predicted)


def _score_draws(
    metrics: list[str], base: Scored, head: Scored, *, paired: bool, resamples: int, seed: int
) -> dict[str, Floats]:
    if not metrics:
        return {}
    if paired:  # rows in base's ranking order: base's rankings then need no gather
        order = base.ranked[0].order
        base, head = base.take(order), head.take(order)
    for data in (base, head):  # sort once, before the threads share them
        data.ranked, data.losses  # noqa: B018

    def block(rng: np.random.Generator, count: int) -> dict[str, Floats]:
        base_resample = Resample(_poisson_weights(rng, count, len(base)))
        head_resample = (
            Resample(base_resample.weights)
            if paired
            else Resample(_poisson_weights(rng, count, len(head)))
        )
        return {
            m: SCORE_METRICS[m](head, head_resample) - SCORE_METRICS[m](base, base_resample)
            for m in metrics
        }

    blocks = list(_run_blocks(block, seed, resamples, max(len(base), len(head))))
    return {m: np.concatenate([b[m] for b in blocks]) for m in metrics}


def _poisson_weights(rng: np.random.Generator, resamples: int, rows: int) -> Weights:
    """Poisson(1) draws from 16-bit uniforms (raw generator output, four per word): counted as
    thresholds passed up to 4, then the rare larger draws (0.4% of rows) looked up."""
    cells = resamples * rows
    words = rng.bit_generator.random_raw(-(-cells // 4))
    uniform = words.view(np.uint16)[:cells].reshape(resamples, rows)
    weights = (uniform >= _POISSON_AT_LEAST[0]).view(np.uint8)
    for threshold in _POISSON_AT_LEAST[1:4]:
        weights += (uniform >= threshold).view(np.uint8)
    rare = np.flatnonzero(uniform >= _POISSON_AT_LEAST[4])
    weights.flat[rare] = _POISSON[uniform.flat[rare]]
    return weights


def _run_blocks(
    block: Callable[[np.random.Generator, int], dict[str, Floats]],
    seed: int,
    resamples: int,
    rows: int,
) -> Iterator[dict[str, Floats]]:
    """Blocks of resamples on ``_WORKERS`` threads (NumPy releases the GIL), in order. Each
    block has its own random stream from the seed, so results do not depend on the threads."""
    # At least _MIN_BLOCKS blocks, whatever the cores, so both threads work on small data too
    # and the draws (one stream per block) are the same on every machine.
    per_block = max(1, min(-(-resamples // _MIN_BLOCKS), _BLOCK_CELLS // max(rows, 1)))
    counts = [min(per_block, resamples - start) for start in range(0, resamples, per_block)]

    def run(index: int) -> dict[str, Floats]:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, index)))
        return block(rng, counts[index])

    if _WORKERS == 1 or len(counts) == 1 or resamples * rows < _THREADED_CELLS:
        yield from map(run, range(len(counts)))  # the same blocks, drawn the same
        return
    yield from _on_threads(run, len(counts), _WORKERS)


def _on_threads(
    run: Callable[[int], dict[str, Floats]], count: int, workers: int
) -> list[dict[str, Floats]]:
    """``run(0) .. run(count - 1)`` on ``workers`` threads, results in order (a thread pool
    without concurrent.futures, whose import alone costs more than a small bootstrap)."""
    results: list[dict[str, Floats] | None] = [None] * count
    failures: list[BaseException] = []

    def work(start: int) -> None:
        try:
            for index in range(start, count, workers):
                results[index] = run(index)
        except BaseException as exc:  # re-raised in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, workers)]
    for thread in threads:
        thread.start()
    work(0)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [r for r in results if r is not None]


def _summarise(
    metric: str,
    base: Scored | Valued,
    head: Scored | Valued,
    draws: Floats,
    confidence: float,
    method: str,
    tests: dict[str, float],
    seed: int,
    p_values: PValues = COUNTED,
) -> Difference:
    finite = draws[np.isfinite(draws)]
    tail = (1 - confidence) / 2
    low, high = _quantiles(finite, (tail, 1 - tail)) if len(finite) else (math.nan, math.nan)
    base_value, head_value = point_estimate(metric, base), point_estimate(metric, head)
    if tests:
        test, p_value = next(iter(tests.items()))
    elif p_values == NORMAL:
        test, p_value = NORMAL_TEST, _normal_p(head_value - base_value, finite)
    else:
        test, p_value = BOOTSTRAP, _bootstrap_p(finite)
    return Difference(
        metric,
        base_value,
        head_value,
        float(low),
        float(high),
        confidence,
        p_value,
        method,
        test,
        min(len(base), len(head)),
        len(draws),
        seed,
    )


def _quantiles(values: Floats, levels: tuple[float, float]) -> tuple[float, float]:
    """np.quantile's default (linear) method, value for value, without np.unique's import of
    numpy.ma (15 ms of the gate's start-up)."""
    ordered = np.sort(values)
    found = []
    for level in levels:
        position = level * (len(ordered) - 1)
        below = math.floor(position)
        above = min(below + 1, len(ordered) - 1)
        a, b, t = float(ordered[below]), float(ordered[above]), position - below
        found.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)  # numpy's _lerp
    return found[0], found[1]


def _bootstrap_p(draws: Floats) -> float:
    """Two-sided: twice the share of resamples on the far side of zero, counted as
    (k + 1) / (n + 1) so that 1,000 resamples never claim a p-value of 0."""
    if not len(draws):
        return math.nan
    if not draws.any():
        return 1.0
    far_side = min(int(np.sum(draws <= 0)), int(np.sum(draws >= 0)))
    return min(1.0, 2 * (far_side + 1) / (len(draws) + 1))


def _normal_p(difference: float, draws: Floats) -> float:
    """Two-sided, from the resamples' standard error: a z-test of the observed difference.
    Counted, 1,000 resamples can say no less than 0.002, which no correction across 25 slices
    could ever call significant at 0.05."""
    if len(draws) < 2 or not math.isfinite(difference):
        return math.nan
    error = float(np.std(draws, ddof=1))
    if error == 0:
        return 1.0 if difference == 0 else 0.0
    return math.erfc(abs(difference) / error / math.sqrt(2))


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
    log_pmf = (
        math.lgamma(n + 1)
        - np.vectorize(math.lgamma)(ks + 1)
        - np.vectorize(math.lgamma)(n - ks + 1)
        - n * math.log(2)
    )
    peak = log_pmf.max()
    return float(min(1.0, 2 * math.exp(peak) * np.exp(log_pmf - peak).sum()))
