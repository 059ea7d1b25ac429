"""The gate, as a pure function: policy + base values + head values -> a verdict per rule.

No I/O here. A failed rule is a result, not an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlgate.config import Policy, Rule

FileValues = dict[str, dict[str, Any]]

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Outcome:
    """One rule applied to one metric."""

    rule: Rule
    path: str | None
    metric: str | None
    base: Any
    head: Any
    status: str
    reason: str

    @property
    def change(self) -> float | None:
        if _is_real(self.base) and _is_real(self.head):
            return float(self.head) - float(self.base)
        return None

    @property
    def change_pct(self) -> float | None:
        change = self.change
        if change is None or self.base == 0:
            return None
        return change / abs(float(self.base)) * 100


@dataclass(frozen=True)
class GateResult:
    outcomes: tuple[Outcome, ...]
    compared: bool  # False: the base had no metrics, so only absolute bounds were applied

    @property
    def passed(self) -> bool:
        return all(o.status != FAIL for o in self.outcomes)

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == FAIL)


def evaluate(policy: Policy, base: FileValues, head: FileValues) -> GateResult:
    compared = any(base.values())
    outcomes: list[Outcome] = []
    for rule in policy.rules:
        outcomes.extend(_apply(rule, base if compared else {}, head))
    return GateResult(tuple(outcomes), compared)


def _apply(rule: Rule, base: FileValues, head: FileValues) -> list[Outcome]:
    targets = _matching(rule, head) | _matching(rule, base)
    if not targets:
        status, reason = (FAIL, "missing at head") if rule.required else (SKIP, "no such metric")
        return [Outcome(rule, None, None, None, None, status, reason)]
    return [
        judge(rule, path, metric, base.get(path, {}).get(metric), head.get(path, {}).get(metric))
        for path, metric in sorted(targets)
    ]


def judge(rule: Rule, path: str | None, metric: str | None, base: Any, head: Any) -> Outcome:
    def outcome(status: str, reason: str) -> Outcome:
        return Outcome(rule, path, metric, base, head, status, reason)

    if head is None:
        return outcome(FAIL, "missing at head")
    if not _is_number(head):
        return outcome(FAIL, f"not a number at head: {head!r}")
    if math.isnan(head):
        return outcome(FAIL, "NaN at head")
    if rule.min is not None and head < rule.min:
        return outcome(FAIL, f"below the minimum {rule.min:g}")
    if rule.max is not None and head > rule.max:
        return outcome(FAIL, f"above the maximum {rule.max:g}")
    if rule.direction is None:
        return outcome(PASS, "within bounds")
    if not _is_real(base):
        missing = "no value at base" if base is None else f"base value {base!r} is not a number"
        return outcome(PASS, f"{missing}: judged on bounds only")
    worse = (base - head) if rule.direction == "higher" else (head - base)
    allowed = rule.allowed_worsening(float(base))
    if worse > allowed + 1e-12:
        return outcome(FAIL, f"regression of {worse:.4g}, more than the {allowed:.4g} allowed")
    if worse > 0:
        return outcome(PASS, f"worse by {worse:.4g}, within the {allowed:.4g} allowed")
    return outcome(PASS, "improved" if worse < 0 else "unchanged")


def _matching(rule: Rule, values: FileValues) -> set[tuple[str, str]]:
    return {(p, m) for p, metrics in values.items() for m in metrics if rule.matches(p, m)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return _is_number(value) and not math.isnan(value)
