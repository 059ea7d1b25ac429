"""The ``[tool.mlgate]`` policy, from pyproject.toml or mlgate.toml, as frozen dataclasses.

The gate reads the policy from the base revision, so a pull request cannot relax its own gate.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from typing import Any

from mlgate.dvcfiles import parse_data_file
from mlgate.errors import ConfigError, DataError
from mlgate.git import Revision

POLICY_FILES = ("pyproject.toml", "mlgate.toml")
DIRECTIONS = ("higher", "lower")
RULE_KEYS = ("direction", "min", "max", "tolerance", "tolerance_pct", "required")
POLICY_KEYS = ("base", "rules", "model", "predictions", "environments", "promotion_order")
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Rule:
    """What the policy demands of the metrics a key matches."""

    key: str
    direction: str | None = None
    min: float | None = None
    max: float | None = None
    tolerance: float | None = None
    tolerance_pct: float | None = None
    required: bool = False

    def matches(self, path: str, metric: str) -> bool:
        """``roc_auc``, ``metrics.json:roc_auc`` or a glob such as ``*.roc_auc``."""
        if any(c in self.key for c in _GLOB_CHARS):
            return fnmatch.fnmatchcase(metric, self.key) or fnmatch.fnmatchcase(
                f"{path}:{metric}", self.key
            )
        if ":" in self.key:
            return self.key == f"{path}:{metric}"
        return self.key == metric

    def allowed_worsening(self, base: float) -> float:
        """How much worse than ``base`` still passes: the stricter of the two tolerances."""
        allowances = []
        if self.tolerance is not None:
            allowances.append(self.tolerance)
        if self.tolerance_pct is not None:
            allowances.append(abs(base) * self.tolerance_pct / 100)
        return min(allowances) if allowances else 0.0

    def describe(self) -> str:
        parts = []
        if self.direction:
            parts.append(f"{self.direction} is better")
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.tolerance is not None:
            parts.append(f"tolerance {self.tolerance:g}")
        if self.tolerance_pct is not None:
            parts.append(f"tolerance {self.tolerance_pct:g}%")
        if self.required:
            parts.append("required")
        return ", ".join(parts)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()
    base: str | None = None
    source: str | None = None  # the file it came from; None: no policy
    table: dict[str, Any] = field(default_factory=dict)  # as written, to compare two policies
    model: str | None = None  # the artifact name when dvc.yaml declares none
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> options
    promotion_order: tuple[str, ...] = ()  # a version reaches each only after the one before

    def allows_environment(self, name: str) -> bool:
        """With no environments declared, any name is allowed (as GTO allows any stage)."""
        declared = set(self.environments) | set(self.promotion_order)
        return not declared or name in declared

    def environment_before(self, name: str) -> str | None:
        """The environment a version must have reached before ``name``, if the order says so."""
        if name not in self.promotion_order:
            return None
        position = self.promotion_order.index(name)
        return self.promotion_order[position - 1] if position else None


def read_policy(revision: Revision) -> Policy:
    """The policy at ``revision``; an empty Policy when no file has a [tool.mlgate] table."""
    contents = revision.read(POLICY_FILES)
    for name in POLICY_FILES:
        content = contents[name]
        if content is None:
            continue
        where = f"{name} at {revision.label}"
        table = _load_toml(content, where).get("tool", {}).get("mlgate")
        if table is not None:
            return parse_policy(table, where, name)
    return Policy()


def parse_policy(table: Any, where: str, source: str) -> Policy:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.mlgate] must be a table")
    _reject_unknown(table, POLICY_KEYS, f"{where}: [tool.mlgate]")
    rules_table = table.get("rules", {})
    if not isinstance(rules_table, dict):
        raise ConfigError(f"{where}: [tool.mlgate.rules] must be a table")
    rules = tuple(_parse_rule(key, value, where) for key, value in rules_table.items())
    base = table.get("base")
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{where}: base must be a branch name")
    model = table.get("model")
    if model is not None and not isinstance(model, str):
        raise ConfigError(f"{where}: model must be an artifact name")
    environments = table.get("environments", {})
    if not isinstance(environments, dict) or not all(
        isinstance(options, dict) for options in environments.values()
    ):
        raise ConfigError(
            f"{where}: [tool.mlgate.environments] must hold one table per environment"
        )
    order = table.get("promotion_order", [])
    if not isinstance(order, list) or not all(isinstance(name, str) for name in order):
        raise ConfigError(f"{where}: promotion_order must be a list of environment names")
    undeclared = [name for name in order if environments and name not in environments]
    if undeclared:
        raise ConfigError(
            f"{where}: promotion_order names {', '.join(undeclared)}, "
            f"not declared in [tool.mlgate.environments]"
        )
    return Policy(rules, base, source, table, model, environments, tuple(order))


def _parse_rule(key: str, value: Any, where: str) -> Rule:
    context = f"{where}: rule '{key}'"
    if not isinstance(value, dict):
        raise ConfigError(f'{context} must be a table such as {{ direction = "higher" }}')
    _reject_unknown(value, RULE_KEYS, context)
    direction = value.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise ConfigError(f"{context}: direction must be 'higher' or 'lower', not {direction!r}")
    numbers = {name: _number(value, name, context) for name in RULE_KEYS[1:5]}
    required = value.get("required", False)
    if not isinstance(required, bool):
        raise ConfigError(f"{context}: required must be true or false")
    for name in ("tolerance", "tolerance_pct"):
        amount = numbers[name]
        if amount is not None and amount < 0:
            raise ConfigError(f"{context}: {name} must not be negative")
        if amount is not None and direction is None:
            raise ConfigError(f"{context}: {name} needs a direction ('higher' or 'lower')")
    if direction is None and numbers["min"] is None and numbers["max"] is None and not required:
        raise ConfigError(f"{context} checks nothing: give a direction, min or max")
    return Rule(key, direction, required=required, **numbers)


def _number(table: dict[str, Any], name: str, context: str) -> float | None:
    value = table.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{context}: {name} must be a number, not {value!r}")
    return float(value)


def _reject_unknown(table: dict[str, Any], known: tuple[str, ...], context: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(
            f"{context}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(known: {', '.join(known)})"
        )


def _load_toml(content: bytes, where: str) -> dict[str, Any]:
    try:
        table = parse_data_file("pyproject.toml", content, where)
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    return table if isinstance(table, dict) else {}
