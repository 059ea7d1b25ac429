"""YAML 1.2 as DVC reads it (ruamel's rules, with PyYAML's C parser): booleans, ints and floats by 1.2's core schema, duplicate keys refused, and a bound on what aliases expand to."""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from mlgate.errors import DataError

# Bounds on a parsed data file, counting every value each alias expands to: a file of a few KB
# of nested YAML aliases ("billion laughs") would otherwise take gigabytes once walked.
MAX_VALUES = 1_000_000

MAX_DEPTH = 100


def parse_yaml(text: bytes | str, where: str) -> Any:
    """YAML as DVC reads it: version 1.2, as ruamel.yaml resolves it (``1e-3`` is 0.001,
    ``yes`` and ``on`` are text, ``010`` is ten), with PyYAML's C parser for speed."""
    import yaml

    try:
        return check_bounded(yaml.load(text, Loader=_yaml12_loader()), where)
    except yaml.YAMLError as exc:
        raise DataError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise DataError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # an integer of more than 4,300 digits, say
        raise DataError(f"{where} is not valid YAML: {exc}") from None


@functools.cache
def _yaml12_loader() -> type:
    """PyYAML's safe loader with YAML 1.2's implicit types in place of YAML 1.1's, matching
    ruamel.yaml (what DVC uses) scalar for scalar (a test compares them)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    replaced = {_BOOL, _INT, _FLOAT}
    resolvers = {
        first: [(tag, rx) for tag, rx in pairs if tag not in replaced]
        for first, pairs in base.yaml_implicit_resolvers.items()
    }
    loader: Any = type("Yaml12Loader", (base,), {"yaml_implicit_resolvers": resolvers})
    loader.add_implicit_resolver(_BOOL, _YAML12_BOOL, list("tTfF"))
    loader.add_implicit_resolver(_FLOAT, _YAML12_FLOAT, list("-+0123456789."))
    loader.add_implicit_resolver(_INT, _YAML12_INT, list("-+0123456789"))
    loader.add_constructor(_BOOL, lambda load, node: load.construct_scalar(node).lower() == "true")
    loader.add_constructor(_INT, lambda load, node: _yaml12_int(load.construct_scalar(node)))
    loader.add_constructor(_FLOAT, lambda load, node: _yaml12_float(load.construct_scalar(node)))
    loader.add_constructor("tag:yaml.org,2002:map", _unique_mapping)
    return loader


def _unique_mapping(load: Any, node: Any) -> dict[Any, Any]:
    """A mapping whose keys are each written once, as ruamel.yaml (DVC's parser) requires: a
    duplicate key is an error there, never its last value (a metric written twice would be
    judged on whichever copy PyYAML kept). Keys brought in by a ``<<`` merge may be overridden,
    as YAML allows."""
    import yaml

    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = load.construct_object(key_node, deep=True)
        try:
            repeated = key in seen
        except TypeError:  # an unhashable key: PyYAML's own error follows
            continue
        if repeated:
            raise yaml.constructor.ConstructorError(
                None, None, f"found duplicate key {str(key)[:60]!r}", key_node.start_mark
            )
        seen.add(key)
    return dict(load.construct_mapping(node, deep=True))  # merges flattened there


_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"

# ruamel.yaml's resolvers for YAML 1.2 (ruamel/yaml/resolver.py), written out once here.
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)\Z")

_YAML12_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)

_YAML12_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)


def _yaml12_int(text: str) -> int:
    """``0b``, ``0o`` and ``0x`` prefixes; otherwise decimal, leading zeros and all."""
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


def _yaml12_float(text: str) -> float:
    value = text.replace("_", "").lower()
    if value.lstrip("+-") == ".inf":
        return -math.inf if value.startswith("-") else math.inf
    if value == ".nan":
        return math.nan
    return float(value)


def check_bounded(data: Any, where: str) -> Any:
    """``data`` itself, once it is known to hold at most MAX_VALUES values (each alias counted
    as often as it is used) nested at most MAX_DEPTH deep, with no alias inside itself; else
    DataError. Shared values are measured once, so this takes microseconds per distinct value
    whatever the file expands to."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (values, height)
    _measure(data, 0, measured, set(), where)
    return data


def _measure(
    value: Any, depth: int, measured: dict[int, tuple[int, int]], open_: set[int], where: str
) -> tuple[int, int]:
    if not isinstance(value, (dict, list)):
        return 1, 0
    key = id(value)
    if key in open_:
        raise DataError(f"{where} holds a YAML alias inside itself: refusing to read it")
    values, height = measured.get(key) or _measure_children(value, depth, measured, open_, where)
    if depth + height > MAX_DEPTH:
        raise DataError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)")
    return values, height


def _measure_children(
    value: dict[Any, Any] | list[Any],
    depth: int,
    measured: dict[int, tuple[int, int]],
    open_: set[int],
    where: str,
) -> tuple[int, int]:
    if depth >= MAX_DEPTH:
        raise DataError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)")
    open_.add(id(value))
    values, height = 1 + (len(value) if isinstance(value, dict) else 0), 0
    for child in value.values() if isinstance(value, dict) else value:
        child_values, child_height = _measure(child, depth + 1, measured, open_, where)
        values, height = values + child_values, max(height, child_height + 1)
        if values > MAX_VALUES:
            raise DataError(
                f"{where} expands to more than {MAX_VALUES:,} values (YAML aliases "
                "repeated within aliases?): refusing to read it"
            )
    open_.discard(id(value))
    measured[id(value)] = (values, height)
    return values, height
