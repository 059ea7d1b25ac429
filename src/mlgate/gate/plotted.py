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
from typing import Any

import numpy as np

from mlgate import dvcfiles
from mlgate.errors import MlgateError
from mlgate.gate.curves import (
    BINS,
    GRID,
    PLOTTED,
    Charts,
    Curve,
    from_points,
    points_on_bins,
    span,
)
from mlgate.git import Revision
from mlgate.snapshot import read_recorded

MAX_BYTES = 20 << 20  # a plot file larger than this is not read
ORDER = ("roc", "precision_recall", "calibration", "predicted_actual")


def charts(base: Revision, head: Revision) -> tuple[Charts | None, list[str]]:
    """The curves both revisions plot, and notes on the plots left out."""
    found: dict[str, Curve] = {}
    sources: list[str] = []
    notes: list[str] = []
    for path, fields in sorted(dvcfiles.declared_plots(head).items()):
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
    if not found:
        return None, notes
    curves = tuple(found[k] for k in ORDER if k in found)
    return Charts((), curves, (), (), (), (0, 0), source=", ".join(sources)), notes


def _points(revision: Revision, path: str, fields: tuple[str, str]) -> tuple[Any, Any] | None:
    content = read_recorded(revision, path)
    if content is None:
        return None
    where = f"{path} at {revision.label}"
    if len(content) > MAX_BYTES:
        raise MlgateError(f"{where} is over {MAX_BYTES >> 20} MiB")
    try:
        records = _records(content, path)
        x = np.array([float(r[fields[0]]) for r in records], dtype=np.float64)
        y = np.array([float(r[fields[1]]) for r in records], dtype=np.float64)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        # what the file holds is never quoted: a pull request chooses which file this is
        raise MlgateError(
            f"{where} is not a plot of {fields[0]} and {fields[1]} (a list of points with both "
            "as numbers)"
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
