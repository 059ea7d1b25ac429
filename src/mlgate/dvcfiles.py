"""dvc.yaml, dvc.lock and metrics/params files read as plain data, at any revision.

This is the fast path: no DVC import. A dvc.yaml that uses templating (``${...}``, ``foreach``,
``matrix``) cannot be resolved by reading YAML; callers then fall back to DVC itself.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from mlgate.errors import DataError
from mlgate.git import Revision

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DEFAULT_PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class MetricsFile:
    path: str
    cached: bool  # True: the file lives in DVC's cache, not in git


@dataclass(frozen=True)
class Declarations:
    """The metrics and params files a dvc.yaml declares, as DVC's own show/diff collect them."""

    metrics: tuple[MetricsFile, ...] = ()
    # file -> the keys stages track (None: the whole file)
    params: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    templated: bool = False
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_yaml(text: bytes | str, where: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise DataError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None


def parse_data_file(path: str, content: bytes, where: str) -> Any:
    """Parse a metrics or params file by its extension, as DVC does (JSON, YAML, TOML)."""
    extension = posixpath.splitext(path)[1].lower()
    try:
        if extension == ".json":
            return json.loads(content)
        if extension == ".toml":
            return _toml_loads(content.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{where} is not valid {extension[1:].upper()}: {exc}") from None
    if extension in (".yaml", ".yml"):
        return parse_yaml(content, where)
    raise DataError(f"{where}: unsupported file format '{extension}' (use JSON, YAML or TOML)")


def _toml_loads(text: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def read_declarations(revision: Revision) -> Declarations:
    """Parse dvc.yaml at ``revision``; a revision without one declares nothing."""
    content = revision.read_one(DVC_YAML)
    if content is None:
        return Declarations()
    where = f"{DVC_YAML} at {revision.label}"
    document = parse_yaml(content, where) or {}
    if not isinstance(document, dict):
        raise DataError(f"{where} must be a mapping")
    if is_templated(content, document):
        return Declarations(templated=True)
    metrics: dict[str, bool] = {p: False for p in _paths(document.get("metrics"))}
    params: dict[str, tuple[str, ...] | None] = {p: None for p in _paths(document.get("params"))}
    for name, stage in (document.get("stages") or {}).items():
        if not isinstance(stage, dict):
            raise DataError(f"{where}: stage '{name}' must be a mapping")
        wdir = str(stage.get("wdir", "."))
        for path, options in entries(stage.get("metrics")):
            metrics[join(wdir, path)] = bool((options or {}).get("cache", True))
        collect_stage_params(stage.get("params"), wdir, params)
    params[DEFAULT_PARAMS_FILE] = None  # DVC always shows the default params file whole
    return Declarations(
        metrics=tuple(MetricsFile(p, c) for p, c in metrics.items()),
        params=params,
        artifacts=dict(document.get("artifacts") or {}),
    )


def artifact_path(revision: Revision, artifact: str) -> str | None:
    """Where dvc.yaml's ``artifacts:`` section puts ``artifact`` at ``revision``."""
    declared = read_declarations(revision).artifacts.get(artifact)
    return str(declared["path"]) if isinstance(declared, dict) and "path" in declared else None


def artifact_file(revision: Revision, artifact: str,
                  outputs: dict[str, Any] | None = None) -> tuple[str | None, str | None]:  # fmt: skip
    """The artifact's path and the md5 dvc.lock records for it at ``revision``."""
    path = artifact_path(revision, artifact)
    if outputs is None:
        outputs = lock_outputs(read_lock(revision))
    return path, (outputs.get(path) or {}).get("md5") if path else None


def read_lock(revision: Revision) -> dict[str, Any]:
    """Return dvc.lock's stages at ``revision`` ({} when there is none)."""
    content = revision.read_one(DVC_LOCK)
    return {} if content is None else parse_lock(content, f"{DVC_LOCK} at {revision.label}")


def parse_lock(content: bytes, where: str) -> dict[str, Any]:
    document = parse_yaml(content, where) or {}
    stages = document.get("stages", {}) if isinstance(document, dict) else {}
    return stages if isinstance(stages, dict) else {}


def collect_stage_params(
    entries: Any, wdir: str, params: dict[str, tuple[str, ...] | None]
) -> None:
    """Add one stage's ``params`` entries to ``params``: file -> keys (None: the whole file)."""
    for entry in entries or []:
        if isinstance(entry, str):
            _track(params, join(wdir, DEFAULT_PARAMS_FILE), (entry,))
        elif isinstance(entry, dict):
            for path, keys in entry.items():
                _track(params, join(wdir, str(path)), tuple(keys) if keys else None)


def _track(
    params: dict[str, tuple[str, ...] | None], path: str, keys: tuple[str, ...] | None
) -> None:
    if path in params and (params[path] is None or keys is None):
        params[path] = None  # once the whole file is tracked, it stays whole
        return
    params[path] = (*(params.get(path) or ()), *keys) if keys else None


def entries(value: Any) -> list[tuple[str, dict[str, Any] | None]]:
    entries: list[tuple[str, dict[str, Any] | None]] = []
    for item in value or []:
        if isinstance(item, str):
            entries.append((item, None))
        elif isinstance(item, dict):
            entries.extend((str(p), o if isinstance(o, dict) else None) for p, o in item.items())
    return entries


def _paths(value: Any) -> list[str]:
    return [path for path, _ in entries(value)]


def join(wdir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(wdir, path))


def is_templated(content: bytes, document: dict[str, Any]) -> bool:
    if b"${" in content or "vars" in document:
        return True
    stages = document.get("stages") or {}
    return any(isinstance(s, dict) and ("foreach" in s or "matrix" in s) for s in stages.values())


@dataclass(frozen=True)
class DataChange:
    path: str
    old_md5: str | None
    new_md5: str | None
    old_size: int | None
    new_size: int | None


def lock_changes(old_lock: dict[str, Any], new_lock: dict[str, Any]) -> list[DataChange]:
    """Dependencies and outputs whose hash or size differs between two dvc.lock files."""
    old, new = _lock_entries(old_lock), _lock_entries(new_lock)
    changes = []
    for path in sorted(set(old) | set(new)):
        (old_md5, old_size), (new_md5, new_size) = (
            old.get(path, (None, None)),
            new.get(path, (None, None)),
        )
        if (old_md5, old_size) != (new_md5, new_size):
            changes.append(DataChange(path, old_md5, new_md5, old_size, new_size))
    return changes


def lock_outputs(stages: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every stage output recorded in dvc.lock: path -> {"md5", "size"[, "nfiles"]}."""
    outputs = {}
    for stage in stages.values():
        if not isinstance(stage, dict):
            continue
        wdir = str(stage.get("wdir", "."))
        for entry in stage.get("outs") or []:
            if isinstance(entry, dict) and "path" in entry:
                kept = {k: entry[k] for k in ("md5", "size", "nfiles") if k in entry}
                outputs[join(wdir, str(entry["path"]))] = kept
    return outputs


def _lock_entries(stages: dict[str, Any]) -> dict[str, tuple[str | None, int | None]]:
    entries: dict[str, tuple[str | None, int | None]] = {}
    for stage in stages.values():
        if not isinstance(stage, dict):
            continue
        wdir = str(stage.get("wdir", "."))
        for entry in [*(stage.get("deps") or []), *(stage.get("outs") or [])]:
            if isinstance(entry, dict) and "path" in entry:
                entries[join(wdir, str(entry["path"]))] = (entry.get("md5"), entry.get("size"))
    return entries
