"""A replica's request log, shipped to the target's bucket: each closed segment of the log
(``requests-<closing time>.csv``) is uploaded as Parquet to
``<target>/monitoring/<replica>/<segment>.parquet`` and then removed from this machine, so
`mlgate monitor --env` on any machine reads every replica's requests.

Segments close by size (``monitoring_max_mb``) and by age (``monitoring_segment_seconds``,
default 300), so a quiet replica's rows still arrive. A segment is shipped a few seconds after
it closed (an append that opened it just before can still land), with ``If-None-Match: *``
(shipping twice, or two server processes on one machine shipping one file, uploads it once),
and deleted here only once the bucket has it: a crash before that ships it at the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import socket
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlgate.artifacts import requestlog
from mlgate.deploy.targets.base import SegmentStore
from mlgate.errors import MlgateError

DEFAULT_SEGMENT_SECONDS = 300.0
SHIP_SECONDS = 10.0  # how often the server looks for segments to ship
GRACE_SECONDS = 2.0  # a segment closed this recently may still receive an append in flight
REPLICA_FILE = "replica-id"
UNSHIPPABLE = ".unshippable"  # a segment that cannot be read as a log is kept under this suffix
NUMERIC_KINDS = ("float", "integer")


def replica_name(workdir: Path) -> str:
    """This machine's name for its folder in the bucket: the host's name and an id kept in
    the workdir (two clones on one host, or two hosts with one name, stay apart)."""
    path = workdir / REPLICA_FILE
    try:
        known = path.read_text().strip()
    except FileNotFoundError:
        known = ""
    if not known:
        workdir.mkdir(parents=True, exist_ok=True)
        known = f"{_safe(socket.gethostname())}-{uuid.uuid4().hex[:8]}"
        path.write_text(known + "\n")
    return known


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:40] or "replica"


class Shipper:
    def __init__(self, store: SegmentStore, workdir: Path, segment_seconds: float) -> None:
        self.store = store
        self.folder = workdir / requestlog.FOLDER
        self.replica = replica_name(workdir)
        self.segment_seconds = segment_seconds
        self._active_since: tuple[int, float] | None = None  # (inode, first seen)
        self.shipped = 0
        self.problem: str | None = None
        self._last = time.monotonic()

    def due(self) -> bool:
        """Whether it is time to look again: every SHIP_SECONDS, or as often as segments
        close when they close sooner."""
        if time.monotonic() - self._last < min(SHIP_SECONDS, self.segment_seconds):
            return False
        self._last = time.monotonic()
        return True

    def tick(self, kinds: Mapping[str, str] | None, *, closing: bool = False) -> int:
        """Close the active segment if it is old enough (or ``closing``), ship what is closed;
        the number shipped. ``kinds``: each feature's kind from the served model's card."""
        self._close_by_age(force=closing)
        shipped = 0
        for path in requestlog.closed_segments(self.folder):
            closed = requestlog.closed_at(path)
            if not closing and closed > requestlog.timestamp_seconds_ago(GRACE_SECONDS):
                continue
            try:
                data = to_parquet(path, kinds or {})
            except (MlgateError, OSError) as exc:  # this file, not the bucket: set it aside
                self.problem = str(exc)
                with contextlib.suppress(OSError):
                    path.rename(path.with_name(path.name + UNSHIPPABLE))
                continue
            try:
                if data is not None:
                    self.store.ship_segment(self.replica, path.stem + ".parquet", data)
                path.unlink()
            except (MlgateError, OSError) as exc:  # the bucket: try again at the next tick
                self.problem = str(exc)
                return shipped
            shipped += 1
        self.shipped += shipped
        return shipped

    def _close_by_age(self, *, force: bool) -> None:
        active = self.folder / requestlog.ACTIVE
        try:
            fd = os.open(active, os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            status = os.fstat(fd)
            if self._active_since is None or self._active_since[0] != status.st_ino:
                self._active_since = (status.st_ino, time.monotonic())
            old = time.monotonic() - self._active_since[1] >= self.segment_seconds
            if status.st_size and (old or force):
                fcntl.flock(fd, fcntl.LOCK_EX)  # no append is half written while it is renamed
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(active).st_ino == status.st_ino:
                        requestlog.rotate(active)
        finally:
            os.close(fd)


def to_parquet(path: Path, kinds: Mapping[str, str]) -> bytes | None:
    """A closed segment as Parquet: time, version, request_id and prediction as text, each feature as the
    card says (numbers or text; one the card does not name as pyarrow infers it). None for a
    segment with no whole row."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    data, _ = requestlog.complete_rows(path)
    if data.count(b"\n") < 2:
        return None
    types: dict[str, Any] = {
        name: pa.string()
        for name in (*requestlog.FIXED_COLUMNS, requestlog.REQUEST_ID, "prediction")
    }
    for name, kind in kinds.items():
        types[name] = pa.float64() if kind in NUMERIC_KINDS else pa.string()
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, null_values=[""]
            ),
        )
    except pa.ArrowInvalid as exc:
        raise MlgateError(f"{path} cannot be shipped: {exc}") from None
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()
