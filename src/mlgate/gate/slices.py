"""The slice gate's measurements: the predictions file's slice columns -> each slice's paired
test, per slice rule (``[tool.mlgate.slices]``). Loaded with NumPy, only when a policy slices.

A slice is the rows sharing a value of a declared column; a numeric column with more than
``MAX_LEVELS`` distinct values (or with ``edges`` declared) is cut into bins, whose edges are
the base's quantiles unless declared, so both revisions share them. When the comparison is
paired (the same row ids), a row must be in the same slice at both revisions; otherwise each
revision's rows are sliced by its own file. Every slice is tested as the whole file is (the
gate's bootstrap, McNemar for paired accuracy), with p-values from the resamples' standard
error (``stats.NORMAL``) so that a correction across many slices can still find one.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlgate.errors import DataError
from mlgate.gate import slicing, stats
from mlgate.policy import Slicing

MAX_LEVELS = 20  # a numeric column with more distinct values is binned
MAX_SLICES = 100  # values of one declared column: more is an id, not a slice
MAX_DISCOVERED = 400  # pairs tested by discovery, the largest first
EMPTY = "(empty)"


def measure(
    slicing_policy: Slicing,
    base_columns: dict[str, list[str]],
    head_columns: dict[str, list[str]],
    base_data: stats.Scored | stats.Valued,
    head_data: stats.Scored | stats.Valued,
    *,
    paired: bool,
    ids: Sequence[str],
    where: tuple[str, str],
    resamples: int,
    seed: int,
) -> slicing.SliceReport:
    """Each slice rule judged on every slice of the declared columns (and, with ``discover``,
    on their pairs). ``*_columns``: each revision's slice columns as read, head's rows already
    in base's order when ``paired``; ``ids``: base's row ids, to name a row; ``where``: each
    file as messages name it. Raises DataError when a column cannot be sliced, or no slice of
    a rule can be judged."""
    base_labels, head_labels, order = _labelled(slicing_policy, base_columns, head_columns, where)
    if paired:
        _same_slices(base_labels, head_labels, ids, where)
    outcomes: list[slicing.SliceOutcome] = []
    sides = _Sides(
        base_labels, head_labels, order, base_data, head_data, paired, resamples, seed,
        slicing_policy.min_rows,
    )  # fmt: skip
    groups = [(column,) for column in slicing_policy.columns]
    pairs = list(itertools.combinations(slicing_policy.columns, 2))  # what discovery looks at
    for rule in slicing_policy.rules:
        assert rule.significance is not None
        level = 1 - rule.significance
        declared = _candidates(groups, sides, rule.key, level)
        if not any(
            c.not_judged is None and c.tested and c.tested.unjudged is None for c in declared
        ):
            raise DataError(
                f"{where[0]} and {where[1]}: no slice of {', '.join(slicing_policy.columns)} can "
                f"judge {rule.key} (each needs {slicing_policy.min_rows:,} rows at both revisions "
                "and a finite test): lower min_rows in [tool.mlgate.slices], or slice by "
                "coarser columns"
            )
        outcomes += slicing.judge(rule, declared, slicing_policy.correction, declared=True)
        if slicing_policy.discover and pairs:
            found = _candidates(pairs, sides, rule.key, level, largest=MAX_DISCOVERED)
            outcomes += slicing.judge(rule, found, slicing_policy.correction, declared=False)
    return slicing.SliceReport(
        slicing_policy.columns, slicing_policy.correction, slicing_policy.min_rows, tuple(outcomes)
    )


def _labelled(
    policy: Slicing,
    base_columns: dict[str, list[str]],
    head_columns: dict[str, list[str]],
    where: tuple[str, str],
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, dict[str, int]]]:
    """Each declared column's slice label per row, at base and at head, and the order its
    slices are listed in (bins from the lowest, values as text sorts them)."""
    base_labels, head_labels, order = {}, {}, {}
    for column in policy.columns:
        for side, columns in zip(where, (base_columns, head_columns), strict=True):
            if column not in columns:
                raise DataError(
                    f"{side} lacks the slice column {column!r} ([tool.mlgate.slices] columns): "
                    "the evaluation must write it beside each prediction"
                )
        base_values, head_values = base_columns[column], head_columns[column]
        edges = _edges(policy, column, base_values, head_values)
        base_labels[column] = _labels(base_values, edges)
        head_labels[column] = _labels(head_values, edges)
        seen = set(base_labels[column]) | set(head_labels[column])
        listed = _bin_names(edges) if edges is not None else []
        order[column] = {
            name: rank for rank, name in enumerate([*listed, *sorted(seen - set(listed))])
        }
        count = len(seen)
        if count > MAX_SLICES:
            raise DataError(
                f"{where[0]} and {where[1]}: the slice column {column!r} has {count:,} values, "
                f"more than the {MAX_SLICES} slices one column may make: slice by a coarser "
                "column, or give it edges in [tool.mlgate.slices] if it is a number"
            )
    return base_labels, head_labels, order


def _edges(
    policy: Slicing, column: str, base_values: list[str], head_values: list[str]
) -> tuple[float, ...] | None:
    """The bin edges of a numeric column (declared, else the base's quantiles); None: the
    column's values are its slices."""
    numbers = _numbers(base_values + head_values)
    if column in policy.edges:
        if numbers is None:
            raise DataError(
                f"the slice column {column!r} has edges in [tool.mlgate.slices], and values "
                "that are not numbers"
            )
        return policy.edges[column]
    if numbers is None or len(np.unique(numbers)) <= MAX_LEVELS:
        return None
    base_numbers = _numbers(base_values)
    source = base_numbers if base_numbers is not None and len(base_numbers) else numbers
    quantiles = np.quantile(source, [k / policy.bins for k in range(1, policy.bins)])
    return tuple(float(q) for q in np.unique(quantiles))


def _numbers(values: list[str]) -> stats.Floats | None:
    """The non-empty values as numbers, or None when one is not a finite number."""
    present = [v for v in values if v.strip()]
    try:
        numbers = np.array(present, dtype=np.float64)
    except ValueError:
        return None
    return numbers if bool(np.isfinite(numbers).all()) else None


def _bin_names(edges: tuple[float, ...]) -> list[str]:
    names = [f"< {_edge(edges[0])}"]
    names += [f"{_edge(a)} to < {_edge(b)}" for a, b in itertools.pairwise(edges)]
    names.append(f">= {_edge(edges[-1])}")
    return names


def _labels(values: list[str], edges: tuple[float, ...] | None) -> list[str]:
    if edges is None:
        return [v if v.strip() else EMPTY for v in values]
    names = _bin_names(edges)
    return [
        names[int(np.searchsorted(edges, float(v), side="right"))] if v.strip() else EMPTY
        for v in values
    ]


def _edge(value: float) -> str:
    return f"{value:.6g}"


def _same_slices(
    base: dict[str, list[str]],
    head: dict[str, list[str]],
    ids: Sequence[str],
    where: tuple[str, str],
) -> None:
    """Paired rows are the same examples: each must be in the same slice at both revisions."""
    for column, labels in base.items():
        for row, (at_base, at_head) in enumerate(zip(labels, head[column], strict=True)):
            if at_base != at_head:
                raise DataError(
                    f"{where[0]} and {where[1]}: row {ids[row]!r} is in the slice {column} = "
                    f"{at_base!r} at base and {at_head!r} at head; a paired row must be in one "
                    "slice"
                )


@dataclass(frozen=True)
class _Sides:
    """What every slice's test reads: both revisions' labels and data, and the test's terms."""

    base_labels: dict[str, list[str]]
    head_labels: dict[str, list[str]]
    order: dict[str, dict[str, int]]  # each column's slices in the order they are listed
    base_data: stats.Scored | stats.Valued
    head_data: stats.Scored | stats.Valued
    paired: bool
    resamples: int
    seed: int
    min_rows: int


def _candidates(
    groups: Sequence[tuple[str, ...]],
    sides: _Sides,
    metric: str,
    level: float,
    *,
    largest: int | None = None,
) -> list[slicing.Candidate]:
    """Every slice of each group of columns, measured for one metric; ``largest``: only the
    slices large enough to judge, this many at most, the largest first."""
    min_rows = sides.min_rows
    found: list[tuple[slicing.Slice, np.ndarray, np.ndarray]] = []
    for columns in groups:
        base_rows = _rows_by_value(columns, sides.base_labels)
        head_rows = _rows_by_value(columns, sides.head_labels)
        ranks = [sides.order[c] for c in columns]

        def listed(values: tuple[str, ...], ranks: list[dict[str, int]] = ranks) -> list[int]:
            return [rank[v] for rank, v in zip(ranks, values, strict=True)]

        for values in sorted(set(base_rows) | set(head_rows), key=listed):
            empty = np.arange(0)
            found.append(
                (
                    slicing.Slice(columns, values),
                    base_rows.get(values, empty),
                    head_rows.get(values, empty),
                )
            )
    if largest is not None:
        found = [f for f in found if min(len(f[1]), len(f[2])) >= min_rows]
        found.sort(key=lambda f: -min(len(f[1]), len(f[2])))
        found = found[:largest]
    candidates = []
    for where, base_rows_in, head_rows_in in found:
        rows = min(len(base_rows_in), len(head_rows_in))
        if rows < min_rows:
            candidates.append(
                slicing.Candidate(
                    where, rows, None, f"{rows:,} rows, fewer than min_rows {min_rows:,}"
                )
            )
            continue
        tested = stats.compare(
            {metric: level},
            sides.base_data.take(base_rows_in),
            sides.head_data.take(head_rows_in),
            paired=sides.paired,
            resamples=sides.resamples,
            seed=sides.seed,
            p_values=stats.NORMAL,
        )[metric]
        candidates.append(slicing.Candidate(where, rows, tested))
    return candidates


def _rows_by_value(
    columns: tuple[str, ...], labels: dict[str, list[str]]
) -> dict[tuple[str, ...], np.ndarray]:
    """Each combination of the columns' labels -> the rows that have it."""
    keys = list(zip(*(labels[c] for c in columns), strict=True))
    rows: dict[tuple[str, ...], list[int]] = {}
    for row, key in enumerate(keys):
        rows.setdefault(key, []).append(row)
    return {key: np.array(found, dtype=np.intp) for key, found in rows.items()}
