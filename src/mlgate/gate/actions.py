"""A gate's result published to the GitHub Actions job running it: the step summary, the
step's outputs (verdict, failed, report) and an error annotation per failing rule."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.forges import github

if TYPE_CHECKING:
    from mlgate.gate.compare import Check


def publish(
    result: Check, markdown: str, *, full: str, report_path: Path | None
) -> list[github.WorkflowCommand]:
    """Write the summary and outputs; the annotations to print (on stderr: the runner reads
    workflow commands on both, and stdout stays the report, so `--format json > report.json`
    holds JSON only)."""
    github.append_step_summary(markdown, full=full)
    gate = result.gate
    sliced = gate.slices.failures if gate.slices is not None else ()
    failed = [o.metric or o.rule.key for o in gate.failures] + [
        f"{o.rule.key}@{o.slice.name}" for o in sliced
    ]
    github.write_outputs(
        {
            "verdict": "pass" if gate.passed else "fail",
            "failed": ",".join(dict.fromkeys(failed)),
            "report": str(report_path or ""),
        }
    )
    annotations = []
    for outcome in gate.failures:
        name = outcome.metric or outcome.rule.key
        annotations.append(github.error_annotation(f"{name}: {outcome.reason}", f"mlgate: {name}"))
    for failure in sliced:
        message = f"{failure.rule.key} on {failure.slice.name}: {failure.reason}"
        annotations.append(github.error_annotation(message, f"mlgate: {failure.rule.key} slice"))
    if gate.slices is not None and gate.slices.distrusted is not None:
        message = f"slices not judged: {gate.slices.distrusted}"
        annotations.append(github.error_annotation(message, "mlgate: slices"))
    if gate.unpushed:
        paths = ", ".join(gate.unpushed)
        message = f"not in the DVC remote {gate.remote} (run `dvc push`): {paths}"
        annotations.append(github.error_annotation(message, "mlgate: data not pushed"))
    return annotations
