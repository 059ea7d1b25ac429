"""What every pipeline stage shares: reading params, writing outputs atomically, failing cleanly."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from mlgate.errors import EXIT_OK, MlgateError, first_line, guarded

META_FILE = "meta.json"
Task = Literal["classification", "regression"]
CLASSIFICATION: Task = "classification"
REGRESSION: Task = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
MAX_CLASSES = 20  # a numeric target with more distinct values (or any fraction) is a quantity


class StageError(MlgateError):
    """A pipeline stage cannot run on its input; the message names what to fix."""


def load_params(path: Path, section: str) -> dict[str, Any]:
    """Return one top-level section of a params file (``data``, ``prepare``, ``train``...)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            params = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise StageError(f"params file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise StageError(f"{path} is not valid YAML: {first_line(exc)}") from None
    if not isinstance(params, dict):
        raise StageError(f"{path} must be a mapping of sections, got {type(params).__name__}")
    value = params.get(section, {})
    if not isinstance(value, dict):
        raise StageError(f"{path}: section '{section}' must be a mapping")
    return value


def number(
    params: dict[str, Any], key: str, default: float, name: str, *, whole: bool = False
) -> Any:
    """``params[key]`` as a finite number (an int when ``whole``); text that reads as one is
    taken too (``1e-3`` is text to YAML 1.1). StageError naming ``name`` otherwise."""
    value = params.get(key, default)
    kind = "a whole number" if whole else "a number"
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        number = float(value)
    except (ValueError, OverflowError):
        raise StageError(f"{name} must be {kind}, got {value!r}") from None
    if not math.isfinite(number) or (whole and number != int(number)):
        raise StageError(f"{name} must be {kind}, got {value!r}")
    return int(number) if whole else number


def infer_task(target: Any) -> str:
    """Regression for a numeric target holding fractions or more than MAX_CLASSES distinct
    values, else classification."""
    import pandas as pd

    present = pd.Series(target).dropna()
    if not pd.api.types.is_numeric_dtype(present) or pd.api.types.is_bool_dtype(present):
        return CLASSIFICATION
    fractional = bool((present != present.round()).any())
    return REGRESSION if fractional or present.nunique() > MAX_CLASSES else CLASSIFICATION


def task_of(params: dict[str, Any], target: Any) -> str:
    """``train.task`` when given (``classification`` or ``regression``), else inferred."""
    task = params.get("task")
    if task is None:
        return infer_task(target)
    if task not in TASKS:
        raise StageError(f"train.task must be one of {', '.join(TASKS)}, got {task!r}")
    return str(task)


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise StageError(f"input not found: {path} (did the previous stage run?)") from None
    except json.JSONDecodeError as exc:
        raise StageError(f"{path} is not valid JSON: {exc}") from None


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def run_stage(
    name: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    main: Callable[[argparse.Namespace], None],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse arguments and run a stage; an expected failure is one line on stderr and exit 2."""
    parser = argparse.ArgumentParser(prog=f"python -m mlgate.pipeline.{name}")
    add_arguments(parser)
    args = parser.parse_args(argv)

    def stage() -> int:
        main(args)
        return EXIT_OK

    return guarded(
        stage,
        say=lambda line: print(line, file=sys.stderr),
        prefix=name,
        advice="the traceback is above; please report it",
        show_traceback=True,
    )
