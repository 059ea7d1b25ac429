"""Live performance (`mlgate monitor --labels`) and a canary's verdict (`mlgate canary`): as a
terminal table, Markdown or JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from mlgate import escape
from mlgate.render.check import JSON_SCHEMA_VERSION
from mlgate.render.table import painter, table, to_json

if TYPE_CHECKING:
    from mlgate.artifacts.deployment import Deployment
    from mlgate.monitor.canary_verdict import Verdict
    from mlgate.monitor.live_metrics import Performance

_DECISION_STYLE = {"promote": "pass", "roll back": "fail", "wait": "skip"}
_ICON = {"promote": "✅", "roll back": "❌", "wait": "⚪"}


def performance_lines(parts: Sequence[Performance], *, markdown: bool = False) -> list[str]:
    """Each version's live metrics, then window by window, then the problems found."""
    if not parts:
        return ["Live performance: no logged request has a label yet."]
    metrics = list(parts[0].values)
    header = ["version", "labelled rows", *metrics]
    rows = [[p.version, f"{p.rows:,}", *(_number(p.values[m]) for m in metrics)] for p in parts]
    lines = ["Live performance (logged predictions joined to their labels):", ""]
    lines += table(header, rows, markdown=markdown)
    for part in parts:
        if len(part.windows) > 1:
            window_rows = [
                [
                    w.start,
                    f"{w.rows:,}",
                    *(_number(w.values[m]) for m in metrics),
                    "; ".join(w.problems) or "-",
                ]
                for w in part.windows
            ]
            lines += ["", f"{part.version} by window:", ""]
            lines += table(["window", "rows", *metrics, "problems"], window_rows, markdown=markdown)
    problems = [f"{p.version} {problem}" for p in parts for problem in p.problems]
    if problems:
        lines += ["", "Performance problems:", *(f"- {p}" for p in problems)]
    if markdown:
        lines = [escape.markdown(line) if not line.startswith("|") else line for line in lines]
    return lines


def performance_text(parts: Sequence[Performance], *, markdown: bool = False) -> str:
    """The live performance section, set after a drift report (or alone)."""
    return "\n" + "\n".join(performance_lines(parts, markdown=markdown)) + "\n"


def performance_json(parts: Sequence[Performance]) -> list[dict[str, Any]]:
    return [
        {
            "version": p.version,
            "rows": p.rows,
            "metrics": {m: _finite(v) for m, v in p.values.items()},
            "windows": [
                {
                    "start": w.start,
                    "rows": w.rows,
                    "metrics": {m: _finite(v) for m, v in w.values.items()},
                    "problems": list(w.problems),
                }
                for w in p.windows
            ],
            "problems": list(p.problems),
        }
        for p in parts
    ]


def verdict_line(verdict: Verdict) -> str:
    role = "shadow" if verdict.shadow else "canary"
    said = f"{verdict.decision.upper()}: {role} {verdict.canary} against {verdict.stable}"
    reasons = verdict.reasons
    return said + (f" ({'; '.join(reasons)})" if reasons else "")


def canary_text(verdict: Verdict, *, colour: bool = False) -> str:
    paint = painter(colour=colour)
    lines = [
        paint(
            f"mlgate canary: {verdict_line(verdict)}", _DECISION_STYLE[verdict.decision], bold=True
        ),
        "",
        *table(_header(verdict), [_row(c) for c in verdict.checks]),
    ]
    return "\n".join(lines) + "\n"


def canary_markdown(verdict: Verdict) -> str:
    lines = [
        f"### {_ICON[verdict.decision]} mlgate canary: {escape.markdown(verdict_line(verdict))}",
        "",
        *table(
            _header(verdict),
            [[escape.markdown(cell) for cell in _row(c)] for c in verdict.checks],
            markdown=True,
        ),
    ]
    return "\n".join(lines) + "\n"


def canary_json(verdict: Verdict) -> str:
    return to_json(
        {
            "schema": JSON_SCHEMA_VERSION,
            "decision": verdict.decision,
            "stable": verdict.stable,
            "canary": verdict.canary,
            "shadow": verdict.shadow,
            "checks": [asdict(c) for c in verdict.checks],
        }
    )


def _header(verdict: Verdict) -> list[str]:
    role = "shadow" if verdict.shadow else "canary"
    return ["check", f"stable {verdict.stable}", f"{role} {verdict.canary}", "outcome", "detail"]


def _row(check: Any) -> list[str]:
    return [check.name, check.stable, check.canary, check.outcome, check.detail]


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}"


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def carried_out_text(done: Deployment, verdict: Verdict, environment: str) -> str:
    """What ``mlgate canary --apply`` did."""
    if verdict.decision == "promote":
        return (
            f"Promoted {done.version} in {environment}: it answers every request; "
            f"was {done.previous}."
        )
    return (
        f"Rolled back the canary {done.version} in {environment}: {verdict.stable} answers "
        "every request."
    )
