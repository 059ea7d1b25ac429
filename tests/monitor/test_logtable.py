"""`mlgate monitor` reads the shipped segments and this machine's log one column at a time:
the rows it judges are the ones a single frame of both would hold."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlgate.artifacts.profile import category_counts
from mlgate.errors import MlgateError
from mlgate.monitor import logtable


class Store:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def ship_segment(self, replica: str, name: str, data: bytes) -> None:
        self.objects.setdefault(f"prefix/monitoring/{replica}/{name}", data)

    def shipped_segments(self, since: str | None) -> list[str]:
        return sorted(self.objects)

    def read_segment(self, key: str) -> bytes:
        return self.objects[key]


def parquet(**columns: list[object]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def test_segments_and_the_local_log_join_filtered_by_version_and_time(tmp_path: Path) -> None:
    store = Store()
    store.ship_segment(
        "a-1",
        "requests-20261201T000001.000Z.parquet",
        parquet(
            time=["2026-12-01T00:00:00.000Z", "2026-12-01T00:00:00.500Z", "2026-12-01T00:00:01Z"],
            version=["v1", "v2", "v1"],
            amount=[1.0, 2.0, None],
            shop=["fuel", "online", "fuel"],
            prediction=["0", "1", "0"],
        ),
    )
    store.ship_segment(  # a feature written as text (a card that did not name it): parsed
        "b-2",
        "requests-20261201T000002.000Z.parquet",
        parquet(
            time=["2026-12-01T00:00:02.000Z", "2026-12-01T00:00:02.000Z"],
            version=["v1", "v1"],
            amount=["4.5", "oops"],
            shop=[None, "grocery"],
            prediction=["1", "1"],
        ),
    )
    store.ship_segment(  # another version's columns: skipped
        "b-2",
        "requests-20261201T000003.000Z.parquet",
        parquet(time=["2026-12-01T00:00:03Z"], version=["v0"], other=[1.0], prediction=["0"]),
    )
    local = pd.DataFrame(
        {
            "time": ["2026-12-01T00:00:04.000Z"],
            "version": ["v1"],
            "amount": [7.0],
            "shop": pd.Series(["travel"], dtype="category"),
            "prediction": pd.Series(["0"], dtype="category"),
        }
    )
    columns = {"amount": "numeric", "shop": "text", "prediction": "text"}
    fetched = logtable.fetch(store, store.shipped_segments(None), tmp_path / "cache")
    since = "2026-12-01T00:00:00.400Z"
    table = logtable.Table(columns, logtable.open_segments(fetched, columns, "v1", since), local)

    assert len(table) == 4 and "shop" in table and "time" not in table
    assert table["amount"].tolist() == pytest.approx([np.nan, 4.5, np.nan, 7.0], nan_ok=True)
    assert table["shop"].astype(object).tolist() == ["fuel", np.nan, "grocery", "travel"]
    assert isinstance(table["prediction"].dtype, pd.CategoricalDtype)
    counts = category_counts(table["shop"].dropna())
    assert counts == {"fuel": 1, "grocery": 1, "travel": 1}  # "online" (v2) counts no row
    with pytest.raises(KeyError):
        table["time"]


def test_a_segment_key_mlgate_did_not_write_is_refused(tmp_path: Path) -> None:
    store = Store()
    store.objects["prefix/monitoring/../../escape.parquet"] = parquet(time=["x"])
    with pytest.raises(MlgateError, match="has a name mlgate did not write"):
        logtable.fetch(store, store.shipped_segments(None), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
