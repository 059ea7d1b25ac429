"""dvc.lock: each stage's recorded deps, params and outs, and what changed between two locks."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlgate.dvcfiles.paths import DVC_LOCK, entries, folder_of, join, stage_address
from mlgate.dvcfiles.pipelines import pipeline_files, read_pipelines, resolved, stages_of
from mlgate.dvcfiles.templating import Reader
from mlgate.dvcfiles.yaml12 import parse_yaml
from mlgate.git import Revision


def read_lock(revision: Revision) -> dict[str, Any]:
    """Every dvc.lock's stages at ``revision`` ({} when there is none), by the address DVC gives
    them (``sub/dvc.yaml:train``), each with the ``wdir`` its paths are relative to in the
    repository: dvc.lock records paths relative to the stage's wdir, which only dvc.yaml says."""
    pipelines = pipeline_files(revision)
    contents = revision.read(with_locks(pipelines))
    return lock_stages(pipelines, contents, revision.label, read=revision.read_one)


def with_locks(pipelines: list[str]) -> list[str]:
    """Each dvc.yaml and the dvc.lock beside it."""
    return [*pipelines, *(posixpath.join(posixpath.dirname(p), DVC_LOCK) for p in pipelines)]


def lock_stages(
    pipelines: list[str], contents: Mapping[str, bytes | None], label: str, *, read: Reader
) -> dict[str, Any]:
    """read_lock's answer from files already read (``contents`` holds with_locks(pipelines));
    ``read``: any other file at the revision (what a templated dvc.yaml's ``vars`` name)."""
    stages: dict[str, Any] = {}
    for path in pipelines:
        lock_path = posixpath.join(posixpath.dirname(path), DVC_LOCK)
        lock = contents[lock_path]
        if lock is None:
            continue
        folder = folder_of(path)
        wdirs = _wdirs(contents[path], folder, read, f"{path} at {label}")
        for name, stage in parse_lock(lock, f"{lock_path} at {label}").items():
            if isinstance(stage, dict):
                stage = {**stage, "wdir": join(folder, wdirs.get(str(name), "."))}
            stages[stage_address(path, str(name))] = stage
    return stages


def _wdirs(content: bytes | None, folder: str, read: Reader, where: str) -> dict[str, str]:
    """Each stage's wdir in a dvc.yaml, by its name as dvc.lock records it (``build@us`` for
    a foreach's)."""
    if not content or b"wdir" not in content:  # the usual case: no second parse of dvc.yaml
        return {}
    document = parse_yaml(content, where)
    if not isinstance(document, dict):
        return {}
    document = resolved(document, folder, read, where)
    return {
        str(name): str(stage.get("wdir", ".")) for name, stage in stages_of(document, where).items()
    }


def parse_lock(content: bytes, where: str) -> dict[str, Any]:
    document = parse_yaml(content, where) or {}
    stages = document.get("stages", {}) if isinstance(document, dict) else {}
    return stages if isinstance(stages, dict) else {}


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


def cached_outputs(revision: Revision) -> dict[str, str]:
    """Every output DVC keeps in its cache at ``revision``, so ``dvc push`` sends to a remote:
    path -> md5 (a directory's ends in ``.dir``). Stage outputs (outs, metrics and plots not
    declared ``cache: false``) with the hash dvc.lock records, and ``.dvc`` files' outputs."""
    pipelines = pipeline_files(revision)
    contents = revision.read(with_locks(pipelines))
    cached: set[str] = set()
    for pipeline in read_pipelines(revision, pipelines, contents):
        for wdir, stage in pipeline.stages():
            for section in ("outs", "metrics", "plots"):
                for out, options in entries(stage.get(section)):
                    if bool((options or {}).get("cache", True)):
                        cached.add(join(wdir, out))
    recorded = lock_outputs(
        lock_stages(pipelines, contents, revision.label, read=revision.read_one)
    )
    found = {
        path: str(entry["md5"])
        for path, entry in recorded.items()
        if path in cached and entry.get("md5")
    }
    records = revision.files_ending(".dvc")
    for record, content in revision.read(records).items():
        if content is None:
            continue
        document = parse_yaml(content, f"{record} at {revision.label}")
        for entry in (document.get("outs") or []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or not entry.get("cache", True):
                continue
            if entry.get("path") and entry.get("md5"):
                found[join(posixpath.dirname(record), str(entry["path"]))] = str(entry["md5"])
    return found
