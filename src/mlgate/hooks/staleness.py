"""Is the pipeline stale for what is being committed? The pre-commit hook's check, without DVC.

Each stage's command, parameter values and dependency hashes, as the commit will hold them, are
compared with what ``dvc.lock`` recorded when ``dvc repro`` last ran. Hashes come from the
cheapest exact source: a file git tracks is hashed from its staged content (code is small); a
dependency that another stage produces, or that a ``.dvc`` file tracks, takes the hash those
records give, so large data is never read. Only data that neither git nor DVC tracks is hashed on
disk, when it is small; otherwise its size is compared and the report says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import dvcfiles, git
from mlgate.dvcfiles import join
from mlgate.errors import DataError
from mlgate.values import flatten

HASH_LIMIT = 64 * 1024 * 1024  # bytes of untracked data hashed at most; larger is size-checked
NOT_HASHED = "not hashed"


@dataclass(frozen=True)
class StaleStage:
    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Staleness:
    stale: tuple[StaleStage, ...] = ()
    downstream: tuple[str, ...] = ()  # stages `dvc repro` will rerun because of the stale ones
    notes: tuple[str, ...] = ()
    checked: bool = True  # False: the commit touches nothing the pipeline depends on

    @property
    def is_stale(self) -> bool:
        return bool(self.stale)


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: Any
    wdir: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params: Mapping[str, tuple[str, ...] | None]  # params file -> keys (None: the whole file)


@dataclass
class View:
    """The files as one revision holds them: the index (what is being committed) or the disk."""

    revision: git.Revision
    lock: dict[str, Any] = field(default_factory=dict)
    tracked: set[str] = field(default_factory=set)  # files git tracks at or under the paths asked
    notes: list[str] = field(default_factory=list)
    templates: set[str] = field(default_factory=set)  # files a dvc.yaml's `vars` read
    _blobs: dict[str, bytes | None] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.revision.root

    def read(self, path: str) -> bytes | None:
        if path not in self._blobs:
            self._blobs.update(self.revision.read([path]))
        return self._blobs[path]

    def read_for_template(self, path: str) -> bytes | None:
        """A file ``vars`` reads: a change to it is a change to the pipeline."""
        self.templates.add(path)
        return self.read(path)

    def preload(self, paths: Iterable[str]) -> None:
        wanted = [p for p in paths if p not in self._blobs]
        self._blobs.update(self.revision.read(wanted))


def check_staged(root: Path) -> Staleness:
    """The pre-commit check: stale stages for the index, if the commit touches the pipeline."""
    staged = git.staged_paths(root)
    return _check(git.revision(git.STAGED, root), staged) if staged else Staleness(checked=False)


def check_commit(root: Path, rev: str = "HEAD") -> Staleness:
    """The same check against a commit: is the dvc.lock it holds true of its code and data?"""
    return _check(git.revision(rev, root), None)


def why_stale(root: Path, rev: str) -> str | None:
    """What a commit's dvc.lock does not record (``train: params.yaml changed: ...``), or
    None when it is true of the commit's code, params and data."""
    result = check_commit(root, rev)
    if not result.is_stale:
        return None
    return "; ".join(f"{s.name}: {', '.join(s.reasons)}" for s in result.stale)


def check_workspace(root: Path) -> Staleness:
    """The same check against the files on disk (what `dvc repro` would see)."""
    return _check(git.revision(git.WORKSPACE, root), None)


def _check(revision: git.Revision, staged: list[str] | None) -> Staleness:
    view = View(revision)
    dvc_yamls = dvcfiles.pipeline_files(revision)
    pipelines = dvcfiles.with_locks(dvc_yamls)  # preloaded: read once, through the view
    view.preload([*pipelines, dvcfiles.DEFAULT_PARAMS_FILE])
    stages = read_stages(view)
    watched = [*pipelines, *sorted(view.templates)]
    if not stages or (staged is not None and not _touches_pipeline(staged, stages, watched)):
        return Staleness(checked=False)
    view.lock = dvcfiles.lock_stages(
        dvc_yamls, {p: view.read(p) for p in pipelines}, revision.label, read=view.read
    )
    view.tracked = set(git.tracked_files(revision.root, _paths_to_hash(stages)))
    view.preload(sorted(_small_files(stages, view)))
    stale = [s for s in (_stale_stage(stage, view) for stage in stages) if s is not None]
    downstream = _downstream({s.name for s in stale}, stages)
    return Staleness(tuple(stale), tuple(downstream), tuple(dict.fromkeys(view.notes)))


def read_stages(view: View) -> list[Stage]:
    """The stages of every dvc.yaml (``sub/dvc.yaml:train`` for a subfolder's, as DVC names
    them), templating resolved as DVC resolves it; [] without one."""
    stages = []
    for path in dvcfiles.pipeline_files(view.revision):
        content = view.read(path)
        if content is None:
            continue
        where = f"{path} in {view.revision.label}"
        document = dvcfiles.parse_yaml(content, where) or {}
        if not isinstance(document, dict):
            raise DataError(f"{where} must be a mapping")
        folder = dvcfiles.folder_of(path)
        document = dvcfiles.resolved(document, folder, view.read_for_template, where)
        stages += [
            _stage(dvcfiles.stage_address(path, str(name)), body, where, folder)
            for name, body in (document.get("stages") or {}).items()
        ]
    return stages


def _stage(name: str, body: Any, where: str, folder: str = ".") -> Stage:
    if not isinstance(body, dict):
        raise DataError(f"{where}: stage '{name}' must be a mapping")
    wdir = join(folder, str(body.get("wdir", ".")))
    params: dict[str, tuple[str, ...] | None] = {}
    dvcfiles.collect_stage_params(body.get("params"), ".", params)  # as dvc.lock keys them
    return Stage(
        name=str(name),
        cmd=body.get("cmd"),
        wdir=wdir,
        deps=tuple(str(d) for d in body.get("deps") or []),
        outs=tuple(
            path
            for kind in ("outs", "metrics", "plots")
            for path, _ in dvcfiles.entries(body.get(kind))
        ),
        params=params,
    )


def _touches_pipeline(staged: list[str], stages: list[Stage], pipelines: list[str]) -> bool:
    watched = set(pipelines)
    for stage in stages:
        watched.update(join(stage.wdir, p) for p in (*stage.deps, *stage.outs, *stage.params))
    return any(
        path in watched
        or path.endswith(".dvc")
        or any(path.startswith(w.rstrip("/") + "/") for w in watched)
        for path in staged
    )


def _paths_to_hash(stages: list[Stage]) -> list[str]:
    return sorted({join(s.wdir, p) for s in stages for p in (*s.deps, *s.outs, *s.params)})


def _small_files(stages: list[Stage], view: View) -> set[str]:
    """What the check reads: params files, tracked dependencies and outputs, .dvc files."""
    wanted = {join(s.wdir, p) for s in stages for p in s.params} | view.tracked
    wanted.update(join(s.wdir, d) + ".dvc" for s in stages for d in s.deps)
    return wanted


def _stale_stage(stage: Stage, view: View) -> StaleStage | None:
    recorded = view.lock.get(stage.name)
    if not isinstance(recorded, dict):
        return StaleStage(stage.name, ("never reproduced: not in dvc.lock",))
    reasons = []
    if recorded.get("cmd") != stage.cmd:
        reasons.append("command changed")
    reasons.extend(_param_changes(stage, recorded.get("params") or {}, view))
    reasons.extend(_dep_changes(stage, recorded.get("deps") or [], view))
    reasons.extend(_tracked_output_changes(stage, recorded.get("outs") or [], view))
    return StaleStage(stage.name, tuple(reasons)) if reasons else None


def _param_changes(stage: Stage, recorded: dict[str, Any], view: View) -> list[str]:
    reasons = []
    for path, keys in stage.params.items():
        values = _params_file(join(stage.wdir, path), view)
        now = dict(values) if keys is None else {k: _lookup(values, k) for k in keys}
        was, now = flatten(recorded.get(path) or {}), flatten(now)
        changed = [
            k
            for k in sorted(set(now) | set(was))
            if _as_recorded(now.get(k, _MISSING)) != was.get(k, _MISSING)
        ]
        if changed:
            described = ", ".join(
                _describe_param(k, was.get(k, _MISSING), now.get(k, _MISSING)) for k in changed
            )
            reasons.append(f"{path} changed: {described}")
    return reasons


def _describe_param(key: str, was: Any, now: Any) -> str:
    if was is _MISSING:
        return f"{key} added"
    if now is _MISSING:
        return f"{key} removed"
    return f"{key} ({_short(was)} -> {_short(now)})"


_MISSING = object()


def _as_recorded(value: Any) -> Any:
    """A value as dvc.lock (YAML) records it: a Python params file's tuple is a list there."""
    if isinstance(value, (list, tuple)):
        return [_as_recorded(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_recorded(item) for key, item in value.items()}
    return value


def _params_file(path: str, view: View) -> dict[str, Any]:
    content = view.read(path)
    if content is None:
        raise DataError(f"params file {path} is missing from {view.revision.label}")
    values = dvcfiles.parse_data_file(path, content, f"{path} in {view.revision.label}") or {}
    if not isinstance(values, dict):
        raise DataError(f"{path} in {view.revision.label} must be a mapping of parameters")
    return values


def _lookup(values: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(values, dict) or part not in values:
            return _MISSING
        values = values[part]
    return values


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 30 else text[:27] + "..."


def _dep_changes(stage: Stage, recorded: list[Any], view: View) -> list[str]:
    entries = {str(e["path"]): e for e in recorded if isinstance(e, dict) and "path" in e}
    reasons = []
    added = [d for d in stage.deps if d not in entries]
    removed = [p for p in entries if p not in stage.deps]
    if added or removed:
        parts = [f"added {', '.join(added)}"] if added else []
        parts += [f"removed {', '.join(removed)}"] if removed else []
        reasons.append(f"dependencies {'; '.join(parts)}")
    for dep in stage.deps:
        if dep in entries:
            reasons.extend(_hash_change(join(stage.wdir, dep), entries[dep], view))
    return reasons


def _tracked_output_changes(stage: Stage, recorded: list[Any], view: View) -> list[str]:
    """An output git tracks (``cache: false``) must be committed as `dvc repro` wrote it."""
    reasons = []
    for entry in recorded:
        if not isinstance(entry, dict) or "path" not in entry:
            continue
        path = join(stage.wdir, str(entry["path"]))
        if path in view.tracked:
            actual = _content_md5(view.read(path), legacy=_is_legacy(entry))
            if actual != entry.get("md5"):
                reasons.append(f"output {path} differs from what dvc.lock records")
    return reasons


def _hash_change(path: str, entry: dict[str, Any], view: View) -> list[str]:
    expected = entry.get("md5")
    if expected is None:
        return []
    actual = _dependency_md5(path, entry, view)
    if actual == NOT_HASHED:
        return []
    if actual is None:
        return [f"{path} is missing"]
    return [] if actual == expected else [f"{path} changed"]


def _dependency_md5(path: str, entry: dict[str, Any], view: View) -> str | None:
    legacy = _is_legacy(entry)
    if path in view.tracked:
        return _content_md5(view.read(path), legacy=legacy)
    under = sorted(p for p in view.tracked if p.startswith(path + "/"))
    if under:
        return _dir_md5(path, under, lambda p: view.read(p), legacy=legacy)
    produced = dvcfiles.lock_outputs(view.lock).get(path)
    if produced is not None:
        return produced.get("md5")
    dvc_file = view.read(path + ".dvc")
    if dvc_file is not None:
        return _dvc_file_md5(path, dvc_file, view)
    return _untracked_md5(path, entry, view)


def _dvc_file_md5(path: str, content: bytes, view: View) -> str | None:
    document = dvcfiles.parse_yaml(content, f"{path}.dvc in {view.revision.label}") or {}
    outs = document.get("outs") if isinstance(document, dict) else None
    first = outs[0] if isinstance(outs, list) and outs and isinstance(outs[0], dict) else {}
    md5 = first.get("md5")
    return str(md5) if md5 else None


def _untracked_md5(path: str, entry: dict[str, Any], view: View) -> str | None:
    """Data on disk that neither git nor DVC tracks: hash it when small, else compare sizes."""
    files = _files_on_disk(path, view.root)
    if files is None:
        return None
    size = sum(f.stat().st_size for f in files.values())
    if entry.get("size", size) != size or entry.get("nfiles", len(files)) != len(files):
        return f"size {size}"  # differs from the record: changed, without reading a byte
    if size > HASH_LIMIT:
        view.notes.append(f"{path} ({size / 2**20:.0f} MiB) not hashed; `dvc status` checks it")
        return NOT_HASHED
    legacy = _is_legacy(entry)
    if path in files:
        return _content_md5(files[path].read_bytes(), legacy=legacy)
    return _dir_md5(path, sorted(files), lambda p: files[p].read_bytes(), legacy=legacy)


def _files_on_disk(path: str, root: Path) -> dict[str, Path] | None:
    """Repository-relative path -> file, for a file or every file under a directory."""
    full = root / path
    if full.is_file():
        return {path: full}
    if not full.is_dir():
        return None
    return {
        posixpath.join(path, (Path(directory) / name).relative_to(full).as_posix()): Path(directory)
        / name
        for directory, _, names in os.walk(full)
        for name in names
    }


def _dir_md5(
    path: str, files: list[str], read: Callable[[str], bytes | None], *, legacy: bool
) -> str:
    """DVC's directory hash: the md5 of its sorted listing of relative paths and file md5s."""
    listing = sorted(
        (
            {"md5": _content_md5(read(file), legacy=legacy), "relpath": file[len(path) + 1 :]}
            for file in files
        ),
        key=lambda item: str(item["relpath"]),
    )
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"


def _content_md5(content: bytes | None, *, legacy: bool) -> str | None:
    if content is None:
        return None
    if legacy and b"\x00" not in content[:8192]:  # DVC 2 hashed text with Unix line endings
        content = content.replace(b"\r\n", b"\n")
    return hashlib.md5(content).hexdigest()


def _is_legacy(entry: dict[str, Any]) -> bool:
    """A dvc.lock entry written by DVC 2 has no ``hash: md5`` field."""
    return "hash" not in entry


def _downstream(stale: set[str], stages: list[Stage]) -> list[str]:
    outputs = {s.name: {join(s.wdir, o) for o in s.outs} for s in stages}
    rerun, changed = set(stale), True
    while changed:
        changed = False
        produced = set().union(*(outputs[name] for name in rerun)) if rerun else set()
        for stage in stages:
            deps = {join(stage.wdir, d) for d in stage.deps}
            if stage.name not in rerun and any(_overlaps(d, produced) for d in deps):
                rerun.add(stage.name)
                changed = True
    return [s.name for s in stages if s.name in rerun and s.name not in stale]


def _overlaps(path: str, produced: set[str]) -> bool:
    return any(path == p or path.startswith(p + "/") or p.startswith(path + "/") for p in produced)
