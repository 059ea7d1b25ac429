"""Is a metric's change real? Per-example predictions at two revisions, paired by row id.

Reads the policy's predictions file (``id,label,prediction,score``, or one ``score_<class>``
column per class; a regression model's ``id,label,prediction`` of numbers) at both revisions from git, or through DVC when it lives in the cache, checks
it, pairs the rows by id, and hands them to the bootstrap in ``stats``. Loaded (with NumPy) only
when a rule asks for significance.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlgate.errors import DataError
from mlgate.gate import curves, stats

if TYPE_CHECKING:
    from mlgate.gate.slicing import SliceReport
    from mlgate.policy import Slicing

REQUIRED_COLUMNS = ("id", "label", "prediction")
SAME_ORDER = np.arange(0)  # a marker: head's rows are in base's order already
BINARY_SCORE = "score"
CLASS_SCORE_PREFIX = "score_"


@dataclass(frozen=True)
class Predictions:
    """One revision's predictions file, checked but not yet tied to classes."""

    where: str  # "eval/predictions.csv at main (1a2b3c4d)"
    ids: list[str]
    labels: list[str]
    predicted: list[str]
    classes: tuple[str, ...]  # from the score_<class> columns; () for a binary ``score``
    scores: stats.Floats  # rows x score columns (none for a regression model's values)
    values: stats.Floats | None = None  # a regression model's: rows x (label, prediction)
    columns: dict[str, list[str]] = field(default_factory=dict)  # every column, as read

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Significance:
    differences: dict[str, stats.Difference]  # by prediction metric (config.PREDICTION_METRICS)
    paired: bool
    notes: tuple[str, ...] = ()
    rows: tuple[int, int] = (0, 0)  # the predictions' rows at base and at head
    charts: curves.Charts | None = None  # what the report draws of both revisions
    slices: SliceReport | None = None  # each slice's verdicts, when the policy slices


@dataclass(frozen=True)
class PredictionsFile:
    """The policy's predictions file as one revision holds it (read by gate.compare)."""

    label: str  # the revision's, as reports name it: "main (1a2b3c4d)"
    content: bytes | None  # None: not at that revision


def measure(
    base: PredictionsFile,
    head: PredictionsFile,
    path: str,
    levels: Mapping[str, float],
    resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = stats.DEFAULT_SEED,
    *,
    draw: bool = False,
    slicing: Slicing | None = None,
) -> Significance:
    """Each statistic's difference at its confidence level (``levels``: "roc_auc" -> 0.95);
    ``draw``: the charts of both revisions too (for a report that shows them); ``slicing``:
    each slice's tests too.

    Raises DataError when the predictions cannot be used at either revision.
    """
    metrics = [*levels, *(rule.key for rule in (slicing.rules if slicing else ()))]
    values = [m for m in dict.fromkeys(metrics) if m in stats.VALUE_METRICS]
    if values and len(values) < len(dict.fromkeys(metrics)):
        classes = ", ".join(m for m in dict.fromkeys(metrics) if m not in stats.VALUE_METRICS)
        raise DataError(
            f"the policy tests {', '.join(values)} (a regression model's) and {classes} (a "
            "classifier's) on one predictions file"
        )
    base_predictions = read_predictions(base, path, values=bool(values))
    head_predictions = read_predictions(head, path, values=bool(values))
    base_data: stats.Scored | stats.Valued
    head_data: stats.Scored | stats.Valued
    if values:  # a regression model's predicted values
        base_data, head_data = _values_of(base_predictions), _values_of(head_predictions)
    else:
        base_data, head_data = _scored(base_predictions, head_predictions)
    head_data, paired, notes, order = _paired(
        base_predictions, head_predictions, base_data, head_data
    )
    differences = (
        stats.compare(levels, base_data, head_data, paired=paired, resamples=resamples, seed=seed)
        if levels
        else {}
    )
    for tested in differences.values():
        if tested.unjudged is not None:
            raise DataError(
                f"{path} at {base.label} and {head.label}: cannot judge {tested.metric}: the "
                f"{tested.test} {tested.unjudged} ({_classes_seen(base_predictions)} at base, "
                f"{_classes_seen(head_predictions)} at head); a verdict needs finite numbers"
            )
    rows = (len(base_predictions), len(head_predictions))
    drawn = None
    if draw and isinstance(base_data, stats.Valued) and isinstance(head_data, stats.Valued):
        drawn = curves.value_charts(base_data, head_data)
    elif draw and isinstance(base_data, stats.Scored) and isinstance(head_data, stats.Scored):
        names = _class_names(base_predictions, head_predictions)
        drawn = curves.charts(names, base_data, head_data)
    sliced = None
    if slicing is not None:
        from mlgate.gate import slices

        head_columns = head_predictions.columns
        if order is not None and order is not SAME_ORDER:
            head_columns = {k: [v[i] for i in order] for k, v in head_columns.items()}
        sliced = slices.measure(
            slicing,
            base_predictions.columns,
            head_columns,
            base_data,
            head_data,
            paired=paired,
            ids=base_predictions.ids,
            where=(base_predictions.where, head_predictions.where),
            resamples=resamples,
            seed=seed,
        )
    return Significance(differences, paired, notes, rows, drawn, sliced)


def _classes_seen(predictions: Predictions) -> str:
    """ "labels of 2 classes", for a message on a test that could not be scored."""
    if predictions.values is not None:
        return f"{len(predictions)} rows"
    count = len(set(predictions.labels))
    return f"labels of {count} class{'es' if count != 1 else ''}"


def _values_of(predictions: Predictions) -> stats.Valued:
    assert predictions.values is not None  # read with values=True
    return stats.Valued(predictions.values[:, 0], predictions.values[:, 1])


def _paired(
    base: Predictions,
    head: Predictions,
    base_data: stats.Scored | stats.Valued,
    head_data: stats.Scored | stats.Valued,
) -> tuple[Any, bool, tuple[str, ...], stats.NDArray[np.intp] | None]:
    """Head's rows in base's order when both scored the same ids with the same labels:
    (head's data, paired, notes saying why not, head's rows in base's order or SAME_ORDER)."""
    order = _pairing(base, head)
    if order is None:
        return head_data, False, (_unpaired_reason(base, head),), None
    if order is not SAME_ORDER:
        head_data = head_data.take(order)
    relabelled = int(np.sum(base_data.labels != head_data.labels))
    if relabelled:
        return (
            head_data,
            False,
            (
                f"unpaired comparison: the same row ids, but {relabelled:,} of them have "
                "another label at head, so each revision was resampled on its own",
            ),
            order,
        )
    return head_data, True, (), order


def read_predictions(file: PredictionsFile, path: str, *, values: bool = False) -> Predictions:
    where = f"{path} at {file.label}"
    content = file.content
    if content is None:
        raise DataError(
            f"{where} is missing (the policy's predictions file; run `dvc repro`, "
            "or `dvc pull` if it is cached)"
        )
    return parse_predictions(content, where, values=values)


def parse_predictions(content: bytes, where: str, *, values: bool = False) -> Predictions:
    """A classifier's file (``values`` False: scores required), or a regression model's
    (``values``: numbers in label and prediction)."""
    try:
        header, columns = _read_columns(content.decode("utf-8-sig"), where)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{where} is not a readable CSV file: {exc}") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if values:
        return _valued(header, columns, missing, where)
    score_columns = _score_columns(header)
    lacking = missing + ([] if score_columns else ["score (or score_<class> columns)"])
    ids = _row_ids(columns, lacking, header, where)
    scores = np.column_stack([_numbers(columns[name], name, where) for name in score_columns])
    classes = tuple(
        name[len(CLASS_SCORE_PREFIX) :] for name in score_columns if name != BINARY_SCORE
    )
    return Predictions(
        where, ids, columns["label"], columns["prediction"], classes, scores, columns=columns
    )


def _read_columns(text: str, where: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header and each column's values."""
    header, widths, fields = _quoted_fields(text) if '"' in text else _plain_fields(text)
    if not widths:
        raise DataError(f"{where} is empty")
    header = [name.strip() for name in header]
    if len(set(widths)) > 1:
        line = next(n for n, width in enumerate(widths, start=1) if width != len(header))
        raise DataError(
            f"{where}: line {line} has {widths[line - 1]} fields, the header {len(header)}"
        )
    return header, {name: fields[k :: len(header)] for k, name in enumerate(header)}


def _plain_fields(text: str) -> tuple[list[str], list[int], list[str]]:
    """(header, fields per line, every body field in order) of a CSV without quotes, what
    pipelines write: a few whole-text string operations, 100,000 rows in about 50 ms, several
    times faster than the csv module."""
    lines = [line for line in text.splitlines() if line]
    if not lines:
        return [], [], []
    widths = [commas + 1 for commas in map(_commas, lines)]
    body = ",".join(lines[1:]).split(",") if len(lines) > 1 else []
    return lines[0].split(","), widths, body


def _quoted_fields(text: str) -> tuple[list[str], list[int], list[str]]:
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        return [], [], []
    return rows[0], list(map(len, rows)), [field for row in rows[1:] for field in row]


def _commas(line: str) -> int:
    return line.count(",")


def _score_columns(header: list[str]) -> list[str]:
    if BINARY_SCORE in header:
        return [BINARY_SCORE]
    return [name for name in header if name.startswith(CLASS_SCORE_PREFIX)]


def _valued(
    header: list[str], columns: dict[str, list[str]], missing: list[str], where: str
) -> Predictions:
    """A regression model's file: label and prediction are numbers."""
    scores = _score_columns(header)
    if scores:
        raise DataError(
            f"{where} has {', '.join(scores)}: a classifier's predictions, and the policy tests "
            f"a regression model's measures ({', '.join(stats.VALUE_METRICS)}) on it"
        )
    ids = _row_ids(columns, missing, header, where)
    found = np.column_stack(
        [_finite(columns[name], name, where) for name in ("label", "prediction")]
    )
    empty = np.empty((len(ids), 0))
    return Predictions(
        where, ids, columns["label"], columns["prediction"], (), empty, found, columns
    )


def _finite(values: list[str], column: str, where: str) -> stats.Floats:
    try:
        numbers = np.array(values, dtype=np.float64)
    except ValueError:  # some text is no number: each is read alone, to name the first
        numbers = np.array([float(v) if _is_float(v) else math.nan for v in values])
    bad = ~np.isfinite(numbers)
    if bad.any():
        line = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{where}: {column} {values[line]!r} on line {line + 2} is not a finite number "
            f"({_rows(int(bad.sum()))} in all): a regression model's file holds numbers"
        )
    return numbers


def _row_ids(
    columns: dict[str, list[str]], lacking: list[str], header: list[str], where: str
) -> list[str]:
    """The file's row ids, once it has every column it needs and rows whose ids are unique."""
    if lacking:
        raise DataError(
            f"{where} lacks the column{'s' if len(lacking) > 1 else ''} "
            f"{', '.join(lacking)} (it has: {', '.join(header)})"
        )
    ids = columns["id"]
    if not ids:
        raise DataError(f"{where} has no rows")
    _check_unique(ids, where)
    return ids


def _check_unique(ids: list[str], where: str) -> None:
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        repeated = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise DataError(
            f"{where}: id {repeated!r} appears more than once (ids pair the rows "
            "of two revisions, so each must be unique)"
        )


def _numbers(values: list[str], column: str, where: str) -> stats.Floats:
    try:
        numbers = np.array(values, dtype=np.float64)
    except ValueError:
        line, text = next((n, v) for n, v in enumerate(values, start=2) if not _is_float(v))
        raise DataError(f"{where}: {column} {text!r} on line {line} is not a number") from None
    outside = ~((numbers >= 0) & (numbers <= 1))  # NaN is outside too
    if outside.any():
        line = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"{where}: {column} is {values[line]!r} on line {line + 2} "
            f"({_rows(int(outside.sum()))} in all): scores must be probabilities "
            "from 0 to 1"
        )
    return numbers


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _scored(base: Predictions, head: Predictions) -> tuple[stats.Scored, stats.Scored]:
    """Both revisions as class indices over one list of classes."""
    if (base.classes == ()) != (head.classes == ()) or set(base.classes) != set(head.classes):
        raise DataError(
            f"mismatched columns: {base.where} has {_columns(base)}, "
            f"{head.where} has {_columns(head)}"
        )
    if base.classes:
        classes = [class_key(c) for c in base.classes]
        head_order = [classes.index(class_key(c)) for c in head.classes]
        head_scores = np.empty_like(head.scores)
        head_scores[:, head_order] = head.scores
        return (_indexed(base, classes, base.scores), _indexed(head, classes, head_scores))
    classes = _binary_classes(base, head)
    return tuple(  # type: ignore[return-value]
        _indexed(p, classes, np.column_stack([1 - p.scores[:, 0], p.scores[:, 0]]))
        for p in (base, head)
    )


def _class_names(base: Predictions, head: Predictions) -> list[str]:
    """The classes as reports name them, in the order of the probability columns."""
    if base.classes:
        return list(base.classes)
    return [_shown_class(c) for c in _binary_classes(base, head)]


def _shown_class(key: object) -> str:
    """A class key as the file writes it: 1.0 as "1"."""
    return str(int(key)) if isinstance(key, float) and key.is_integer() else str(key)


def _columns(predictions: Predictions) -> str:
    if not predictions.classes:
        return "'score'"
    return ", ".join(f"'{CLASS_SCORE_PREFIX}{c}'" for c in predictions.classes)


def _binary_classes(base: Predictions, head: Predictions) -> list[object]:
    """The two classes, the positive one (what ``score`` is the probability of) last, sorted
    as scikit-learn sorts a model's classes."""
    base_seen, head_seen = ({class_key(v) for v in {*p.labels, *p.predicted}} for p in (base, head))
    seen = base_seen | head_seen
    if len(seen) > 2:
        raise DataError(
            f"{_where_classes(base, head, base_seen, head_seen)}: {len(seen)} classes but one "
            "'score' column: a multi-class file has one score_<class> column per class"
        )
    if len(seen) < 2:
        seen |= {0.0, 1.0} if seen <= {0.0, 1.0} else set()
    if len(seen) < 2:
        raise DataError(
            f"{base.where} and {head.where}: only the class {next(iter(seen))!r} appears, so "
            "which class 'score' is the probability of is unknown"
        )
    return sorted(seen, key=lambda c: (isinstance(c, str), c))


def _where_classes(
    base: Predictions, head: Predictions, base_seen: set[object], head_seen: set[object]
) -> str:
    """Which revision brings the classes the other lacks: the one to blame, named with them."""
    said = []
    for side, own, other in ((base, base_seen, head_seen), (head, head_seen, base_seen)):
        extra = sorted(map(_shown_class, own - other))
        if extra:
            said.append(f"{side.where} has {', '.join(map(repr, extra[:5]))} that the other lacks")
    return "; ".join(said) or f"{base.where} and {head.where}"


def class_key(value: str) -> object:
    """Class labels compare as numbers when they are numbers: "1" and "1.0" are one class."""
    try:
        number = float(value)
    except ValueError:
        return value.strip()
    return number if math.isfinite(number) else value.strip()


def _indexed(
    predictions: Predictions, classes: list[object], probabilities: stats.Floats
) -> stats.Scored:
    index = {c: i for i, c in enumerate(classes)}

    def indices(values: list[str], column: str) -> stats.NDArray[np.intp]:
        """Each distinct text is resolved once: a column of 100,000 rows has a few."""
        known: dict[str, int] = {}
        for text in set(values):
            key = class_key(text)
            if key not in index:
                raise DataError(
                    f"{predictions.where}: {column} {text!r} is not one of the "
                    f"classes scored ({', '.join(map(str, classes))})"
                )
            known[text] = index[key]
        return np.fromiter(map(known.__getitem__, values), dtype=np.intp, count=len(values))

    return stats.Scored(
        indices(predictions.labels, "label"),
        indices(predictions.predicted, "prediction"),
        probabilities,
    )


def _pairing(base: Predictions, head: Predictions) -> stats.NDArray[np.intp] | None:
    """Head's rows in base's order (SAME_ORDER when they already are); None: the row sets
    differ, so the comparison is unpaired."""
    if base.ids == head.ids:
        return SAME_ORDER
    if len(base.ids) != len(head.ids) or set(base.ids) != set(head.ids):
        return None
    position = {row_id: i for i, row_id in enumerate(head.ids)}
    return np.fromiter((position[i] for i in base.ids), dtype=np.intp, count=len(base.ids))


def _unpaired_reason(base: Predictions, head: Predictions) -> str:
    base_ids, head_ids = set(base.ids), set(head.ids)
    return (
        f"unpaired comparison: the test rows differ between the revisions "
        f"({len(base_ids - head_ids):,} rows only at base, {len(head_ids - base_ids):,} only "
        f"at head), so each revision was resampled on its own"
    )
