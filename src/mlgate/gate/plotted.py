"""Curves from the project's own plots, for the report of a project whose gate reads no
predictions: the files dvc.yaml declares as plots whose x and y fields are a ROC curve
(``fpr``/``tpr``), a precision-recall curve (``recall``/``precision``) or a calibration curve
(``prob_pred``/``prob_true``), as dvclive's ``log_sklearn_plot`` and mlgate's evaluate stage
write them, read at both revisions (from git or DVC's cache) and put on the report's grid.

Charts only inform: a plot file that cannot be read is left out with a note, never a verdict.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from mlgate import dvcfiles
from mlgate.errors import MlgateError
from mlgate.gate.curves import (
    BINS,
    GRID,
    PLOTTED,
    Charts,
    ConfusionTables,
    Curve,
    confusion_tables,
    from_points,
    points_on_bins,
    span,
)
from mlgate.git import Revision
from mlgate.snapshot import read_recorded

T = TypeVar("T")
MAX_BYTES = 20 << 20  # a plot file larger than this is not read
MAX_CLASSES = 50  # a confusion plot with more labels is left out, with a note
CONFUSION_TEMPLATES = ("confusion", "confusion_normalized")  # DVC's, for rows of labels
ORDER = ("roc", "precision_recall", "calibration", "predicted_actual")


def charts(base: Revision, head: Revision) -> tuple[Charts | None, list[str]]:
    """The curves both revisions plot, and notes on the plots left out."""
    found: dict[str, Curve] = {}
    sources: list[str] = []
    notes: list[str] = []
    confusion: tuple[str, ConfusionTables] | None = None
    for path, plot in sorted(dvcfiles.declared_plots(head).items()):
        fields = (plot.x, plot.y)
        if plot.template in CONFUSION_TEMPLATES:  # rows of labels, whatever the fields' names
            if confusion is None:
                try:
                    tables = _confusion(base, head, path, fields)
                except MlgateError as exc:
                    notes.append(f"chart left out: {exc}")
                    continue
                if tables is not None:
                    confusion = path, tables
            continue
        kind = PLOTTED.get(fields)
        if kind is None or kind in found:
            continue
        try:
            head_points = _points(head, path, fields)
            base_points = _points(base, path, fields)
        except MlgateError as exc:
            notes.append(f"chart left out: {exc}")
            continue
        if head_points is None:
            continue
        if base_points is None:
            notes.append(f"{path} is new at {head.label}: no {kind} chart to compare")
            continue
        if kind == "predicted_actual":  # each revision binned by its own actual values
            x, base_values = points_on_bins(*base_points)
            head_x, head_values = points_on_bins(*head_points)
            if not x or not head_x:
                continue
            found[kind] = Curve(
                kind, x, base_values, head_values, span(x, base_values, head_values)
            )
        else:
            x = (
                tuple(round((i + 0.5) / BINS, 2) for i in range(BINS))
                if kind == "calibration"
                else GRID
            )
            found[kind] = Curve(
                kind, x, from_points(kind, *base_points), from_points(kind, *head_points)
            )
        sources.append(path)
    if not found and confusion is None:
        return None, notes
    curves = tuple(found[k] for k in ORDER if k in found)
    if confusion is None:
        return Charts((), curves, (), (), (), (0, 0), source=", ".join(sources)), notes
    path, tables = confusion
    source = ", ".join(sorted([*sources, path]))
    return Charts(tables.classes, curves, tables.base, tables.head, tables.per_class,
                  tables.rows, source=source), notes  # fmt: skip


def _confusion(
    base: Revision, head: Revision, path: str, fields: tuple[str, str]
) -> ConfusionTables | None:
    """Both revisions' confusion matrices from a ``confusion`` plot's rows of labels."""
    head_pairs = _labels(head, path, fields)
    base_pairs = _labels(base, path, fields)
    if head_pairs is None or base_pairs is None:
        return None
    seen = {label for pairs in (base_pairs, head_pairs) for column in pairs for label in column}
    if len(seen) > MAX_CLASSES:
        raise MlgateError(f"{path} has more than {MAX_CLASSES} labels: no confusion matrix")
    classes = sorted(seen, key=_label_order)
    return confusion_tables(classes, base_pairs, head_pairs)


def _labels(
    revision: Revision, path: str, fields: tuple[str, str]
) -> tuple[list[str], list[str]] | None:
    return _columns(revision, path, fields, _label, "a confusion plot", "rows with both as labels")


def _label(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError("not a label")
    return str(value)


def _label_order(label: str) -> tuple[int, float, str]:
    """Numbers in numeric order, then the rest in text order."""
    try:
        return 0, float(label), label
    except ValueError:
        return 1, 0.0, label


def _points(revision: Revision, path: str, fields: tuple[str, str]) -> tuple[Any, Any] | None:
    found = _columns(revision, path, fields, float, "a plot", "points with both as numbers")
    if found is None:
        return None
    return np.array(found[0], dtype=np.float64), np.array(found[1], dtype=np.float64)


def _columns(
    revision: Revision,
    path: str,
    fields: tuple[str, str],
    convert: Callable[[Any], T],
    kind: str,
    rows: str,
) -> tuple[list[T], list[T]] | None:
    """The plot file's two fields at ``revision``, each value converted (None: no file)."""
    content = read_recorded(revision, path)
    if content is None:
        return None
    where = f"{path} at {revision.label}"
    if len(content) > MAX_BYTES:
        raise MlgateError(f"{where} is over {MAX_BYTES >> 20} MiB")
    try:
        records = _records(content, path)
        x = [convert(r[fields[0]]) for r in records]
        y = [convert(r[fields[1]]) for r in records]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        # what the file holds is never quoted: a pull request chooses which file this is
        raise MlgateError(
            f"{where} is not {kind} of {fields[0]} and {fields[1]} (a list of {rows})"
        ) from None
    return x, y


def _records(content: bytes, path: str) -> list[Any]:
    """The plot's rows: JSON (a list of objects, or one key holding it), CSV or TSV."""
    if path.endswith(".json"):
        document = json.loads(content)
        if isinstance(document, dict) and len(document) == 1:
            document = next(iter(document.values()))
        if not isinstance(document, list):
            raise ValueError("not a list of points")
        return document
    delimiter = "\t" if path.endswith(".tsv") else ","
    return list(csv.DictReader(io.StringIO(content.decode("utf-8")), delimiter=delimiter))
