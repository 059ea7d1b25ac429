"""A drift report published to the GitHub Actions job running it: the step summary, the
step's outputs, and an annotation per drifted column (an error when the report says drift, a
warning when too few columns drifted to say so)."""

from __future__ import annotations

from pathlib import Path

from mlgate.forges import github
from mlgate.monitor import drift_report


def publish(
    result: drift_report.Report, markdown: str, *, full: str, report_path: Path | None
) -> list[github.WorkflowCommand]:
    github.append_step_summary(markdown, full=full)
    github.write_outputs(drift_report.outputs(result, report_path))
    annotations = []
    for column in result.columns:
        if column.drifted:
            message = (
                f"{column.name}: {column.test} {column.score:.4g} (threshold {column.threshold:g})"
            )
            annotate = (
                github.error_annotation
                if result.verdict == drift_report.DRIFT
                else github.warning_annotation
            )
            annotations.append(annotate(message, f"mlgate: drift in {column.name}"))
    return annotations
