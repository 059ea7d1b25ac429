"""The monitoring log on disk: what the server appends and what `mlgate monitor` reads back."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pandas as pd
import pytest

from mlgate.artifacts import requestlog
from mlgate.errors import MlgateError

COLUMNS = {"amount": "numeric", "shop": "text"}


def frame(*amounts: float | None, shop: str = "grocery") -> pd.DataFrame:
    return pd.DataFrame({"amount": list(amounts), "shop": [shop] * len(amounts)})


def rows_of(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_rows_are_written_under_one_header_and_read_back_typed(tmp_path: Path) -> None:
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"])
    assert log.append("v1", frame(5.0, None), [0, 1], "a1")
    assert log.append("v1", frame(7.5, shop='a "quoted", text'), [1], "b2")
    [path] = requestlog.log_files(tmp_path)
    assert path.name == "requests.csv"
    rows = rows_of(path)
    assert rows[0] == ["time", "version", "request_id", "amount", "shop", "prediction"]
    assert [r[1:] for r in rows[1:]] == [
        ["v1", "a1/0", "5.0", "grocery", "0"],
        ["v1", "a1/1", "", "grocery", "1"],
        ["v1", "b2", "7.5", 'a "quoted", text', "1"],
    ]
    read = requestlog.read([path], COLUMNS)
    assert read["amount"].tolist()[::2] == [5.0, 7.5] and pd.isna(read["amount"][1])
    assert read["shop"].tolist() == ["grocery", "grocery", 'a "quoted", text']


def test_a_log_written_before_request_ids_reads_with_empty_ids(tmp_path: Path) -> None:
    folder = tmp_path / "monitoring"
    folder.mkdir()
    old = folder / "requests-20261101T000000.000Z.csv"
    old.write_text("time,version,amount,shop,prediction\n2026-11-01T00:00:00.000Z,v1,1.5,a,0\n")
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"])
    log.append("v1", frame(2.5), [1], "r9")
    read = requestlog.read(
        requestlog.log_files(tmp_path),
        {**COLUMNS, "request_id": "text"},
        fixed_columns=True,
    )
    assert read["amount"].tolist() == [1.5, 2.5] and read["version"].tolist() == ["v1", "v1"]
    assert pd.isna(read["request_id"][0]) and read["request_id"][1] == "r9"


@pytest.mark.faults
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
    assert all(rows_of(f)[0][3:5] == ["amount", "shop"] for f in files)
    assert requestlog.read(files, COLUMNS)["amount"].tolist() == [float(n) for n in range(10)]
    other = requestlog.RequestLog(tmp_path, ["amount", "shop", "hour"])
    other.append("v2", frame(1.0).assign(hour=3), [1])
    newest = requestlog.log_files(tmp_path)[-1]
    assert rows_of(newest)[0] == [
        "time",
        "version",
        "request_id",
        "amount",
        "shop",
        "hour",
        "prediction",
    ]
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
        match=r"requests.csv: the log has no column shop \(its columns: time, version, request_id, am",
    ):
        requestlog.read([path], COLUMNS)
    path.write_text("time,version,amount,shop\n2026,v1,not a number,x\n")
    with pytest.raises(MlgateError, match="is not a monitoring log mlgate can read"):
        requestlog.read([path], COLUMNS)


def test_no_log_reads_as_no_rows(tmp_path: Path) -> None:
    assert requestlog.log_files(tmp_path) == []
    assert len(requestlog.read([], COLUMNS)) == 0


# --- issue 19.1: rows whole or absent under faults ------------------------------------------


@pytest.mark.faults
def test_a_row_a_crash_cut_short_is_cut_off_before_the_next_append(tmp_path: Path) -> None:
    """The crash left `...,3.` with no newline: the next rows must not glue onto it
    (`3.2026-12-01T...`), and the reader must not take the half row for a whole one."""
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"])
    log.append("v1", frame(1.0), [0])
    path = tmp_path / "monitoring" / "requests.csv"
    whole = path.read_bytes()
    path.write_bytes(whole + b"2026-11-23T10:00:00.000Z,v1,3.")
    log.append("v1", frame(2.0), [1])
    lines = path.read_bytes().splitlines()
    assert path.read_bytes().startswith(whole) and len(lines) == 3
    assert all(line.count(b",") == 5 for line in lines)
    assert requestlog.read([path], COLUMNS)["amount"].tolist() == [1.0, 2.0]


@pytest.mark.faults
def test_a_file_with_a_cut_header_gets_its_header_again(tmp_path: Path) -> None:
    folder = tmp_path / "monitoring"
    folder.mkdir()
    (folder / "requests.csv").write_bytes(b"time,versi")
    log = requestlog.RequestLog(tmp_path, ["amount", "shop"])
    log.append("v1", frame(4.0), [0])
    files = requestlog.log_files(tmp_path)
    cut: list[Path] = []
    assert requestlog.read(files, COLUMNS, on_partial=cut.append)["amount"].tolist() == [4.0]
    assert len(cut) == len(files) - 1  # the foreign half header was rotated away, and counted


@pytest.mark.faults
def test_a_new_empty_file_and_a_half_written_one_read_as_no_rows(tmp_path: Path) -> None:
    folder = tmp_path / "monitoring"
    folder.mkdir()
    (folder / "requests-20261201T100000.000Z.csv").write_bytes(b"")
    (folder / "requests.csv").write_bytes(b"time,version,amount,sh")
    cut: list[Path] = []
    files = requestlog.log_files(tmp_path)
    assert len(files) == 2 and len(requestlog.read(files, COLUMNS, on_partial=cut.append)) == 0
    assert cut == [folder / "requests.csv"]


FULL_DISK = """
import resource, signal, sys
import pandas as pd
from pathlib import Path
from mlgate.artifacts import requestlog

log = requestlog.RequestLog(Path(sys.argv[1]), ["amount", "shop"])
log.append("v1", pd.DataFrame({"amount": [1.0], "shop": ["a"]}), [0])
path = Path(sys.argv[1]) / "monitoring" / "requests.csv"
before = path.stat().st_size
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (before + 100, before + 100))  # 100 bytes left
big = pd.DataFrame({"amount": [float(n) for n in range(50)], "shop": ["b"] * 50})
try:
    log.append("v1", big, [1] * 50)
except requestlog.LogWriteFailed as exc:
    print("failed:", exc)
print("size", path.stat().st_size == before)
log.append("v1", pd.DataFrame({"amount": [2.0], "shop": ["c"]}), [0])  # fits in what is left
print("rows", requestlog.read([path], {"amount": "numeric"})["amount"].tolist())
"""


@pytest.mark.faults
def test_a_full_disk_leaves_no_part_of_a_request(tmp_path: Path) -> None:
    """A real limit on the file's size (RLIMIT_FSIZE): the write stops part way, EFBIG; the
    rows written before it are cut back, the next request that fits is logged whole."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("failed: cannot append to the monitoring log: File too large")
    assert lines[1:] == ["size True", "rows [1.0, 2.0]"]
