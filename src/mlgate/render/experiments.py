"""`mlgate exp`: experiments ranked by the gate, as a terminal table, Markdown, or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate import escape
from mlgate.render.check import outcome_json, outcome_name
from mlgate.render.table import fmt, fmt_signed, table, to_json

if TYPE_CHECKING:
    from mlgate.gate.experiments import Ranking
    from mlgate.gate.ranking import Entry

JSON_SCHEMA_VERSION = 1


def ranking_text(ranking: Ranking, *, markdown: bool = False) -> str:
    entries = ranking.entries
    whose = f"HEAD ({ranking.baseline[:8]})" if ranking.baseline else "every commit"
    title = f"{len(entries)} DVC experiment{'s' if len(entries) != 1 else ''} of {whose}"
    lines = [
        f"**mlgate exp**: {title}, each gated as its pull request would be"
        if markdown
        else f"mlgate exp: {title}, each gated as its pull request would be",
        "",
    ]
    metrics = list(dict.fromkeys(outcome_name(o) for e in entries for o in e.outcomes))
    header = ["rank", "experiment", "verdict", "against", *metrics, "improved"]
    rows = []
    for n, entry in enumerate(entries, 1):
        values = {
            outcome_name(o): f"{fmt(o.head)} ({fmt_signed(o.change)})" for o in entry.outcomes
        }
        improved = (
            f"{len(entry.improved)} ({len(entry.significant)} significant)"
            if entry.result is not None
            else entry.problem
        )
        rows.append(
            [
                str(n),
                entry.name,
                entry.standing.upper(),
                entry.against,
                *(values.get(m, "") for m in metrics),
                improved,
            ]
        )
    lines.extend(table(header, rows, markdown=markdown))
    lines.append("")
    lines.append(_conclusion(ranking, markdown=markdown))
    for entry in entries:
        for outcome in entry.outcomes:
            if outcome.status == "fail":
                line = f"{entry.name}: {outcome_name(outcome)} {outcome.reason}"
                lines.append("- " + (escape.markdown(line) if markdown else escape.one_line(line)))
    return "\n".join(lines).rstrip() + "\n"


def _conclusion(ranking: Ranking, *, markdown: bool) -> str:
    proposed = ranking.proposed
    if not ranking.judged:
        text = "No experiment could be judged: none to propose."
    elif proposed is None:
        text = "No experiment passes the gate: none to propose."
    else:
        text = (
            f"Propose {proposed.name} ({proposed.commit[:8]}): it passes the gate with "
            f"{len(proposed.improved)} gated metric(s) improved, "
            f"{len(proposed.significant)} significantly "
            f"(`dvc exp branch {proposed.name}` makes it a branch for its pull request)."
        )
    return escape.markdown(text) if markdown else escape.one_line(text)


def ranking_json(ranking: Ranking) -> str:
    proposed = ranking.proposed
    return to_json(
        {
            "schema": JSON_SCHEMA_VERSION,
            "baseline": ranking.baseline,
            "proposed": proposed.name if proposed else None,
            "experiments": [_entry_json(n, e) for n, e in enumerate(ranking.entries, 1)],
        }
    )


def _entry_json(rank: int, entry: Entry) -> dict[str, Any]:
    return {
        "rank": rank,
        "name": entry.name,
        "commit": entry.commit,
        "against": entry.against or None,
        "verdict": entry.standing,
        "problem": entry.problem or None,
        "improved": [outcome_name(o) for o in entry.improved],
        "significant": [outcome_name(o) for o in entry.significant],
        "rules": [outcome_json(o) for o in entry.outcomes],
    }
