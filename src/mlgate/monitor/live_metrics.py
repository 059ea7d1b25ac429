"""Live performance: the predictions a served model logged, joined to the true labels that
arrived later (a chargeback, days on), measured with the gate's metrics and statistics. Pure:
the rows come in as arrays (mlgate.monitor.labels reads them).

Which metrics: those the policy's rules name that labels alone give (accuracy, precision,
recall, f1 for a classifier; mae, rmse, r2 for a regressor: the log keeps the predicted class,
not its probabilities, so roc_auc cannot be measured live); none named, the usual ones.
A rule's ``min``/``max`` bound each window's value; its significance level (0.05 unless it
says) and tolerance decide when one window, or a canary, is worse than another: the bootstrap
interval of the difference lies wholly beyond the tolerance on the worse side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlgate.gate import stats
from mlgate.gate.significance import class_key
from mlgate.measures import HIGHER, LABELS, MEASURES, VALUES, named
from mlgate.policy import Rule

CLASSIFIER_DEFAULT = ("accuracy", "precision", "recall")
REGRESSOR_DEFAULT = ("mae", "rmse")
DEFAULT_SIGNIFICANCE = 0.05
LIVE_READS = (LABELS, VALUES)


@dataclass(frozen=True)
class Labelled:
    """One version's labelled rows: what it predicted and what turned out true, as text."""

    version: str
    predictions: Sequence[str]
    labels: Sequence[str]
    times: Sequence[str] = ()  # each row's log time (for windows)
    ids: Sequence[str] = ()  # each row's request id

    def __len__(self) -> int:
        return len(self.labels)


def aligned(a: Labelled, b: Labelled) -> tuple[Labelled, Labelled]:
    """The rows both versions predicted (a shadow's: the same requests), in one order."""
    rows_b = {row_id: i for i, row_id in enumerate(b.ids)}
    common = [(i, rows_b[row_id]) for i, row_id in enumerate(a.ids) if row_id in rows_b]

    def take(part: Labelled, rows: list[int]) -> Labelled:
        return Labelled(
            part.version,
            [part.predictions[i] for i in rows],
            [part.labels[i] for i in rows],
            [part.times[i] for i in rows] if part.times else (),
            [part.ids[i] for i in rows],
        )

    return take(a, [i for i, _ in common]), take(b, [j for _, j in common])


@dataclass(frozen=True)
class Measured:
    """Metrics to measure live, each with the rule that bounds it (None: the default set)."""

    metrics: dict[str, Rule | None]
    regression: bool

    def confidence(self, metric: str) -> float:
        rule = self.metrics[metric]
        level = rule.significance if rule and rule.significance else DEFAULT_SIGNIFICANCE
        return 1 - level

    def allowed(self, metric: str, value: float) -> float:
        rule = self.metrics[metric]
        return rule.allowed_worsening(value) if rule else 0.0

    def bound_broken(self, metric: str, value: float) -> str | None:
        rule = self.metrics[metric]
        if rule is None or math.isnan(value):
            return None
        if rule.min is not None and value < rule.min:
            return f"{metric} {value:.4f} is below the policy's min {rule.min:g}"
        if rule.max is not None and value > rule.max:
            return f"{metric} {value:.4f} is above the policy's max {rule.max:g}"
        return None


def measured(rules: Sequence[Rule], labels: Sequence[str]) -> Measured:
    """The metrics the policy's rules name that labels give; the usual ones when none do."""
    chosen: dict[str, Rule | None] = {}
    for rule in rules:
        measure = named(rule.key)  # eval/metrics.json:acc, test.accuracy, *.f1
        if measure is not None and measure.reads in LIVE_READS:
            chosen.setdefault(measure.name, rule)
    if chosen:
        regression = {MEASURES[m].reads for m in chosen} == {VALUES}
        if not regression:
            chosen = {m: r for m, r in chosen.items() if MEASURES[m].reads == LABELS}
        return Measured(chosen, regression)
    regression = _looks_like_values(labels)
    defaults = REGRESSOR_DEFAULT if regression else CLASSIFIER_DEFAULT
    return Measured(dict.fromkeys(defaults), regression)


def _looks_like_values(labels: Sequence[str]) -> bool:
    """Numbers with fractions, or more than 20 distinct ones (as train infers its task)."""
    distinct = set(labels)
    try:
        numbers = [float(v) for v in distinct]
    except ValueError:
        return False
    return len(distinct) > 20 or any(not n.is_integer() for n in numbers if math.isfinite(n))


def data(parts: Sequence[Labelled], how: Measured) -> list[stats.Scored | stats.Valued]:
    """Each part as the gate's statistics take it, classes indexed over all parts at once."""
    if how.regression:
        return [_valued(part) for part in parts]
    labelled = {class_key(v) for part in parts for v in part.labels}
    predicted = {class_key(v) for part in parts for v in part.predictions}
    if labelled and predicted and not labelled & predicted:
        raise ValueError(
            f"the labels ({_classes(labelled)}) share no class with the predictions "
            f"({_classes(predicted)}): are they labels of this model's target?"
        )
    seen = labelled | predicted
    if len(seen) == 1:
        seen |= {0.0, 1.0} if seen <= {0.0, 1.0} else set()
    classes = sorted(seen, key=lambda c: (isinstance(c, str), c))
    index = {c: i for i, c in enumerate(classes)}
    uniform = 1.0 / max(len(classes), 1)
    out: list[stats.Scored | stats.Valued] = []
    for part in parts:
        lookup = {text: index[class_key(text)] for text in {*part.labels, *part.predictions}}
        out.append(
            stats.Scored(
                np.fromiter(map(lookup.__getitem__, part.labels), np.intp, len(part)),
                np.fromiter(map(lookup.__getitem__, part.predictions), np.intp, len(part)),
                np.full((len(part), max(len(classes), 2)), uniform),
            )
        )
    return out


def _classes(keys: set[object]) -> str:
    shown = sorted(str(int(k)) if isinstance(k, float) and k.is_integer() else str(k) for k in keys)
    return ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")


def _valued(part: Labelled) -> stats.Valued:
    def numbers(values: Sequence[str], what: str) -> stats.Floats:
        try:
            array = np.asarray(values, dtype=np.float64)
        except ValueError:
            raise ValueError(f"{part.version}: a {what} that is not a number") from None
        if not np.isfinite(array).all():
            raise ValueError(f"{part.version}: a {what} that is not a finite number")
        return array

    return stats.Valued(numbers(part.labels, "label"), numbers(part.predictions, "prediction"))


def values(part: stats.Scored | stats.Valued, how: Measured) -> dict[str, float]:
    if not len(part):
        return dict.fromkeys(how.metrics, math.nan)
    return {m: stats.point_estimate(m, part) for m in how.metrics}


def compare(
    base: stats.Scored | stats.Valued,
    head: stats.Scored | stats.Valued,
    how: Measured,
    *,
    paired: bool,
    resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = stats.DEFAULT_SEED,
) -> dict[str, stats.Difference]:
    """head minus base for each metric, with its interval at the rule's level."""
    levels = {m: how.confidence(m) for m in how.metrics}
    return stats.compare(levels, base, head, paired=paired, resamples=resamples, seed=seed)


def worse(difference: stats.Difference, how: Measured) -> bool:
    """The whole interval lies beyond the rule's tolerance on the worse side."""
    allowed = how.allowed(difference.metric, difference.base)
    if MEASURES[difference.metric].better == HIGHER:
        return difference.high < -allowed
    return difference.low > allowed


def better(difference: stats.Difference) -> bool:
    if MEASURES[difference.metric].better == HIGHER:
        return difference.low > 0
    return difference.high < 0


@dataclass(frozen=True)
class Window:
    start: str  # the window's first day (or hour), as the log's timestamps begin
    rows: int
    values: dict[str, float]
    problems: tuple[str, ...]  # bounds broken, or significantly worse than the first window


@dataclass(frozen=True)
class Performance:
    """One version's live metrics over every labelled row, and window by window."""

    version: str
    rows: int
    values: dict[str, float]
    windows: tuple[Window, ...]
    problems: tuple[str, ...]  # the version's own bounds broken, and each window's problems


def performance(
    part: Labelled,
    how: Measured,
    *,
    window_chars: int,
    min_rows: int,
    resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = stats.DEFAULT_SEED,
) -> Performance:
    """``window_chars``: how much of the log's timestamp names a window (10: a day, 13: an
    hour). A window of fewer than ``min_rows`` rows is shown but not judged."""
    [whole] = data([part], how)
    overall = values(whole, how)
    problems = [p for m, v in overall.items() if (p := how.bound_broken(m, v))]
    starts = np.asarray([t[:window_chars] for t in part.times]) if len(part.times) else None
    windows: list[Window] = []
    first: stats.Scored | stats.Valued | None = None
    if starts is not None:
        for start in sorted(set(starts.tolist())):
            rows = np.flatnonzero(starts == start)
            sub = whole.take(rows)
            found = values(sub, how)
            said: list[str] = []
            if len(rows) >= min_rows:
                said += [p for m, v in found.items() if (p := how.bound_broken(m, v))]
                if first is None:
                    first = sub
                else:
                    differences = compare(
                        first, sub, how, paired=False, resamples=resamples, seed=seed
                    )
                    said += [
                        f"{d.metric} {d.head:.4f} is worse than the first window's "
                        f"{d.base:.4f} ({d.confidence:.0%} interval of the change "
                        f"{d.low:+.4f} to {d.high:+.4f})"
                        for d in differences.values()
                        if worse(d, how)
                    ]
            windows.append(Window(start, len(rows), found, tuple(said)))
    for w in windows:
        problems += [f"{w.start}: {p}" for p in w.problems]
    return Performance(part.version, len(part), overall, tuple(windows), tuple(problems))
