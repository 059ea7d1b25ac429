"""The `monitor` benchmark: `mlgate monitor`'s work on 1,000,000 logged rows of 20 features
against a reference profile, beside Evidently's data-drift report on the same data.

The reference is 50,000 training rows (16 numeric columns of several shapes, 2 text
categories, 2 flags); the current data is 1,000,000 rows from the same distributions except 5
columns shifted by half a standard deviation and one category mix changed. mlgate reads them
from its monitoring log (CSV, written by the server's own writer) and tests them against the
profile; Evidently (its own virtual environment, ``--evidently-venv``, made on first use) gets
the raw reference and current frames and runs ``DataDriftPreset`` with the same column types.
Both use the same tests at these sizes (normed Wasserstein, Jensen-Shannon): the benchmark
prints which columns each calls drifted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NUMERIC, TEXT, FLAGS = 16, 2, 2
SHIFTED = 5  # numeric columns moved by half a standard deviation in the current data

EVIDENTLY_RUN = """\
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
reference_csv, current_csv, columns_json, repeat = sys.argv[1:]
columns = json.loads(columns_json)
start = time.perf_counter()
reference = pd.read_csv(reference_csv)
current = pd.read_csv(current_csv)
read = time.perf_counter() - start
definition = DataDefinition(numerical_columns=columns["numeric"], categorical_columns=columns["categorical"])
times = []
for _ in range(int(repeat)):
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition))
    times.append(time.perf_counter() - start)
columns = {}
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type", "").endswith(":ValueDrift"):
        columns[config["column"]] = [config["method"], metric["value"], config["threshold"]]
print(json.dumps({"read": read, "times": times, "columns": columns}))
"""


def evidently_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"(making Evidently's own environment in {venv}: a minute, once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        # Evidently 0.7 imports a pandas internal that pandas 3 removed
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3"], check=True
        )
    return python


def draw(rows: int, seed: int, drifted: bool):  # type: ignore[no-untyped-def]
    """``rows`` rows of the benchmark's 20 columns (see the module's docstring)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(NUMERIC):
        shift = 0.5 if drifted and i < SHIFTED else 0.0
        shape = i % 4
        if shape == 0:
            values = rng.normal(100 + shift * 15, 15, rows)
        elif shape == 1:
            values = np.exp(rng.normal(3 + shift * 1.0, 1.0, rows))
        elif shape == 2:
            values = rng.gamma(2.0, 50.0, rows) + shift * 100
        else:
            values = rng.poisson(4 + shift * 2, rows).astype(float)
        columns[f"num_{i:02d}"] = np.round(values, 3)
    mix = [0.4, 0.3, 0.2, 0.1]
    columns["shop"] = rng.choice(
        ["grocery", "fuel", "online", "travel"],
        rows,
        p=[0.25, 0.25, 0.25, 0.25] if drifted else mix,
    )
    columns["country"] = rng.choice([f"c{i}" for i in range(10)], rows)
    columns["card_present"] = (rng.random(rows) < 0.7).astype(int)
    columns["night"] = (rng.random(rows) < 0.1).astype(int)
    return pd.DataFrame(columns)


KINDS = {
    "numeric": [f"num_{i:02d}" for i in range(NUMERIC)],
    "categorical": ["shop", "country", "card_present", "night"],
}


def make_frames(reference_rows: int, current_rows: int):  # type: ignore[no-untyped-def]
    """(reference, current, column kinds): see the module's docstring."""
    return draw(reference_rows, 1, False), draw(current_rows, 2, True), KINDS


def write_log(folder: Path, current, version: str) -> list[Path]:  # type: ignore[no-untyped-def]
    from mlgate.artifacts import requestlog

    log = requestlog.RequestLog(folder, list(current.columns), max_bytes=2**40)
    for start in range(0, len(current), 10_000):
        part = current.iloc[start : start + 10_000]
        log.append(version, part, [0] * len(part))
    return requestlog.log_files(folder)


def run_evidently(evidently: Path, folder: Path, reference, current, repeat: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Evidently's DataDriftPreset on the frames (written as CSV, read by its own process):
    its times, each column's method, score and threshold, and the columns it calls drifted."""
    reference.to_csv(folder / "reference.csv", index=False)
    current.to_csv(folder / "current.csv", index=False)
    run = subprocess.run(
        [
            str(evidently),
            "-c",
            EVIDENTLY_RUN,
            str(folder / "reference.csv"),
            str(folder / "current.csv"),
            json.dumps(KINDS),
            str(repeat),
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"Evidently failed:\n{run.stderr[-3000:]}")
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    theirs["drifted"] = sorted(
        name
        for name, (method, value, threshold) in theirs["columns"].items()
        if (value < threshold if "p_value" in method else value >= threshold)
    )
    return theirs  # type: ignore[no-any-return]


def bench_monitor(args: argparse.Namespace) -> None:
    from mlgate.artifacts import requestlog
    from mlgate.artifacts.profile import parse_profile, profile_frame
    from mlgate.monitor import drift_report
    from mlgate.policy import Monitoring

    evidently = evidently_python(Path(args.evidently_venv))
    rows = args.monitor_rows
    reference, current, _ = make_frames(50_000, rows)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        profile = parse_profile(profile_frame(reference, list(reference.columns)), "bench")
        ref = drift_report.Reference(profile, "bench reference (50,000 rows)")
        files = write_log(folder, current, "v1")
        size = sum(f.stat().st_size for f in files) / 2**20
        column_kinds = drift_report.column_kinds(ref)
        read_times, judge_times, result = [], [], None
        for _ in range(args.repeat):
            start = time.perf_counter()
            frame = requestlog.read(files, column_kinds, "v1")
            middle = time.perf_counter()
            result = drift_report.assess(frame, ref, "bench", Monitoring())
            read_times.append(middle - start)
            judge_times.append(time.perf_counter() - middle)
        theirs = run_evidently(evidently, folder, reference, current, args.repeat)
    ours = statistics.median(r + j for r, j in zip(read_times, judge_times, strict=True))
    print(
        f"monitor: {rows:,} logged rows x 20 columns ({size:.0f} MiB of CSV) against a 50,000-row "
        f"reference; median of {args.repeat} runs"
    )
    print(
        f"  mlgate: read the log {statistics.median(read_times):.2f} s + tests "
        f"{statistics.median(judge_times):.2f} s = {ours:.2f} s"
    )
    print(
        f"  Evidently DataDriftPreset on the same frames (already in memory): "
        f"{statistics.median(theirs['times']):.2f} s (its reading the CSVs: {theirs['read']:.2f} s more)"
    )
    print(
        f"  ratio: mlgate, reading included, {statistics.median(theirs['times']) / ours:.1f}x faster "
        "than Evidently's report alone"
    )
    evidently_drifted = theirs["drifted"]
    print(f"  drifted, mlgate:    {', '.join(result.drifted) if result else ''}")
    print(f"  drifted, Evidently: {', '.join(evidently_drifted)}")
    if result is not None:
        gaps = [
            abs(c.score - theirs["columns"][c.name][1])
            for c in result.columns
            if c.name in theirs["columns"]
        ]
        print(
            f"  scores: largest difference between mlgate's and Evidently's, same test per column: "
            f"{max(gaps):.4f}"
        )
