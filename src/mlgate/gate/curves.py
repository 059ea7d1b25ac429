"""What a reviewer looks at beside the metrics: ROC, precision-recall and calibration curves of
base and head on one grid, and the confusion matrices, from the predictions the significance
tests read. Pure: class indices and probabilities in, numbers out.

- ROC: the true positive rate reached at or below each false positive rate of the grid (the
  curve's upper envelope, as a threshold can be chosen);
- precision-recall: the precision reachable at or above each recall of the grid (interpolated
  precision, as average precision is read);
- calibration: the share of positives among the rows whose score falls in each tenth of
  [0, 1], beside the scores' mean there; a bin with no rows has no share (None).

Curves are drawn for two-class problems; a multi-class one gets its confusion matrices and
per-class precision and recall.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlgate.gate.stats import Scored, Valued

GRID = tuple(round(i * 0.05, 2) for i in range(21))  # 0, 0.05, ..., 1
BINS = 10


@dataclass(frozen=True)
class Curve:
    name: str  # "roc", "precision_recall", "calibration", "predicted_actual", "errors"
    x: tuple[float, ...]
    base: tuple[float | None, ...]
    head: tuple[float | None, ...]
    y_range: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class ClassFigures:
    name: str
    base_precision: float | None
    head_precision: float | None
    base_recall: float | None
    head_recall: float | None


@dataclass(frozen=True)
class Charts:
    classes: tuple[str, ...]  # (): no tables (drawn from plots other than a confusion plot)
    curves: tuple[Curve, ...]  # empty for more than two classes
    base_confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted
    head_confusion: tuple[tuple[int, ...], ...]
    per_class: tuple[ClassFigures, ...]
    rows: tuple[int, int]  # rows of predictions at base and head (0, 0 from plots)
    source: str = ""  # where the points come from, as the report says it


# The x and y fields of a plot that is one of these curves (dvclive's names, and mlgate's)
PLOTTED = {
    ("fpr", "tpr"): "roc",
    ("recall", "precision"): "precision_recall",
    ("prob_pred", "prob_true"): "calibration",
    ("actual", "predicted"): "predicted_actual",
}


def value_charts(base: Valued, head: Valued) -> Charts:
    """A regression model's: the mean predicted value, and the mean absolute error, in each
    tenth of the rows by actual value (cut at base's deciles, so both revisions are read on
    the same bins; x is each bin's mean actual value at base)."""
    edges = np.quantile(base.labels, np.linspace(0, 1, BINS + 1)[1:-1])
    x = _known(_binned(base.labels, base.labels, edges))
    predicted = (
        _binned(base.labels, base.predictions, edges),
        _binned(head.labels, head.predictions, edges),
    )
    errors = (
        _binned(base.labels, np.abs(base.predictions - base.labels), edges),
        _binned(head.labels, np.abs(head.predictions - head.labels), edges),
    )
    return Charts(
        (),
        (
            Curve("predicted_actual", x, *predicted, span(x, *predicted)),
            Curve("errors", x, *errors, span((0.0,), *errors)),
        ),
        (),
        (),
        (),
        (len(base), len(head)),
    )


def points_on_bins(
    x: np.ndarray, y: np.ndarray
) -> tuple[tuple[float, ...], tuple[float | None, ...]]:
    """A plotted predicted-against-actual curve: its points' mean y in each tenth by x."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if not len(x):
        return (), ()
    edges = np.quantile(x, np.linspace(0, 1, BINS + 1)[1:-1])
    return _known(_binned(x, x, edges)), _binned(x, y, edges)


def span(*series: tuple[float | None, ...]) -> tuple[float, float]:
    """A y-axis range holding every known value, with a margin."""
    known = [v for values in series for v in values if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 1.0)
    pad = (high - low) * 0.05 or 1.0
    return (round(low - pad, 4), round(high + pad, 4))


def _binned(by: np.ndarray, values: np.ndarray, edges: np.ndarray) -> tuple[float | None, ...]:
    bins = np.searchsorted(edges, by, side="right")
    counts = np.bincount(bins, minlength=BINS)
    sums = np.bincount(bins, weights=values, minlength=BINS)
    return tuple(round(float(sums[i] / counts[i]), 4) if counts[i] else None for i in range(BINS))


def _known(values: tuple[float | None, ...]) -> tuple[float, ...]:
    return tuple(0.0 if v is None else v for v in values)


def from_points(kind: str, x: np.ndarray, y: np.ndarray) -> tuple[float | None, ...]:
    """A plotted curve's points read on the grid as ``charts`` reads predictions: the best
    true positive rate at or below each false positive rate, the best precision at or above
    each recall, the observed share in each tenth of predicted probability (the mean of the
    points there; None where there is none)."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    grid = np.asarray(GRID)
    if kind == "calibration":
        bins = np.minimum((np.clip(x, 0, 1) * BINS).astype(np.int64), BINS - 1)
        return tuple(
            round(float(y[bins == k].mean()), 4) if np.any(bins == k) else None for k in range(BINS)
        )
    if not len(x):
        return (None,) * len(GRID)
    if kind == "roc":
        values = [y[x <= g + 1e-12] for g in grid]
    else:  # precision at recall >= r
        values = [y[x >= g - 1e-12] for g in grid]
    return tuple(round(float(v.max()), 4) if len(v) else None for v in values)


def charts(classes: list[str], base: Scored, head: Scored) -> Charts:
    """Both revisions' curves and tables (``classes`` in the order of the probability columns;
    for two classes the second is the positive one)."""
    curves: tuple[Curve, ...] = ()
    if len(classes) == 2:
        base_truth, base_score = _binary(base)
        head_truth, head_score = _binary(head)
        curves = (
            Curve("roc", GRID, _roc(base_truth, base_score), _roc(head_truth, head_score)),
            Curve(
                "precision_recall",
                GRID,
                _precision_at_recall(base_truth, base_score),
                _precision_at_recall(head_truth, head_score),
            ),
            Curve(
                "calibration",
                tuple(round((i + 0.5) / BINS, 2) for i in range(BINS)),
                _calibration(base_truth, base_score),
                _calibration(head_truth, head_score),
            ),
        )
    base_matrix, head_matrix = _confusion(base, len(classes)), _confusion(head, len(classes))
    tables = _tables(classes, base_matrix, head_matrix, (len(base), len(head)))
    return Charts(tables.classes, curves, tables.base, tables.head, tables.per_class, tables.rows)


@dataclass(frozen=True)
class ConfusionTables:
    classes: tuple[str, ...]
    base: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted
    head: tuple[tuple[int, ...], ...]
    per_class: tuple[ClassFigures, ...]
    rows: tuple[int, int]


def confusion_tables(
    classes: list[str],
    base: tuple[list[str], list[str]],
    head: tuple[list[str], list[str]],
) -> ConfusionTables:
    """The confusion matrices of (actual, predicted) labels at both revisions, ``classes``
    in the order of the matrices' rows and columns (every label must be among them)."""
    index = {name: k for k, name in enumerate(classes)}

    def matrix(pairs: tuple[list[str], list[str]]) -> np.ndarray:
        counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
        actual = np.array([index[a] for a in pairs[0]], dtype=np.intp)
        predicted = np.array([index[p] for p in pairs[1]], dtype=np.intp)
        np.add.at(counts, (actual, predicted), 1)
        return counts

    return _tables(classes, matrix(base), matrix(head), (len(base[0]), len(head[0])))


def _tables(
    classes: list[str], base: np.ndarray, head: np.ndarray, rows: tuple[int, int]
) -> ConfusionTables:
    per_class = tuple(
        ClassFigures(
            name,
            _share(base[k, k], base[:, k].sum()),
            _share(head[k, k], head[:, k].sum()),
            _share(base[k, k], base[k, :].sum()),
            _share(head[k, k], head[k, :].sum()),
        )
        for k, name in enumerate(classes)
    )
    return ConfusionTables(tuple(classes), _tuples(base), _tuples(head), per_class, rows)


def _binary(scored: Scored) -> tuple[np.ndarray, np.ndarray]:
    return scored.labels == 1, scored.probabilities[:, 1]


def _ranked(truth: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives counted at each distinct score, highest first."""
    order = np.argsort(-score, kind="stable")
    truth, score = truth[order], score[order]
    cuts = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    hits = np.cumsum(truth)[cuts]
    return hits, (cuts + 1) - hits


def _roc(truth: np.ndarray, score: np.ndarray) -> tuple[float | None, ...]:
    positives, negatives = int(truth.sum()), int(len(truth) - truth.sum())
    if not positives or not negatives:
        return (None,) * len(GRID)
    true_positives, false_positives = _ranked(truth, score)
    fpr = np.r_[0.0, false_positives / negatives]
    tpr = np.r_[0.0, true_positives / positives]
    # the highest true positive rate among thresholds whose false positive rate is within x
    reach = np.maximum.accumulate(tpr)
    at = np.searchsorted(fpr, np.asarray(GRID) + 1e-12, side="right") - 1
    return tuple(round(float(reach[i]), 4) for i in at)


def _precision_at_recall(truth: np.ndarray, score: np.ndarray) -> tuple[float | None, ...]:
    positives = int(truth.sum())
    if not positives:
        return (None,) * len(GRID)
    true_positives, false_positives = _ranked(truth, score)
    recall = true_positives / positives
    precision = true_positives / (true_positives + false_positives)
    best = np.maximum.accumulate(precision[::-1])[::-1]  # the best precision at recall >= r
    at = np.searchsorted(recall, np.asarray(GRID) - 1e-12, side="left")
    return tuple(round(float(best[i]), 4) if i < len(best) else None for i in at)


def _calibration(truth: np.ndarray, score: np.ndarray) -> tuple[float | None, ...]:
    bins = np.minimum((score * BINS).astype(np.int64), BINS - 1)
    counts = np.bincount(bins, minlength=BINS)
    hits = np.bincount(bins, weights=truth.astype(np.float64), minlength=BINS)
    return tuple(round(float(hits[i] / counts[i]), 4) if counts[i] else None for i in range(BINS))


def _confusion(scored: Scored, classes: int) -> np.ndarray:
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (scored.labels, scored.predictions), 1)
    return matrix


def _share(part: int, whole: int) -> float | None:
    return round(float(part / whole), 4) if whole else None


def _tuples(matrix: np.ndarray) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(v) for v in row) for row in matrix)
