"""What `mlgate describe` prints about the card and profile it wrote."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate import escape

if TYPE_CHECKING:
    from pathlib import Path

    from mlgate.describe import Described


def described_text(done: Described, data: Path) -> str:
    """What `mlgate describe` wrote."""
    names = done.features
    columns = (
        f"{len(names)} columns {names[0]}..{names[-1]} by position (served as an array)"
        if done.by_position
        else f"{len(names)} column{'s' if len(names) != 1 else ''} "
        f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
    )
    kind = (
        f"classification ({len(done.classes)} classes: "
        f"{', '.join(map(str, done.classes[:6]))}{', ...' if len(done.classes) > 6 else ''})"
        if done.task == "classification"
        else "regression"
    )
    lines = [
        f"wrote {done.card}: {kind}, {columns}, from {done.rows:,} rows of {data}",
        f"wrote {done.profile}: each column's distribution, for `mlgate monitor`",
    ]
    if done.score is not None:
        name, value = done.score
        lines.append(
            f"{name} on {data}: {value:.4f} (a poor score means a wrong --target or "
            "columns in another order than the model's)"
        )
    return "".join(f"{escape.terminal(line)}\n" for line in lines)
