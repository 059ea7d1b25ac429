"""Live performance and the canary's verdict: the pure parts, on data built to a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from mlgate.monitor import canary_verdict, live_metrics
from mlgate.policy import Canary, Rule


def labelled(
    version: str, right: int, wrong: int, day: str = "2026-12-01"
) -> live_metrics.Labelled:
    """A binary classifier's rows: ``right`` predicted correctly, ``wrong`` not, half each class."""
    labels = [str(i % 2) for i in range(right + wrong)]
    predictions = labels[:right] + [str(1 - int(v)) for v in labels[right:]]
    times = [f"{day}T00:00:{i % 60:02d}.000Z" for i in range(right + wrong)]
    ids = [f"{version}-{day}-{i}" for i in range(right + wrong)]
    return live_metrics.Labelled(version, predictions, labels, times, ids)


def test_the_policy_names_the_live_metrics_and_bounds_them() -> None:
    rules = [
        Rule("accuracy", "higher", min=0.8, tolerance=0.01),
        Rule("roc_auc", "higher"),  # needs scores: not measured live
        Rule("eval/metrics.json:recall", "higher", significance=0.01),
        Rule("test.acc", "higher", min=0.1),  # an alias of accuracy: the first rule counts
    ]
    how = live_metrics.measured(rules, ["0", "1"])
    assert list(how.metrics) == ["accuracy", "recall"] and not how.regression
    assert how.confidence("recall") == pytest.approx(0.99)
    assert how.bound_broken("accuracy", 0.75) == "accuracy 0.7500 is below the policy's min 0.8"
    assert live_metrics.measured([], ["1.5", "2.25"]).regression
    assert list(live_metrics.measured([], ["0", "1"]).metrics) == list(
        live_metrics.CLASSIFIER_DEFAULT
    )


def test_a_window_worse_than_the_first_is_performance_drift() -> None:
    first, later = labelled("v1", 180, 20, "2026-12-01"), labelled("v1", 120, 80, "2026-12-02")
    joined = live_metrics.Labelled(
        "v1",
        [*first.predictions, *later.predictions],
        [*first.labels, *later.labels],
        [*first.times, *later.times],
    )
    how = live_metrics.measured([Rule("accuracy", "higher", min=0.65)], [])
    found = live_metrics.performance(joined, how, window_chars=10, min_rows=50, resamples=500)
    assert [w.start for w in found.windows] == ["2026-12-01", "2026-12-02"]
    assert [w.values["accuracy"] for w in found.windows] == [0.9, 0.6]
    assert found.values["accuracy"] == pytest.approx(0.75)
    [below, worse] = found.windows[1].problems
    assert below == "accuracy 0.6000 is below the policy's min 0.65"
    assert worse.startswith("accuracy 0.6000 is worse than the first window's 0.9000")
    assert not found.windows[0].problems
    steady = live_metrics.performance(first, how, window_chars=10, min_rows=50, resamples=500)
    assert steady.problems == ()


def test_the_canary_waits_rolls_back_or_promotes() -> None:
    how = live_metrics.measured([Rule("accuracy", "higher")], [])
    options = Canary(min_labels=100, min_requests=100)
    predictions = (["0", "1"] * 100, ["0", "1"] * 100)

    def verdict(
        stable: live_metrics.Labelled, side: live_metrics.Labelled, **served: canary_verdict.Served
    ) -> str:
        return canary_verdict.decide(
            "v1",
            "v2",
            shadow=False,
            served=served or None,
            predictions=predictions,
            labelled=(stable, side),
            how=how,
            options=options,
            resamples=500,
        ).decision

    assert (
        verdict(labelled("v1", 90, 10), labelled("v2", 40, 10)) == canary_verdict.WAIT
    )  # 50 labels
    assert verdict(labelled("v1", 180, 20), labelled("v2", 120, 80)) == canary_verdict.ROLL_BACK
    assert verdict(labelled("v1", 180, 20), labelled("v2", 190, 10)) == canary_verdict.PROMOTE
    buckets = ((0.005, 990.0), (0.01, 1000.0), (math.inf, 1000.0))
    failing = canary_verdict.Served(1000, 60, buckets)  # 6% of requests failed against 1%
    assert (
        verdict(
            labelled("v1", 180, 20),
            labelled("v2", 190, 10),
            v1=canary_verdict.Served(1000, 10, buckets),
            v2=failing,
        )
        == canary_verdict.ROLL_BACK
    )

    def latency(side: canary_verdict.Served) -> canary_verdict.Check:
        checks = canary_verdict.decide(
            "v1",
            "v2",
            shadow=False,
            served={"v1": canary_verdict.Served(1000, 10, buckets), "v2": side},
            predictions=predictions,
            labelled=None,
            how=None,
            options=options,
        ).checks
        return {c.name: c for c in checks}["latency p99"]

    slow = latency(
        canary_verdict.Served(
            1000, 10, ((0.005, 500.0), (0.025, 600.0), (0.05, 995.0), (math.inf, 1000.0))
        )
    )
    assert slow.outcome == canary_verdict.FAILED  # 25-50 ms against 0-5 ms
    assert (slow.stable, slow.canary) == ("0-5 ms", "25-50 ms")
    near = canary_verdict.Served(1000, 10, ((0.005, 980.0), (0.01, 1000.0), (math.inf, 1000.0)))
    few = canary_verdict.Served(50, 0, ((0.005, 10.0), (0.05, 50.0), (math.inf, 50.0)))
    assert latency(near).outcome == canary_verdict.PASSED
    assert latency(few).outcome == canary_verdict.SHOWN  # 50 requests: no p99 to judge


def test_a_shadow_is_compared_on_the_same_requests() -> None:
    stable = labelled("v1", 150, 50)
    # the shadow saw the same requests (ids) in another order, and got 20 more of them right
    order = list(reversed(range(200)))
    better = list(stable.predictions)
    for i in range(150, 170):
        better[i] = stable.labels[i]
    shadow = live_metrics.Labelled(
        "v2",
        [better[i] for i in order],
        [stable.labels[i] for i in order],
        [stable.times[i] for i in order],
        [f"v1-2026-12-01-{i}" for i in order],
    )
    a, b = live_metrics.aligned(stable, shadow)
    assert a.ids == b.ids and a.labels == b.labels
    found = canary_verdict.decide(
        "v1",
        "v2",
        shadow=True,
        served=None,
        predictions=(stable.predictions, shadow.predictions),
        labelled=(stable, shadow),
        how=live_metrics.measured([Rule("accuracy", "higher")], []),
        options=Canary(min_labels=100),
        resamples=500,
    )
    accuracy = {c.name: c for c in found.checks}["accuracy"]
    assert "paired bootstrap" in accuracy.detail and "better" in accuracy.detail
    assert found.decision == canary_verdict.PROMOTE


def test_two_proportions_match_scipy() -> None:
    for a, n, b, m in ((10, 1000, 60, 1000), (3, 200, 5, 250), (0, 100, 0, 100)):
        table = np.array([[a, n - a], [b, m - b]])
        expected = 1.0 if a == b == 0 else scipy_stats.chi2_contingency(table, correction=False)[1]
        assert canary_verdict.two_proportion_p(a, n, b, m) == pytest.approx(expected, rel=1e-9)
