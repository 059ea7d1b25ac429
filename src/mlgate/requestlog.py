"""The monitoring log: what a served model was asked and answered, for `mlgate monitor`.

One JSON line per scored row in ``<target>/monitoring/requests.jsonl``: time, version,
``inputs`` (the row as the model received it) and ``prediction``. A request's lines are written
with one ``write`` to a file opened for appending, so a crash loses at most the last partial
line, which readers skip. Past ``max_bytes`` the file is renamed ``requests-<time>.jsonl`` and a
new one begun. ``sample`` is the share of requests logged.
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FOLDER = "monitoring"
ACTIVE = "requests.jsonl"
DEFAULT_SAMPLE = 1.0
DEFAULT_MAX_MB = 100.0


class RequestLog:
    def __init__(self, target: Path, sample: float = DEFAULT_SAMPLE,
                 max_bytes: int = int(DEFAULT_MAX_MB * 2**20)) -> None:  # fmt: skip
        self.folder = target / FOLDER
        self.sample = sample
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._random = random.Random()

    def append(
        self, version: str, rows: Sequence[dict[str, Any]], predictions: Sequence[Any]
    ) -> bool:
        """Log one request's rows; False when sampling left it out."""
        if self.sample < 1.0 and self._random.random() >= self.sample:
            return False
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        text = "".join(
            json.dumps({"time": now, "version": version, "inputs": _clean(row), "prediction": _clean(p)},
                       separators=(",", ":"), allow_nan=False) + "\n"
            for row, p in zip(rows, predictions, strict=True)
        )  # fmt: skip
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / ACTIVE
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text.encode())
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            if size >= self.max_bytes:
                stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
                os.replace(path, self.folder / f"requests-{stamp}.jsonl")
        return True


def _clean(value: Any) -> Any:
    """NaN is not JSON: a missing value is logged as null; NumPy scalars as Python numbers."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
