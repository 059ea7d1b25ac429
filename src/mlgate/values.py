"""Metrics and params as DVC compares them: nested mappings flattened to dotted keys, what DVC
counts as a metric, and the diff of two revisions' values (``dvc metrics diff --json``'s shape,
value for value). Pure: no I/O.
"""

from __future__ import annotations

import contextlib
from typing import Any

FileValues = dict[str, dict[str, Any]]  # file -> flattened key -> value


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings become dotted keys; lists and scalars are values; empty mappings vanish."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else ({} if data is None else {"": data})
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def metric_values(data: Any) -> Any:
    """Keep what DVC counts as metrics: numbers, booleans and text, in nested mappings."""
    if isinstance(data, (int, float, str)):
        return data
    if not isinstance(data, dict):
        return None
    kept = {key: metric_values(value) for key, value in data.items()}
    return {key: value for key, value in kept.items() if value not in (None, {})}


def diff(
    old: FileValues, new: FileValues, *, with_unchanged: bool = False
) -> dict[str, dict[str, Any]]:
    """``{file: {key: {"old", "new"[, "diff"]}}}``, as DVC's diff computes it."""
    result: dict[str, dict[str, Any]] = {}
    for path in sorted(set(old) | set(new)):
        old_values, new_values = old.get(path, {}), new.get(path, {})
        changes = {}
        for key in sorted(set(old_values) | set(new_values)):
            entry = diff_values(
                old_values.get(key), new_values.get(key), with_unchanged=with_unchanged
            )
            if entry:
                changes[key] = entry
        if changes:
            result[path] = changes
    return result


def diff_values(old: Any, new: Any, *, with_unchanged: bool = False) -> dict[str, Any]:
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) == 1:
        return diff_values(old[0], new[0], with_unchanged=with_unchanged)
    if old == new and not with_unchanged:
        return {}
    entry = {"old": old, "new": new}
    if is_number(old) and is_number(new):
        with contextlib.suppress(OverflowError):  # an integer beyond a float's range
            entry["diff"] = new - old
    return entry


def is_number(value: Any) -> bool:
    """What DVC computes a difference for (booleans included, as in Python)."""
    return isinstance(value, (int, float))
