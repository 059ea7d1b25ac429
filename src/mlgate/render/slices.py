"""The slice gate in a report: the worst slices as a table, a bar chart of their changes, and
the JSON of every slice.

Slice names are text from the predictions file a pull request wrote: they reach a table only
through ``table`` (escaped for its sink) and never a diagram, whose bars are numbered as the
table's rows are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate import escape
from mlgate.gate.judge import FAIL, PASS
from mlgate.render.charts import HEAD_COLOUR, MAX_DIAGRAM
from mlgate.render.table import difference_json, table

if TYPE_CHECKING:
    from mlgate.gate.slicing import SliceOutcome, SliceReport

TOP = 10  # the slices a report lists
CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
_MARKS = {PASS: ":white_check_mark: ", FAIL: ":x: ", "warn": ":warning: "}


def summary(report: SliceReport) -> str | None:
    """What the verdict line says of the slices when they fail it, or None."""
    if report.distrusted is not None:
        return f"slices not judged: {report.distrusted}"
    failures = report.failures
    if not failures:
        return None
    names = ", ".join(dict.fromkeys(f"{o.rule.key} on {o.slice.name}" for o in failures[:3]))
    more = f" and {len(failures) - 3} more" if len(failures) > 3 else ""
    count = len(failures)
    return f"{count} slice{'' if count == 1 else 's'} significantly worse ({names}{more})"


def lines(report: SliceReport, *, markdown: bool) -> list[str]:
    """The section's text: what was judged, the worst slices, what was not judged."""
    judged, found = report.judged(), report.judged(declared=False)
    small = sum(1 for o in report.outcomes if o.status == "small")
    unjudged = sum(1 for o in report.outcomes if o.status == "unjudged")
    columns = ", ".join(report.columns)
    said = [
        f"{len(judged)} slice tests of {escape.code(columns) if markdown else escape.one_line(columns)} "
        f"({CORRECTIONS[report.correction]} correction across each rule's slices, at least "
        f"{report.min_rows:,} rows each)"
        + (f"; {len(found)} pairs of their values searched, as warnings" if found else "")
        + f": {len(report.failures)} failed, {len(report.warnings)} warned."
    ]
    if small or unjudged:
        said.append(
            f"Not judged: {small} slice{'' if small == 1 else 's'} with fewer rows, "
            f"{unjudged} whose test is not a finite number."
        )
    if report.distrusted is not None:
        said.append(f"No slice can pass: {report.distrusted}.")
    rows = [_row(k, o, markdown=markdown) for k, o in enumerate(report.worst(TOP), start=1)]
    header = ["#", "slice", "metric", "rows", "base", "head", "change", "adjusted p", "verdict"]
    return [" ".join(said), "", *table(header, rows, markdown=markdown)]


def chart(report: SliceReport) -> list[str]:
    """A Mermaid bar chart of the listed slices' changes (head minus base), numbered as the
    table's rows; nothing when no slice has a finite change."""
    shown = [o for o in report.worst(TOP) if o.tested is not None]
    if not shown:
        return []
    changes = [o.tested.difference for o in shown if o.tested is not None]
    low, high = min(0.0, *changes), max(0.0, *changes)
    pad = (high - low) * 0.1 or 0.01
    diagram = "\n".join(
        [
            "---",
            "config:",
            "  themeVariables:",
            "    xyChart:",
            f'      plotColorPalette: "{HEAD_COLOUR}"',
            "---",
            "xychart-beta",
            '  title "Worst slices: head minus base"',
            f'  x-axis "slice (# in the table)" [{", ".join(str(k) for k in range(1, len(shown) + 1))}]',
            f'  y-axis "change in the metric" {_number(low - pad)} --> {_number(high + pad)}',
            f"  bar [{', '.join(_number(c) for c in changes)}]",
        ]
    )
    assert len(diagram) < MAX_DIAGRAM  # TOP bars of numbers we format
    return ["```mermaid", diagram, "```"]


def document(report: SliceReport) -> dict[str, Any]:
    """Every slice's outcome, for the JSON report."""
    return {
        "columns": list(report.columns),
        "correction": report.correction,
        "min_rows": report.min_rows,
        "passed": report.passed,
        "distrusted": report.distrusted,
        "outcomes": [_outcome_json(o) for o in report.outcomes],
    }


def _row(number: int, outcome: SliceOutcome, *, markdown: bool) -> list[str]:
    tested = outcome.tested
    verdict = f"{outcome.status.upper()}: {outcome.reason}"
    if not outcome.declared:
        verdict += " (found by discovery)"
    if markdown:
        verdict = _MARKS.get(outcome.status, "") + verdict
    adjusted = outcome.adjusted_p
    return [
        str(number),
        outcome.slice.name,
        outcome.rule.key,
        f"{outcome.rows:,}",
        "-" if tested is None else f"{tested.base:.4f}",
        "-" if tested is None else f"{tested.head:.4f}",
        "-" if tested is None else f"{tested.difference:+.4f}",
        "-" if adjusted is None else ("<0.001" if adjusted < 0.001 else f"{adjusted:.3f}"),
        verdict,
    ]


def _outcome_json(outcome: SliceOutcome) -> dict[str, Any]:
    tested = outcome.tested
    return {
        "columns": list(outcome.slice.columns),
        "values": list(outcome.slice.values),
        "metric": outcome.rule.key,
        "declared": outcome.declared,
        "rows": outcome.rows,
        "status": outcome.status,
        "reason": outcome.reason,
        "adjusted_p": outcome.adjusted_p,
        "test": None if tested is None else difference_json(tested),
    }


def _number(value: float) -> str:
    return f"{value:.4g}"
