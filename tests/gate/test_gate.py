"""The policy and the gate as pure functions: tables of cases."""

from __future__ import annotations

import math

import pytest

from mlgate.errors import ConfigError
from mlgate.gate.judge import FAIL, PASS, SKIP, evaluate, judge_rule, significance_rules
from mlgate.gate.stats import Difference
from mlgate.policy import Policy, Rule, parse_policy


def rule(**kwargs) -> Rule:
    return Rule(key=kwargs.pop("key", "acc"), **kwargs)


@pytest.mark.parametrize(
    ("the_rule", "base", "head", "status", "reason"),
    [
        (rule(direction="higher"), 0.9, 0.91, PASS, "improved"),
        (rule(direction="higher"), 0.9, 0.9, PASS, "unchanged"),
        (rule(direction="higher"), 0.9, 0.89, FAIL, "regression of 0.01"),
        (rule(direction="higher", tolerance=0.02), 0.9, 0.89, PASS, "within the 0.02 allowed"),
        (rule(direction="lower", tolerance=0.02), 0.20, 0.23, FAIL, "regression of 0.03"),
        (rule(direction="lower", tolerance_pct=10), 0.20, 0.219, PASS, "within"),
        (
            rule(direction="lower", tolerance_pct=10),
            0.20,
            0.221,
            FAIL,
            "more than the 0.02 allowed",
        ),
        (
            rule(direction="higher", tolerance=0.5, tolerance_pct=1),
            0.9,
            0.85,
            FAIL,
            "0.009 allowed",
        ),
        (rule(direction="higher", min=0.8), 0.9, 0.79, FAIL, "below the minimum 0.8"),
        (rule(max=0.3), None, 0.31, FAIL, "above the maximum 0.3"),
        (rule(min=0.8), 0.5, 0.81, PASS, "within bounds"),
        (rule(direction="higher", min=0.8), None, 0.85, PASS, "no value at base"),
        (rule(direction="higher"), "n/a", 0.85, FAIL, "base value is not a number ('n/a')"),
        (rule(direction="higher"), 0.9, None, FAIL, "missing at head"),
        (rule(direction="higher"), 0.9, math.nan, FAIL, "head value is NaN"),
        (rule(direction="higher"), 0.9, "0.95", FAIL, "head value is not a number ('0.95')"),
        (rule(direction="higher"), 0.9, True, FAIL, "head value is not a number (True)"),
        # Non-finite values fail on either side, whatever the direction or bound (issue 17.1).
        (rule(direction="higher", min=0.8), 0.9, math.inf, FAIL, "not finite (Infinity)"),
        (rule(direction="lower"), 0.2, -math.inf, FAIL, "head value is not finite (-Infinity)"),
        (rule(min=0.8), None, math.inf, FAIL, "head value is not finite (Infinity)"),
        (rule(max=0.3), None, -math.inf, FAIL, "head value is not finite (-Infinity)"),
        (rule(direction="higher"), 0.9, 10**400, FAIL, "not finite (an integer of 401 digits)"),
        (rule(direction="higher"), math.inf, 0.9, FAIL, "base value is not finite (Infinity)"),
        (rule(direction="lower"), math.nan, 0.2, FAIL, "base value is NaN: cannot compare"),
        (rule(direction="higher"), -(10**400), 0.9, FAIL, "base value is not finite"),
        (rule(direction="higher"), 10**20, 10**20 + 1, PASS, "improved"),
    ],
)
def test_judge(the_rule: Rule, base, head, status: str, reason: str) -> None:
    outcome = judge_rule(the_rule, "metrics.json", "acc", base, head)
    assert outcome.status == status
    assert reason in outcome.reason


def policy(rules: dict, **keys: object) -> Policy:
    return parse_policy({"rules": rules, **keys}, "pyproject.toml", "pyproject.toml")


def test_first_pull_request_is_judged_on_bounds_only() -> None:
    p = policy({"acc": {"direction": "higher", "min": 0.8}})
    result = evaluate(p, {}, {"metrics.json": {"acc": 0.85}})
    assert result.passed and not result.compared
    result = evaluate(p, {}, {"metrics.json": {"acc": 0.75}})
    assert not result.passed


def test_required_metric_missing_everywhere_fails_else_skips() -> None:
    head = {"metrics.json": {"other": 1.0}}
    assert evaluate(policy({"acc": {"min": 0.5, "required": True}}), head, head).failures
    result = evaluate(policy({"acc": {"min": 0.5}}), head, head)
    assert result.passed and result.outcomes[0].status == SKIP


def test_metric_that_disappears_fails() -> None:
    result = evaluate(
        policy({"acc": {"direction": "higher"}}), {"m.json": {"acc": 0.9}}, {"m.json": {"x": 1}}
    )
    assert result.failures[0].reason == "missing at head"


def test_glob_rule_judges_every_match() -> None:
    base = {"m.json": {"a.auc": 0.9, "b.auc": 0.8}}
    head = {"m.json": {"a.auc": 0.91, "b.auc": 0.7}}
    result = evaluate(policy({"*.auc": {"direction": "higher"}}), base, head)
    assert [(o.metric, o.status) for o in result.outcomes] == [("a.auc", PASS), ("b.auc", FAIL)]


def a_difference(difference: float, low: float, high: float, p_value: float) -> Difference:
    return Difference(
        "accuracy",
        0.9,
        0.9 + difference,
        low,
        high,
        0.95,
        p_value,
        "paired bootstrap",
        "McNemar exact",
        500,
        1000,
        1,
    )


SIGNIFICANT = {"direction": "higher", "significance": 0.05}


@pytest.mark.parametrize(
    ("keys", "difference", "status", "reason"),
    [
        (SIGNIFICANT, a_difference(-0.003, -0.012, 0.006, 0.4), PASS, "within noise"),
        (
            SIGNIFICANT,
            a_difference(-0.02, -0.03, -0.01, 0.001),
            FAIL,
            "regression, significant: 0.02 worse, more than the 0 allowed",
        ),
        (
            SIGNIFICANT | {"min_effect": 0.05},
            a_difference(-0.02, -0.03, -0.01, 0.001),
            PASS,
            "within the 0.05 allowed",
        ),
        (
            SIGNIFICANT | {"tolerance": 0.01},
            a_difference(-0.02, -0.03, -0.01, 0.001),
            FAIL,
            "more than the 0.01 allowed",
        ),
        (SIGNIFICANT, a_difference(0.02, 0.01, 0.03, 0.001), PASS, "improvement, significant"),
        (
            {"direction": "lower", "significance": 0.05},
            a_difference(0.02, 0.01, 0.03, 0.001),
            FAIL,
            "regression, significant",
        ),
        (
            {"direction": "lower", "significance": 0.01},
            a_difference(0.02, 0.001, 0.03, 0.03),
            PASS,
            "within noise",
        ),
        (
            SIGNIFICANT | {"min": 0.95},
            a_difference(0.0, 0.0, 0.0, 1.0),
            FAIL,
            "below the minimum 0.95",
        ),
    ],
)
def test_a_significance_rule_fails_only_on_a_significant_regression_beyond_the_margin(
    keys: dict, difference: Difference, status: str, reason: str
) -> None:
    the_rule = rule(**keys)
    outcome = judge_rule(
        the_rule, "metrics.json", "accuracy", 0.9, 0.9 + difference.difference, difference
    )
    assert (outcome.status, outcome.tested) == (status, difference)
    assert reason in outcome.reason


def test_without_its_test_a_fallback_rule_judges_the_point_estimate_and_says_why() -> None:
    the_rule = rule(direction="higher", significance=0.05, fallback="point-estimate")
    outcome = judge_rule(
        the_rule, "m.json", "accuracy", 0.9, 0.88, untested="no significance test (x)"
    )
    assert outcome.status == FAIL and outcome.tested is None
    assert (
        outcome.reason
        == "no significance test (x); point estimate: regression of 0.02, more than the 0 allowed"
    )


def test_significance_rules_list_the_prediction_metrics_they_test() -> None:
    the_policy = policy(
        {
            "*": {"direction": "higher", "significance": 0.01},
            "m.json:auc": {"direction": "higher", "significance": 0.05},
        },
        predictions="p.csv",
    )
    values = {"m.json": {"test.accuracy": 0.9, "auc": 0.8}}
    rules = significance_rules(the_policy, values, values)
    assert [dict(v) for v in rules.values()] == [
        {"accuracy": 0.01, "roc_auc": 0.01},
        {"roc_auc": 0.05},
    ]
    with pytest.raises(ConfigError, match=r"significance of m\.json:rows, which is not computed"):
        significance_rules(the_policy, {"m.json": {"rows": 3}}, {"m.json": {"rows": 4}})
