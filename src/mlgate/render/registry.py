"""`mlgate releases`, `history` and `deployments`: the registry's and the deploy log's tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlgate.escape import terminal
from mlgate.render.table import fmt, table

if TYPE_CHECKING:
    from mlgate.artifacts.deployment import Deployment


def releases_text(rows: list[dict[str, Any]]) -> str:
    """``mlgate releases``: one row per artifact, one column per environment."""
    if not rows:
        return "No releases yet: `mlgate release` tags the first one.\n"
    stages = list(rows[0]["stages"])
    cells = [
        [r["artifact"], r["latest"] or "-", *(r["stages"][s] or "-" for s in stages)] for r in rows
    ]
    return "\n".join(table(["artifact", "latest", *stages], cells)) + "\n"


def versions_text(rows: list[dict[str, Any]]) -> str:
    """``mlgate releases NAME``: every version with its stages, gate verdict and metrics."""
    cells = []
    for r in rows:
        shown = ", ".join(f"{k} {fmt(v)}" for k, v in (r["gated"] or {}).items())
        status = ", ".join(r["stages"]) if r["active"] else "deprecated"
        cells.append(
            [
                r["version"],
                _when(r["created_at"]),
                r["commit"][:8],
                status or "-",
                r["gate"] or "-",
                shown or "-",
            ]
        )
    header = ["version", "created", "commit", "environments", "gate", "gated metrics"]
    return "\n".join(table(header, cells)) + "\n"


def history_text(rows: list[dict[str, Any]]) -> str:
    """``mlgate history NAME``: one line per event, oldest first."""
    cells = [
        [
            _when(r["created_at"]),
            r["event"],
            r["version"] or "-",
            r["stage"] or "-",
            r["tag"],
            r["author"],
        ]
        for r in rows
    ]
    return "\n".join(table(["time", "event", "version", "environment", "tag", "by"], cells)) + "\n"


def deployments_text(rows: Sequence[Deployment]) -> str:
    """``mlgate deployments``: one line per deploy or rollback, oldest first."""
    cells = [
        [
            _when(d.time),
            d.environment,
            _action(d),
            d.outcome,
            f"{d.artifact} {d.version}",
            d.md5[:8],
            d.commit[:8] if d.commit else "workspace",
            d.previous or "-",
            d.runtime,
            "on" if d.monitoring else "off",
            d.who,
        ]
        for d in rows
    ]
    header = [
        "time",
        "environment",
        "action",
        "outcome",
        "model",
        "md5",
        "commit",
        "previous",
        "runtime",
        "monitoring",
        "by",
    ]
    lines = table(header, cells)  # each cell escaped by table()
    lines += [
        "  " + terminal(f"{d.time} {d.environment} {d.action} failed: {d.error}")
        for d in rows
        if d.error
    ]
    lines += [
        "  " + terminal(f"{d.time} {d.environment} {d.action} {d.version}: {d.note}")
        for d in rows
        if d.note
    ]
    return "\n".join(lines) + "\n"


def _action(d: Any) -> str:
    if d.percent is None or d.action != "canary":
        return str(d.action)
    return "shadow" if d.shadow else f"canary {d.percent:g}%"


def _when(iso_time: str) -> str:
    """``2026-11-23T13:40:19+00:00`` -> ``2026-11-23 13:40:19`` (the tag's own time zone)."""
    return iso_time[:19].replace("T", " ")


def deployed_text(done: Deployment, environment: str, location: str, verb: str = "Deployed") -> str:
    """What a deploy, rollback or canary said it did: the version, where, and its checks."""
    commit = f", commit {done.commit[:8]}" if done.commit else ", from the workspace"
    smoke = (
        f"smoke test: {done.smoke_rows} rows predicted"
        if done.smoke_rows
        else "smoke test: the model loads; its card has no input example"
    )
    previous = f"; was {done.previous}" if done.previous else ""
    if done.percent is not None:
        verb = (
            "Shadow deployed" if done.shadow else f"Canary deployed ({done.percent:g}% of requests)"
        )
        previous = f" beside {done.previous}" + (
            f", which answers; it gets a copy of {done.percent:g}% of the requests"
            if done.shadow
            else ""
        )
    note = f" ({done.runtime_note})" if done.runtime_note else ""
    return (
        f"{verb} {done.artifact} {done.version} (md5 {done.md5[:8]}{commit}) to {environment} "
        f"at {location}{previous}; {smoke}.\nRuntime: {done.runtime}{note}."
    )


def canary_replaced_text(before: Deployment | None) -> str | None:
    """A deploy or rollback replaced the canary beside the version it replaced: say so."""
    side = before.canary if before is not None else None
    if side is None:
        return None
    role = "shadow" if side.shadow else "canary"
    return f"The {role} {side.version} is no longer served (logged as remove-canary)."
