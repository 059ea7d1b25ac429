"""The rows `mlgate monitor --env` judges, read one column at a time.

Every replica's closed log segments live in the target's bucket as Parquet; this machine's own
log is CSV. A :class:`Table` joins them without building one frame of every column: the
drift tests take one column at a time, so only the columns being tested are in memory
(10 million rows x 20 numeric features is 1.6 GB as one frame, 80 MB a column).

Segments are immutable once shipped (written with ``If-None-Match: *``), so each is fetched
once into a cache beside the target's workdir and read from there on later runs; a cached copy
that does not read as Parquet is removed (fetched again next time) and named in the error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.artifacts import requestlog
from mlgate.deploy.targets.base import SegmentStore
from mlgate.errors import MlgateError
from mlgate.files import atomic_path
from mlgate.progress import SILENT, Progress

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

CACHE = "shipped"  # the workdir's folder of fetched segments, <replica>/<segment>.parquet
FETCH_THREADS = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\Z")
NUMERIC = "numeric"


@dataclass(frozen=True)
class Segment:
    """A shipped segment on this machine, and which of its rows are wanted (None: all)."""

    path: Path
    key: str
    rows: int
    mask: pa.Array | None


class Table:
    """Rows of the local log's frame and of shipped segments, with ``columns`` (name ->
    "numeric" or "text"); ``table[name]`` reads that column from every part: numbers as
    float64, text as categories (what the local log's reader gives)."""

    def __init__(
        self, columns: dict[str, str], segments: Sequence[Segment], frame: pd.DataFrame | None
    ) -> None:
        self.columns = columns
        self.segments = tuple(segments)
        self.frame = frame

    def __len__(self) -> int:
        return sum(s.rows for s in self.segments) + (0 if self.frame is None else len(self.frame))

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> pd.Series:
        import numpy as np
        import pandas as pd

        if name not in self.columns:
            raise KeyError(name)
        numeric = self.columns[name] == NUMERIC
        parts = [_read_column(s, name, numeric=numeric) for s in self.segments if s.rows]
        if self.frame is not None and len(self.frame):
            local = self.frame[name]
            parts.append(local.to_numpy(dtype="float64") if numeric else local)
        if numeric:
            return pd.Series(np.concatenate(parts) if parts else np.empty(0), name=name)
        if not parts:
            return pd.Series([], dtype="category", name=name)
        categories = [pd.Categorical(p) for p in parts]
        return pd.Series(pd.api.types.union_categoricals(categories), name=name)


def _read_column(segment: Segment, name: str, *, numeric: bool) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    column = pq.read_table(segment.path, columns=[name]).column(0)
    if segment.mask is not None:
        column = column.filter(segment.mask)
    if numeric:
        if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            return column.cast(pa.float64()).to_numpy()
        import pandas as pd  # text where numbers were expected: what does not parse is missing

        return pd.to_numeric(column.to_pandas(), errors="coerce").to_numpy(dtype="float64")
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
    return column.dictionary_encode().to_pandas()


def fetch(
    store: SegmentStore,
    keys: Sequence[str],
    cache: Path,
    progress: Progress = SILENT,
) -> list[tuple[str, Path]]:
    """Each key's local copy in ``cache`` (``<replica>/<segment>``), fetching the ones not
    there yet, several at a time (``progress`` told how many are in)."""
    wanted = []
    for key in keys:
        replica, name = ["", *key.split("/")][-2:]
        if not _NAME.match(replica) or not _NAME.match(name):
            raise MlgateError(f"the log segment {key!r} has a name mlgate did not write")
        wanted.append((key, cache / replica / name))

    def get(item: tuple[str, Path]) -> None:
        key, path = item
        data = store.read_segment(key)
        try:
            with atomic_path(path) as partial:  # whole or absent
                partial.write_bytes(data)
        except OSError as exc:
            raise MlgateError(f"cannot keep the log segment {key} in {cache}: {exc}") from None

    missing = [item for item in wanted if not item[1].is_file()]
    if missing:
        progress.step(f"fetching {len(missing)} log segments")
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
        for done, _ in enumerate(pool.map(get, missing), start=1):
            progress.advance(done, len(missing))
    return wanted


def open_segments(
    fetched: Sequence[tuple[str, Path]],
    columns: dict[str, str],
    version: str | None,
    since: str | None,
) -> list[Segment]:
    """The segments holding ``columns``, each with the rows of ``version`` since ``since``
    marked (a segment missing a column is another version's: none of its rows are wanted)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    segments = []
    wanted = [*requestlog.FIXED_COLUMNS, *columns]
    for key, path in fetched:
        try:
            names = pq.read_schema(path).names
            if any(name not in names for name in wanted):
                continue
            fixed = pq.read_table(path, columns=list(requestlog.FIXED_COLUMNS))
        except (pa.ArrowException, ValueError, OSError) as exc:
            path.unlink(missing_ok=True)  # fetched again next time
            raise MlgateError(f"the shipped log segment {key} is not Parquet: {exc}") from None
        mask = None
        if version is not None:
            mask = pc.equal(fixed.column("version"), version)
        if since is not None:
            recent = pc.greater_equal(fixed.column("time"), since)
            mask = recent if mask is None else pc.and_(mask, recent)
        if mask is None:
            segments.append(Segment(path, key, fixed.num_rows, None))
            continue
        mask = pc.fill_null(mask, False).combine_chunks()
        rows = pc.sum(mask).as_py() or 0
        segments.append(Segment(path, key, rows, None if rows == fixed.num_rows else mask))
    return segments
