"""Shared by the renderers: plain and Markdown tables, numbers as people read them, colour,
and JSON that keeps full precision (non-finite numbers as text, never null)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlgate import escape
from mlgate.gate.judge import FAIL, PASS, show_number, show_value

if TYPE_CHECKING:
    from mlgate.gate.stats import Difference

COLOURS = {PASS: "32", FAIL: "31", "skip": "33", "bold": "1"}


def notes(notes: Sequence[str], *, markdown: bool, bullet: str = "note: ") -> list[str]:
    """Notes name files, metrics and revisions a pull request chose: escaped for the medium."""
    return [bullet + (escape.markdown(n) if markdown else escape.one_line(n)) for n in notes]


def table(header: Sequence[str], rows: list[list[str]], *, markdown: bool = False) -> list[str]:
    if markdown:
        escaped = [[escape.markdown(str(cell)) for cell in row] for row in rows]
        return [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in escaped),
        ]
    rows = [[escape.terminal(str(cell)) for cell in row] for row in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isfinite(value):
        return show_number(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return show_value(value)
    return str(value)


def fmt_signed(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return show_number(value, signed=True)
    shown = fmt(value)
    return shown if shown.startswith("-") or not shown[:1].isdigit() else "+" + shown


def short_md5(md5: str | None) -> str:
    return md5[:8] if md5 else "-"


def size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def painter(*, colour: bool) -> Any:
    def paint(text: str, status: str, *, bold: bool = False) -> str:
        if not colour or status not in COLOURS:
            return text
        codes = COLOURS[status] + (";1" if bold else "")
        return f"\033[{codes}m{text}\033[0m"

    return paint


def difference_json(tested: Difference) -> dict[str, Any]:
    """A significance test's figures, as every JSON report writes them."""
    return {
        "difference": tested.difference,
        "low": tested.low,
        "high": tested.high,
        "confidence": tested.confidence,
        "p_value": tested.p_value,
        "test": tested.test,
        "method": tested.method,
        "paired": tested.method.startswith("paired"),
        "resamples": tested.resamples,
        "seed": tested.seed,
        "rows": tested.rows,
        "base": tested.base,
        "head": tested.head,
    }


def to_json(document: Any) -> str:
    """JSON as mlgate prints and writes it: full precision, ASCII only, and no text a CI log
    would read as a workflow command (escape.json_text)."""
    text = json.dumps(_json_safe(document), indent=2, allow_nan=False, default=str)
    return escape.json_text(text) + "\n"


def _json_safe(value: Any) -> Any:
    """NaN and infinity are not JSON: they become the strings "NaN", "Infinity", "-Infinity"
    (null would read as "missing")."""
    if isinstance(value, float) and not math.isfinite(value):
        return show_value(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
