"""The gate's charts as Markdown: Mermaid ``xychart-beta`` line charts (GitHub draws them in
comments and job summaries, with no image host) and tables for the confusion matrices.

Nothing a pull request controls goes inside a diagram: titles and axis names are ours, values
are numbers we format; revision labels and class names appear only in the Markdown around it,
escaped. A chart's colours are set in its front matter, so the text legend under it can name
them. A missing value (a calibration bin with no rows) cannot be drawn: the line is carried
flat across it, and the reading under the chart says which bins were empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlgate import escape
from mlgate.render.table import table

if TYPE_CHECKING:
    from mlgate.gate.curves import Charts, Curve

BASE_COLOUR, HEAD_COLOUR = "#1f77b4", "#d62728"  # blue, red
MAX_DIAGRAM = 50_000  # characters Mermaid parses in one diagram
TITLES = {
    "roc": ("ROC", "false positive rate", "true positive rate", "ROC curve"),
    "precision_recall": ("Precision-recall", "recall", "precision", "precision-recall curve"),
    "calibration": ("Calibration", "predicted probability", "observed share", "calibration"),
    "predicted_actual": (
        "Predicted against actual",
        "actual value (tenths of the rows)",
        "mean predicted",
        "mean prediction",
    ),
    "errors": (
        "Absolute error",
        "actual value (tenths of the rows)",
        "mean absolute error",
        "error",
    ),
}
_CLOSE = 0.005  # differences smaller than this are "the same" in a reading


def charts_markdown(charts: Charts, base_label: str, head_label: str) -> list[str]:
    """The charts section's lines: each curve with its legend and reading, the confusion
    matrices, per-class precision and recall."""
    lines = ["", "### Charts", ""]
    drawn_from = (
        f"from {escape.code(charts.source)}"
        if charts.source
        else f"{charts.rows[0]:,} and {charts.rows[1]:,} rows of predictions"
    )
    legend = (
        f"Blue: base {escape.code(base_label)}; red: head {escape.code(head_label)} ({drawn_from})."
    )
    for curve in charts.curves:
        lines += [*mermaid(curve), "", legend + " " + reading(curve), ""]
    if not charts.classes:  # plots other than a confusion plot: curves only
        return lines
    if not charts.curves and not charts.source:  # from predictions: more than two classes
        lines += ["Curves are drawn for two-class models; per-class figures below.", ""]
    lines += _confusion(charts)
    lines += _per_class(charts)
    return lines


def mermaid(curve: Curve) -> list[str]:
    title, x_name, y_name, _ = TITLES[curve.name]
    diagram = [
        "---",
        "config:",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{BASE_COLOUR}, {HEAD_COLOUR}"',
        "---",
        "xychart-beta",
        f'  title "{title}"',
        f'  x-axis "{x_name}" [{", ".join(_number(x) for x in curve.x)}]',
        f'  y-axis "{y_name}" {_number(curve.y_range[0])} --> {_number(curve.y_range[1])}',
        f"  line [{', '.join(_number(v) for v in _drawable(curve.base))}]",
        f"  line [{', '.join(_number(v) for v in _drawable(curve.head))}]",
    ]
    text = "\n".join(diagram)
    if len(text) > MAX_DIAGRAM:  # cannot happen with the fixed grids; a guard for changes
        raise ValueError(f"the {curve.name} chart is {len(text):,} characters")
    return ["```mermaid", text, "```"]


def reading(curve: Curve) -> str:
    """One sentence: where head's curve lies against base's."""
    _, x_name, _, what = TITLES[curve.name]
    pairs = [
        (x, b, h)
        for x, b, h in zip(curve.x, curve.base, curve.head, strict=True)
        if b is not None and h is not None
    ]
    if not pairs:
        return f"No {what} can be drawn (one class is missing from the labels)."
    if curve.name in ("predicted_actual", "errors"):
        return _value_reading(curve, pairs)
    if curve.name == "calibration":
        gaps = [(abs(h - x) - abs(b - x), x) for x, b, h in pairs]
        closer = sum(1 for gap, _ in gaps if gap < -_CLOSE)
        further = sum(1 for gap, _ in gaps if gap > _CLOSE)
        empty = [
            _number(x)
            for x, b, h in zip(curve.x, curve.base, curve.head, strict=True)
            if b is None or h is None
        ]
        text = (
            f"Head is closer to the diagonal than base in {closer} of {len(pairs)} bins, "
            f"further in {further}."
        )
        if empty:
            text += f" Bins without rows at one revision (drawn flat): {', '.join(empty)}."
        return text
    below = [x for x, b, h in pairs if h < b - _CLOSE]
    above = [x for x, b, h in pairs if h > b + _CLOSE]
    if not below and not above:
        return f"Head's {what} matches base's at every {x_name} (within {_CLOSE})."
    if not above:
        return f"Head's {what} lies below base's at {_where(below, x_name, pairs)}."
    if not below:
        return f"Head's {what} lies above base's at {_where(above, x_name, pairs)}."
    return (
        f"Head's {what} lies below base's at {_where(below, x_name, pairs)}, "
        f"above at {_where(above, x_name, pairs)}."
    )


def _value_reading(curve: Curve, pairs: Sequence[tuple[float, float, float]]) -> str:
    """In how many tenths of the rows head is nearer the truth than base: the actual value
    for predictions, zero for errors."""
    if curve.name == "errors":
        gaps = [h - b for _, b, h in pairs]
        what = "Head's mean absolute error is lower than base's"
    else:
        gaps = [abs(h - x) - abs(b - x) for x, b, h in pairs]
        what = "Head's mean prediction is closer to the actual value than base's"
    scale = (curve.y_range[1] - curve.y_range[0]) or 1.0  # the chart's own height
    nearer = sum(1 for gap in gaps if gap < -_CLOSE * scale)
    further = sum(1 for gap in gaps if gap > _CLOSE * scale)
    return f"{what} in {nearer} of {len(pairs)} tenths of the rows, {'higher' if curve.name == 'errors' else 'further'} in {further}."


def _where(points: Sequence[float], x_name: str, pairs: Sequence[tuple[float, ...]]) -> str:
    if len(points) == len(pairs):
        return f"every {x_name}"
    if len(points) == 1:
        return f"{x_name} {_number(points[0])}"
    return f"{len(points)} of {len(pairs)} {x_name}s from {_number(points[0])} to {_number(points[-1])}"


def _drawable(values: Sequence[float | None]) -> list[float]:
    """None carried flat from the value before (or after, at the start)."""
    known = [v for v in values if v is not None]
    last = known[0] if known else 0.0
    drawn = []
    for value in values:
        last = value if value is not None else last
        drawn.append(last)
    return drawn


def _number(value: float) -> str:
    return f"{value:.4g}"


def _confusion(charts: Charts) -> list[str]:
    names = [escape.markdown(c) for c in charts.classes]
    rows = []
    for k, name in enumerate(names):
        cells = [name]
        for j in range(len(names)):
            base, head = charts.base_confusion[k][j], charts.head_confusion[k][j]
            change = head - base
            cells.append(f"{head:,} ({change:+,})" if change else f"{head:,}")
        rows.append(cells)
    return [
        "Confusion matrix at head, rows the true class, columns the predicted one (change "
        "from base in brackets):",
        "",
        *table(["true \\ predicted", *names], rows, markdown=True),
        "",
    ]


def _per_class(charts: Charts) -> list[str]:
    rows = [
        [
            escape.markdown(f.name),
            _share(f.base_precision),
            _share(f.head_precision),
            _share(f.base_recall),
            _share(f.head_recall),
        ]
        for f in charts.per_class
    ]
    return [
        *table(
            ["class", "precision, base", "precision, head", "recall, base", "recall, head"],
            rows,
            markdown=True,
        ),
        "",
    ]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
