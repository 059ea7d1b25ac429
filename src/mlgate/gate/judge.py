"""The gate, as a pure function: policy + base values + head values -> a verdict per rule.

No I/O here. A failed rule is a result, not an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlgate.errors import ConfigError
from mlgate.policy import PREDICTION_METRICS, Policy, Rule, prediction_metric

if TYPE_CHECKING:
    from mlgate.gate.slicing import SliceReport
    from mlgate.gate.stats import Difference

FileValues = dict[str, dict[str, Any]]

Status = Literal["pass", "fail", "skip"]
PASS: Status = "pass"
FAIL: Status = "fail"
SKIP: Status = "skip"


@dataclass(frozen=True)
class Outcome:
    """One rule applied to one metric."""

    rule: Rule
    path: str | None
    metric: str | None
    base: Any
    head: Any
    status: Status
    reason: str
    tested: Difference | None = None  # the significance test behind the verdict, if any

    @property
    def change(self) -> float | None:
        if is_real(self.base) and is_real(self.head):
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
    unpushed: tuple[str, ...] = ()  # outputs the DVC remote lacks (the policy requires them)
    remote: str = ""  # that remote, as reports name it: "'storage'"
    slices: SliceReport | None = None  # each slice's verdicts, when the policy slices

    @property
    def passed(self) -> bool:
        return (
            all(o.status != FAIL for o in self.outcomes)
            and not self.unpushed
            and (self.slices is None or self.slices.passed)
        )

    @property
    def failures(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == FAIL)


def evaluate(
    policy: Policy,
    base: FileValues,
    head: FileValues,
    tested: Mapping[str, Difference] | None = None,
    untested: str | None = None,
    *,
    distrusted: str | None = None,
) -> GateResult:
    """``tested``: significance tests by prediction metric, for the rules that ask for them;
    ``untested``: why there are none (rules with ``fallback = "point-estimate"`` then judge
    the point estimate); ``distrusted``: why the predictions cannot judge a change (the test
    set shrank), which fails every rule that asks for significance."""
    compared = any(base.values())
    outcomes: list[Outcome] = []
    for rule in policy.rules:
        outcomes.extend(
            _apply(rule, base if compared else {}, head, tested or {}, untested, distrusted)
        )
    return GateResult(tuple(outcomes), compared)


def significance_rules(
    policy: Policy, base: FileValues, head: FileValues
) -> dict[Rule, dict[str, float]]:
    """The rules asking for significance that apply here: each with the prediction metrics it
    tests and their test levels. A metric no prediction metric can stand for is a ConfigError."""
    found: dict[Rule, dict[str, float]] = {}
    for rule in policy.rules:
        if rule.significance is None:
            continue
        for path, metric in sorted(_matching(rule, head) & _matching(rule, base)):
            name = prediction_metric(metric)
            if name is None:
                raise ConfigError(
                    f"rule '{rule.key}' asks for significance of {path}:{metric}, "
                    "which is not computed from predictions "
                    f"({', '.join(PREDICTION_METRICS)})"
                )
            found.setdefault(rule, {})[name] = rule.significance
    return found


def _apply(
    rule: Rule,
    base: FileValues,
    head: FileValues,
    tested: Mapping[str, Difference],
    untested: str | None,
    distrusted: str | None,
) -> list[Outcome]:
    targets = _matching(rule, head) | _matching(rule, base)
    if not targets:
        status, reason = (FAIL, "missing at head") if rule.required else (SKIP, "no such metric")
        return [Outcome(rule, None, None, None, None, status, reason)]
    outcomes = []
    for path, metric in sorted(targets):
        base_value, head_value = base.get(path, {}).get(metric), head.get(path, {}).get(metric)
        test = tested.get(prediction_metric(metric) or "")
        outcomes.append(
            judge_rule(
                rule, path, metric, base_value, head_value, test, untested, distrusted=distrusted
            )
        )
    return outcomes


def judge_rule(
    rule: Rule,
    path: str | None,
    metric: str | None,
    base: Any,
    head: Any,
    tested: Difference | None = None,
    untested: str | None = None,
    *,
    distrusted: str | None = None,
) -> Outcome:
    evidence = tested if rule.significance is not None else None  # reported even when a bound fails

    def outcome(status: Status, reason: str) -> Outcome:
        return Outcome(rule, path, metric, base, head, status, reason, evidence)

    if head is None:
        return outcome(FAIL, "missing at head")
    unusable = unusable_value(head)
    if unusable:
        return outcome(FAIL, f"head value is {unusable}")
    if rule.min is not None and head < rule.min:
        return outcome(FAIL, f"below the minimum {rule.min:g}")
    if rule.max is not None and head > rule.max:
        return outcome(FAIL, f"above the maximum {rule.max:g}")
    if rule.direction is None:
        return outcome(PASS, "within bounds")
    if base is None:
        return outcome(PASS, "no value at base (a new metric): judged on bounds only")
    unusable = unusable_value(base)
    if unusable:
        return outcome(FAIL, f"base value is {unusable}: cannot compare")
    if rule.significance is not None and distrusted:
        return outcome(FAIL, distrusted)
    allowed = rule.allowed_worsening(float(base))
    if rule.significance is not None and tested is not None:
        return outcome(*_judge_tested(rule, tested, allowed))
    worse = (base - head) if rule.direction == "higher" else (head - base)
    prefix = f"{untested}; point estimate: " if rule.significance is not None and untested else ""
    if worse > allowed + 1e-12:
        return outcome(
            FAIL, f"{prefix}regression of {worse:.4g}, more than the {allowed:.4g} allowed"
        )
    if worse > 0:
        return outcome(PASS, f"{prefix}worse by {worse:.4g}, within the {allowed:.4g} allowed")
    return outcome(PASS, prefix + ("improved" if worse < 0 else "unchanged"))


REGRESSION, NOISE, IMPROVEMENT = (
    "regression, significant",
    "within noise",
    "improvement, significant",
)


def significance_verdict(rule: Rule, tested: Difference) -> str:
    """The plain verdict on a tested difference: REGRESSION, NOISE or IMPROVEMENT."""
    if rule.significance is None or not tested.p_value < rule.significance:
        return NOISE
    better = tested.difference > 0 if rule.direction == "higher" else tested.difference < 0
    worse = tested.difference < 0 if rule.direction == "higher" else tested.difference > 0
    return IMPROVEMENT if better else REGRESSION if worse else NOISE


def _judge_tested(rule: Rule, tested: Difference, allowed: float) -> tuple[Status, str]:
    """Fail only on a regression that is both significant and larger than the margin (the
    interval and p-value are in the report's significance table)."""
    if tested.unjudged is not None:  # fail closed: NaN is neither noise nor a regression
        return FAIL, f"cannot judge: the {tested.test} of {tested.metric} {tested.unjudged}"
    verdict = significance_verdict(rule, tested)
    worse = -tested.difference if rule.direction == "higher" else tested.difference
    if verdict == REGRESSION and worse > allowed + 1e-12:
        return FAIL, f"{verdict}: {worse:.4g} worse, more than the {allowed:.4g} allowed"
    if verdict == REGRESSION:
        return PASS, f"{verdict}: {worse:.4g} worse, within the {allowed:.4g} allowed"
    return PASS, verdict


def _matching(rule: Rule, values: FileValues) -> set[tuple[str, str]]:
    return {(p, m) for p, metrics in values.items() for m in metrics if rule.matches(p, m)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A number a rule can judge: not a boolean, finite, and within a float's range."""
    return _is_number(value) and unusable_value(value) is None


def unusable_value(value: Any) -> str | None:
    """Why ``value`` cannot be judged ("NaN", "not finite (Infinity)"), or None."""
    if not _is_number(value):
        return f"not a number ({show_value(value)})"
    try:
        number = float(value)
    except OverflowError:
        return f"not finite (an integer of {_digits(value)} digits)"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return f"not finite ({show_value(number)})"
    return None


def show_number(value: float, *, signed: bool = False) -> str:
    """A finite float as reports show it: four decimals, or four significant digits where
    decimals would not show it (a learning rate of 1e-05 would read 0.0000; a million). A
    change (``signed``) keeps four decimals down to what they show (+0.0003, not +0.000298)."""
    sign = "+" if signed else ""
    fixed = value == 0 or (5e-5 if signed else 1e-3) <= abs(value) < 1e6
    return f"{value:{sign}.4f}" if fixed else f"{value:{sign}.4g}"


def show_value(value: Any) -> str:
    """A value for a reason or a cell, short and one line, whatever it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int) and not isinstance(value, bool) and _digits(value) > 30:
        return f"an integer of {_digits(value)} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _digits(value: int) -> int:
    """Decimal digits of an integer of any size (str() refuses above 4,300 of them)."""
    return max(1, math.ceil(abs(value).bit_length() * math.log10(2)))
