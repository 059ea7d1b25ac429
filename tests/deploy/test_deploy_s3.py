"""`mlgate deploy`, `rollback`, `deployments` and `serve` with an environment whose target is
S3-compatible object storage: a real SeaweedFS server on loopback (tests/s3server.py),
credentials from the environment, a real scikit-learn model (helpers.make_model_project)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import commit_all, dvc, make_model_project, mlgate_in, write_params
from mlgate.deploy.targets import S3Target
from mlgate.files import file_md5

pytestmark = pytest.mark.slow


def policy(url: str, lease: float = 60) -> str:
    return f"""\
[project]
name = "scorer"

[tool.mlgate.environments.production]
target = "{url}"
lease_seconds = {lease}
"""


def bucket(url: str, tmp_path: Path) -> S3Target:
    """A second look at the target, as another machine would have it."""
    return S3Target(url, tmp_path / "other-machine")


def deploy(
    project: Path, monkeypatch: pytest.MonkeyPatch, model: str = "models/model.pkl", *more: str
) -> int:
    return mlgate_in(project, monkeypatch, "deploy", "--model", model, "--env", "production", *more)


@contextlib.contextmanager
def replicas_of(
    project: Path, tmp_path: Path, count: int = 2
) -> Iterator[tuple[list[Path], list[str], list[subprocess.Popen[str]]]]:
    """``count`` `mlgate serve --env production` processes, each in its own clone of
    ``project`` (as on as many machines: each downloads and verifies versions itself), on free
    ports; stopped with SIGTERM (a graceful stop) by their PIDs."""
    machines, ports = [], []
    for n in range(1, count + 1):
        machine = Path(shutil.copytree(project, tmp_path / f"machine-{n}"))
        shutil.rmtree(machine / ".mlgate", ignore_errors=True)
        machines.append(machine)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "mlgate", "serve", "--env", "production", "--port", str(port)],
            cwd=machine,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for machine, port in zip(machines, ports, strict=True)
    ]
    try:
        yield machines, [f"127.0.0.1:{port}" for port in ports], processes
    finally:
        running = [process for process in processes if process.returncode is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.communicate(timeout=60)


def test_deploy_rollback_and_the_log_on_object_storage(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_model_project(tmp_path / "project", policy(s3))
    assert mlgate_in(project, monkeypatch, "release") == 0
    assert deploy(project, monkeypatch, "scorer@v0.1.0") == 0
    write_params(project, {"train": {"C": 0.25}})
    dvc(project, "repro", "-q")
    commit_all(project, "less regularised")
    assert mlgate_in(project, monkeypatch, "release", "--version", "v0.2.0") == 0
    assert deploy(project, monkeypatch, "scorer@v0.2.0") == 0
    printed = capsys.readouterr().out
    assert f"at {s3}" in printed

    seen = bucket(s3, tmp_path)
    current = json.loads(seen.read_current() or b"")
    assert (current["version"], current["previous"]) == ("v0.2.0", "v0.1.0")
    assert seen.has_version("v0.1.0") and seen.has_version("v0.2.0")
    folder = seen.version_folder("v0.2.0")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["deployed.json", "model.json", "model.onnx", "model.pkl"]
    assert json.loads((folder / "deployed.json").read_text())["md5"] == current["md5"]
    assert current["runtime"] == "onnx" and current["onnx_md5"] == file_md5(folder / "model.onnx")

    assert mlgate_in(project, monkeypatch, "rollback", "--env", "production") == 0
    assert json.loads(seen.read_current() or b"")["version"] == "v0.1.0"
    assert "Rolled back scorer v0.1.0" in capsys.readouterr().out
    assert mlgate_in(project, monkeypatch, "deployments", "--env", "production", "--json") == 0
    log = json.loads(capsys.readouterr().out)
    assert [(d["action"], d["version"]) for d in log] == [
        ("deploy", "v0.1.0"),
        ("deploy", "v0.2.0"),
        ("rollback", "v0.1.0"),
    ]
    # nothing of the target in git's view of the repository
    assert git_status(project) == ""


def git_status(project: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.faults
def test_two_deploys_at_once_take_turns_and_both_are_logged(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_model_project(tmp_path / "project", policy(s3))
    command = [sys.executable, "-m", "mlgate", "deploy", "--env", "production", "--model"]
    racers = [
        subprocess.Popen(
            [*command, "models/model.pkl"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outcomes
    seen = bucket(s3, tmp_path)
    events = [json.loads(event) for _, event in seen.read_events()]
    assert [e["outcome"] for e in events] == ["deployed", "deployed"]
    # the second saw the first's switch: it names it as the version it replaced
    assert events[1]["previous"] == events[0]["version"]
    assert json.loads(seen.read_current() or b"")["id"] == events[1]["id"]


@pytest.mark.faults
def test_a_deploy_killed_mid_upload_leaves_current_and_the_log_whole(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_model_project(tmp_path / "project", policy(s3, lease=2), pad_mb=64)
    assert deploy(project, monkeypatch) == 0
    seen = bucket(s3, tmp_path)
    before, events = seen.read_current(), seen.read_events()
    write_params(project, {"train": {"C": 0.5}})
    dvc(project, "repro", "-q")
    staging = project / ".mlgate/targets/s3" / s3.removeprefix("s3://") / "staging"
    command = ["deploy", "--env", "production", "--model", "models/model.pkl"]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgate", *command],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    size = (project / "models/model.pkl").stat().st_size
    deadline, ready = time.monotonic() + 60, False
    while time.monotonic() < deadline and not ready:  # the model is staged: uploads begin
        staged = list(staging.glob(".tmp-*/model.pkl")) if staging.is_dir() else []
        ready = bool(staged) and staged[0].stat().st_size == size
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert ready, "the deploy was not caught staging its upload"
    assert seen.read_current() == before
    assert seen.read_events() == events
    # The next deploy takes over the dead deploy's lease once it expires, clears what the
    # killed upload left, and completes.
    assert deploy(project, monkeypatch) == 0
    current = json.loads(seen.read_current() or b"")
    assert current["previous"] == json.loads(before or b"")["version"]
    assert len(seen.read_events()) == len(events) + 1


def test_bad_credentials_a_missing_bucket_and_no_credentials_are_one_line_exit_2(
    s3: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_model_project(tmp_path / "project", policy(s3))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    assert deploy(project, monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "wrong" not in err, err
    monkeypatch.undo()
    for name, value in bucket_env(s3).items():
        monkeypatch.setenv(name, value)
    missing = s3.replace("s3://mlgate/", "s3://no-such-bucket/")
    (project / "pyproject.toml").write_text(policy(missing))
    assert deploy(project, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "no-such-bucket" in err and err.count("\n") == 1, err
    (project / "pyproject.toml").write_text(policy(s3))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    assert deploy(project, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "no credentials" in err and err.count("\n") == 1, err


def bucket_env(url: str) -> dict[str, str]:
    from s3server import ACCESS_KEY, SECRET_KEY

    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}


def _get(address: str, path: str) -> tuple[int, dict[str, object]]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_replicas_on_two_machines_follow_the_pointer_in_the_bucket(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two `mlgate serve --env production` processes, each in its own clone (as on two
    machines: each downloads and verifies the version on its own), switch to what a deploy
    from a third place puts in the bucket."""

    project = make_model_project(tmp_path / "project", policy(s3))
    assert mlgate_in(project, monkeypatch, "release") == 0
    assert deploy(project, monkeypatch, "scorer@v0.1.0") == 0
    with replicas_of(project, tmp_path) as (machines, addresses, _):
        assert _versions(addresses, "v0.1.0") == ["v0.1.0", "v0.1.0"]
        write_params(project, {"train": {"invert": True}})
        dvc(project, "repro", "-q")
        commit_all(project, "inverted labels")
        assert mlgate_in(project, monkeypatch, "release", "--version", "v0.2.0") == 0
        assert deploy(project, monkeypatch, "scorer@v0.2.0") == 0
        assert _versions(addresses, "v0.2.0") == ["v0.2.0", "v0.2.0"]
    for machine in machines:  # each verified and keeps its own copy
        folder = machine / ".mlgate/targets/s3" / s3.removeprefix("s3://") / "versions"
        assert sorted(p.name for p in folder.iterdir()) == ["v0.1.0", "v0.2.0"]


def _versions(addresses: list[str], wanted: str, seconds: float = 60) -> list[str]:
    deadline = time.monotonic() + seconds
    served: list[str] = []
    while time.monotonic() < deadline:
        try:
            served = [str(_get(address, "/version")[1].get("version")) for address in addresses]
        except OSError:
            served = []
        if served and all(v == wanted for v in served):
            break
        time.sleep(0.1)
    return served


def test_a_fresh_clone_deploys_a_release_from_the_s3_dvc_remote(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's bytes are in neither the clone's workspace nor its DVC cache: deploy reads
    them from the project's DVC remote on S3 (dvc-s3, endpoint and keys from the environment)
    and checks them against the release's md5."""
    project = make_model_project(tmp_path / "project", policy(s3))
    dvc(project, "remote", "add", "-d", "storage", f"{s3}/dvcstore")
    commit_all(project, "a DVC remote on S3")
    assert mlgate_in(project, monkeypatch, "release") == 0
    dvc(project, "push", "-q")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    assert not (clone / "models/model.pkl").exists()
    assert deploy(clone, monkeypatch, "scorer@v0.1.0") == 0
    seen = bucket(s3, tmp_path)
    current = json.loads(seen.read_current() or b"")
    assert current["version"] == "v0.1.0"
    from mlgate.files import file_md5

    assert file_md5(seen.version_folder("v0.1.0") / "model.pkl") == current["md5"]


def test_replicas_ship_their_request_logs_and_monitor_reads_them_all(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two replicas with monitoring on log on their own machines and ship closed segments to
    the bucket as Parquet (by age while serving, the rest when they stop); `mlgate monitor` on a
    third machine reads every row of both, and judges drift as over a local log."""
    import urllib.request

    from helpers import make_project
    from mlgate.pipeline.synthetic import generate_transactions

    project = make_project(tmp_path / "project", {"data": {"rows": 3000}}, commit=False)
    (project / "pyproject.toml").write_text(policy(s3) + "monitoring_segment_seconds = 1\n")
    dvc(project, "repro", "-q")
    commit_all(project, "trained")
    assert deploy(project, monkeypatch, "models/model.pkl", "--monitoring", "enable") == 0
    capsys.readouterr()
    names = [f["name"] for f in json.loads((project / "models/model.json").read_text())["features"]]
    traffic = generate_transactions(600, seed=5, drift=1.0)[names]
    version = json.loads(bucket(s3, tmp_path).read_current() or b"")["version"]
    with replicas_of(project, tmp_path) as (machines, addresses, replicas):
        assert len(_versions(addresses, version)) == 2
        for start in range(0, 600, 50):  # 12 requests of 50 rows, in turn to each replica
            rows = traffic.iloc[start : start + 50]
            body = json.dumps(
                {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
            )
            sent = urllib.request.Request(
                f"http://{addresses[(start // 50) % 2]}/invocations",
                data=body.encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(sent, timeout=30) as answer:
                assert answer.status == 200
        # closed by age (1 s here) and shipped while the replicas serve
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(bucket(s3, tmp_path).shipped_segments(None)) < 2:
            time.sleep(0.2)
        assert len(bucket(s3, tmp_path).shipped_segments(None)) >= 2
        for replica in replicas:
            replica.send_signal(signal.SIGTERM)  # a graceful stop ships what is left
        errors = [replica.communicate(timeout=60)[1] for replica in replicas]
    assert all("Traceback" not in err for err in errors), errors
    seen = bucket(s3, tmp_path)
    keys = seen.shipped_segments(None)
    assert keys and len({k.rsplit("/", 2)[-2] for k in keys}) == 2
    assert all(k.endswith(".parquet") for k in keys)
    for machine in machines:  # shipped, so gone from the machines
        local = machine / ".mlgate/targets/s3" / s3.removeprefix("s3://") / "monitoring"
        assert not list(local.glob("requests-*.csv"))
    assert (
        mlgate_in(project, monkeypatch, "monitor", "--env", "production", "--format", "json") == 1
    )
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 600
    assert "from 2 replicas" in report["data"], report["data"]
