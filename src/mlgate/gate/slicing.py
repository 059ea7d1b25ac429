"""The slice gate's verdicts, as pure functions: each slice's test -> pass, fail or warn, with
the multiple-testing correction across a rule's slices. No I/O, no NumPy (``gate.slices``
reads the predictions and runs the tests).

A slice fails only when, after the correction, it is significantly worse than at the base by
more than the rule's ``min_effect``. A slice with fewer rows than ``min_rows`` at either
revision, or whose test is not a finite number (one class only in the slice, say), is listed
and not judged: it neither passes nor fails, and it is not counted in the correction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mlgate.policy import Correction, Rule

if TYPE_CHECKING:
    from mlgate.gate.stats import Difference

SliceStatus = Literal["pass", "fail", "warn", "small", "unjudged"]
FAIL: SliceStatus = "fail"
WARN: SliceStatus = "warn"


@dataclass(frozen=True)
class Slice:
    """Rows sharing a value (or a bin) of each of ``columns``."""

    columns: tuple[str, ...]
    values: tuple[str, ...]

    @property
    def name(self) -> str:
        """``merchant_category = travel & hour = < 6``; text from the predictions file, which
        every renderer escapes for its sink."""
        return " & ".join(f"{c} = {v}" for c, v in zip(self.columns, self.values, strict=True))


@dataclass(frozen=True)
class Candidate:
    """One slice measured for one rule: its test, or why it has none."""

    slice: Slice
    rows: int  # the smaller revision's rows in the slice
    tested: Difference | None
    not_judged: str | None = None  # "40 rows, fewer than min_rows 200"


@dataclass(frozen=True)
class SliceOutcome:
    slice: Slice
    rule: Rule
    rows: int
    tested: Difference | None
    adjusted_p: float | None  # the test's p-value after the correction across slices
    status: SliceStatus
    reason: str
    declared: bool  # a declared column's slice (it can fail), or one discovery found (it warns)

    @property
    def worse(self) -> float | None:
        """How much worse head is than base here, in the rule's direction (negative: better)."""
        if self.tested is None:
            return None
        change = self.tested.difference
        return -change if self.rule.direction == "higher" else change


@dataclass(frozen=True)
class SliceReport:
    columns: tuple[str, ...]
    correction: Correction
    min_rows: int
    outcomes: tuple[SliceOutcome, ...]
    distrusted: str | None = None  # why no slice test can be trusted (the test set shrank)

    @property
    def failures(self) -> tuple[SliceOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == FAIL)

    @property
    def warnings(self) -> tuple[SliceOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == WARN)

    @property
    def passed(self) -> bool:
        return not self.failures and self.distrusted is None

    def judged(self, *, declared: bool = True) -> tuple[SliceOutcome, ...]:
        return tuple(
            o
            for o in self.outcomes
            if o.declared == declared and o.adjusted_p is not None and o.status != "unjudged"
        )

    def worst(self, limit: int) -> list[SliceOutcome]:
        """Failures, then warnings, then the judged slices most worsened: what a report shows."""
        ranked = sorted(
            (o for o in self.outcomes if o.adjusted_p is not None),
            key=lambda o: (
                o.status not in (FAIL, WARN),
                o.status != FAIL,
                o.adjusted_p,
                -(o.worse or 0.0),
            ),
        )
        return ranked[:limit]


def adjust(p_values: Sequence[float], correction: Correction) -> list[float]:
    """Each p-value after Holm's step-down (the chance of any false alarm stays at the level)
    or Benjamini and Hochberg's step-up (the expected share of false alarms among the alarms
    does), in the order given."""
    count = len(p_values)
    order = sorted(range(count), key=lambda k: p_values[k])
    adjusted = [1.0] * count
    if correction == "holm":
        running = 0.0
        for rank, k in enumerate(order):
            running = max(running, min(1.0, (count - rank) * p_values[k]))
            adjusted[k] = running
        return adjusted
    running = 1.0
    for rank in range(count - 1, -1, -1):
        k = order[rank]
        running = min(running, count * p_values[k] / (rank + 1))
        adjusted[k] = min(1.0, running)
    return adjusted


def judge(
    rule: Rule, candidates: Sequence[Candidate], correction: Correction, *, declared: bool
) -> list[SliceOutcome]:
    """The rule's verdict on each slice, its tests corrected together."""
    assert rule.significance is not None and rule.direction is not None  # policy._parse_slices
    testable = [
        c
        for c in candidates
        if c.not_judged is None and c.tested is not None and c.tested.unjudged is None
    ]
    adjusted = dict(
        zip(
            (id(c) for c in testable),
            adjust([c.tested.p_value for c in testable if c.tested is not None], correction),
            strict=True,
        )
    )
    outcomes = []
    for candidate in candidates:
        p_value = adjusted.get(id(candidate))
        status, reason = _verdict(rule, candidate, p_value, declared=declared)
        outcomes.append(
            SliceOutcome(
                candidate.slice,
                rule,
                candidate.rows,
                candidate.tested,
                p_value,
                status,
                reason,
                declared,
            )
        )
    return outcomes


def _verdict(
    rule: Rule, candidate: Candidate, adjusted_p: float | None, *, declared: bool
) -> tuple[SliceStatus, str]:
    tested = candidate.tested
    if candidate.not_judged is not None:
        return "small", candidate.not_judged
    if tested is None or tested.unjudged is not None or adjusted_p is None:
        why = tested.unjudged if tested is not None else None
        return "unjudged", f"not judged: the {rule.key} test {why or 'has no result'}"
    assert rule.significance is not None
    change = tested.difference
    worse = -change if rule.direction == "higher" else change
    margin = rule.min_effect or 0.0
    if adjusted_p < rule.significance and worse > 0:
        if worse > margin + 1e-12:
            status = FAIL if declared else WARN
            return status, f"worse by {worse:.4g}, significant after correction"
        return "pass", f"worse by {worse:.4g}, within the {margin:.4g} allowed"
    if adjusted_p < rule.significance and worse < 0:
        return "pass", "improved, significant"
    return "pass", "within noise"
