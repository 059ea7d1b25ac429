"""An environment's canary judged, and each version's live performance measured, from what
the environment holds: its ``current`` (the canary beside the stable version), its logged
requests, the labels that came back and the servers' counts. The judging itself is pure
(mlgate.monitor.canary_verdict, mlgate.monitor.live_metrics); this gathers what it needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mlgate.artifacts import requestlog
from mlgate.artifacts.deployment import Deployment
from mlgate.deploy import deployments, environments
from mlgate.errors import MlgateError
from mlgate.monitor import canary_verdict, labels, live_metrics, scrape
from mlgate.policy import Policy

WINDOW_CHARS = {"day": 10, "hour": 13}  # how much of a log timestamp names its window


def judge_canary(
    env: environments.Environment,
    policy: Policy,
    labels_file: Path | None,
    metrics_urls: Sequence[str],
) -> canary_verdict.Verdict | None:
    """The verdict on the environment's canary over the requests logged since it started;
    None when there is no canary."""
    current = deployments.read_current(env)
    if current is None or current.canary is None:
        return None
    side = current.canary
    since = requestlog.timestamp(datetime.fromisoformat(side.time))
    given = labels.read_labels(labels_file) if labels_file is not None else None
    logged = labels.logged_rows(env, None, since)
    stable_predictions, canary_predictions = (
        logged.loc[logged["version"] == version, labels.PREDICTION].dropna().astype(str).tolist()
        for version in (current.version, side.version)
    )
    pair, how = None, None
    if given is not None:
        parts = labels.labelled(logged, given)
        empty = live_metrics.Labelled("", [], [])
        pair = (parts.get(current.version, empty), parts.get(side.version, empty))
        how = live_metrics.measured(policy.rules, given[labels.LABEL].tolist())
    counted = scrape.scrape(metrics_urls) if metrics_urls else None
    try:
        return canary_verdict.decide(
            current.version,
            side.version,
            shadow=side.shadow,
            served=counted,
            predictions=(stable_predictions, canary_predictions),
            labelled=pair,
            how=how,
            options=policy.canary,
            resamples=policy.resamples,
            seed=policy.seed,
        )
    except ValueError as exc:
        raise MlgateError(f"the canary cannot be judged: {exc}") from None


def performance(
    env: environments.Environment,
    policy: Policy,
    labels_file: Path,
    window: str,
    since: timedelta | None,
) -> list[live_metrics.Performance]:
    """Each version's live metrics, overall and by ``window`` (day or hour), from the labels
    joined to the environment's logged requests (since ``since`` ago)."""
    given = labels.read_labels(labels_file)
    cutoff = None if since is None else requestlog.timestamp(datetime.now(timezone.utc) - since)
    logged = labels.logged_rows(env, given[labels.REQUEST_ID], cutoff)
    parts = labels.labelled(logged, given)
    if not parts:  # labels given and none of them usable: a mistake, never "no problem"
        example = given[labels.REQUEST_ID].iloc[0]
        raise MlgateError(
            f"--labels {labels_file}: none of its {len(given):,} request ids (such as "
            f"{example[:60]!r}) is a logged prediction{'' if since is None else ' in that span'}; "
            "a row of a request of several rows is labelled <id>/<n>"
        )
    how = live_metrics.measured(policy.rules, given[labels.LABEL].tolist())
    try:
        return [
            live_metrics.performance(
                part,
                how,
                window_chars=WINDOW_CHARS[window],
                min_rows=policy.monitor.min_rows,
                resamples=policy.resamples,
                seed=policy.seed,
            )
            for part in parts.values()
        ]
    except ValueError as exc:
        raise MlgateError(f"--labels {labels_file}: {exc}") from None


def carry_out(
    env: environments.Environment, verdict: canary_verdict.Verdict, *, note: str, wait: float
) -> Deployment | None:
    """``mlgate canary --apply``: promote makes the canary current, roll back removes it; the
    log record of either. None when the verdict is to wait for more data."""
    if verdict.decision not in (canary_verdict.PROMOTE, canary_verdict.ROLL_BACK):
        return None
    return deployments.end_canary(
        env,
        promote=verdict.decision == canary_verdict.PROMOTE,
        wait=wait,
        note=note,
        expected=verdict.canary,
    )
