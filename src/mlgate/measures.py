"""One table of the metrics mlgate knows by name: which way is better, what they need, what
else people call them. Pure data.

Each measure is computed in two places that must agree with this table, and tests hold them
to it: the pipeline's evaluate stage (scikit-learn, ``pipeline/evaluate.py``) and the gate's
bootstrap (``gate/stats.py``, which resamples each one). A metric not in the table can still be
gated by its value (any numeric metric can); significance needs it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["higher", "lower"]
HIGHER: Direction = "higher"
LOWER: Direction = "lower"
LABELS, SCORES = "labels", "scores"  # what a measure reads of the predictions
VALUES = "values"  # a regression measure: the predicted values against the true ones


@dataclass(frozen=True)
class Measure:
    name: str
    better: str  # HIGHER or LOWER
    reads: str  # LABELS (the confusion matrix is enough), SCORES (the probabilities), VALUES
    aliases: tuple[str, ...] = ()


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("accuracy", HIGHER, LABELS, ("acc",)),
        Measure("precision", HIGHER, LABELS),
        Measure("recall", HIGHER, LABELS),
        Measure("f1", HIGHER, LABELS, ("f1_score",)),
        Measure("roc_auc", HIGHER, SCORES, ("auc", "roc_auc_score")),
        Measure("average_precision", HIGHER, SCORES, ("ap",)),
        Measure("log_loss", LOWER, SCORES, ("logloss",)),
        Measure("mae", LOWER, VALUES, ("mean_absolute_error",)),
        Measure("rmse", LOWER, VALUES, ("root_mean_squared_error",)),
        Measure("r2", HIGHER, VALUES, ("r2_score",)),
    )
}
ALIASES = {alias: m.name for m in MEASURES.values() for alias in m.aliases}

# Words in any other metric's name that say lower is better (for the rest, higher is).
LOWER_IS_BETTER_WORDS = ("loss", "error", "mae", "mse", "rmse", "mape", "brier")


def named(metric: str) -> Measure | None:
    """The measure a metric key names (``test.roc_auc``, ``eval/m.json:auc`` -> roc_auc)."""
    name = metric.rsplit(":", 1)[-1].rsplit(".", 1)[-1].lower()
    return MEASURES.get(ALIASES.get(name, name))


def better(metric: str) -> str:
    """Which way is better for a metric key: the table's answer for a known measure; lower for
    a loss or an error by any part of its dotted name (val_loss, rmse, mean_absolute_error);
    else higher."""
    known = named(metric)
    if known is not None:
        return known.better
    parts = [part.lower() for part in metric.rsplit(":", 1)[-1].split(".")]
    if any(word in part for part in parts for word in LOWER_IS_BETTER_WORDS):
        return LOWER
    return HIGHER
