"""`mlgate monitor`: a drift report as a terminal table, Markdown with SVG histograms, or JSON."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlgate import escape
from mlgate.gate.judge import FAIL, PASS
from mlgate.render.check import JSON_SCHEMA_VERSION
from mlgate.render.table import painter, table, to_json

if TYPE_CHECKING:
    from mlgate.monitor.drift import ColumnDrift as DriftColumn
    from mlgate.monitor.drift_report import Report as MonitorReport


_BLOCKS = " ▁▂▃▄▅▆▇█"


_DISPLAYED_CATEGORIES = 12  # the rest of a categorical histogram is folded into "other"


_VERDICTS = {"drift": FAIL, "no drift": PASS, "not enough data": "skip"}


def monitor_verdict(result: MonitorReport) -> str:
    if result.verdict == "not enough data":
        return (
            f"NOT ENOUGH DATA: {result.rows:,} rows, {result.options.min_rows:,} needed to "
            "say whether the data drifted"
        )
    drifted, total = len(result.drifted), len(result.columns)
    names = f": {', '.join(result.drifted)}" if result.drifted else ""
    return (
        f"{result.verdict.upper()}: {drifted} of {total} columns drifted ({result.share:.0%}; "
        f"the dataset drifts at {result.options.drift_share:.0%}){names}"
    )


def monitor_text(result: MonitorReport, *, colour: bool = False) -> str:
    paint = painter(colour=colour)
    lines = [
        paint(
            f"mlgate monitor: {escape.terminal(monitor_verdict(result))}",
            _VERDICTS[result.verdict],
            bold=True,
        ),
        *(escape.terminal(line) for line in _monitor_sources(result)),
    ]
    if result.columns:
        lines += ["", *table(_MONITOR_HEADER, [_drift_row(c) for c in result.columns])]
        if result.prediction is not None:
            lines += ["", escape.terminal(_prediction_line(result.prediction))]
        lines += ["", "Histograms (reference above current, each bar a bin's share of rows):"]
        for column in (*result.columns, *_predicted(result)):
            lines += _text_histogram(column)
    return "\n".join(lines) + "\n"


def _predicted(result: MonitorReport) -> tuple[DriftColumn, ...]:
    return () if result.prediction is None else (result.prediction,)


def _prediction_line(prediction: DriftColumn) -> str:
    """The served predictions against the evaluation-time ones: a row of its own, outside the
    share of drifted columns."""
    return (
        "Prediction drift (the answers served against the model's evaluation-time "
        f"predictions): {prediction.test} {prediction.score:.4g} (threshold "
        f"{prediction.threshold:g}): {'drifted' if prediction.drifted else 'no drift'}, "
        f"PSI {prediction.psi:.3f} {prediction.psi_band}"
    )


def monitor_markdown(result: MonitorReport, images: dict[str, str] | None = None) -> str:
    icon = {"drift": "❌", "no drift": "✅", "not enough data": "⚪"}[result.verdict]
    lines = [
        f"### {icon} mlgate monitor: {escape.markdown(monitor_verdict(result))}",
        "",
        *(f"- {escape.markdown(line.strip())}" for line in _monitor_sources(result)),
    ]
    if result.columns:
        lines += [
            "",
            *table(_MONITOR_HEADER, [_drift_row(c) for c in result.columns], markdown=True),
        ]
        if result.prediction is not None:
            lines += ["", escape.markdown_line(_prediction_line(result.prediction))]
    for column in result.columns if images else ():
        alt = escape.markdown(f"{column.name}: reference and current")
        lines += ["", f"![{alt}]({images[column.name]})"]  # type: ignore[index]
    return "\n".join(lines) + "\n"


def monitor_json(result: MonitorReport, performance: list[dict[str, Any]] | None = None) -> str:
    """``performance``: the live metrics' document (render.live.performance_json), if any."""
    extra = {} if performance is None else {"performance": performance}
    return to_json(
        {
            "schema": JSON_SCHEMA_VERSION,
            "verdict": result.verdict,
            "data": result.subject,
            "rows": result.rows,
            "reference": result.reference,
            "drift_share": result.options.drift_share,
            "min_rows": result.options.min_rows,
            "share_drifted": result.share,
            "drifted": result.drifted,
            "columns": [_column_json(c) for c in result.columns],
            "prediction": None if result.prediction is None else _column_json(result.prediction),
            **extra,
        }
    )


def _column_json(c: DriftColumn) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "test": c.test,
        "score": c.score,
        "threshold": c.threshold,
        "drifted": c.drifted,
        "psi": c.psi,
        "psi_band": c.psi_band,
        "rows": c.rows,
        "missing": c.missing,
        "histogram": {
            "bins": list(c.bins),
            "reference": list(c.reference_shares),
            "current": list(c.current_shares),
        },
    }


def histogram_svg(column: DriftColumn) -> str:
    """Reference and current shares per bin as side-by-side bars (an image for the report)."""
    bins, ref, cur = _displayed_bins(column)
    width, height, top, bottom = max(40 * len(bins) + 60, 480), 230, 40, 60
    peak = max([*ref, *cur, 1e-9])
    scale = (height - top - bottom) / peak
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="10">',
        f'<text x="10" y="16" font-size="12">{_xml(column.name)}: {_xml(column.test)} '
        f"{column.score:.4g} (threshold {column.threshold:g}){' drifted' if column.drifted else ''}</text>",
        '<rect x="10" y="22" width="8" height="8" fill="#9e9e9e"/><text x="22" y="30">reference</text>',
        '<rect x="80" y="22" width="8" height="8" fill="#1e88e5"/><text x="92" y="30">current</text>',
    ]
    base = height - bottom
    for i, (label, r, c) in enumerate(zip(bins, ref, cur, strict=True)):
        x = 40 + 40 * i
        parts += [
            f'<rect x="{x}" y="{base - r * scale:.1f}" width="16" height="{r * scale:.1f}" fill="#9e9e9e"/>',
            f'<rect x="{x + 17}" y="{base - c * scale:.1f}" width="16" height="{c * scale:.1f}" fill="#1e88e5"/>',
            f'<text transform="translate({x + 16},{base + 8}) rotate(45)">{_xml(label[:18])}</text>',
        ]
    parts += [f'<line x1="36" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#333"/>', "</svg>"]
    return "\n".join(parts) + "\n"


_MONITOR_HEADER = ("column", "kind", "test", "score", "threshold", "drift", "PSI", "rows")


def _monitor_sources(result: MonitorReport) -> list[str]:
    return [f"  data: {result.subject}: {result.rows:,} rows", f"  reference: {result.reference}"]


def _drift_row(column: DriftColumn) -> list[str]:
    missing = f" (+{column.missing:,} missing)" if column.missing else ""
    return [
        column.name,
        column.kind,
        column.test,
        f"{column.score:.4g}",
        f"{column.threshold:g}",
        "yes" if column.drifted else "no",
        f"{column.psi:.3f} {column.psi_band}",
        f"{column.rows:,}{missing}",
    ]


def _text_histogram(column: DriftColumn) -> list[str]:
    bins, ref, cur = _displayed_bins(column)
    peak = max([*ref, *cur, 1e-9])

    def bars(shares: Sequence[float]) -> str:
        return "".join(_BLOCKS[min(8, math.ceil(s / peak * 8))] for s in shares)

    span = (
        f"{bins[0].split('..')[0]} .. {bins[-1].split('..')[-1]}"
        if column.kind == "numeric"
        else ", ".join(bins)
    )
    return [
        f"  {escape.terminal(column.name)}",
        f"    reference |{bars(ref)}|",
        f"    current   |{bars(cur)}|",
        f"    bins: {escape.terminal(span)}",
    ]


def _displayed_bins(column: DriftColumn) -> tuple[list[str], list[float], list[float]]:
    bins, ref, cur = list(column.bins), list(column.reference_shares), list(column.current_shares)
    if len(bins) > _DISPLAYED_CATEGORIES:
        keep = _DISPLAYED_CATEGORIES - 1
        bins = [*bins[:keep], "other"]
        ref = [*ref[:keep], sum(ref[keep:])]
        cur = [*cur[:keep], sum(cur[keep:])]
    return bins, ref, cur


def _xml(text: str) -> str:
    """Text for an SVG element: XML's five characters as entities, and no control character
    (which XML 1.0 does not allow) nor invisible one, shown as escapes instead."""
    return (
        escape.one_line(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def histograms(result: MonitorReport, folder: str) -> list[tuple[str, str, str]]:
    """One SVG histogram per column, for ``folder`` beside the Markdown report: (column, the
    link relative to the report, the SVG)."""
    shown = []
    for n, column in enumerate(result.columns):
        name = f"{n:02d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', column.name)}.svg"
        shown.append((column.name, f"{folder}/{name}", histogram_svg(column)))
    return shown
