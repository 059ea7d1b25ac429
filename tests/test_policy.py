"""The policy: [tool.mlgate] parsed into rules, every bad table a ConfigError naming the
problem; metric names resolved through the measures table."""

from __future__ import annotations

import pytest

from mlgate import measures
from mlgate.errors import ConfigError
from mlgate.policy import Rule, parse_policy, prediction_metric


def rule(**kwargs) -> Rule:
    return Rule(key=kwargs.pop("key", "acc"), **kwargs)


def test_rule_keys_match_name_file_and_glob() -> None:
    assert rule(key="roc_auc").matches("metrics.json", "roc_auc")
    assert not rule(key="roc_auc").matches("metrics.json", "test.roc_auc")
    assert rule(key="metrics.json:roc_auc").matches("metrics.json", "roc_auc")
    assert not rule(key="metrics.json:roc_auc").matches("other.json", "roc_auc")
    assert rule(key="*.roc_auc").matches("m.json", "test.roc_auc")
    assert rule(key="eval/*.json:f1").matches("eval/a.json", "f1")


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


SIGNIFICANCE_POLICY = {"predictions": "p.csv"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"rules": {"accuracy": {"direction": "higher", "significance": 0.05}}},
            "needs per-example predictions: add predictions =",
        ),
        (
            SIGNIFICANCE_POLICY | {"rules": {"accuracy": {"significance": 0.05, "min": 0.1}}},
            "significance needs a direction",
        ),
        (
            SIGNIFICANCE_POLICY
            | {"rules": {"accuracy": {"direction": "higher", "significance": 5}}},
            "between 0 and 1, not 5",
        ),
        (
            SIGNIFICANCE_POLICY
            | {"rules": {"accuracy": {"direction": "higher", "min_effect": 0.1}}},
            "min_effect applies only with significance",
        ),
        (
            SIGNIFICANCE_POLICY
            | {
                "rules": {
                    "accuracy": {"direction": "higher", "significance": 0.05, "min_effect": -1}
                }
            },
            "min_effect must not be negative",
        ),
        (
            SIGNIFICANCE_POLICY
            | {
                "rules": {
                    "accuracy": {
                        "direction": "higher",
                        "significance": 0.05,
                        "min_effect": 0.1,
                        "tolerance": 0.1,
                    }
                }
            },
            "give min_effect or a tolerance, not both",
        ),
        (
            SIGNIFICANCE_POLICY
            | {
                "rules": {
                    "accuracy": {"direction": "higher", "significance": 0.05, "fallback": "ignore"}
                }
            },
            "fallback must be 'error' or 'point-estimate'",
        ),
        (
            SIGNIFICANCE_POLICY
            | {"rules": {"rows": {"direction": "higher", "significance": 0.05}}},
            "'rows' is none of them",
        ),
        ({"predictions": 3}, "predictions must be a file path"),
        ({"resamples": 10}, "resamples must be a whole number from 100"),
        ({"seed": -1}, "seed must be a whole number"),
    ],
)
def test_bad_significance_policy_is_a_config_error(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_policy(table, "pyproject.toml at main", "pyproject.toml")


def test_significance_policy_keys_are_read() -> None:
    parsed = parse_policy(
        {
            "predictions": "eval/p.csv",
            "resamples": 2000,
            "seed": 7,
            "rules": {
                "test.auc": {
                    "direction": "higher",
                    "significance": 0.01,
                    "min_effect": 0.005,
                    "fallback": "point-estimate",
                }
            },
        },
        "pyproject.toml",
        "pyproject.toml",
    )
    assert (parsed.predictions, parsed.resamples, parsed.seed) == ("eval/p.csv", 2000, 7)
    assert parsed.rules[0] == Rule(
        "test.auc", "higher", significance=0.01, min_effect=0.005, fallback="point-estimate"
    )
    assert parsed.rules[0].describe() == "higher is better, significance 0.01, min effect 0.005"


@pytest.mark.parametrize(
    ("key", "measure", "better"),
    [
        ("roc_auc", "roc_auc", "higher"),
        ("test.AUC", "roc_auc", "higher"),
        ("eval/metrics.json:avg_prec.ap", "average_precision", "higher"),
        ("logloss", "log_loss", "lower"),
        ("val.acc", "accuracy", "higher"),
        ("train.val_loss", None, "lower"),
        ("rmse", "rmse", "lower"),
        ("mean_absolute_error", "mae", "lower"),
        ("eval/loss.json:step", None, "higher"),  # the file's name says nothing of the value
        ("rows", None, "higher"),
    ],
)
def test_metric_names_resolve_through_the_measures_table(
    key: str, measure: str | None, better: str
) -> None:
    assert prediction_metric(key) == measure
    assert measures.better(key) == better
