"""The monitoring log on disk: what the server appends and what `mlgate monitor` reads back."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pandas as pd
import pytest

from mlgate import requestlog
from mlgate.errors import MlgateError

COLUMNS = {"amount": "numeric", "shop": "text"}


def frame(*amounts: float | None, shop: str = "grocery") -> pd.DataFrame:
    return pd.DataFrame({"amount": list(amounts), "shop": [shop] * len(amounts)})


def rows_of(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_rows_are_written_under_one_header_and_read_back_typed(tmp_path: Path) -> None:
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"])
    assert log.append("v1", frame(5.0, None), [0, 1])
    assert log.append("v1", frame(7.5, shop='a "quoted", text'), [1])
    [path] = requestlog.log_files(tmp_path)
    assert path.name == "requests.csv"
    rows = rows_of(path)
    assert rows[0] == ["time", "version", "amount", "shop", "prediction"]
    assert [r[1:] for r in rows[1:]] == [["v1", "5.0", "grocery", "0"], ["v1", "", "grocery", "1"],
                                          ["v1", "7.5", 'a "quoted", text', "1"]]  # fmt: skip
    read = requestlog.read([path], COLUMNS)
    assert read["amount"].tolist()[::2] == [5.0, 7.5] and pd.isna(read["amount"][1])
    assert read["shop"].tolist() == ["grocery", "grocery", 'a "quoted", text']


def test_a_row_cut_short_by_a_crash_is_dropped(tmp_path: Path) -> None:
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"])
    log.append("v1", frame(1.0, 2.0), [0, 0])
    path = tmp_path / "monitoring" / "requests.csv"
    path.write_bytes(path.read_bytes() + b"2026-11-23T10:00:00.000Z,v1,3.")
    assert requestlog.read([path], COLUMNS)["amount"].tolist() == [1.0, 2.0]


def test_a_full_file_and_a_version_with_other_columns_start_new_files(tmp_path: Path) -> None:
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"], max_bytes=100)
    for n in range(10):
        log.append("v1", frame(float(n)), [0])
    files = requestlog.log_files(tmp_path)
    assert len(files) > 2
    assert all(rows_of(f)[0][2:4] == ["amount", "shop"] for f in files)
    assert requestlog.read(files, COLUMNS)["amount"].tolist() == [float(n) for n in range(10)]
    other = requestlog.RequestLog(tmp_path, ["amount", "shop", "hour"])
    other.append("v2", frame(1.0).assign(hour=3), [1])
    newest = requestlog.log_files(tmp_path)[-1]
    assert rows_of(newest)[0] == ["time", "version", "amount", "shop", "hour", "prediction"]
    assert len(requestlog.log_files(tmp_path)) == len(files) + (files[-1].name != "requests.csv")
    read = requestlog.read(requestlog.log_files(tmp_path), COLUMNS, version="v2")
    assert read["amount"].tolist() == [1.0]


def test_since_reads_recent_rows_and_skips_files_closed_before(tmp_path: Path) -> None:
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"], max_bytes=100)
    log.append("v1", frame(1.0), [0])
    log.append("v1", frame(2.0), [0])
    time.sleep(0.01)
    cutoff = requestlog.now()
    log.append("v1", frame(3.0), [0])
    everything = requestlog.log_files(tmp_path)
    recent = requestlog.log_files(tmp_path, since=cutoff)
    assert len(recent) < len(everything)
    assert requestlog.read(recent, COLUMNS, since=cutoff)["amount"].tolist() == [3.0]


def test_sampling_logs_about_the_share_asked(tmp_path: Path) -> None:
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"], sample=0.25)
    logged = sum(log.append("v1", frame(1.0), [0]) for _ in range(800))
    assert 140 <= logged <= 260  # 200 expected; this band is over 4 standard deviations wide
    assert len(requestlog.read(requestlog.log_files(tmp_path), COLUMNS)) == logged


def test_a_column_missing_from_the_log_and_a_foreign_file_are_named(tmp_path: Path) -> None:
    log = requestlog.RequestLog(tmp_path, ["amount"])
    log.append("v1", pd.DataFrame({"amount": [1.0]}), [0])
    [path] = requestlog.log_files(tmp_path)
    with pytest.raises(
        MlgateError,
        match=r"requests.csv: the log has no column shop \(its columns: time, version, amount",
    ):
        requestlog.read([path], COLUMNS)
    path.write_text("time,version,amount,shop\n2026,v1,not a number,x\n")
    with pytest.raises(MlgateError, match="is not a monitoring log mlgate can read"):
        requestlog.read([path], COLUMNS)


def test_no_log_reads_as_no_rows(tmp_path: Path) -> None:
    assert requestlog.log_files(tmp_path) == []
    assert len(requestlog.read([], COLUMNS)) == 0
