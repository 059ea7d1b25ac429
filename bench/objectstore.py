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
        (project / "params.yaml").write_text(params.replace("random_state: 42", "random_state: 7", 1))
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
