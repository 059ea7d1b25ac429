"""Pure rendering: a comparison, a check or a drift report -> terminal table, Markdown, or JSON.

Numbers are rounded for people in tables only; JSON keeps full precision.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlgate import escape
from mlgate.gate.compare import Check, Comparison
from mlgate.gate.judge import FAIL, PASS, Outcome, show_number, show_value, significance_verdict
from mlgate.snapshot import diff

if TYPE_CHECKING:
    from pathlib import Path

    from mlgate.describe import Described
    from mlgate.dvc import Checkout
    from mlgate.hooks.scripts import HookState
    from mlgate.hooks.staleness import Staleness
    from mlgate.monitor.drift import ColumnDrift as DriftColumn
    from mlgate.monitor.monitor import Report as MonitorReport

COMMENT_MARKER = "<!-- mlgate-report -->"
JSON_SCHEMA_VERSION = 1
_COLOURS = {PASS: "32", FAIL: "31", "skip": "33", "bold": "1"}


# --- mlgate diff ---------------------------------------------------------------------------


def diff_json(comparison: Comparison, all_keys: bool = False) -> str:
    """The shape of ``dvc exp diff --json``: {"metrics": {file: {key: {old, new, diff}}}, "params"}."""
    return to_json(_diffs(comparison, all_keys))


def diff_text(comparison: Comparison, all_keys: bool = False, markdown: bool = False) -> str:
    base, head = comparison.base.revision.label, comparison.head.revision.label
    lines = [f"**mlgate diff**: {escape.code(base)} -> {escape.code(head)}" if markdown
             else f"mlgate diff: {escape.one_line(base)} -> {escape.one_line(head)}", ""]  # fmt: skip
    for kind, changes in _diffs(comparison, all_keys).items():
        rows = [[path, key, _fmt(e["old"]), _fmt(e["new"]), _fmt_signed(e.get("diff"))]
                for path, keys in changes.items() for key, e in keys.items()]  # fmt: skip
        header = ["file", kind[:-1] if kind == "params" else "metric", "base", "head", "change"]
        lines.append(f"### {kind.capitalize()}" if markdown else kind.capitalize())
        lines.extend(_table(header, rows, markdown) if rows else ["(no changes)"])
        lines.append("")
    lines.extend(_notes(comparison.notes, markdown))
    return "\n".join(lines).rstrip() + "\n"


def _diffs(comparison: Comparison, all_keys: bool) -> dict[str, Any]:
    base, head = comparison.base, comparison.head
    return {"metrics": diff(base.metrics, head.metrics, all_keys),
            "params": diff(base.params, head.params, all_keys)}  # fmt: skip


# --- mlgate check --------------------------------------------------------------------------


def verdict_line(check: Check) -> str:
    gate = check.gate
    judged = [o for o in gate.outcomes if o.status != "skip"]
    if not gate.passed:
        names = ", ".join(dict.fromkeys(_name(o) for o in gate.failures))
        return f"FAIL: {len(gate.failures)} of {len(judged)} checks failed ({names})"
    if not judged:
        return "PASS: no rule applied (add rules under [tool.mlgate.rules])"
    return f"PASS: all {len(judged)} checks passed"


def check_text(check: Check, colour: bool = False) -> str:
    paint = _painter(colour)
    comparison = check.comparison
    status = PASS if check.gate.passed else FAIL
    lines = [paint(escape.terminal(verdict_line(check)), status, bold=True),
             f"base {escape.one_line(comparison.base.revision.label)}, "
             f"head {escape.one_line(comparison.head.revision.label)}", ""]  # fmt: skip
    rows = [_outcome_row(o) for o in check.gate.outcomes]
    table = _table(["metric", "base", "head", "change", "change %", "rule", "verdict"], rows)
    lines.extend(table[:2])
    lines.extend(
        paint(line, o.status) for line, o in zip(table[2:], check.gate.outcomes, strict=True)
    )
    lines.extend(_sections(check, markdown=False))
    return "\n".join(lines).rstrip() + "\n"


def check_markdown(check: Check) -> str:
    comparison = check.comparison
    icon = ":white_check_mark:" if check.gate.passed else ":x:"
    lines = [COMMENT_MARKER, f"## {icon} mlgate: {escape.markdown(verdict_line(check))}", "",
             f"Base {escape.code(comparison.base.revision.label)}, "
             f"head {escape.code(comparison.head.revision.label)}.", ""]  # fmt: skip
    rows = [_outcome_row(o, markdown=True) for o in check.gate.outcomes]
    if rows:
        lines.extend(
            _table(["metric", "base", "head", "change", "change %", "rule", "verdict"], rows, True)
        )
    lines.extend(_sections(check, markdown=True))
    return "\n".join(lines).rstrip() + "\n"


def check_json(check: Check) -> str:
    comparison = check.comparison
    document = {
        "version": JSON_SCHEMA_VERSION,
        "verdict": PASS if check.gate.passed else FAIL,
        "summary": verdict_line(check),
        "base": _revision_json(comparison.base.revision),
        "head": _revision_json(comparison.head.revision),
        "compared": comparison.compared,
        "policy": {
            "from": check.policy_from,
            "file": check.policy.source,
            "changed": check.policy_changed,
        },
        "rules": [_outcome_json(o) for o in check.gate.outcomes],
        **_diffs(comparison, all_keys=False),
        "data": [vars(c) for c in check.data_changes],
        "notes": list(comparison.notes),
    }
    return to_json(document)


def _sections(check: Check, markdown: bool) -> list[str]:
    lines: list[str] = []
    heading = (lambda t: ["", f"### {t}", ""]) if markdown else (lambda t: ["", f"{t}:"])
    tested = _tested(check)
    if tested:
        first = tested[0].tested
        assert first is not None
        lines.extend(heading("Significance"))
        source = check.policy.predictions or ""
        lines.append(f"From {escape.code(source) if markdown else escape.one_line(source)}: "
                     f"{first.method}, {first.resamples:,} resamples, seed {first.seed}.")  # fmt: skip
        lines.append("")
        rows = [_significance_row(o) for o in tested]
        header = ["metric", "difference", "interval", "p-value", "test", "verdict", "rows"]
        lines.extend(_table(header, rows, markdown))
    params = diff(check.comparison.base.params, check.comparison.head.params)
    if params:
        lines.extend(heading("Params changed"))
        rows = [
            [f"{p}:{k}", _fmt(e["old"]), _fmt(e["new"])]
            for p, keys in params.items()
            for k, e in keys.items()
        ]
        lines.extend(_table(["param", "base", "head"], rows, markdown))
    if check.data_changes:
        lines.extend(heading("Data changed"))
        rows = [[c.path, _short(c.old_md5), _short(c.new_md5), _size(c.old_size), _size(c.new_size)]
                for c in check.data_changes]  # fmt: skip
        lines.extend(
            _table(["path", "base md5", "head md5", "base size", "head size"], rows, markdown)
        )
    if check.policy_changed:
        lines.extend(heading("Policy changed"))
        lines.append("This change edits the [tool.mlgate] policy. It was judged by the "
                     f"{check.policy_from}'s policy; the new one applies after merge.")  # fmt: skip
    if check.comparison.notes:
        lines.extend(heading("Notes"))
        lines.extend(_notes(check.comparison.notes, markdown, bullet="- "))
    return lines


def _notes(notes: Sequence[str], markdown: bool, bullet: str = "note: ") -> list[str]:
    """Notes name files, metrics and revisions a pull request chose: escaped for the medium."""
    return [bullet + (escape.markdown(n) if markdown else escape.one_line(n)) for n in notes]


def _tested(check: Check) -> list[Outcome]:
    """One outcome per tested metric, in the policy's order."""
    seen: dict[str | None, Outcome] = {}
    for outcome in check.gate.outcomes:
        if outcome.tested is not None:
            seen.setdefault(outcome.metric, outcome)
    return list(seen.values())


def _significance_row(outcome: Outcome) -> list[str]:
    tested = outcome.tested
    assert tested is not None
    p_value = "<0.001" if tested.p_value < 0.001 else f"{tested.p_value:.3f}"
    return [_name(outcome), f"{tested.difference:+.4f}",
            f"{tested.confidence:.0%} [{tested.low:+.4f}, {tested.high:+.4f}]", p_value,
            tested.test, significance_verdict(outcome.rule, tested), f"{tested.rows:,}"]  # fmt: skip


def _significance_json(outcome: Outcome) -> dict[str, Any] | None:
    tested = outcome.tested
    if tested is None:
        return None
    return {"difference": tested.difference, "low": tested.low, "high": tested.high,
            "confidence": tested.confidence, "p_value": tested.p_value, "test": tested.test,
            "method": tested.method, "paired": tested.method.startswith("paired"),
            "resamples": tested.resamples, "seed": tested.seed, "rows": tested.rows,
            "base": tested.base, "head": tested.head,
            "verdict": significance_verdict(outcome.rule, tested)}  # fmt: skip


def _outcome_row(outcome: Outcome, markdown: bool = False) -> list[str]:
    verdict = f"{outcome.status.upper()}: {outcome.reason}"
    if markdown:
        verdict = {PASS: ":white_check_mark: ", FAIL: ":x: "}.get(
            outcome.status, ":warning: "
        ) + verdict
    change_pct = outcome.change_pct
    return [_name(outcome), _fmt(outcome.base), _fmt(outcome.head), _fmt_signed(outcome.change),
            "" if change_pct is None else f"{change_pct:+.2f}%", outcome.rule.describe(), verdict]  # fmt: skip


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {"rule": outcome.rule.key, "file": outcome.path, "metric": outcome.metric,
            "base": outcome.base, "head": outcome.head, "change": outcome.change,
            "change_pct": outcome.change_pct, "status": outcome.status, "reason": outcome.reason,
            "significance": _significance_json(outcome)}  # fmt: skip


def _revision_json(revision: Any) -> dict[str, Any]:
    return {"name": revision.name, "commit": revision.commit}


def _name(outcome: Outcome) -> str:
    return outcome.metric or outcome.rule.key


def _table(header: Sequence[str], rows: list[list[str]], markdown: bool = False) -> list[str]:
    if markdown:
        escaped = [[escape.markdown(str(cell)) for cell in row] for row in rows]
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                *("| " + " | ".join(row) + " |" for row in escaped)]  # fmt: skip
    rows = [[escape.terminal(str(cell)) for cell in row] for row in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isfinite(value):
        return show_number(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return show_value(value)
    return str(value)


def _fmt_signed(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return show_number(value, signed=True)
    shown = _fmt(value)
    return shown if shown.startswith("-") or not shown[:1].isdigit() else "+" + shown


def _short(md5: str | None) -> str:
    return md5[:8] if md5 else "-"


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _painter(colour: bool) -> Any:
    def paint(text: str, status: str, bold: bool = False) -> str:
        if not colour or status not in _COLOURS:
            return text
        codes = _COLOURS[status] + (";1" if bold else "")
        return f"\033[{codes}m{text}\033[0m"

    return paint


def to_json(document: Any) -> str:
    return json.dumps(_json_safe(document), indent=2, allow_nan=False, default=str) + "\n"


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


def releases_text(rows: list[dict[str, Any]]) -> str:
    """``mlgate releases``: one row per artifact, one column per environment."""
    if not rows:
        return "No releases yet: `mlgate release` tags the first one.\n"
    stages = list(rows[0]["stages"])
    table = [[r["artifact"], r["latest"] or "-", *(r["stages"][s] or "-" for s in stages)]
             for r in rows]  # fmt: skip
    return "\n".join(_table(["artifact", "latest", *stages], table)) + "\n"


def versions_text(rows: list[dict[str, Any]]) -> str:
    """``mlgate releases NAME``: every version with its stages, gate verdict and metrics."""
    table = []
    for r in rows:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in (r["gated"] or {}).items())
        status = ", ".join(r["stages"]) if r["active"] else "deprecated"
        table.append([r["version"], _when(r["created_at"]), r["commit"][:8],
                      status or "-", r["gate"] or "-", shown or "-"])  # fmt: skip
    header = ["version", "created", "commit", "environments", "gate", "gated metrics"]
    return "\n".join(_table(header, table)) + "\n"


def history_text(rows: list[dict[str, Any]]) -> str:
    """``mlgate history NAME``: one line per event, oldest first."""
    table = [[_when(r["created_at"]), r["event"], r["version"] or "-",
              r["stage"] or "-", r["tag"], r["author"]] for r in rows]  # fmt: skip
    return "\n".join(_table(["time", "event", "version", "environment", "tag", "by"], table)) + "\n"


def deployments_text(rows: Sequence[Any]) -> str:
    """``mlgate deployments``: one line per deploy or rollback, oldest first."""
    table = [[_when(d.time), d.environment, d.action, d.outcome, f"{d.artifact} {d.version}",
              d.md5[:8], d.commit[:8] if d.commit else "workspace", d.previous or "-",
              "on" if d.monitoring else "off", d.who] for d in rows]  # fmt: skip
    header = ["time", "environment", "action", "outcome", "model", "md5", "commit", "previous",
              "monitoring", "by"]  # fmt: skip
    lines = _table(header, table)
    lines += [f"  {d.time} {d.environment} {d.action} failed: {d.error}" for d in rows if d.error]
    return "\n".join(lines) + "\n"


def _when(iso_time: str) -> str:
    """``2026-11-23T13:40:19+00:00`` -> ``2026-11-23 13:40:19`` (the tag's own time zone)."""
    return iso_time[:19].replace("T", " ")


# --- hooks ---------------------------------------------------------------------------------


def staleness_lines(result: Staleness, reproduced: bool) -> list[str]:
    """Why the pre-commit hook blocks: each stale stage and its reasons, then what to do."""
    lines = ["mlgate: commit blocked: dvc.lock does not match what is being committed"]
    for stage in result.stale:
        lines.append(f"  {stage.name}: {'; '.join(stage.reasons)}")
    if result.downstream:
        lines.append(f"  (dvc repro also reruns {', '.join(result.downstream)})")
    lines.extend(f"  note: {n}" for n in result.notes)
    if reproduced:
        lines.append("The workspace is reproduced but not all of it is staged: "
                     "`git add dvc.lock` and the outputs git tracks, then commit.")  # fmt: skip
    else:
        lines.append("Run `dvc repro`, stage dvc.lock and its outputs, then commit "
                     "(or set MLGATE_SKIP=1 to commit anyway).")  # fmt: skip
    return lines


def checkout_lines(result: Checkout) -> list[str]:
    """What the post-checkout hook changed; nothing at all when nothing changed."""
    lines = []
    if result.changed:
        counts = [f"{len(paths)} {kind}" for kind, paths in (
            ("added", result.added), ("modified", result.modified), ("deleted", result.deleted)) if paths]  # fmt: skip
        lines.append(f"mlgate: dvc checkout: {', '.join(counts)}")
        lines.extend(f"  {path}" for path in (*result.added, *result.modified, *result.deleted))
    if result.failed:
        lines.append(f"mlgate: warning: not in the DVC cache, left as they were: "
                     f"{', '.join(result.failed)} (`dvc pull` fetches them)")  # fmt: skip
    return lines


def hooks_text(states: Sequence[HookState]) -> str:
    lines = []
    for state in states:
        if state.installed:
            how = f"installed, runs {state.python}"
            if state.python_missing:
                how += " (missing: install again)"
            if state.chained:
                how += f"; runs {state.hook}.before-mlgate first"
        elif state.foreign:
            how = "not installed (another hook is there; `mlgate hooks install` chains it)"
        else:
            how = "not installed"
        lines.append(f"{state.hook:<14} {how}")
    if states:
        lines.append(f"hooks directory: {states[0].path.parent}")
    return "\n".join(lines) + "\n"


# --- mlgate monitor --------------------------------------------------------------------------

_BLOCKS = " ▁▂▃▄▅▆▇█"
_DISPLAYED_CATEGORIES = 12  # the rest of a categorical histogram is folded into "other"
_VERDICTS = {"drift": FAIL, "no drift": PASS, "not enough data": "skip"}


def monitor_verdict(result: MonitorReport) -> str:
    if result.verdict == "not enough data":
        return (f"NOT ENOUGH DATA: {result.rows:,} rows, {result.options.min_rows:,} needed to "
                "say whether the data drifted")  # fmt: skip
    drifted, total = len(result.drifted), len(result.columns)
    names = f": {', '.join(result.drifted)}" if result.drifted else ""
    return (f"{result.verdict.upper()}: {drifted} of {total} columns drifted ({result.share:.0%}; "
            f"the dataset drifts at {result.options.drift_share:.0%}){names}")  # fmt: skip


def monitor_text(result: MonitorReport, colour: bool = False) -> str:
    paint = _painter(colour)
    lines = [paint(f"mlgate monitor: {monitor_verdict(result)}", _VERDICTS[result.verdict], True),
             *_monitor_sources(result)]  # fmt: skip
    if result.columns:
        lines += ["", *_table(_MONITOR_HEADER, [_drift_row(c) for c in result.columns])]
        lines += ["", "Histograms (reference above current, each bar a bin's share of rows):"]
        for column in result.columns:
            lines += _text_histogram(column)
    return "\n".join(lines) + "\n"


def monitor_markdown(result: MonitorReport, images: dict[str, str] | None = None) -> str:
    icon = {"drift": "❌", "no drift": "✅", "not enough data": "⚪"}[result.verdict]
    lines = [f"### {icon} mlgate monitor: {monitor_verdict(result)}", "",
             *(f"- {line.strip()}" for line in _monitor_sources(result))]  # fmt: skip
    if result.columns:
        lines += [
            "",
            *_table(_MONITOR_HEADER, [_drift_row(c) for c in result.columns], markdown=True),
        ]
    for column in result.columns if images else ():
        lines += ["", f"![{column.name}: reference and current]({images[column.name]})"]  # type: ignore[index]
    return "\n".join(lines) + "\n"


def monitor_json(result: MonitorReport) -> str:
    return to_json({
        "schema": JSON_SCHEMA_VERSION,
        "verdict": result.verdict,
        "data": result.subject,
        "rows": result.rows,
        "reference": result.reference,
        "drift_share": result.options.drift_share,
        "min_rows": result.options.min_rows,
        "share_drifted": result.share,
        "drifted": result.drifted,
        "columns": [{"name": c.name, "kind": c.kind, "test": c.test, "score": c.score,
                     "threshold": c.threshold, "drifted": c.drifted, "psi": c.psi,
                     "psi_band": c.psi_band, "rows": c.rows, "missing": c.missing,
                     "histogram": {"bins": list(c.bins), "reference": list(c.reference_shares),
                                   "current": list(c.current_shares)}}
                    for c in result.columns],
    })  # fmt: skip


def histogram_svg(column: DriftColumn) -> str:
    """Reference and current shares per bin as side-by-side bars (an image for the report)."""
    bins, ref, cur = _displayed_bins(column)
    width, height, top, bottom = max(40 * len(bins) + 60, 480), 230, 40, 60
    peak = max([*ref, *cur, 1e-9])
    scale = (height - top - bottom) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="10">',
             f'<text x="10" y="16" font-size="12">{_xml(column.name)}: {_xml(column.test)} '
             f'{column.score:.4g} (threshold {column.threshold:g}){" drifted" if column.drifted else ""}</text>',
             '<rect x="10" y="22" width="8" height="8" fill="#9e9e9e"/><text x="22" y="30">reference</text>',
             '<rect x="80" y="22" width="8" height="8" fill="#1e88e5"/><text x="92" y="30">current</text>']  # fmt: skip
    base = height - bottom
    for i, (label, r, c) in enumerate(zip(bins, ref, cur, strict=True)):
        x = 40 + 40 * i
        parts += [f'<rect x="{x}" y="{base - r * scale:.1f}" width="16" height="{r * scale:.1f}" fill="#9e9e9e"/>',
                  f'<rect x="{x + 17}" y="{base - c * scale:.1f}" width="16" height="{c * scale:.1f}" fill="#1e88e5"/>',
                  f'<text transform="translate({x + 16},{base + 8}) rotate(45)">{_xml(label[:18])}</text>']  # fmt: skip
    parts += [f'<line x1="36" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#333"/>', "</svg>"]
    return "\n".join(parts) + "\n"


_MONITOR_HEADER = ("column", "kind", "test", "score", "threshold", "drift", "PSI", "rows")


def _monitor_sources(result: MonitorReport) -> list[str]:
    return [f"  data: {result.subject}: {result.rows:,} rows",
            f"  reference: {result.reference}"]  # fmt: skip


def _drift_row(column: DriftColumn) -> list[str]:
    missing = f" (+{column.missing:,} missing)" if column.missing else ""
    return [column.name, column.kind, column.test, f"{column.score:.4g}", f"{column.threshold:g}",
            "yes" if column.drifted else "no", f"{column.psi:.3f} {column.psi_band}",
            f"{column.rows:,}{missing}"]  # fmt: skip


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
    return [f"  {column.name}", f"    reference |{bars(ref)}|", f"    current   |{bars(cur)}|",
            f"    bins: {span}"]  # fmt: skip


def _displayed_bins(column: DriftColumn) -> tuple[list[str], list[float], list[float]]:
    bins, ref, cur = list(column.bins), list(column.reference_shares), list(column.current_shares)
    if len(bins) > _DISPLAYED_CATEGORIES:
        keep = _DISPLAYED_CATEGORIES - 1
        bins = [*bins[:keep], "other"]
        ref = [*ref[:keep], sum(ref[keep:])]
        cur = [*cur[:keep], sum(cur[keep:])]
    return bins, ref, cur


def _xml(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def described_text(done: Described, data: Path) -> str:
    """What `mlgate describe` wrote."""
    names = done.features
    columns = (f"{len(names)} columns {names[0]}..{names[-1]} by position (served as an array)"
               if done.by_position else f"{len(names)} column{'s' if len(names) != 1 else ''} "
               f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})")  # fmt: skip
    kind = (f"classification ({len(done.classes)} classes: "
            f"{', '.join(map(str, done.classes[:6]))}{', ...' if len(done.classes) > 6 else ''})"
            if done.task == "classification" else "regression")  # fmt: skip
    lines = [f"wrote {done.card}: {kind}, {columns}, from {done.rows:,} rows of {data}",
             f"wrote {done.profile}: each column's distribution, for `mlgate monitor`"]  # fmt: skip
    if done.score is not None:
        name, value = done.score
        lines.append(f"{name} on {data}: {value:.4f} (a poor score means a wrong --target or "
                     "columns in another order than the model's)")  # fmt: skip
    return "".join(f"{escape.terminal(line)}\n" for line in lines)
