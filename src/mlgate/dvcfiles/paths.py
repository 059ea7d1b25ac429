"""The names of DVC's files, and paths as dvc.yaml and dvc.lock write them (posix, relative to a stage's wdir)."""

from __future__ import annotations

import posixpath
from typing import Any

DVC_YAML = "dvc.yaml"

DVC_LOCK = "dvc.lock"

DVC_IGNORE = ".dvcignore"


def stage_address(dvc_yaml: str, name: str) -> str:
    """How DVC names a stage: ``train`` in the root's dvc.yaml, ``sub/dvc.yaml:train`` elsewhere."""
    return name if dvc_yaml == DVC_YAML else f"{dvc_yaml}:{name}"


def folder_of(dvc_yaml: str) -> str:
    return posixpath.dirname(dvc_yaml) or "."


def entries(value: Any) -> list[tuple[str, dict[str, Any] | None]]:
    entries: list[tuple[str, dict[str, Any] | None]] = []
    for item in value or []:
        if isinstance(item, str):
            entries.append((item, None))
        elif isinstance(item, dict):
            entries.extend((str(p), o if isinstance(o, dict) else None) for p, o in item.items())
    return entries


def output_paths(value: Any) -> list[str]:
    return [path for path, _ in entries(value)]


def join(wdir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(wdir, path))
