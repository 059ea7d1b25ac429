"""Object-storage benchmarks (issue 21): deploying the default model to S3 against a local
directory, and how long replicas take to follow a switch of the bucket's pointer.

Both on SeaweedFS on loopback (tests/s3server.py), this repository's pipeline trained on
``--serve-rows`` rows (its default model, a 200-tree random forest), released twice."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from serving import free_port, trained_project

from helpers import commit_all

REPLICAS = 4


def bench_replicas(args: argparse.Namespace) -> None:
    from mlgate.deploy import deployments, environments, resolve
    from mlgate.deploy.targets import LocalTarget, S3Target
    from s3server import running

    with running() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(server.environment)
        project = trained_project(Path(tmp) / "p", args.serve_rows)
        url = f"s3://{server.bucket}/replicas"
        (project / "pyproject.toml").write_text(
            f'[tool.mlgate.environments.production]\ntarget = "{url}"\n'
        )
        commit_all(project, "production on S3")
        mlgate = [sys.executable, "-m", "mlgate"]
        subprocess.run(
            [*mlgate, "release", "--version", "v1.0.0"],
            cwd=project,
            check=True,
            capture_output=True,
        )
        params = (project / "params.yaml").read_text()
        (project / "params.yaml").write_text(
            params.replace("random_state: 42", "random_state: 7", 1)
        )
        subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project, check=True)
        commit_all(project, "another seed")
        subprocess.run(
            [*mlgate, "release", "--version", "v2.0.0"],
            cwd=project,
            check=True,
            capture_output=True,
        )
        model = resolve.resolve(project, "fraud-detector@v1.0.0")
        size = Path(project / "models/model.pkl").stat().st_size

        # 1. deploy the default model: a local directory against S3, a new target each time
        local_times, s3_times = [], []
        for run in range(args.repeat):
            for times, target in (
                (local_times, LocalTarget(Path(tmp) / "local" / str(run))),
                (s3_times, S3Target(f"s3://{server.bucket}/deploy-{run}", Path(tmp) / f"w{run}")),
            ):
                env = environments.Environment("bench", target, {})
                start = time.perf_counter()
                deployments.deploy(project, model, env, monitoring=False)
                times.append(time.perf_counter() - start)
        local, s3 = statistics.median(local_times), statistics.median(s3_times)
        print(f"deploy of the default model ({size / 2**20:.1f} MiB), median of {args.repeat}:")
        print(f"  local directory {local:.3f} s, S3 {s3:.3f} s ({s3 / local:.1f}x the local)")

        # 2. replicas following the pointer
        production = environments.environment(project, _policy(project), "production")
        deployments.deploy(project, model, production, monitoring=False)
        ports = [free_port() for _ in range(REPLICAS)]
        machines = []
        for n in range(REPLICAS):
            machine = Path(tmp) / f"machine-{n}"
            shutil.copytree(project, machine, ignore=shutil.ignore_patterns(".mlgate"))
            machines.append(machine)
        replicas = [
            subprocess.Popen(
                [*mlgate, "serve", "--env", "production", "--port", str(port)],
                cwd=machine,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for machine, port in zip(machines, ports, strict=True)
        ]
        try:
            _wait_all(ports, "v1.0.0", 120)
            switches = []
            for run in range(args.repeat):
                version = "v2.0.0" if run % 2 == 0 else "v1.0.0"
                chosen = resolve.resolve(project, f"fraud-detector@{version}")
                deployments.deploy(project, chosen, production, monitoring=False)
                switched = time.perf_counter()  # `current` now names the new version
                _wait_all(ports, version, 60)
                switches.append(time.perf_counter() - switched)
        finally:
            for replica in replicas:
                replica.terminate()
            for replica in replicas:
                replica.wait(30)
        print(
            f"{REPLICAS} replicas (mlgate serve, each its own clone and download): from the "
            f"pointer's switch until all serve the new version, median of {args.repeat}: "
            f"{statistics.median(switches):.3f} s (max {max(switches):.3f} s)"
        )


def _policy(project: Path):  # type: ignore[no-untyped-def]
    from mlgate.git import WORKSPACE, revision
    from mlgate.snapshot import read_policy

    return read_policy(revision(WORKSPACE, project))


def _wait_all(ports: list[int], version: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    pending = set(ports)
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"replicas on {sorted(pending)} never served {version}")
        for port in list(pending):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2) as r:
                    if json.loads(r.read()).get("version") == version:
                        pending.discard(port)
            except OSError:
                pass
        time.sleep(0.01)


MONITOR_REPLICAS = 8
MONITOR_RUN = """\
import json, resource, sys, time, types
start = time.perf_counter()
from pathlib import Path
from mlgate.deploy.targets import open_target
from mlgate.artifacts.profile import parse_profile
from mlgate.monitor import drift_report
from mlgate.policy import Monitoring
url, root, profile_path = sys.argv[1:4]
profile = parse_profile(json.loads(Path(profile_path).read_text()), profile_path)
reference = drift_report.Reference(profile, "bench reference")
env = types.SimpleNamespace(name="production", target=open_target(url, Path(root), environment="production"))
deployment = types.SimpleNamespace(monitoring=True, version="v1", artifact="bench")
imported = time.perf_counter()
table, subject = drift_report.logged_data(env, deployment, reference)
read = time.perf_counter()
report = drift_report.assess(table, reference, subject, Monitoring())
done = time.perf_counter()
print(json.dumps({
    "imports": imported - start, "read": read - imported, "tests": done - read,
    "total": done - start, "rows": report.rows, "drifted": report.drifted, "subject": subject,
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "scores": {c.name: c.score for c in report.columns},
}))
"""


def _ship_replicas(
    url: str, tmp: Path, rows: int, *, versions: tuple[str, ...] = ("v1",), label_share: float = 0
) -> list[tuple[str, int]]:
    """Each of MONITOR_REPLICAS replicas logs its share of ``rows`` with the server's own writer
    (requests of 10,000 rows, alternating between ``versions``, each with a request id) and
    ships it with the server's own shipper. The true labels of ``label_share`` of the rows,
    drawn at random: the prediction, wrong on one row in ten (one in four for versions after
    the first)."""
    import numpy as np
    from monitoring import KINDS, draw

    from mlgate.artifacts import requestlog
    from mlgate.deploy.targets import S3Target
    from mlgate.serve import shipping

    per_replica = rows // MONITOR_REPLICAS
    kinds = {name: "float" for name in KINDS["numeric"]}
    kinds.update(shop="text", country="text", card_present="integer", night="integer")
    rng = np.random.default_rng(24)
    labels: list[tuple[str, int]] = []
    start = time.perf_counter()
    for replica in range(MONITOR_REPLICAS):  # each replica logs its traffic, then ships it
        workdir = tmp / f"replica-{replica}"
        log = requestlog.RequestLog(workdir, list(draw(1, 0, False).columns))
        for part in range(0, per_replica, 250_000):
            frame = draw(min(250_000, per_replica - part), 100 + replica * 100 + part, True)
            for chunk in range(0, len(frame), 10_000):
                block = frame.iloc[chunk : chunk + 10_000]
                predicted = (block["num_00"] > 110).astype(int).to_numpy()
                request = f"r{replica}-{part + chunk}"
                version = versions[(part + chunk) // 10_000 % len(versions)]
                log.append(version, block, predicted.tolist(), request)
                if label_share:
                    rows_labelled = np.flatnonzero(rng.random(len(block)) < label_share)
                    wrong = rng.random(len(rows_labelled)) < (
                        0.1 if version == versions[0] else 0.25
                    )
                    truth = np.where(wrong, 1 - predicted[rows_labelled], predicted[rows_labelled])
                    labels += [
                        (f"{request}/{n}", int(t))
                        for n, t in zip(rows_labelled, truth, strict=True)
                    ]
        store = S3Target(url, workdir)
        shipping.Shipper(store, workdir, 3600).tick(kinds, closing=True)
        print(f"  (replica {replica + 1} logged and shipped {per_replica:,} rows)", flush=True)
    keys = S3Target(url, tmp / "lister").shipped_segments(None)
    stored = sum(len(S3Target(url, tmp / "lister").read_segment(k)) for k in keys[:1]) * len(keys)
    print(
        f"  ({len(keys)} segments, about {stored / 2**20:.0f} MiB of Parquet, written in "
        f"{time.perf_counter() - start:.0f} s)"
    )
    return labels


def _cold_and_warm(
    script: str, arguments: list[str], tmp: Path, args: argparse.Namespace
) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    """``script`` run ``--repeat`` times in a new process on a machine that never fetched a
    segment (``{root}`` in ``arguments``: its folder), and again on the same machine (segments
    cached): each run's JSON, (first runs, second runs)."""

    def once(root: Path) -> dict:  # type: ignore[type-arg]
        command = [
            sys.executable,
            "-c",
            script,
            *(a.replace("{root}", str(root)) for a in arguments),
        ]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"the timed run failed:\n{run.stderr[-3000:]}")
        return json.loads(run.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    cold, warm = [], []
    for repeat in range(args.repeat):
        root = tmp / f"machine-{repeat}"
        cold.append(once(root))
        warm.append(once(root))
    return cold, warm


def bench_monitor_replicas(args: argparse.Namespace) -> None:
    """`mlgate monitor --env` over 8 replicas' shipped segments on the loopback store, against
    Evidently's DataDriftPreset on a 1,000,000-row sample of the same traffic."""
    from monitoring import draw, evidently_python, run_evidently

    from mlgate.artifacts.profile import profile_frame
    from s3server import running

    evidently = evidently_python(Path(args.evidently_venv))
    with running() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(server.environment)
        url = f"s3://{server.bucket}/monitor"
        _ship_replicas(url, Path(tmp), args.monitor_rows)
        reference = draw(50_000, 1, False)
        profile = Path(tmp) / "profile.json"
        profile.write_text(json.dumps(profile_frame(reference, list(reference.columns))))

        cold, warm = _cold_and_warm(MONITOR_RUN, [url, "{root}", str(profile)], Path(tmp), args)
        current = draw(1_000_000, 2, True)
        theirs = run_evidently(evidently, Path(tmp), reference, current, args.repeat)

    def median(runs: list[dict], key: str) -> float:  # type: ignore[type-arg]
        return statistics.median(r[key] for r in runs)

    print(
        f"monitor --env over {cold[0]['rows']:,} logged rows x 20 columns, "
        f"{MONITOR_REPLICAS} replicas' segments on the loopback store; median of {args.repeat}:"
    )
    for name, runs in (("first run (fetches every segment)", cold), ("again (cached)", warm)):
        print(
            f"  {name}: {median(runs, 'total'):.2f} s (imports {median(runs, 'imports'):.2f}, "
            f"fetch and open {median(runs, 'read'):.2f}, tests {median(runs, 'tests'):.2f}); "
            f"peak memory {max(r['peak_mib'] for r in runs):,.0f} MiB"
        )
    evidently_time = statistics.median(theirs["times"])
    ours = median(cold, "total")
    print(
        f"  Evidently DataDriftPreset on a 1,000,000-row sample (frames already in memory): "
        f"{evidently_time:.2f} s"
    )
    print(
        f"  rows per second: mlgate (first run, everything included) "
        f"{cold[0]['rows'] / ours:,.0f}, Evidently {1_000_000 / evidently_time:,.0f} "
        f"({cold[0]['rows'] / ours / (1_000_000 / evidently_time):.1f}x)"
    )
    print(f"  drifted, mlgate:    {', '.join(cold[0]['drifted'])}")
    print(f"  drifted, Evidently: {', '.join(theirs['drifted'])}")


LABELS_RUN = """\
import json, resource, sys, time, types
start = time.perf_counter()
from pathlib import Path
from mlgate.deploy.targets import open_target
from mlgate.monitor import labels
from mlgate.monitor import live_metrics
url, root, labels_file = sys.argv[1:4]
env = types.SimpleNamespace(name="production", target=open_target(url, Path(root), environment="production"))
imported = time.perf_counter()
given = labels.read_labels(Path(labels_file))
logged = labels.logged_rows(env, given[labels.REQUEST_ID])
parts = labels.labelled(logged, given)
read = time.perf_counter()
how = live_metrics.measured([], given[labels.LABEL].tolist())
found = [live_metrics.performance(part, how, window_chars=10, min_rows=100) for part in parts.values()]
done = time.perf_counter()
print(json.dumps({
    "imports": imported - start, "read": read - imported, "metrics": done - read,
    "total": done - start, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "versions": {p.version: {"rows": p.rows, **p.values} for p in found},
}))
"""

EVIDENTLY_CLASSIFICATION = """\
import json, sys, time
import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.presets import ClassificationPreset
joined_csv, repeat = sys.argv[1:]
frame = pd.read_csv(joined_csv)
definition = DataDefinition(classification=[BinaryClassification(
    target="label", prediction_labels="prediction", pos_label=1)])
times, values = [], {}
for _ in range(int(repeat)):
    values = {}
    start = time.perf_counter()
    for version, rows in frame.groupby("version"):  # one report per version, as mlgate gives
        snapshot = Report([ClassificationPreset()]).run(
            Dataset.from_pandas(rows[["label", "prediction"]], data_definition=definition), None)
        for metric in snapshot.dict()["metrics"]:
            name = metric.get("metric_name", "").split("(")[0]  # Accuracy(classification_...
            if name in ("Accuracy", "Precision", "Recall"):
                values.setdefault(version, {})[name.lower()] = metric["value"]
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times, "values": values}))
"""


def bench_monitor_labels(args: argparse.Namespace) -> None:
    """`mlgate monitor --labels`'s work over 8 replicas' shipped segments (``--monitor-rows``
    rows, two versions) with labels for a tenth of them: read the labels, match them to the
    logged rows segment by segment, measure each version overall and by day. Beside it,
    Evidently's ClassificationPreset per version on the already-joined rows in memory."""
    from monitoring import evidently_python

    from s3server import running

    evidently = evidently_python(Path(args.evidently_venv))
    with running() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(server.environment)
        url = f"s3://{server.bucket}/monitor"
        truth = _ship_replicas(
            url, Path(tmp), args.monitor_rows, versions=("v1", "v2"), label_share=0.1
        )
        labels_file = Path(tmp) / "labels.csv"
        with labels_file.open("w") as out:
            out.write("request_id,label\n")
            out.writelines(f"{row},{label}\n" for row, label in truth)
        print(f"  ({len(truth):,} labels)", flush=True)

        cold, warm = _cold_and_warm(LABELS_RUN, [url, "{root}", str(labels_file)], Path(tmp), args)
        joined = Path(tmp) / "joined.csv"
        _joined_rows(url, Path(tmp) / "machine-0", labels_file, joined)
        run = subprocess.run(
            [str(evidently), "-c", EVIDENTLY_CLASSIFICATION, str(joined), str(args.repeat)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise SystemExit(f"Evidently failed:\n{run.stderr[-3000:]}")
        theirs = json.loads(run.stdout.strip().splitlines()[-1])

    def median(runs: list[dict], key: str) -> float:  # type: ignore[type-arg]
        return statistics.median(r[key] for r in runs)

    labelled = sum(v["rows"] for v in cold[0]["versions"].values())
    print(
        f"monitor --labels over {args.monitor_rows:,} logged rows of {MONITOR_REPLICAS} "
        f"replicas' segments, {len(truth):,} labels ({labelled:,} matched); median of "
        f"{args.repeat}:"
    )
    for name, runs in (("first run (fetches every segment)", cold), ("again (cached)", warm)):
        print(
            f"  {name}: {median(runs, 'total'):.2f} s (imports {median(runs, 'imports'):.2f}, "
            f"labels read and matched {median(runs, 'read'):.2f}, metrics "
            f"{median(runs, 'metrics'):.2f}); peak memory "
            f"{max(r['peak_mib'] for r in runs):,.0f} MiB"
        )
    evidently_time = statistics.median(theirs["times"])
    print(
        f"  Evidently ClassificationPreset per version on the {labelled:,} joined rows "
        f"(in memory, no matching): {evidently_time:.2f} s"
    )
    print(
        f"  labelled rows per second: mlgate (first run, everything included) "
        f"{labelled / median(cold, 'total'):,.0f}, Evidently {labelled / evidently_time:,.0f} "
        f"({evidently_time / median(cold, 'total'):.2f}x)"
    )
    for version, values in sorted(cold[0]["versions"].items()):
        other = theirs["values"].get(version, {})
        print(
            f"  {version}: mlgate accuracy {values['accuracy']:.4f}, precision "
            f"{values['precision']:.4f}, recall {values['recall']:.4f}; Evidently "
            + ", ".join(f"{k} {v:.4f}" for k, v in sorted(other.items()))
        )


def _joined_rows(url: str, root: Path, labels_file: Path, out: Path) -> None:
    """The labelled rows (version, prediction, label) for Evidently, joined by mlgate's code."""
    import types

    from mlgate.deploy.targets import open_target
    from mlgate.monitor import labels

    env = types.SimpleNamespace(target=open_target(url, root, environment="production"))
    given = labels.read_labels(labels_file)
    logged = labels.logged_rows(env, given[labels.REQUEST_ID])  # type: ignore[arg-type]
    joined = logged.merge(given, on=labels.REQUEST_ID)
    joined["prediction"] = joined["prediction"].astype(int)
    joined["label"] = joined["label"].astype(int)
    joined[["version", "prediction", "label"]].to_csv(out, index=False)
