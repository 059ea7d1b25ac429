"""``mlgate monitor`` as one call: the data's drift from the training data (an environment's
monitoring log since a span ago, or a batch file), and with labels each version's live
performance. What the command prints comes from the Watched this returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlgate.monitor import canary, drift_report, live_metrics
from mlgate.policy import Policy
from mlgate.progress import SILENT, Progress

Window = Literal["day", "hour"]


@dataclass(frozen=True)
class Watched:
    drift: drift_report.Report | None  # None: no reference profile, so performance only
    performance: list[live_metrics.Performance] | None  # None: no labels given
    no_drift: str | None = None  # why there is no drift report

    @property
    def problems(self) -> bool:
        """Drift, or a live metric out of bounds: exit 1."""
        drifted = self.drift is not None and self.drift.verdict == drift_report.DRIFT
        return drifted or any(p.problems for p in self.performance or ())


def watch(
    root: Path,
    policy: Policy,
    *,
    env_name: str | None,
    since: str | None,
    batch: Path | None,
    labels_file: Path | None,
    window: Window,
    progress: Progress = SILENT,
) -> Watched:
    from mlgate.deploy import environments

    span = drift_report.parse_since(since) if since else None
    if env_name is None:
        assert batch is not None  # the command requires one of the two
        reference = drift_report.workspace_reference(root)
        frame, subject = drift_report.batch_data(batch, reference), str(batch)
        return Watched(drift_report.assess(frame, reference, subject, policy.monitor), None)
    env = environments.environment(root, policy, env_name)
    try:
        deployment, reference = drift_report.deployed_reference(env)
    except drift_report.NoReference as exc:
        if labels_file is None or batch is not None:
            raise
        # live metrics need no profile: report them, and why there is no data drift
        only = canary.performance(env, policy, labels_file, window, span)
        return Watched(None, only, no_drift=str(exc))
    if batch is not None:
        frame, subject = drift_report.batch_data(batch, reference), str(batch)
    else:
        frame, subject = drift_report.logged_data(env, deployment, reference, span, progress)
    result = drift_report.assess(frame, reference, subject, policy.monitor)
    performance = None
    if labels_file is not None:
        performance = canary.performance(env, policy, labels_file, window, span)
    return Watched(result, performance)
