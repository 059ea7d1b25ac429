"""Judging a canary on live traffic: promote it, roll it back, or wait for more data. Pure.

Four checks, each version against the other: predictions and labels over the requests logged
since the canary started; errors and latency as the servers counted them since they started
(their /metrics counters; a server restarted with the canary counts both from then on):

- errors: the share of scoring requests that failed (5xx), from the servers' /metrics; a
  canary fails when its rate is above the stable version's by more than ``max_error_increase``
  and a two-proportion test says the difference is not chance (p < 0.05);
- latency: p99 from the same histograms, as the bucket it falls in; a canary fails when its
  p99 is surely over ``max_latency_ratio`` times the stable version's (its bucket's lower bound
  above that times the stable bucket's upper bound); under 100 requests it is only shown;
- predictions: the distribution of what each version predicted, by the drift tests (shown,
  never decisive on its own: a retrained model is meant to predict somewhat differently);
- labels: each live metric with the gate's bootstrap (paired on the same rows for a shadow),
  the canary failing where its interval lies wholly beyond the policy's tolerance on the
  worse side. Fewer than ``min_labels`` labelled rows for either version: wait (``[tool.mlgate.canary]``).

Any check failed: roll back. Otherwise wait while any check waits for data or none passed;
else promote.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mlgate.artifacts.profile import NUMERIC, predictions_column
from mlgate.gate import stats
from mlgate.monitor import drift, live_metrics
from mlgate.policy import Canary

Decision = Literal["promote", "roll back", "wait"]
PROMOTE: Decision = "promote"
ROLL_BACK: Decision = "roll back"
WAIT: Decision = "wait"
CheckStatus = Literal["pass", "fail", "wait", "info"]
PASSED: CheckStatus = "pass"
FAILED: CheckStatus = "fail"
WAITING: CheckStatus = "wait"
SHOWN: CheckStatus = "info"
ERROR_P_VALUE = 0.05
P99_REQUESTS = 100  # below this a p99 is the slowest request or two: shown, not judged


@dataclass(frozen=True)
class Served:
    """What the servers counted for one version: scoring requests, failed ones, latency."""

    requests: int
    errors: int
    buckets: tuple[tuple[float, float], ...]  # (upper bound in seconds, cumulative count)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else math.nan

    @property
    def p99(self) -> tuple[float, float] | None:
        """The bucket p99 falls in: (its lower bound, its upper bound), in seconds."""
        total = self.buckets[-1][1] if self.buckets else 0
        if not total:
            return None
        below = 0.0
        for bound, count in self.buckets:
            if count >= 0.99 * total:
                return below, bound
            below = bound
        return below, self.buckets[-1][0]


@dataclass(frozen=True)
class Check:
    name: str
    stable: str
    canary: str
    outcome: str  # PASSED, FAILED, WAITING or SHOWN
    detail: str


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    stable: str
    canary: str
    shadow: bool
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> list[str]:
        wanted = {ROLL_BACK: FAILED, WAIT: WAITING}.get(self.decision)
        return [f"{c.name}: {c.detail}" for c in self.checks if c.outcome == wanted]


def decide(
    stable: str,
    canary: str,
    *,
    shadow: bool,
    served: dict[str, Served] | None,
    predictions: tuple[Sequence[str], Sequence[str]],
    labelled: tuple[live_metrics.Labelled, live_metrics.Labelled] | None,
    how: live_metrics.Measured | None,
    options: Canary,
    resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = stats.DEFAULT_SEED,
) -> Verdict:
    checks: list[Check] = []
    if served is None:
        checks.append(Check("errors, latency", "-", "-", SHOWN, "not measured: give --metrics URL"))
    else:
        checks += _served_checks(served.get(stable), served.get(canary), options)
    checks.append(_prediction_check(*predictions))
    if labelled is None or how is None:
        checks.append(Check("labels", "-", "-", SHOWN, "none given: --labels FILE"))
    else:
        checks += _label_checks(*labelled, how, shadow, options, resamples, seed)
    outcomes = {c.outcome for c in checks}
    if FAILED in outcomes:
        decision = ROLL_BACK
    elif WAITING in outcomes or not outcomes & {PASSED}:
        decision = WAIT
    else:
        decision = PROMOTE
    return Verdict(decision, stable, canary, shadow, tuple(checks))


def _served_checks(stable: Served | None, canary: Served | None, options: Canary) -> list[Check]:
    if stable is None or canary is None:
        missing = "the stable version" if stable is None else "the canary"
        return [Check("errors", "-", "-", WAITING, f"the servers counted no request of {missing}")]
    checks = []
    shown = (
        f"{stable.error_rate:.2%} of {stable.requests:,}",
        f"{canary.error_rate:.2%} of {canary.requests:,}",
    )
    if min(stable.requests, canary.requests) < options.min_requests:
        checks.append(
            Check("errors", *shown, WAITING, f"fewer than {options.min_requests:,} requests")
        )
    else:
        p_value = two_proportion_p(stable.errors, stable.requests, canary.errors, canary.requests)
        increase = canary.error_rate - stable.error_rate
        failed = increase > options.max_error_increase and p_value < ERROR_P_VALUE
        checks.append(
            Check(
                "errors",
                *shown,
                FAILED if failed else PASSED,
                f"{increase:+.2%} (allowed {options.max_error_increase:+.2%}; p = {p_value:.3g})",
            )
        )
    s99, c99 = stable.p99, canary.p99
    if s99 is None or c99 is None or min(stable.requests, canary.requests) < P99_REQUESTS:
        checks.append(
            Check(
                "latency p99",
                _bucket(s99),
                _bucket(c99),
                SHOWN,
                f"fewer than {P99_REQUESTS} requests: no p99 to judge",
            )
        )
        return checks
    # the histogram says which bucket each p99 is in: slower only when surely so
    failed = c99[0] > options.max_latency_ratio * s99[1]
    checks.append(
        Check(
            "latency p99",
            _bucket(s99),
            _bucket(c99),
            FAILED if failed else PASSED,
            f"allowed {options.max_latency_ratio:g}x the stable version's",
        )
    )
    return checks


def _bucket(p99: tuple[float, float] | None) -> str:
    if p99 is None:
        return "-"
    low, high = (f"{bound * 1000:g}" for bound in p99)
    return f"{low}-{high} ms" if math.isfinite(p99[1]) else f"over {low} ms"


def _prediction_check(stable: Sequence[str], canary: Sequence[str]) -> Check:
    if not len(stable) or not len(canary):
        return Check(
            "predictions",
            f"{len(stable):,} rows",
            f"{len(canary):,} rows",
            SHOWN,
            "no rows logged to compare",
        )
    profile = predictions_column("prediction", stable)
    served = [float(v) for v in canary] if profile.kind == NUMERIC else list(canary)
    found = drift.compare(profile, served)
    word = "shifted" if found.drifted else "similar"
    return Check(
        "predictions",
        f"{len(stable):,} rows",
        f"{len(canary):,} rows",
        SHOWN,
        f"{word}: {found.test} {found.score:.3g} (threshold {found.threshold:g}), PSI {found.psi:.3f}",
    )


def _label_checks(
    stable: live_metrics.Labelled,
    canary: live_metrics.Labelled,
    how: live_metrics.Measured,
    shadow: bool,
    options: Canary,
    resamples: int,
    seed: int,
) -> list[Check]:
    if shadow:  # the same requests: compared row by row
        stable, canary = live_metrics.aligned(stable, canary)
    shown = (f"{len(stable):,} labelled", f"{len(canary):,} labelled")
    if min(len(stable), len(canary)) < options.min_labels:
        return [
            Check("labels", *shown, WAITING, f"fewer than {options.min_labels:,} labelled rows")
        ]
    base, head = live_metrics.data([stable, canary], how)
    differences = live_metrics.compare(
        base, head, how, paired=shadow, resamples=resamples, seed=seed
    )
    checks = []
    for d in differences.values():
        outcome = FAILED if live_metrics.worse(d, how) else PASSED
        word = (
            "worse" if outcome == FAILED else "better" if live_metrics.better(d) else "within noise"
        )
        checks.append(
            Check(
                d.metric,
                f"{d.base:.4f}",
                f"{d.head:.4f}",
                outcome,
                f"{word}: {d.difference:+.4f} ({d.confidence:.0%} interval {d.low:+.4f} to "
                f"{d.high:+.4f}, {d.method}, {d.rows:,} rows)",
            )
        )
    return checks


def two_proportion_p(errors_a: int, total_a: int, errors_b: int, total_b: int) -> float:
    """Two-sided p-value of a two-proportion z-test (1 when there is no variance)."""
    pooled = (errors_a + errors_b) / (total_a + total_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    if spread == 0:
        return 1.0
    z = abs(errors_b / total_b - errors_a / total_a) / spread
    return math.erfc(z / math.sqrt(2))
