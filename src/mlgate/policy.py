"""The ``[tool.mlgate]`` policy as frozen dataclasses, parsed from its TOML table: pure, no I/O
(mlgate.snapshot.read_policy reads it from pyproject.toml or mlgate.toml at a revision).

The gate reads the policy from the base revision, so a pull request cannot relax its own gate.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from mlgate.errors import ConfigError
from mlgate.measures import HIGHER, LOWER, MEASURES, named
from mlgate.names import NAME_RE

POLICY_FILES = ("pyproject.toml", "mlgate.toml")
DIRECTIONS = (HIGHER, LOWER)
DEFAULT_RETRAIN_BRANCH = "mlgate/retrain"
# What significance can be computed for, from per-example predictions (see mlgate.measures).
PREDICTION_METRICS = tuple(MEASURES)
Direction = Literal["higher", "lower"]
Fallback = Literal["error", "point-estimate"]  # when a significance rule's predictions are unusable
FALLBACKS: tuple[Fallback, ...] = ("error", "point-estimate")
Correction = Literal["holm", "bh"]  # multiple-testing control across slices
CORRECTIONS: tuple[Correction, ...] = ("holm", "bh")
# What a slice rule may say: a slice fails only when it is significantly worse.
SLICE_RULE_KEYS = ("direction", "significance", "min_effect")
# Columns of the predictions file that are the gate's own, never a slice.
RESERVED_COLUMNS = ("id", "label", "prediction", "score")
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20261123
DEFAULT_MAX_ROWS_DROP = 0.1  # a head with 10% fewer prediction rows than the base fails
_GLOB_CHARS = "*?["


def _key(meaning: str, default: Any = None, *, factory: Callable[[], Any] | None = None) -> Any:
    """A policy key: its default and what it means, as the reference page of every key
    (docs/reference/policy.md, generated from these fields) says it."""
    if factory is not None:
        return field(default_factory=factory, metadata={"doc": meaning})
    return field(default=default, metadata={"doc": meaning})


@dataclass(frozen=True)
class Rule:
    """What the policy demands of the metrics a key matches."""

    key: str
    direction: Direction | None = _key(
        "`higher` or `lower` is better; without it only `min`/`max` apply"
    )
    min: float | None = _key("the head's value must be at least this")
    max: float | None = _key("the head's value must be at most this")
    tolerance: float | None = _key("how much worse than the base still passes, in its units")
    tolerance_pct: float | None = _key("the same, as a percentage of the base's value")
    required: bool = _key("a metric this key matches must exist at the head", False)
    significance: float | None = _key(
        "the test's level: a regression counts only when its p-value is below it"
    )
    min_effect: float | None = _key(
        "with `significance`: the practical margin, in the metric's units"
    )
    fallback: Fallback = _key(
        "predictions unusable: stop (`error`) or judge the estimate (`point-estimate`)", "error"
    )

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
        """How much worse than ``base`` still passes: the stricter of the two tolerances (or,
        under a significance rule, ``min_effect``)."""
        if self.min_effect is not None:
            return self.min_effect
        allowances = []
        if self.tolerance is not None:
            allowances.append(self.tolerance)
        if self.tolerance_pct is not None:
            allowances.append(abs(base) * self.tolerance_pct / 100)
        return min(allowances) if allowances else 0.0

    def describe(self) -> str:
        parts = [f"{self.direction} is better"] if self.direction else []
        for value, text in (
            (self.min, ">= {:g}"),
            (self.max, "<= {:g}"),
            (self.tolerance, "tolerance {:g}"),
            (self.tolerance_pct, "tolerance {:g}%"),
            (self.significance, "significance {:g}"),
            (self.min_effect, "min effect {:g}"),
        ):
            if value is not None:
                parts.append(text.format(value))
        if self.required:
            parts.append("required")
        return ", ".join(parts)


@dataclass(frozen=True)
class Retraining:
    """``[tool.mlgate.retrain]``: how scheduled retraining gets fresh data and proposes it."""

    refresh: tuple[str, ...] = _key("stages rerun even when unchanged: they fetch fresh data", ())
    branch: str = _key(
        "the retraining pull request's branch, replaced on each run", DEFAULT_RETRAIN_BRANCH
    )
    auto_merge: bool = _key("a proposal whose gate passed is merged once its checks pass", False)
    auto_promote: str | None = _key("the environment each new release is promoted to")


@dataclass(frozen=True)
class Monitoring:
    """``[tool.mlgate.monitor]``: when `mlgate monitor` calls the data drifted."""

    drift_share: float = _key("the data drifts when at least this share of its columns do", 0.5)
    min_rows: int = _key("fewer current rows: not enough data to say either way", 100)


@dataclass(frozen=True)
class Canary:
    """``[tool.mlgate.canary]``: when `mlgate canary` has seen enough, and what is worse."""

    min_labels: int = _key("labelled rows each version needs before labels decide", 100)
    min_requests: int = _key("scoring requests each version needs before errors decide", 100)
    max_error_increase: float = _key(
        "how much the share of failed requests may grow over the stable version's", 0.01
    )
    max_latency_ratio: float = _key("the canary's p99 latency over the stable version's", 1.5)


@dataclass(frozen=True)
class Slicing:
    """``[tool.mlgate.slices]``: the columns of the predictions file each change is also judged
    on, one slice per value (or bin), with a paired test per slice and correction across them."""

    columns: tuple[str, ...] = _key("columns of the predictions file to slice by", ())
    rules: tuple[Rule, ...] = _key(
        "`[tool.mlgate.slices.rules]`: `direction`, `significance` and `min_effect` per metric",
        (),
    )
    min_rows: int = _key("a slice with fewer rows at either revision is listed, not judged", 200)
    correction: Correction = _key(
        "across slices: `holm` (the chance of any false alarm) or `bh` (their expected share)",
        "holm",
    )
    bins: int = _key("quantile bins of a numeric column with more than 20 distinct values", 4)
    edges: dict[str, tuple[float, ...]] = _key(
        "`{ COLUMN = [EDGES] }`: a numeric column's bin edges, instead of its quantiles",
        factory=dict,
    )
    discover: bool = _key(
        "also test each pair of the columns' values, reported as warnings that never fail", False
    )


@dataclass(frozen=True)
class EnvironmentOptions:
    """``[tool.mlgate.environments.NAME]``: where the environment deploys to, and how its
    servers log. None: the default of what reads it (the request log's, the target's)."""

    target: str | None = _key(
        "a directory, or `s3://BUCKET/PREFIX`; unset: `.mlgate/deployments/NAME`"
    )
    monitoring_sample: float | None = _key("the share of requests the server logs")
    monitoring_max_mb: float | None = _key("the request log's size, in MB, before it rotates")
    monitoring_segment_seconds: float | None = _key(
        "seconds a replica's log segment stays open before it is shipped"
    )
    lease_seconds: float | None = _key(
        "seconds an object-store lock outlives a holder that stopped"
    )


@dataclass(frozen=True)
class Policy:
    """``[tool.mlgate]``: the gate's rules, and the releases, environments and loops around it."""

    rules: tuple[Rule, ...] = _key("`[tool.mlgate.rules]`: one rule per metric key", ())
    base: str | None = _key("the branch changes are gated against (default: the main branch)")
    source: str | None = None  # the file it came from; None: no policy
    table: dict[str, Any] = field(default_factory=dict)  # as written, to compare two policies
    model: str | None = _key("the model artifact's name when dvc.yaml declares none")
    environments: dict[str, EnvironmentOptions] = _key(
        "`[tool.mlgate.environments.NAME]`: where each environment deploys", factory=dict
    )
    promotion_order: tuple[str, ...] = _key(
        "environments in order: a version reaches each only after the one before", ()
    )
    predictions: str | None = _key(
        "the per-example predictions file significance rules test (a CSV in git or DVC)"
    )
    resamples: int = _key("bootstrap resamples of a significance test", DEFAULT_RESAMPLES)
    seed: int = _key("the bootstrap's seed: the same verdict on every run", DEFAULT_SEED)
    retrain: Retraining = _key("`[tool.mlgate.retrain]`", factory=Retraining)
    monitor: Monitoring = _key("`[tool.mlgate.monitor]`", factory=Monitoring)
    max_rows_drop: float = _key(
        "the share of prediction rows the head may lose before significance is distrusted",
        DEFAULT_MAX_ROWS_DROP,
    )
    require_pushed: bool = _key(
        "the outputs a change records must be in the DVC remote (checked in CI and pre-push)",
        True,
    )
    canary: Canary = _key("`[tool.mlgate.canary]`", factory=Canary)
    slices: Slicing | None = _key("`[tool.mlgate.slices]`: judged per slice too")

    def shrinkage(self, base_rows: int, head_rows: int) -> str | None:
        """Why significance cannot be trusted when the head's test set is much smaller than
        the base's (a smaller set widens the interval until anything is "within noise")."""
        if base_rows <= 0 or head_rows >= base_rows * (1 - self.max_rows_drop) - 1e-9:
            return None
        return (
            f"the test set shrank from {base_rows:,} to {head_rows:,} rows (more than the "
            f"{self.max_rows_drop:.0%} max_rows_drop allows)"
        )

    @property
    def tests_significance(self) -> bool:
        return any(rule.significance is not None for rule in self.rules)

    @property
    def reads_predictions(self) -> bool:
        """A rule asks for significance, or the policy slices the predictions."""
        return self.tests_significance or self.slices is not None

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


def _keys(record: type, *, internal: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The keys a table may hold: the dataclass's fields, but those mlgate fills in itself."""
    return tuple(f.name for f in fields(record) if f.name not in internal)


# Each table's keys are its dataclass's fields, so a key and its field are declared once.
RULE_KEYS = _keys(Rule, internal=("key",))
POLICY_KEYS = _keys(Policy, internal=("source", "table"))
RETRAIN_KEYS = _keys(Retraining)
MONITOR_KEYS = _keys(Monitoring)
CANARY_KEYS = _keys(Canary)
SLICING_KEYS = _keys(Slicing)
ENVIRONMENT_KEYS = _keys(EnvironmentOptions)


def prediction_metric(metric: str) -> str | None:
    """The prediction metric a metric key names (``test.roc_auc`` -> ``roc_auc``), or None."""
    known = named(metric)
    return None if known is None else known.name


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
    declared_environments = table.get("environments", {})
    if not isinstance(declared_environments, dict) or not all(
        isinstance(options, dict) for options in declared_environments.values()
    ):
        raise ConfigError(
            f"{where}: [tool.mlgate.environments] must hold one table per environment"
        )
    environments = {
        name: _parse_environment(options, f"{where}: [tool.mlgate.environments.{name}]")
        for name, options in declared_environments.items()
    }
    order = table.get("promotion_order", [])
    if not isinstance(order, list) or not all(isinstance(name, str) for name in order):
        raise ConfigError(f"{where}: promotion_order must be a list of environment names")
    undeclared = [name for name in order if environments and name not in environments]
    if undeclared:
        raise ConfigError(
            f"{where}: promotion_order names {', '.join(undeclared)}, "
            f"not declared in [tool.mlgate.environments]"
        )
    predictions = table.get("predictions")
    if predictions is not None and (not isinstance(predictions, str) or not predictions):
        raise ConfigError(
            f'{where}: predictions must be a file path such as "eval/predictions.csv"'
        )
    slices = _parse_slices(table["slices"], where) if "slices" in table else None
    asking = [rule.key for rule in rules if rule.significance is not None]
    if slices is not None and predictions is None:
        raise ConfigError(
            f"{where}: [tool.mlgate.slices] slices the per-example predictions: add "
            'predictions = "eval/predictions.csv" (your file, with the slice columns) to '
            "[tool.mlgate]"
        )
    if asking and predictions is None:
        raise ConfigError(
            f"{where}: rule '{asking[0]}' asks for significance, which needs "
            'per-example predictions: add predictions = "eval/predictions.csv" '
            "(your file) to [tool.mlgate]"
        )
    resamples = _integer(table, "resamples", DEFAULT_RESAMPLES, (100, 1_000_000), where)
    seed = _integer(table, "seed", DEFAULT_SEED, (0, 2**63 - 1), where)
    require_pushed = table.get("require_pushed", True)
    if not isinstance(require_pushed, bool):
        raise ConfigError(f"{where}: require_pushed must be true or false")
    retrain = _parse_retrain(table.get("retrain", {}), where)
    declared = set(environments) | set(order)
    if retrain.auto_promote and declared and retrain.auto_promote not in declared:
        raise ConfigError(
            f"{where}: [tool.mlgate.retrain] auto_promote names {retrain.auto_promote}, not "
            f"declared in [tool.mlgate.environments] ({', '.join(sorted(declared))})"
        )
    monitor = _parse_monitor(table.get("monitor", {}), where)
    rows_drop = _number(table, "max_rows_drop", f"{where}: [tool.mlgate]")
    if rows_drop is not None and not 0 <= rows_drop <= 1:
        raise ConfigError(
            f"{where}: max_rows_drop is the share of prediction rows the head may "
            f"lose, from 0 to 1, not {rows_drop:g}"
        )
    return Policy(
        rules=rules,
        base=base,
        source=source,
        table=table,
        model=model,
        environments=environments,
        promotion_order=tuple(order),
        predictions=predictions,
        resamples=resamples,
        seed=seed,
        retrain=retrain,
        monitor=monitor,
        max_rows_drop=DEFAULT_MAX_ROWS_DROP if rows_drop is None else rows_drop,
        require_pushed=require_pushed,
        canary=_parse_canary(table.get("canary", {}), where),
        slices=slices,
    )


def _parse_slices(table: Any, where: str) -> Slicing:
    context = f"{where}: [tool.mlgate.slices]"
    if not isinstance(table, dict):
        raise ConfigError(f"{context} must be a table")
    _reject_unknown(table, SLICING_KEYS, context)
    columns = table.get("columns")
    if (
        not isinstance(columns, list)
        or not columns
        or not all(isinstance(c, str) and c.strip() == c and c for c in columns)
    ):
        raise ConfigError(
            f'{context}: columns must list columns of the predictions file, such as ["country"]'
        )
    if len(set(columns)) != len(columns):
        raise ConfigError(f"{context}: columns names a column twice")
    reserved = [c for c in columns if c in RESERVED_COLUMNS or c.startswith("score_")]
    if reserved:
        raise ConfigError(
            f"{context}: {reserved[0]} is a column the gate reads as the prediction itself "
            "(id, label, prediction, score, score_<class>), not one to slice by"
        )
    rules_table = table.get("rules")
    if not isinstance(rules_table, dict) or not rules_table:
        raise ConfigError(
            f"{context}: add [tool.mlgate.slices.rules], such as "
            'roc_auc = { direction = "higher", significance = 0.05 }'
        )
    rules = tuple(_parse_slice_rule(key, value, context) for key, value in rules_table.items())
    correction = table.get("correction", "holm")
    if correction not in CORRECTIONS:
        raise ConfigError(
            f"{context}: correction must be 'holm' (Holm-Bonferroni) or 'bh' "
            f"(Benjamini-Hochberg), not {correction!r}"
        )
    edges = table.get("edges", {})
    if not isinstance(edges, dict):
        raise ConfigError(f"{context}: edges must be a table such as {{ hour = [6, 12, 18] }}")
    parsed_edges = {}
    for column, values in edges.items():
        if column not in columns:
            raise ConfigError(f"{context}: edges names {column}, which is not in columns")
        if (
            not isinstance(values, list)
            or not values
            or not all(_is_finite(v) for v in values)
            or any(b <= a for a, b in itertools.pairwise(values))
        ):
            raise ConfigError(
                f"{context}: edges of {column} must be increasing numbers, such as [6, 12, 18]"
            )
        parsed_edges[column] = tuple(float(v) for v in values)
    discover = table.get("discover", False)
    if not isinstance(discover, bool):
        raise ConfigError(f"{context}: discover must be true or false")
    return Slicing(
        columns=tuple(columns),
        rules=rules,
        min_rows=_integer(table, "min_rows", Slicing.min_rows, (10, 10**9), context),
        correction=correction,
        bins=_integer(table, "bins", Slicing.bins, (2, 20), context),
        edges=parsed_edges,
        discover=discover,
    )


def _parse_slice_rule(key: str, value: Any, context: str) -> Rule:
    """A slice rule: a prediction metric, better in a direction, judged by a test (a slice
    fails only when significantly worse; bounds would fail small slices on noise)."""
    rule_context = f"{context}: rule '{key}'"
    name = prediction_metric(key)
    if name is None:
        raise ConfigError(
            f"{rule_context}: a slice rule names a metric computed from predictions "
            f"({', '.join(PREDICTION_METRICS)})"
        )
    if not isinstance(value, dict):
        raise ConfigError(f'{rule_context} must be a table such as {{ direction = "higher" }}')
    _reject_unknown(value, SLICE_RULE_KEYS, rule_context)
    if "significance" not in value or "direction" not in value:
        raise ConfigError(
            f"{rule_context}: a slice fails only when significantly worse: give direction "
            "and significance (such as 0.05)"
        )
    return _parse_rule(name, value, context)


def _is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_canary(table: Any, where: str) -> Canary:
    context = f"{where}: [tool.mlgate.canary]"
    if not isinstance(table, dict):
        raise ConfigError(f"{context} must be a table")
    _reject_unknown(table, CANARY_KEYS, context)
    labels = _integer(table, "min_labels", Canary.min_labels, (1, 10**12), context)
    requests = _integer(table, "min_requests", Canary.min_requests, (1, 10**12), context)
    increase = _number(table, "max_error_increase", context)
    if increase is not None and not 0 <= increase < 1:
        raise ConfigError(
            f"{context}: max_error_increase is a share of requests, from 0 to below 1, "
            f"not {increase:g}"
        )
    ratio = _number(table, "max_latency_ratio", context)
    if ratio is not None and not 1 <= ratio <= 1000:
        raise ConfigError(f"{context}: max_latency_ratio must be from 1 to 1000, not {ratio:g}")
    return Canary(
        min_labels=labels,
        min_requests=requests,
        max_error_increase=Canary.max_error_increase if increase is None else increase,
        max_latency_ratio=Canary.max_latency_ratio if ratio is None else ratio,
    )


def _parse_retrain(table: Any, where: str) -> Retraining:
    context = f"{where}: [tool.mlgate.retrain]"
    if not isinstance(table, dict):
        raise ConfigError(f"{context} must be a table")
    _reject_unknown(table, RETRAIN_KEYS, context)
    refresh = table.get("refresh", [])
    if not isinstance(refresh, list) or not all(isinstance(s, str) and s for s in refresh):
        raise ConfigError(f'{context}: refresh must be a list of stage names such as ["ingest"]')
    branch = table.get("branch", DEFAULT_RETRAIN_BRANCH)
    if not isinstance(branch, str) or not branch or branch.startswith("-") or " " in branch:
        raise ConfigError(f"{context}: branch must be a branch name, not {branch!r}")
    auto_merge = table.get("auto_merge", False)
    if not isinstance(auto_merge, bool):
        raise ConfigError(f"{context}: auto_merge must be true or false")
    auto_promote = table.get("auto_promote")
    if auto_promote is not None and (
        not isinstance(auto_promote, str) or not NAME_RE.match(auto_promote)
    ):
        raise ConfigError(
            f'{context}: auto_promote must name an environment such as "staging", '
            f"not {auto_promote!r}"
        )
    return Retraining(
        refresh=tuple(refresh), branch=branch, auto_merge=auto_merge, auto_promote=auto_promote
    )


def _parse_environment(options: dict[str, Any], context: str) -> EnvironmentOptions:
    _reject_unknown(options, ENVIRONMENT_KEYS, context)
    target = options.get("target")
    if target is not None and (not isinstance(target, str) or not target):
        raise ConfigError(
            f'{context}: target must be a directory such as "deployments/production" '
            'or an object-store URL such as "s3://bucket/production"'
        )
    if isinstance(target, str) and "://" in target and not target.split("://", 1)[1].split("/")[0]:
        raise ConfigError(f"{context}: target {target} names no bucket: write s3://BUCKET/PREFIX")
    max_mb = _number(options, "monitoring_max_mb", context)
    if max_mb is not None and not max_mb > 0:
        raise ConfigError(f"{context}: monitoring_max_mb must be above 0, not {max_mb:g}")
    segment = _number(options, "monitoring_segment_seconds", context)
    if segment is not None and not 1 <= segment <= 86_400:
        raise ConfigError(
            f"{context}: monitoring_segment_seconds (how long a replica's log segment stays "
            f"open before it is shipped) must be from 1 to 86400, not {segment:g}"
        )
    lease = _number(options, "lease_seconds", context)
    if lease is not None and not 1 <= lease <= 86_400:
        raise ConfigError(
            f"{context}: lease_seconds (how long an object-store target's lock outlives a "
            f"holder that stopped renewing it) must be from 1 to 86400, not {lease:g}"
        )
    return EnvironmentOptions(
        target=target,
        monitoring_sample=_share(
            options, "monitoring_sample", "the share of requests logged", context
        ),
        monitoring_max_mb=max_mb,
        monitoring_segment_seconds=segment,
        lease_seconds=lease,
    )


def _share(table: dict[str, Any], name: str, meaning: str, context: str) -> float | None:
    """An optional share: above 0, at most 1."""
    value = _number(table, name, context)
    if value is not None and not 0 < value <= 1:
        raise ConfigError(f"{context}: {name} is {meaning}, above 0 and at most 1, not {value:g}")
    return value


def _parse_monitor(table: Any, where: str) -> Monitoring:
    context = f"{where}: [tool.mlgate.monitor]"
    if not isinstance(table, dict):
        raise ConfigError(f"{context} must be a table")
    _reject_unknown(table, MONITOR_KEYS, context)
    share = _share(table, "drift_share", "the share of columns that must drift", context)
    min_rows = _integer(table, "min_rows", Monitoring.min_rows, (1, 10**12), context)
    return Monitoring(
        drift_share=Monitoring.drift_share if share is None else share, min_rows=min_rows
    )


def _integer(
    table: dict[str, Any], name: str, default: int, bounds: tuple[int, int], where: str
) -> int:
    value = table.get(name, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(
            f"{where}: {name} must be a whole number from {low:,} to {high:,}, not {value!r}"
        )
    return value


def _parse_rule(key: str, value: Any, where: str) -> Rule:
    context = f"{where}: rule '{key}'"
    if not isinstance(value, dict):
        raise ConfigError(f'{context} must be a table such as {{ direction = "higher" }}')
    _reject_unknown(value, RULE_KEYS, context)
    direction = value.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise ConfigError(f"{context}: direction must be 'higher' or 'lower', not {direction!r}")
    numbers = {
        name: _number(value, name, context)
        for name in ("min", "max", "tolerance", "tolerance_pct", "significance", "min_effect")
    }
    _check_significance(key, value, numbers, direction, context)
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
    return Rule(
        key,
        direction=direction,
        required=required,
        fallback=value.get("fallback", "error"),
        **numbers,
    )


def _check_significance(
    key: str,
    value: dict[str, Any],
    numbers: dict[str, float | None],
    direction: str | None,
    context: str,
) -> None:
    level, margin = numbers["significance"], numbers["min_effect"]
    if level is None:
        for name in ("min_effect", "fallback"):
            if name in value:
                raise ConfigError(
                    f"{context}: {name} applies only with significance (such as "
                    "significance = 0.05)"
                )
        return
    if not 0 < level < 1:
        raise ConfigError(
            f"{context}: significance is a test level such as 0.05, between 0 and 1, not {level:g}"
        )
    if direction is None:
        raise ConfigError(f"{context}: significance needs a direction ('higher' or 'lower')")
    if not any(c in key for c in _GLOB_CHARS) and prediction_metric(key) is None:
        raise ConfigError(
            f"{context}: significance is computed from predictions, for "
            f"{', '.join(PREDICTION_METRICS)}; '{key}' is none of them"
        )
    if margin is not None and margin < 0:
        raise ConfigError(f"{context}: min_effect must not be negative")
    if margin is not None and (
        numbers["tolerance"] is not None or numbers["tolerance_pct"] is not None
    ):
        raise ConfigError(
            f"{context}: give min_effect or a tolerance, not both (with "
            "significance, min_effect is the tolerance)"
        )
    fallback = value.get("fallback", "error")
    if fallback not in FALLBACKS:
        raise ConfigError(
            f"{context}: fallback must be 'error' or 'point-estimate', not {fallback!r}"
        )


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
