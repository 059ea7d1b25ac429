"""The policy and the gate as pure functions: tables of cases."""

from __future__ import annotations

import math

import pytest

from mlgate.config import Rule, parse_policy
from mlgate.errors import ConfigError
from mlgate.gate import FAIL, PASS, SKIP, evaluate, judge


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
        (rule(direction="higher"), "n/a", 0.85, PASS, "base value 'n/a' is not a number"),
        (rule(direction="higher"), 0.9, None, FAIL, "missing at head"),
        (rule(direction="higher"), 0.9, math.nan, FAIL, "NaN at head"),
        (rule(direction="higher"), 0.9, "0.95", FAIL, "not a number at head"),
        (rule(direction="higher"), 0.9, True, FAIL, "not a number at head"),
    ],
)
def test_judge(the_rule: Rule, base, head, status: str, reason: str) -> None:
    outcome = judge(the_rule, "metrics.json", "acc", base, head)
    assert outcome.status == status
    assert reason in outcome.reason


def test_rule_keys_match_name_file_and_glob() -> None:
    assert rule(key="roc_auc").matches("metrics.json", "roc_auc")
    assert not rule(key="roc_auc").matches("metrics.json", "test.roc_auc")
    assert rule(key="metrics.json:roc_auc").matches("metrics.json", "roc_auc")
    assert not rule(key="metrics.json:roc_auc").matches("other.json", "roc_auc")
    assert rule(key="*.roc_auc").matches("m.json", "test.roc_auc")
    assert rule(key="eval/*.json:f1").matches("eval/a.json", "f1")


def policy(rules: dict) -> object:
    return parse_policy({"rules": rules}, "pyproject.toml", "pyproject.toml")


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


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rules": {"acc": {"direction": "up"}}}, "direction must be 'higher' or 'lower'"),
        ({"rules": {"acc": {"direction": "higher", "tolerence": 1}}}, "unknown key tolerence"),
        ({"rules": {"acc": {"tolerance": 0.1}}}, "tolerance needs a direction"),
        ({"rules": {"acc": {"direction": "higher", "tolerance": -1}}}, "must not be negative"),
        ({"rules": {"acc": {"min": "0.8"}}}, "min must be a number"),
        ({"rules": {"acc": {}}}, "checks nothing"),
        ({"rules": {"acc": 0.8}}, "must be a table"),
        ({"rules": {"acc": {"min": 1, "required": "yes"}}}, "required must be true or false"),
        ({"rulez": {}}, "unknown key rulez"),
        ({"base": 3}, "base must be a branch name"),
    ],
)
def test_bad_policy_is_a_config_error_naming_the_problem(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_policy(table, "pyproject.toml at main", "pyproject.toml")
