"""The monitoring log: what a served model was asked and answered, for `mlgate monitor`.

CSV files in ``<target>/monitoring/``: a header row ``time,version,request_id,<the card's
features>,prediction``, then one row per scored row. ``request_id`` is the request's id
(``X-Request-Id``) for a request of one row, ``<id>/<n>`` for row n (from 0) of a longer one:
what late labels are joined on. Logs written before it had no ``request_id`` column; readers
take both. CSV and not JSON lines because `mlgate monitor`
reads millions of rows: pandas parses a million rows of 20 features from CSV in 1.2 s, where
the fastest JSON-lines reader (pyarrow's, on two threads) took 3.4 s (bench/README.md).

Rows are whole or absent. A request's rows are appended under an exclusive lock on the file
(``flock``, so several server processes on one machine take turns); a write that fails part way
(a full disk) is cut back to where it began, and a row a crash left half written is cut off by
the next append before it writes, so no row is ever glued to another. The reader drops, and
counts, a last row without its newline and skips a file whose header is incomplete. The active
file is ``requests.csv``; past ``max_bytes``, or when a version with other columns starts
logging, it is renamed ``requests-<UTC time>.csv`` and a new one begun. ``sample`` is the share
of requests logged.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import math
import os
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import MlgateError

if TYPE_CHECKING:
    import pandas as pd

FOLDER = "monitoring"
ACTIVE = "requests.csv"
ROTATED = "requests-*.csv"
FIXED_COLUMNS = ("time", "version")  # every log file has them
REQUEST_ID = "request_id"  # written since request ids: files from before lack it
PREDICTION = "prediction"
DEFAULT_SAMPLE = 1.0
DEFAULT_MAX_MB = 100.0
_TAIL_CHUNK = 1 << 16  # how far back a repair looks for the last newline at a time


class LogWriteFailed(MlgateError):
    """Rows could not be appended (a full disk, say); nothing of them was left in the log."""


def now() -> str:
    return timestamp(datetime.now(timezone.utc))


def timestamp(when: datetime) -> str:
    """The log's timestamps: UTC, milliseconds, so that text order is time order."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RequestLog:
    def __init__(
        self,
        target: Path,
        features: Sequence[str],
        sample: float = DEFAULT_SAMPLE,
        max_bytes: int = int(DEFAULT_MAX_MB * 2**20),
    ) -> None:
        self.folder = target / FOLDER
        self.header = _rows_text([[*FIXED_COLUMNS, REQUEST_ID, *features, PREDICTION]]).encode()
        self.sample = sample
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._random = random.Random()
        self._checked: int | None = None  # the active file (inode) whose header is ours

    def append(
        self,
        version: str,
        frame: pd.DataFrame,
        predictions: Sequence[Any],
        request_id: str | None = None,
    ) -> bool:
        """Log one request's rows (``frame``'s columns are the features, in order); False
        when sampling left it out."""
        if self.sample < 1.0 and self._random.random() >= self.sample:
            return False
        stamp = now()
        columns = [frame[name].tolist() for name in frame.columns]
        ids = row_ids(request_id, len(predictions))
        rows = (
            [stamp, version, ids[i], *(_clean(column[i]) for column in columns), _clean(p)]
            for i, p in enumerate(predictions)
        )
        text = _rows_text(rows).encode()
        with self._lock:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                fd = self._open_active()
            except OSError as exc:
                raise LogWriteFailed(
                    f"cannot open the monitoring log: {exc.strerror or exc}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                start = _cut_partial_row(fd)
                size = _append_whole(fd, (self.header if start == 0 else b"") + text, start)
            finally:
                os.close(fd)  # and with it the lock
            if size >= self.max_bytes:
                rotate(self.folder / ACTIVE)
        return True

    def _open_active(self) -> int:
        """The active file, opened for appending; one another version began (other columns)
        is rotated first."""
        path = self.folder / ACTIVE
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        status = os.fstat(fd)
        ours = not status.st_size or status.st_ino == self._checked
        if not ours and os.pread(fd, len(self.header), 0) != self.header:
            os.close(fd)
            rotate(path)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            status = os.fstat(fd)
        self._checked = status.st_ino
        return fd


def row_ids(request_id: str | None, rows: int) -> list[str]:
    """Each row's id in the log: the request's for one row, ``<id>/<n>`` for several."""
    if not request_id:
        return [""] * rows
    if rows == 1:
        return [request_id]
    return [f"{request_id}/{n}" for n in range(rows)]


def _cut_partial_row(fd: int) -> int:
    """The file's size once a last row without its newline (a crash mid-write) is cut off:
    where the next rows begin."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        begin = max(0, end - _TAIL_CHUNK)
        newline = os.pread(fd, end - begin, begin).rfind(b"\n")
        if newline >= 0:
            end = begin + newline + 1
            break
        end = begin
    os.ftruncate(fd, end)  # 0 when even the header was cut: it is written again
    return end


def _append_whole(fd: int, data: bytes, start: int) -> int:
    """Write all of ``data`` at the end (``start``), or nothing: a short write is continued, a
    failed one cut back to ``start``. The file's size after."""
    written = 0
    try:
        while written < len(data):
            count = os.write(fd, data[written:])
            if count <= 0:
                raise OSError(28, "no space left on device")
            written += count
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise LogWriteFailed(
            f"cannot append to the monitoring log: {exc.strerror or exc}"
        ) from None
    return start + written


def log_files(target: Path, since: str | None = None) -> list[Path]:
    """The log's files, oldest first; with ``since`` (a log timestamp), only those that may
    hold rows from then on (a rotated file's name is the time it was closed)."""
    folder = target / FOLDER
    rotated = closed_segments(folder)
    if since is not None:
        rotated = [p for p in rotated if closed_at(p) >= since]
    active = folder / ACTIVE
    return [*rotated, *([active] if active.is_file() else [])]


def read(
    files: Sequence[Path],
    columns: dict[str, str],
    version: str | None = None,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    on_partial: Callable[[Path], None] | None = None,
    fixed_columns: bool = False,
) -> pd.DataFrame:
    """Rows of ``version`` logged at or after ``since``, with ``columns`` (name -> "numeric" or
    "text"; ``request_id`` is empty in files from before it was logged); ``progress`` is told
    the bytes read as reading goes, ``on_partial`` each file whose last row (or header) a crash
    cut short, which is dropped. ``fixed_columns``: time and version too."""
    import pandas as pd

    fixed = [
        name
        for name, wanted in (("time", since), ("version", version))
        if wanted is not None or fixed_columns
    ]
    parts = [
        part
        for path in files
        if (part := _read_file(path, fixed, columns, progress, on_partial)) is not None
    ]
    frame = pd.concat(parts, ignore_index=True) if parts else _empty([*fixed, *columns])
    keep = None
    if version is not None:
        keep = frame["version"] == version
    if since is not None:
        recent = frame["time"] >= since
        keep = recent if keep is None else keep & recent
    return frame if keep is None else frame[keep].reset_index(drop=True)


def _read_file(
    path: Path,
    fixed: list[str],
    columns: dict[str, str],
    progress: Callable[[int], None] | None,
    on_partial: Callable[[Path], None] | None,
) -> pd.DataFrame | None:
    """The file's rows, or None for a file with no whole header yet (new, or cut by a crash)."""
    import pandas as pd

    data, cut = complete_rows(path)
    if cut and on_partial is not None:
        on_partial(path)
    if not data:
        return None
    first_line = data[: data.find(b"\n")]  # not split(): that copies the whole file's rest
    header = next(csv.reader([first_line.decode("utf-8", "replace")]), [])
    absent = [REQUEST_ID] if REQUEST_ID in columns and REQUEST_ID not in header else []
    missing = [n for n in [*FIXED_COLUMNS, *columns] if n not in header and n not in absent]
    if missing:
        raise MlgateError(
            f"{path}: the log has no column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (its columns: {', '.join(header)})"
        )
    # Text is read as text ("00123" stays "00123": a category dtype would infer the number
    # 123), then kept as categories: a million rows hold a handful of distinct values.
    dtypes = {name: ("float64" if kind == "numeric" else "str") for name, kind in columns.items()}
    dtypes.update(time="str", version="category")
    read = [name for name in [*fixed, *columns] if name not in absent]
    try:
        frame = pd.read_csv(
            _Counted(data, progress),
            usecols=read,
            dtype={name: dtypes[name] for name in read},
            keep_default_na=False,
            na_values=[""],
            engine="c",
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise MlgateError(f"{path} is not a monitoring log mlgate can read: {exc}") from None
    for name in absent:  # logged before request ids were
        frame[name] = pd.Series([None] * len(frame), dtype="str")
    for name, kind in columns.items():
        if kind != "numeric":
            frame[name] = frame[name].astype("category")
    return frame


def complete_rows(path: Path) -> tuple[bytes, bool]:
    """The file's bytes up to its last newline (a row a crash cut short is dropped), and
    whether anything was dropped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # rotated or removed since it was listed
        return b"", False
    except OSError as exc:
        raise MlgateError(f"cannot read the monitoring log {path}: {exc}") from None
    end = data.rfind(b"\n") + 1
    return data[:end], end < len(data)


class _Counted(io.BytesIO):
    def __init__(self, data: bytes, progress: Callable[[int], None] | None) -> None:
        super().__init__(data)
        self._progress = progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if self._progress is not None:
            self._progress(len(chunk))
        return chunk


def _empty(names: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({name: pd.Series(dtype="str") for name in names})


def closed_segments(folder: Path) -> list[Path]:
    """The log's closed (rotated) files, oldest first."""
    return sorted(folder.glob(ROTATED), key=_rotation_order)


def timestamp_seconds_ago(seconds: float) -> str:
    return timestamp(datetime.now(timezone.utc) - timedelta(seconds=seconds))


def rotate(path: Path) -> None:
    """Close the active file: rename it after the time it closed."""
    stamp = now().replace(":", "").replace("-", "")
    rotated, n = path.with_name(f"requests-{stamp}.csv"), 1
    while rotated.exists():  # two rotations in one millisecond
        rotated, n = path.with_name(f"requests-{stamp}-{n}.csv"), n + 1
    os.replace(path, rotated)


def _rotation_order(path: Path) -> tuple[str, int]:
    """Closing time, then the counter of a second rotation in the same millisecond."""
    _, _, counter = path.stem.removeprefix("requests-").partition("-")
    return closed_at(path), int(counter) if counter.isdigit() else 0


def closed_at(path: Path) -> str:
    """A rotated file's closing time in the log's timestamp format."""
    raw = path.stem.removeprefix("requests-")[:20]  # 20261123T180000.123Z
    if len(raw) < 20:
        return ""
    return f"{raw[:4]}-{raw[4:6]}-{raw[6:8]}T{raw[9:11]}:{raw[11:13]}:{raw[13:]}"


def _rows_text(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _clean(value: Any) -> Any:
    """A missing value is an empty field; NumPy scalars are written as Python numbers."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value
