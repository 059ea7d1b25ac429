"""`mlgate diff` and `mlgate check`: a comparison or a check as a terminal table, Markdown (the
pull-request comment), or the documented JSON document."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from mlgate import escape
from mlgate.gate.judge import FAIL, PASS, Outcome, significance_verdict
from mlgate.render import slices
from mlgate.render.charts import charts_markdown
from mlgate.render.table import (
    difference_json,
    fmt,
    fmt_signed,
    notes,
    painter,
    short_md5,
    size,
    table,
    to_json,
)
from mlgate.values import diff

if TYPE_CHECKING:
    from mlgate.gate.compare import Check, Comparison


COMMENT_MARKER = "<!-- mlgate-report -->"
JSON_SCHEMA_VERSION = 1


def diff_json(comparison: Comparison, *, all_keys: bool = False) -> str:
    """The shape of ``dvc exp diff --json``: {"metrics": {file: {key: {old, new, diff}}}, "params"}."""
    return to_json(_diffs(comparison, all_keys=all_keys))


def diff_text(comparison: Comparison, *, all_keys: bool = False, markdown: bool = False) -> str:
    base, head = comparison.base.revision.label, comparison.head.revision.label
    lines = [
        f"**mlgate diff**: {escape.code(base)} -> {escape.code(head)}"
        if markdown
        else f"mlgate diff: {escape.one_line(base)} -> {escape.one_line(head)}",
        "",
    ]
    for kind, changes in _diffs(comparison, all_keys=all_keys).items():
        rows = [
            [path, key, fmt(e["old"]), fmt(e["new"]), fmt_signed(e.get("diff"))]
            for path, keys in changes.items()
            for key, e in keys.items()
        ]
        header = ["file", kind[:-1] if kind == "params" else "metric", "base", "head", "change"]
        lines.append(f"### {kind.capitalize()}" if markdown else kind.capitalize())
        lines.extend(table(header, rows, markdown=markdown) if rows else ["(no changes)"])
        lines.append("")
    lines.extend(notes(comparison.notes, markdown=markdown))
    return "\n".join(lines).rstrip() + "\n"


def _diffs(comparison: Comparison, *, all_keys: bool) -> dict[str, Any]:
    base, head = comparison.base, comparison.head
    return {
        "metrics": diff(base.metrics, head.metrics, with_unchanged=all_keys),
        "params": diff(base.params, head.params, with_unchanged=all_keys),
    }


def verdict_line(check: Check) -> str:
    gate = check.gate
    judged = [o for o in gate.outcomes if o.status != "skip"]
    if not gate.passed:
        failed = []
        if gate.failures:
            names = ", ".join(dict.fromkeys(outcome_name(o) for o in gate.failures))
            failed.append(f"{len(gate.failures)} of {len(judged)} checks failed ({names})")
        said = slices.summary(gate.slices) if gate.slices is not None else None
        if said:
            failed.append(said)
        if gate.unpushed:
            count = len(gate.unpushed)
            failed.append(
                f"{count} output{'' if count == 1 else 's'} not in the DVC remote "
                f"{gate.remote} (run `dvc push`)"
            )
        return "FAIL: " + "; ".join(failed)
    if gate.slices is not None:
        return f"PASS: all {len(judged)} checks and {len(gate.slices.judged())} slice tests passed"
    if not judged:
        return "PASS: no rule applied (add rules under [tool.mlgate.rules])"
    return f"PASS: all {len(judged)} checks passed"


def check_text(check: Check, *, colour: bool = False) -> str:
    paint = painter(colour=colour)
    comparison = check.comparison
    status = PASS if check.gate.passed else FAIL
    lines = [
        paint(escape.terminal(verdict_line(check)), status, bold=True),
        f"base {escape.one_line(comparison.base.revision.label)}, "
        f"head {escape.one_line(comparison.head.revision.label)}",
        "",
    ]
    rows = [_outcome_row(o) for o in check.gate.outcomes]
    shown = table(["metric", "base", "head", "change", "change %", "rule", "verdict"], rows)
    lines.extend(shown[:2])
    lines.extend(
        paint(line, o.status) for line, o in zip(shown[2:], check.gate.outcomes, strict=True)
    )
    lines.extend(_sections(check, markdown=False))
    return "\n".join(lines).rstrip() + "\n"


def check_markdown(check: Check) -> str:
    comparison = check.comparison
    icon = ":white_check_mark:" if check.gate.passed else ":x:"
    lines = [
        COMMENT_MARKER,
        f"## {icon} mlgate: {escape.markdown(verdict_line(check))}",
        "",
        f"Base {escape.code(comparison.base.revision.label)}, "
        f"head {escape.code(comparison.head.revision.label)}.",
        "",
    ]
    rows = [_outcome_row(o, markdown=True) for o in check.gate.outcomes]
    if rows:
        lines.extend(
            table(
                ["metric", "base", "head", "change", "change %", "rule", "verdict"],
                rows,
                markdown=True,
            )
        )
    lines.extend(_sections(check, markdown=True))
    if check.charts is not None:
        lines.extend(
            charts_markdown(
                check.charts, comparison.base.revision.label, comparison.head.revision.label
            )
        )
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
        "rules": [outcome_json(o) for o in check.gate.outcomes],
        **_diffs(comparison, all_keys=False),
        "data": [vars(c) for c in check.data_changes],
        "unpushed": list(check.gate.unpushed),
        "slices": None if check.gate.slices is None else slices.document(check.gate.slices),
        "notes": list(comparison.notes),
        "charts": None if check.charts is None else dataclasses.asdict(check.charts),
    }
    return to_json(document)


def _sections(check: Check, *, markdown: bool) -> list[str]:
    lines: list[str] = []
    heading = (lambda t: ["", f"### {t}", ""]) if markdown else (lambda t: ["", f"{t}:"])
    tested = _tested(check)
    if tested:
        first = tested[0].tested
        assert first is not None
        lines.extend(heading("Significance"))
        source = check.policy.predictions or ""
        lines.append(
            f"From {escape.code(source) if markdown else escape.one_line(source)}: "
            f"{first.method}, {first.resamples:,} resamples, seed {first.seed}."
        )
        lines.append("")
        rows = [_significance_row(o) for o in tested]
        header = ["metric", "difference", "interval", "p-value", "test", "verdict", "rows"]
        lines.extend(table(header, rows, markdown=markdown))
    if check.gate.slices is not None:
        lines.extend(heading("Slices"))
        lines.extend(slices.lines(check.gate.slices, markdown=markdown))
        if markdown:
            lines.extend(["", *slices.chart(check.gate.slices)])
    params = diff(check.comparison.base.params, check.comparison.head.params)
    if params:
        lines.extend(heading("Params changed"))
        rows = [
            [f"{p}:{k}", fmt(e["old"]), fmt(e["new"])]
            for p, keys in params.items()
            for k, e in keys.items()
        ]
        lines.extend(table(["param", "base", "head"], rows, markdown=markdown))
    if check.data_changes:
        lines.extend(heading("Data changed"))
        rows = [
            [c.path, short_md5(c.old_md5), short_md5(c.new_md5), size(c.old_size), size(c.new_size)]
            for c in check.data_changes
        ]
        lines.extend(
            table(
                ["path", "base md5", "head md5", "base size", "head size"], rows, markdown=markdown
            )
        )
    if check.gate.unpushed:
        remote = check.gate.remote
        shown = escape.markdown(remote) if markdown else escape.one_line(remote)
        lines.extend(heading(f"Not in the DVC remote {shown}"))
        lines.append(
            "dvc.lock records these outputs, and the remote lacks their data: run `dvc push` "
            "(or set require_pushed = false in [tool.mlgate])."
        )
        if markdown:
            lines.append("")
        lines.extend(
            f"- {escape.code(path)}" if markdown else f"  {escape.one_line(path)}"
            for path in check.gate.unpushed
        )
    if check.policy_changed:
        lines.extend(heading("Policy changed"))
        lines.append(
            "This change edits the [tool.mlgate] policy. It was judged by the "
            f"{check.policy_from}'s policy; the new one applies after merge."
        )
    if check.comparison.notes:
        lines.extend(heading("Notes"))
        lines.extend(notes(check.comparison.notes, markdown=markdown, bullet="- "))
    return lines


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
    return [
        outcome_name(outcome),
        f"{tested.difference:+.4f}",
        f"{tested.confidence:.0%} [{tested.low:+.4f}, {tested.high:+.4f}]",
        p_value,
        tested.test,
        significance_verdict(outcome.rule, tested),
        f"{tested.rows:,}",
    ]


def _significance_json(outcome: Outcome) -> dict[str, Any] | None:
    tested = outcome.tested
    if tested is None:
        return None
    return {**difference_json(tested), "verdict": significance_verdict(outcome.rule, tested)}


def _outcome_row(outcome: Outcome, *, markdown: bool = False) -> list[str]:
    verdict = f"{outcome.status.upper()}: {outcome.reason}"
    if markdown:
        marks: dict[str, str] = {PASS: ":white_check_mark: ", FAIL: ":x: "}
        verdict = marks.get(outcome.status, ":warning: ") + verdict
    change_pct = outcome.change_pct
    return [
        outcome_name(outcome),
        fmt(outcome.base),
        fmt(outcome.head),
        fmt_signed(outcome.change),
        "" if change_pct is None else f"{change_pct:+.2f}%",
        outcome.rule.describe(),
        verdict,
    ]


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "rule": outcome.rule.key,
        "file": outcome.path,
        "metric": outcome.metric,
        "base": outcome.base,
        "head": outcome.head,
        "change": outcome.change,
        "change_pct": outcome.change_pct,
        "status": outcome.status,
        "reason": outcome.reason,
        "significance": _significance_json(outcome),
    }


def _revision_json(revision: Any) -> dict[str, Any]:
    return {"name": revision.name, "commit": revision.commit}


def outcome_name(outcome: Outcome) -> str:
    return outcome.metric or outcome.rule.key
