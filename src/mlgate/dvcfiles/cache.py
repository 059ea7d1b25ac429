"""DVC's cache: which record (dvc.lock, a .dvc file) covers a path, the object that holds its bytes, and ``.dir`` manifests."""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import escape, valid
from mlgate.dvcfiles.lock import lock_outputs, read_lock
from mlgate.dvcfiles.paths import DVC_LOCK, join
from mlgate.dvcfiles.yaml12 import parse_yaml
from mlgate.errors import DataError
from mlgate.git import Revision


@dataclass(frozen=True)
class DvcRecord:
    """Where DVC records a file that git does not hold: the file itself or a directory over it."""

    record: str  # the file that records it: "dvc.lock" or a .dvc file such as "data.dvc"
    output: str  # the recorded output: the file itself, or a directory holding it
    md5: str | None  # the output's hash (a directory's ends in ".dir")

    def describe(self) -> str:
        held = "" if self.md5 is None else f", md5 {self.md5[:8]}"
        return f"{self.record} records {self.output}{held}"


def dvc_record(revision: Revision, path: str) -> DvcRecord | None:
    """The dvc.lock output or .dvc file that tracks ``path`` at ``revision`` (exactly or as a
    directory holding it); None when DVC does not track it there."""
    outputs = lock_outputs(read_lock(revision))
    for output in _covering(path):
        if output in outputs:
            return DvcRecord(DVC_LOCK, output, outputs[output].get("md5"))
    candidates = [f"{output}.dvc" for output in _covering(path)]
    contents = revision.read(candidates)
    for record in candidates:
        content = contents[record]
        if content is None:
            continue
        document = parse_yaml(content, f"{record} at {revision.label}")
        folder = posixpath.dirname(record)
        for entry in (document.get("outs") or []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or "path" not in entry:
                continue
            output = join(folder, str(entry["path"]))
            if output in _covering(path):
                md5 = entry.get("md5")
                return DvcRecord(record, output, None if md5 is None else str(md5))
    return None


def _covering(path: str) -> list[str]:
    """``path`` and each folder above it, nearest first: the outputs that could hold it."""
    parts = posixpath.normpath(path).split("/")
    return ["/".join(parts[:end]) for end in range(len(parts), 0, -1)]


def cached_object(root: Path, md5: str, *, what: str = "DVC's record") -> Path | None:
    """The file DVC's local cache keeps for ``md5`` (3.x layout, then 2.x), if it is there.
    ``md5`` comes from a file a pull request (or a bucket) wrote: it is checked to be an md5
    before it becomes a path (valid.md5), a DataError naming ``what`` recorded it otherwise."""
    head, tail = valid.object_parts(valid.md5(md5, what=what))
    cache = root / ".dvc" / "cache"
    for candidate in (cache / "files" / "md5" / head / tail, cache / head / tail):
        if candidate.is_file():
            return candidate
    return None


def directory_lists(root: Path, record: DvcRecord, path: str) -> bool | None:
    """Whether the cached manifest of the directory output ``record`` lists ``path``; None when
    the manifest is not in the local cache (so nobody here can say)."""
    entries = _manifest(root, record)
    if entries is None:
        return None
    return _entry_md5(entries, record, path) is not None


def directory_files(root: Path, record: DvcRecord) -> dict[str, str] | None:
    """The files of the directory output ``record`` as its cached ``.dir`` manifest lists them:
    repository path -> md5; None when the manifest is not in the local cache. The manifest must
    hash to the md5 the record gives, each path stay inside the directory and each md5 be one
    (a DataError otherwise): what it lists decides which bytes are trusted."""
    what = f"{record.record} (for {record.output})"
    if record.md5 is None or not valid.md5(record.md5, what=what).endswith(".dir"):
        return None
    cached = cached_object(root, record.md5, what=what)
    if cached is None:
        return None
    content = cached.read_bytes()
    shown = escape.one_line(record.output)
    if hashlib.md5(content).hexdigest() != record.md5.removesuffix(".dir"):
        raise DataError(
            f"the cached manifest of {shown!r} does not hash to the md5 {record.record} records "
            f"({record.md5}): DVC's cache was altered, and nothing was read"
        )
    where = f"the manifest of {shown}"
    try:
        entries = json.loads(content)
    except (ValueError, RecursionError):
        raise DataError(f"{where} is not JSON") from None
    if not isinstance(entries, list):
        raise DataError(f"{where} is not a list of files")
    files: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise DataError(f"{where} holds an entry that is not a file")
        relpath = valid.relative_path(entry.get("relpath"), what=where)
        files[join(record.output, relpath)] = valid.file_md5(entry.get("md5"), what=where)
    return files


def read_cached(root: Path, record: DvcRecord, path: str) -> bytes | None:
    """``path``'s bytes from DVC's local cache, read as DVC lays it out (a file output's object,
    or a directory's ``.dir`` manifest and then the file's object), without importing DVC;
    None when the cache does not hold them."""
    md5 = record.md5
    what = f"{record.record} (for {record.output})"
    if md5 is not None and record.output != path:
        entries = _manifest(root, record)
        md5 = None if entries is None else _entry_md5(entries, record, path)
        what = f"the cached manifest of {record.output} (for {path})"
    found = None if md5 is None or md5.endswith(".dir") else cached_object(root, md5, what=what)
    try:
        return None if found is None else found.read_bytes()
    except OSError:
        return None


def _manifest(root: Path, record: DvcRecord) -> list[Any] | None:
    if record.md5 is None:
        return None
    what = f"{record.record} (for {record.output})"
    if not valid.md5(record.md5, what=what).endswith(".dir"):
        return None
    manifest = cached_object(root, record.md5, what=what)
    if manifest is None:
        return None
    try:
        entries = json.loads(manifest.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    return entries if isinstance(entries, list) else None


def _entry_md5(entries: list[Any], record: DvcRecord, path: str) -> str | None:
    relative = posixpath.relpath(posixpath.normpath(path), record.output)
    for entry in entries:
        if isinstance(entry, dict) and entry.get("relpath") == relative:
            md5 = entry.get("md5")
            return str(md5) if md5 else None
    return None
