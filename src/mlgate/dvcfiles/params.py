"""Params and metrics files in every format DVC reads: YAML, JSON, TOML and Python (module-level constants and class attributes, as DVC's own parser takes them)."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from mlgate.dvcfiles.yaml12 import MAX_DEPTH, check_bounded, parse_yaml
from mlgate.errors import DataError, first_line

DEFAULT_PARAMS_FILE = "params.yaml"


DATA_FORMATS = (".json", ".toml", ".yaml", ".yml", ".py")


def is_data_format(path: str) -> bool:
    """Whether ``path``'s extension names a format DVC parses as such (any other it reads as
    YAML, warning and skipping the file when that fails)."""
    return posixpath.splitext(path)[1].lower() in DATA_FORMATS


def parse_data_file(path: str, content: bytes, where: str) -> Any:
    """Parse a metrics or params file by its extension, as DVC does (JSON, YAML, TOML, Python)."""
    extension = posixpath.splitext(path)[1].lower()
    try:
        if extension == ".json":
            return check_bounded(json.loads(content), where)
        if extension == ".toml":
            return check_bounded(_toml_loads(content.decode()), where)
    except RecursionError:
        raise DataError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{where} is not valid {extension[1:].upper()}: {exc}") from None
    if extension in (".yaml", ".yml"):
        return parse_yaml(content, where)
    if extension == ".py":
        return check_bounded(parse_python_params(content, where), where)
    raise DataError(
        f"{where}: unsupported file format '{extension}' (use JSON, YAML, TOML or Python)"
    )


def parse_python_params(content: bytes, where: str) -> dict[str, Any]:
    """A Python params file read as DVC reads it, without running it: each top-level
    ``NAME = literal`` (or ``NAME: type = literal``), each class as a table of its own such
    assignments and of the ``self.NAME = literal`` ones in its ``__init__``. An assignment
    whose value is not a literal (a call, a name) is left out, as DVC leaves it out."""
    import ast

    try:
        tree = ast.parse(content, filename=where)
    except (SyntaxError, ValueError) as exc:
        raise DataError(f"{where} is not valid Python: {first_line(exc)}") from None
    except (RecursionError, MemoryError):
        raise DataError(f"{where} is nested too deeply to read") from None
    try:
        return _python_table(tree.body, in_init=False)
    except RecursionError:
        raise DataError(f"{where} is nested too deeply to read") from None


def _python_table(body: list[Any], *, in_init: bool) -> dict[str, Any]:
    import ast

    table: dict[str, Any] = {}
    for statement in body:
        if isinstance(statement, ast.ClassDef):
            table[statement.name] = _python_table(statement.body, in_init=False)
        elif isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
            table.update(_python_table(statement.body, in_init=True))
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = (
                [statement.target] if isinstance(statement, ast.AnnAssign) else statement.targets
            )
            name = _python_name(targets[0], in_init=in_init) if len(targets) == 1 else None
            if name is None or statement.value is None:
                continue
            try:
                table[name] = _python_value(ast.literal_eval(statement.value))
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                continue  # not a literal: DVC leaves it out too
    return table


def _python_name(target: Any, *, in_init: bool) -> str | None:
    """``NAME`` at the top of a module or class; ``self.NAME`` in ``__init__``."""
    import ast

    if isinstance(target, ast.Name) and not in_init:
        return target.id
    if in_init and isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        return target.attr if target.value.id == "self" else None
    return None


def _python_value(value: Any) -> Any:
    """A literal as DVC keeps it (a tuple stays a tuple: `dvc params diff` shows it as a list
    where it shows a list as text); sets, bytes and complex numbers, which no params format
    has, as their text."""
    if isinstance(value, dict):
        return {
            key if isinstance(key, str) else str(key): _python_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_python_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_python_value(item) for item in value)
    if isinstance(value, (set, frozenset, bytes, complex)):
        return repr(value)
    return value


def _toml_loads(text: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)
