"""A replica's request log shipped as Parquet reads back as the local CSV log reads: the same
rows, values, missing values and types, so `mlgate monitor` judges both alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgate.artifacts import requestlog
from mlgate.errors import MlgateError
from mlgate.monitor import logtable
from mlgate.serve import shipping


class FolderStore:
    """The segment store's protocol over a folder (the S3 one is tested in test_deploy_s3)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ship_segment(self, replica: str, name: str, data: bytes) -> None:
        path = self.root / replica / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(data)

    def shipped_segments(self, since: str | None) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*.parquet"))

    def read_segment(self, key: str) -> bytes:
        self.reads += 1
        return (self.root / key).read_bytes()

    reads = 0


def read_shipped(
    store: FolderStore, cache: Path, columns: dict[str, str], version: str | None
) -> pd.DataFrame:
    """Every shipped row of ``version`` as a frame, as `mlgate monitor` reads them."""
    fetched = logtable.fetch(store, store.shipped_segments(None), cache)
    table = logtable.Table(columns, logtable.open_segments(fetched, columns, version, None), None)
    return pd.DataFrame({name: table[name] for name in columns})


@pytest.mark.faults
def test_shipped_segments_read_back_as_the_local_log(tmp_path: Path) -> None:
    workdir = tmp_path / "replica"
    log = requestlog.RequestLog(workdir, ["amount", "shop", "zip"])
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(50, 10, 40).round(2),
            "shop": rng.choice(["grocery", "fuel", 'a,b "quoted"'], 40),
            "zip": rng.choice(["00123", "75001"], 40),  # text that looks like a number
        }
    )
    frame.loc[3, "amount"] = np.nan
    frame.loc[5, "shop"] = None
    for start in range(0, 40, 10):
        log.append("v1", frame.iloc[start : start + 10], [0] * 10)
    log.append("v2", frame.iloc[:5], [1] * 5)
    columns = {"amount": "numeric", "shop": "text", "zip": "text"}
    local = requestlog.read(requestlog.log_files(workdir), columns, "v1")

    store = FolderStore(tmp_path / "bucket")
    shipper = shipping.Shipper(store, workdir, segment_seconds=3600)
    kinds = {"amount": "float", "shop": "text", "zip": "text"}
    assert shipper.tick(kinds, closing=True) == 1
    assert shipper.tick(kinds, closing=True) == 0  # nothing left; shipping twice is harmless
    assert not requestlog.log_files(workdir)
    keys = store.shipped_segments(None)
    shipped = read_shipped(store, tmp_path / "cache", columns, "v1")

    assert keys[0].split("/", 1)[0] == shipping.replica_name(workdir)
    pd.testing.assert_frame_equal(
        shipped[list(columns)].reset_index(drop=True),
        local[list(columns)].reset_index(drop=True),
        check_categorical=False,
    )
    assert local["zip"].astype(str).tolist() == frame["zip"].tolist()  # text stays text
    assert len(read_shipped(store, tmp_path / "cache", columns, "v2")) == 5
    assert store.reads == 1  # fetched once, then read from the cache


def test_a_segment_that_is_not_parquet_is_one_line_naming_it(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "bucket")
    store.ship_segment("replica-1", "requests-20261201T000000.000Z.parquet", b"PAR1 not really")
    with pytest.raises(MlgateError, match=r"requests-20261201T000000.000Z.parquet is not Parquet"):
        read_shipped(store, tmp_path / "cache", {"x": "numeric"}, None)
    assert not list((tmp_path / "cache").rglob("*.parquet"))  # fetched again next time


def test_a_segment_that_cannot_be_read_is_set_aside_and_the_next_ones_ship(tmp_path: Path) -> None:
    workdir = tmp_path / "replica"
    folder = workdir / requestlog.FOLDER
    folder.mkdir(parents=True)
    (folder / "requests-20261201T000000.000Z.csv").write_bytes(
        b"time,version,x,prediction\n2026-12-01T00:00:00.000Z,v1,1.5,0\n"
    )
    (folder / "requests-20261201T000001.000Z.csv").write_bytes(
        b"time,version,x,prediction\n2026-12-01T00:00:00.500Z,v1,not a number,0\n"
    )
    (folder / "requests-20261201T000002.000Z.csv").write_bytes(
        b"time,version,x,prediction\n2026-12-01T00:00:01.000Z,v1,2.5,1\n"
    )
    store = FolderStore(tmp_path / "bucket")
    shipper = shipping.Shipper(store, workdir, segment_seconds=3600)
    assert shipper.tick({"x": "float"}) == 2
    assert shipper.problem is not None and "000001" in shipper.problem
    assert [p.name for p in folder.iterdir()] == [
        "requests-20261201T000001.000Z.csv" + shipping.UNSHIPPABLE
    ]
    rows = read_shipped(store, tmp_path / "cache", {"x": "numeric"}, "v1")
    assert rows["x"].tolist() == [1.5, 2.5]
