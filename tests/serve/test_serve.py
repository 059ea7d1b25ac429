"""`mlgate serve` over real HTTP on 127.0.0.1: uvicorn serving the app in a thread (and once as
the CLI in a subprocess), a real scikit-learn model deployed by `mlgate deploy`."""

from __future__ import annotations

import http.client
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import joblib
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers import commit_all, dvc, make_model_project, mlgate_in, write_params
from mlgate.artifacts import requestlog
from mlgate.deploy import deployments, environments, resolve
from mlgate.errors import Refused
from mlgate.git import WORKSPACE, revision
from mlgate.serve import app as serve
from mlgate.snapshot import read_policy
from servers import request, score, score_with_id, serving

pytestmark = pytest.mark.slow

POLICY = """\
[project]
name = "scorer"

[tool.mlgate.environments.production]
target = "deployed/production"
monitoring_max_mb = 0.002
"""
ROWS: list[dict[str, float]] = [
    {"x1": 0.5, "x2": -1.0},
    {"x1": 2.0, "x2": 1.5},
    {"x1": -3, "x2": 0},
]


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scorer@v0.1.0 and v0.2.0 (trained on inverted labels), v0.1.0 in production: built once
    for the module, each test serves a copy."""
    project = make_model_project(tmp_path_factory.mktemp("released") / "project", POLICY)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert mlgate_in(project, monkeypatch, "release") == 0
        write_params(project, {"train": {"invert": True}})
        dvc(project, "repro", "-q")
        commit_all(project, "inverted labels")
        assert mlgate_in(project, monkeypatch, "release", "--version", "v0.2.0") == 0
        deploy = ("deploy", "--model", "scorer@v0.1.0", "--env", "production")
        deployed = mlgate_in(project, monkeypatch, *deploy, "--monitoring", "enable")
    assert deployed == 0
    return project


@pytest.fixture
def project(released: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(released, tmp_path / "project", symlinks=True))


def production(project: Path) -> environments.Environment:
    return environments.environment(
        project, read_policy(revision(WORKSPACE, project)), "production"
    )


def expected_predictions(project: Path, version: str) -> list[int]:
    model = joblib.load(project / f"deployed/production/versions/{version}/model.pkl")
    return model.predict(pd.DataFrame(ROWS)).tolist()


def test_every_format_every_endpoint_and_metrics(project: Path) -> None:
    expected = expected_predictions(project, "v0.1.0")
    with serving(production(project)) as address:
        for path in ("/ping", "/health"):
            assert request(address, "GET", path)[0] == 200
        assert json.loads(request(address, "GET", "/ready")[1]) == {
            "ready": True,
            "version": "v0.1.0",
        }
        version = json.loads(request(address, "GET", "/version")[1])
        assert (version["artifact"], version["version"], version["monitoring"]) == (
            "scorer",
            "v0.1.0",
            True,
        )
        assert len(version["md5"]) == 32 and len(version["commit"]) == 40
        documents = [
            {
                "dataframe_split": {
                    "columns": ["x1", "x2"],
                    "data": [list(r.values()) for r in ROWS],
                }
            },
            {"dataframe_records": ROWS},
            {"instances": ROWS},
            {"inputs": {"x1": [r["x1"] for r in ROWS], "x2": [r["x2"] for r in ROWS]}},
        ]
        for document in documents:
            assert score(address, document) == (200, {"predictions": expected})
        csv = ("x2,x1\n" + "".join(f"{r['x2']},{r['x1']}\n" for r in ROWS)).encode()
        status, body = request(address, "POST", "/invocations", csv, "text/csv")
        assert (status, json.loads(body)) == (200, {"predictions": expected})
        status, text = request(address, "GET", "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    requests = {
        (s.labels["endpoint"], s.labels["status"]): s.value
        for s in families["mlgate_requests"].samples
        if s.name == "mlgate_requests_total"
    }
    assert requests[("/invocations", "200")] == 5 and requests[("/ping", "200")] == 2
    latency = [
        s
        for s in families["mlgate_request_duration_seconds"].samples
        if s.name.endswith("_count") and s.labels["endpoint"] == "/invocations"
    ]
    assert latency[0].value == 5
    predicted = {
        s.labels["prediction"]: s.value
        for s in families["mlgate_predictions"].samples
        if s.name == "mlgate_predictions_total"
    }
    assert sum(predicted.values()) == 5 * len(ROWS)
    [info] = families["mlgate_model_info"].samples
    assert info.labels["version"] == "v0.1.0" and info.value == 1
    assert families["mlgate_requests_in_progress"].samples[0].value == 0


def test_concurrent_clients_each_get_their_own_rows_predicted(project: Path) -> None:
    """Requests that wait for the model together are predicted in one call (see batching):
    every client must still get exactly its own rows' predictions, in order."""
    model = joblib.load(project / "deployed/production/versions/v0.1.0/model.pkl")
    clients, requests_each = 8, 15
    answers: dict[int, list[tuple[list[dict[str, float]], int, object]]] = {}
    with serving(production(project)) as address:

        def client(n: int) -> None:
            connection = http.client.HTTPConnection(address, timeout=30)
            for r in range(requests_each):
                rows = [
                    {"x1": n - 4 + r / 10, "x2": (-1) ** r * (i + 1)}
                    for i in range(1 + (n + r) % 5)
                ]
                connection.request(
                    "POST",
                    "/invocations",
                    json.dumps({"dataframe_records": rows}),
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                answers.setdefault(n, []).append(
                    (rows, response.status, json.loads(response.read()))
                )
            connection.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _, text = request(address, "GET", "/metrics")
    for rows, status, body in (a for n in answers for a in answers[n]):
        assert (status, body) == (200, {"predictions": model.predict(pd.DataFrame(rows)).tolist()})
    assert sum(len(a) for a in answers.values()) == clients * requests_each
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    batches = {s.name: s.value for s in families["mlgate_batch_requests"].samples}
    assert batches["mlgate_batch_requests_sum"] == clients * requests_each


@pytest.mark.faults
def test_bad_requests_get_their_status_and_the_server_keeps_serving(project: Path) -> None:
    secret = "4111-1111-1111-1111"
    with serving(production(project), max_body_bytes=1024) as address:
        cases = [
            (b"{oops", "application/json", 400, "not valid JSON"),
            (
                json.dumps({"dataframe_records": [{"x1": 1}]}).encode(),
                "application/json",
                400,
                "row 1 lacks x2",
            ),
            (
                b'{"instances": [{"x1": 1, "x2": 2}, {"x1": Infinity, "x2": 1}]}',
                "application/json",
                400,
                "column 'x1' must hold numbers from -3.4e38 to 3.4e38 (row 2)",
            ),
            (
                b'{"instances": [{"x1": 1, "x2": ' + b"9" * 400 + b"}]}",
                "application/json",
                400,
                "column 'x2' must hold numbers from -3.4e38 to 3.4e38 (row 1)",
            ),
            (b"x1,x2\n1e308,1\n", "text/csv", 400, "column 'x1' must hold numbers from"),
            (
                b'{"instances": ' + b"[" * 400 + b"]" * 400 + b"}",
                "application/json",
                400,
                "instances rows",
            ),
            (b"x1,x2\n1,2\n", "<script>alert(1)</script>", 415, "unsupported content type"),
            (
                json.dumps({"dataframe_records": [{"x1": secret, "x2": 1}]}).encode(),
                "application/json",
                400,
                "column 'x1' must hold numbers (row 1)",
            ),
            (b"x1,x2\n1,2\n", "text/plain", 415, "send application/json or text/csv"),
            (
                json.dumps({"instances": [{"x1": 1.0, "x2": 2.0}] * 100}).encode(),
                "application/json",
                413,
                "over the limit of 1,024 bytes",
            ),
        ]
        for body, content_type, status, message in cases:
            got, answer = request(address, "POST", "/invocations", body, content_type)
            assert got == status and message in json.loads(answer)["error"], answer
            assert secret.encode() not in answer and b"script" not in answer
            assert request(address, "GET", "/ping")[0] == 200
        assert _chunked_post(address, b'{"instances": [' + b'{"x1": 1, "x2": 2},' * 100) == 413
        assert request(address, "GET", "/invocations")[0] == 405
        assert request(address, "GET", "/nothing")[0] == 404
        assert score(address, {"instances": ROWS})[0] == 200


def _chunked_post(address: str, body: bytes) -> int:
    """A body sent in chunks with no Content-Length: the limit holds while reading."""
    connection = http.client.HTTPConnection(address, timeout=30)
    try:
        chunks = [body[i : i + 100] for i in range(0, len(body), 100)]
        connection.request(
            "POST",
            "/invocations",
            body=iter(chunks),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_deploy_and_a_rollback_switch_the_model_with_no_failed_request(project: Path) -> None:
    env = production(project)
    before, after = expected_predictions(project, "v0.1.0"), None
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()
    with serving(env) as address:

        def stream() -> None:
            connection = http.client.HTTPConnection(address, timeout=30)
            body = json.dumps({"instances": ROWS}).encode()
            while not stop.is_set():
                connection.request(
                    "POST", "/invocations", body=body, headers={"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                statuses.append(response.status)
                response.read()
            connection.close()

        client = threading.Thread(target=stream)
        client.start()
        runtimes = [json.loads(request(address, "GET", "/version")[1])["runtime"]]
        model = resolve.resolve(project, "scorer@v0.2.0")
        deployments.deploy(project, model, env, monitoring=False, runtime="pickle")
        after = expected_predictions(project, "v0.2.0")
        versions.add(_wait_for_version(address, "v0.2.0"))
        runtimes.append(json.loads(request(address, "GET", "/version")[1])["runtime"])
        assert score(address, {"instances": ROWS})[1] == {"predictions": after}
        deployments.rollback(project, env)
        versions.add(_wait_for_version(address, "v0.1.0"))
        runtimes.append(json.loads(request(address, "GET", "/version")[1])["runtime"])
        stop.set()
        client.join()
    assert before != after, (
        "the two versions must predict differently for this test to see a switch"
    )
    assert versions == {"v0.1.0", "v0.2.0"}
    assert runtimes == ["onnx", "pickle", "onnx"]  # compiled, then a pickle, then compiled
    assert len(statuses) > 20 and set(statuses) == {200}


class _Touch:
    """Unpickled, it creates a file: proof that a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def test_a_compiled_version_is_served_without_reading_its_pickle(
    project: Path, tmp_path: Path
) -> None:
    """The pickle of a version served by ONNX is never unpickled: replaced by one that would
    create a file when loaded, it is not loaded (and the answers are the ONNX model's)."""
    env = production(project)
    expected = expected_predictions(project, "v0.1.0")
    pointer = json.loads((env.target.workdir() / "current").read_text())
    assert pointer["runtime"] == "onnx"
    folder = env.target.workdir() / "versions" / "v0.1.0"
    marker = tmp_path / "unpickled"
    (folder / "model.pkl").write_bytes(pickle.dumps(_Touch(marker)))
    with serving(env) as address:
        assert score(address, {"instances": ROWS}) == (200, {"predictions": expected})
        assert json.loads(request(address, "GET", "/version")[1])["runtime"] == "onnx"
        _, text = request(address, "GET", "/metrics")
        assert 'runtime="onnx"' in text.decode()
    assert not marker.exists()
    joblib.load(folder / "model.pkl")  # the test's own check: the file does create it
    assert marker.exists()


def _wait_for_version(address: str, version: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        served = json.loads(request(address, "GET", "/version")[1]).get("version")
        if served == version:
            return str(served)
        time.sleep(0.05)
    raise AssertionError(f"the server did not switch to {version}")


@pytest.mark.faults
def test_a_current_whose_model_fails_verification_leaves_the_old_one_serving(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    env = production(project)
    with serving(env) as address:
        pointer = json.loads((env.target.workdir() / "current").read_text())
        tampered = {**pointer, "id": "tampered", "md5": "0" * 32, "onnx_md5": "0" * 32}
        (env.target.workdir() / "current.tmp").write_text(json.dumps(tampered))
        (env.target.workdir() / "current.tmp").replace(env.target.workdir() / "current")
        time.sleep(3 * serve.POLL_SECONDS)
        described = json.loads(request(address, "GET", "/version")[1])
        assert described["version"] == "v0.1.0"
        assert score(address, {"instances": ROWS})[0] == 200
        # Issue 19.7: the refused version is shown beside the one served, and counted.
        ready = json.loads(request(address, "GET", "/ready")[1])
        for shown in (described, ready):
            assert shown["refused"]["version"] == "v0.1.0" and "md5" in shown["refused"]["reason"]
        assert ready["ready"] is True and ready["version"] == "v0.1.0"
        _, text = request(address, "GET", "/metrics")
        values = {
            s.name: s.value
            for f in text_string_to_metric_families(text.decode())
            for s in f.samples
        }
        assert values["mlgate_switch_failures_total"] == 1.0
    assert "cannot switch" in capfd.readouterr().err


@pytest.mark.faults
def test_a_switch_that_failed_is_retried_and_said_once(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version folder that cannot be loaded now (a download cut short, a disk being
    restored) is tried again while ``current`` stays the same, and the problem is printed once,
    not at every retry."""
    monkeypatch.setattr(serve, "RETRY_SECONDS", 0.3)
    env = production(project)
    with serving(env) as address:
        pointer = json.loads((env.target.workdir() / "current").read_text())
        source = env.target.workdir() / "versions" / pointer["version"]
        later = env.target.workdir() / "versions" / "v9.9.9"
        shutil.copytree(source, later)
        served = "model.onnx" if pointer["runtime"] == "onnx" else "model.pkl"
        held = later.with_name("held-aside")
        (later / served).rename(held)
        (env.target.workdir() / "current.tmp").write_text(
            json.dumps({**pointer, "id": "x", "version": "v9.9.9"})
        )
        (env.target.workdir() / "current.tmp").replace(env.target.workdir() / "current")
        time.sleep(6 * serve.POLL_SECONDS)
        assert json.loads(request(address, "GET", "/version")[1])["version"] == "v0.1.0"
        held.rename(later / served)  # the file is back; `current` has not changed
        _wait_for_version(address, "v9.9.9")
    err = capfd.readouterr().err
    assert err.count("mlgate serve: cannot switch") == 1, err


@pytest.mark.faults
def test_a_canary_that_cannot_load_leaves_the_version_answering_and_is_said_once(
    project: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve, "RETRY_SECONDS", 0.0)
    env = production(project)
    pointer = json.loads((env.target.workdir() / "current").read_text())
    later = env.target.workdir() / "versions" / "v9.9.9"
    shutil.copytree(env.target.workdir() / "versions" / pointer["version"], later)
    served = "model.onnx" if pointer["runtime"] == "onnx" else "model.pkl"
    held = later.with_name("held-aside")
    (later / served).rename(held)
    side = {**pointer, "id": "side", "version": "v9.9.9", "action": "canary", "percent": 10.0}
    (env.target.workdir() / "current").write_text(json.dumps({**pointer, "canary": side}))
    holder = serve.ModelHolder(env)
    for _ in range(3):  # loaded, then retried twice while `current` stays the same
        holder.refresh()
        assert holder.loaded is not None and holder.loaded.deployment.version == "v0.1.0"
        assert holder.canary is None and holder.refused["version"] == "v9.9.9"  # type: ignore[index]
    assert holder.switch_failures == 1
    assert capfd.readouterr().err.count("mlgate serve: cannot switch") == 1
    held.rename(later / served)  # back: the canary loads on the next retry
    assert holder.refresh() and holder.canary is not None and holder.refused is None


@pytest.mark.faults
def test_a_version_that_breaks_loading_does_not_stop_the_watcher(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A card edited by hand after deployment (features = 5) is refused by name when the
    version loads; the old model keeps serving and the next real deploy is still picked up."""
    env = production(project)
    with serving(env) as address:
        pointer = json.loads((env.target.workdir() / "current").read_text())
        broken = env.target.workdir() / "versions" / "v9.9.9"
        shutil.copytree(env.target.workdir() / "versions" / pointer["version"], broken)
        card = json.loads((broken / "model.json").read_text())
        (broken / "model.json").write_text(json.dumps({**card, "features": 5}))
        (env.target.workdir() / "current.tmp").write_text(
            json.dumps({**pointer, "id": "x", "version": "v9.9.9"})
        )
        (env.target.workdir() / "current.tmp").replace(env.target.workdir() / "current")
        time.sleep(3 * serve.POLL_SECONDS)
        assert json.loads(request(address, "GET", "/version")[1])["version"] == "v0.1.0"
        deployments.deploy(
            project, resolve.resolve(project, "scorer@v0.2.0"), env, monitoring=False
        )
        _wait_for_version(address, "v0.2.0")
        assert score(address, {"instances": ROWS}) == (
            200,
            {"predictions": expected_predictions(project, "v0.2.0")},
        )
    err = capfd.readouterr().err
    assert "cannot switch: the model's card names no input columns; still serving v0.1.0" in err
    assert "TypeError" not in err


def test_nothing_deployed_is_not_ready_until_a_deploy(tmp_path: Path) -> None:
    project = make_model_project(tmp_path / "project", POLICY)
    env = production(project)
    with serving(env) as address:
        status, body = request(address, "GET", "/ready")
        assert status == 503 and json.loads(body)["reason"] == "nothing is deployed"
        assert score(address, {"instances": ROWS})[0] == 503
        assert request(address, "GET", "/ping")[0] == 200
        deployments.deploy(
            project, resolve.resolve(project, "models/model.pkl"), env, monitoring=False
        )
        _wait_for_version(address, deployments.read_current(env).version)  # type: ignore[union-attr]
        assert score(address, {"instances": ROWS})[0] == 200


def test_monitoring_logs_each_row_and_rotates_by_size(project: Path) -> None:
    env = production(project)
    with serving(env) as address:
        for n in range(20):
            status, _, headers = score_with_id(address, {"instances": ROWS}, f"req-{n}")
            assert (status, headers["x-request-id"]) == (200, f"req-{n}")
            assert headers["x-model-version"] == "v0.1.0"
        status, _, headers = score_with_id(address, {"instances": ROWS[:1]}, None)
        made = headers["x-request-id"]  # none sent: one is made
        assert status == 200 and len(made) == 32
    files = requestlog.log_files(env.target.workdir())
    assert len(files) > 1  # 0.002 MB per file: rotated
    columns = {"x1": "numeric", "x2": "numeric", "request_id": "text"}
    logged = requestlog.read(files, columns, version="v0.1.0")
    assert len(logged) == 20 * len(ROWS) + 1
    assert logged[["x1", "x2"]].head(3).to_dict("records") == [
        {k: float(v) for k, v in r.items()} for r in ROWS
    ]
    ids = logged["request_id"].astype(str).tolist()
    assert ids[:4] == ["req-0/0", "req-0/1", "req-0/2", "req-1/0"] and ids[-1] == made
    assert (files[0].read_text().splitlines()[0]) == "time,version,request_id,x1,x2,prediction"
    assert {line.rsplit(",", 1)[1] for f in files for line in f.read_text().splitlines()[1:]} <= {
        "0",
        "1",
    }


def test_the_cli_serves_on_the_port_it_is_given(project: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgate", "serve", "--env", "production", "--port", str(port)],
        cwd=project,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request(f"127.0.0.1:{port}", "GET", "/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        assert score(f"127.0.0.1:{port}", {"instances": ROWS})[0] == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert f"Serving production (scorer v0.1.0) on http://127.0.0.1:{port}" in err


def test_a_regressor_is_served_compiled_and_its_values_counted(tmp_path: Path) -> None:
    """A regression model deployed (compiled to ONNX, parity on values) answers numbers equal
    to its pickle's, and /metrics counts them in the value histogram."""
    project = make_model_project(tmp_path / "project", POLICY, estimator="ridge")
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert mlgate_in(project, monkeypatch, "release") == 0
        deploy = ("deploy", "--model", "scorer@v0.1.0", "--env", "production")
        assert mlgate_in(project, monkeypatch, *deploy) == 0
    env = production(project)
    assert json.loads((env.target.workdir() / "current").read_text())["runtime"] == "onnx"
    model = joblib.load(project / "models/model.pkl")
    expected = model.predict(pd.DataFrame(ROWS)).tolist()
    with serving(env) as address:
        status, answer = score(address, {"instances": ROWS})
        assert status == 200
        assert answer["predictions"] == pytest.approx(expected, rel=1e-5)  # type: ignore[arg-type]
        samples = _metric_samples(address)
    counted = [
        s.value  # type: ignore[attr-defined]
        for s in samples
        if s.name == "mlgate_prediction_value_count"  # type: ignore[attr-defined]
    ]
    assert counted == [len(ROWS)]


def _metric_samples(address: str) -> list[object]:
    _, text = request(address, "GET", "/metrics")
    return [s for f in text_string_to_metric_families(text.decode()) for s in f.samples]


@pytest.mark.faults
def test_workers_share_the_port_switch_on_their_own_and_one_killed_is_restarted(
    project: Path,
) -> None:
    """--workers 2: two processes answer on one port; /metrics sums their counters, whichever
    answers; a deploy reaches both; a worker killed with SIGKILL is started again; SIGTERM
    stops them all."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    command = ["serve", "--env", "production", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgate", *command],
        cwd=project,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:

        def worker_pids() -> set[str]:
            return {
                s.labels["pid"]  # type: ignore[attr-defined]
                for s in _metric_samples(address)
                if s.name == "mlgate_model_info" and s.value == 1  # type: ignore[attr-defined]
            }

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(worker_pids_or_none(worker_pids)) < 2:
            time.sleep(0.2)
        first = worker_pids()
        assert len(first) == 2
        for _ in range(20):  # a new connection each: the kernel hands them to either worker
            assert score(address, {"instances": ROWS})[0] == 200
        answered = [
            s.value  # type: ignore[attr-defined]
            for s in _metric_samples(address)
            if s.name == "mlgate_requests_total"  # type: ignore[attr-defined]
            and s.labels == {"endpoint": "/invocations", "status": "200"}  # type: ignore[attr-defined]
        ]
        assert answered == [20.0]

        env = production(project)
        deployments.deploy(
            project, resolve.resolve(project, "scorer@v0.2.0"), env, monitoring=False
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen = {
                json.loads(request(address, "GET", "/version")[1])["version"] for _ in range(20)
            }
            if seen == {"v0.2.0"}:
                break
            time.sleep(0.2)
        assert seen == {"v0.2.0"}

        os.kill(int(sorted(first)[0]), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = worker_pids_or_none(worker_pids)
            if len(now) == 2 and now != first:
                break
            time.sleep(0.2)
        assert len(now) == 2 and sorted(first)[0] not in now
        assert score(address, {"instances": ROWS})[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"on http://127.0.0.1:{port} with 2 workers" in err
    assert "ended (killed by SIGKILL); starting it again" in err
    assert "Traceback" not in err


def worker_pids_or_none(read: Callable[[], set[str]]) -> set[str]:
    """The workers' pids, or none while the server is not answering yet."""
    try:
        return read()
    except OSError:
        return set()


@pytest.mark.faults
def test_a_log_that_cannot_be_written_never_fails_an_answer(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19.1: the prediction succeeded, so the client gets it; the log failure is counted
    and said once."""
    env = production(project)
    folder = env.target.workdir() / requestlog.FOLDER
    shutil.rmtree(folder, ignore_errors=True)
    folder.write_text("not a folder: every append fails")
    with serving(env) as address:
        for _ in range(3):
            assert score(address, {"instances": ROWS})[0] == 200
        _, text = request(address, "GET", "/metrics")
    values = {
        s.name: s.value for f in text_string_to_metric_families(text.decode()) for s in f.samples
    }
    assert values["mlgate_log_errors_total"] == 3.0
    assert capsys.readouterr().err.count("requests are not being logged") == 1


# --- issue 24: canaries and shadows -----------------------------------------------------------


def _metric(
    text: bytes, family: str, sample: str, labels: tuple[str, ...] = ("version", "status")
) -> dict[tuple[str, ...], float]:
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    return {
        tuple(s.labels[name] for name in labels): s.value  # type: ignore[attr-defined]
        for s in families[family].samples
        if s.name == sample  # type: ignore[attr-defined]
    }


def test_a_canary_answers_its_share_by_request_id_and_is_promoted(project: Path) -> None:
    env = production(project)
    canary = deployments.deploy(
        project, resolve.resolve(project, "scorer@v0.2.0"), env, monitoring=True, canary=30
    )
    assert canary.action == "canary" and canary.percent == 30
    current = deployments.read_current(env)
    assert current is not None and current.version == "v0.1.0"
    assert current.canary is not None and current.canary.version == "v0.2.0"
    expected = {v: expected_predictions(project, v)[:1] for v in ("v0.1.0", "v0.2.0")}
    assert expected["v0.1.0"] != expected["v0.2.0"]  # v0.2.0 learnt inverted labels
    with serving(env) as address:
        version = json.loads(request(address, "GET", "/version")[1])
        assert version["version"] == "v0.1.0"
        assert (version["canary"]["version"], version["canary"]["percent"]) == ("v0.2.0", 30)
        answered: dict[str, str] = {}
        for n in range(200):
            status, answer, headers = score_with_id(address, {"instances": ROWS[:1]}, f"r{n}")
            served = headers["x-model-version"]
            assert status == 200 and answer["predictions"] == expected[served]
            answered[f"r{n}"] = served
        share = sum(v == "v0.2.0" for v in answered.values()) / len(answered)
        assert 0.18 <= share <= 0.42  # 30% of 200: over 3.5 standard deviations either side
        for rid in ("r0", "r1", "r2", "r3"):  # a retry meets the version its first try met
            assert (
                score_with_id(address, {"instances": ROWS[:1]}, rid)[2]["x-model-version"]
                == answered[rid]
            )
        text = request(address, "GET", "/metrics")[1]
        counts = _metric(text, "mlgate_version_requests", "mlgate_version_requests_total")
        canary_count = sum(v == "v0.2.0" for v in answered.values()) + sum(
            answered[r] == "v0.2.0" for r in ("r0", "r1", "r2", "r3")
        )
        assert counts[("v0.2.0", "200")] == canary_count
        assert counts[("v0.1.0", "200")] == 204 - canary_count
        info = _metric(text, "mlgate_model_info", "mlgate_model_info", ("version", "role"))
        roles = {version: role for (version, role), v in info.items() if v == 1}
        assert roles == {"v0.1.0": "stable", "v0.2.0": "canary"}
        promoted = deployments.end_canary(env, promote=True, note="better on live labels")
        assert (promoted.action, promoted.version, promoted.previous) == (
            "promote",
            "v0.2.0",
            "v0.1.0",
        )
        _wait_for_version(address, "v0.2.0")
        for n in range(20):
            assert (
                score_with_id(address, {"instances": ROWS[:1]}, f"r{n}")[2]["x-model-version"]
                == "v0.2.0"
            )
        assert "canary" not in json.loads(request(address, "GET", "/version")[1])
    logged = requestlog.read(
        requestlog.log_files(env.target.workdir()),
        {"request_id": "text", "prediction": "text"},
        fixed_columns=True,
    )
    by_id = dict(
        zip(
            logged["request_id"].astype(str)[:200], logged["version"].astype(str)[:200], strict=True
        )
    )
    assert by_id == answered
    log = deployments.read_log(env)
    assert [d.action for d in log] == ["deploy", "canary", "promote"]
    assert log[-1].note == "better on live labels"


def test_a_shadow_sees_a_copy_of_every_request_and_answers_none(project: Path) -> None:
    env = production(project)
    deployments.deploy(
        project, resolve.resolve(project, "scorer@v0.2.0"), env, monitoring=True, shadow=True
    )
    expected = expected_predictions(project, "v0.1.0")
    with serving(env) as address:
        for n in range(10):
            status, answer, headers = score_with_id(address, {"instances": ROWS}, f"s{n}")
            assert (status, answer["predictions"]) == (200, expected)
            assert headers["x-model-version"] == "v0.1.0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the shadow runs after the answer went out
            text = request(address, "GET", "/metrics")[1]
            counts = _metric(text, "mlgate_version_requests", "mlgate_version_requests_total")
            if counts.get(("v0.2.0", "200")) == 10:
                break
            time.sleep(0.05)
        assert counts[("v0.2.0", "200")] == 10 and counts[("v0.1.0", "200")] == 10
        assert json.loads(request(address, "GET", "/version")[1])["canary"]["shadow"] is True
        # a verdict on another canary than the one out now is not carried out
        with pytest.raises(
            Refused, match=r"canary is now v0\.2\.0, not v0\.9\.0, which was judged"
        ):
            deployments.end_canary(env, promote=True, expected="v0.9.0")
        removed = deployments.end_canary(env, promote=False, note="not needed", expected="v0.2.0")
        assert (removed.action, removed.version) == ("remove-canary", "v0.2.0")
        deadline = time.monotonic() + 10
        while "canary" in json.loads(request(address, "GET", "/version")[1]):
            assert time.monotonic() < deadline, "the server kept the removed shadow"
            time.sleep(0.05)
    logged = requestlog.read(
        requestlog.log_files(env.target.workdir()),
        {"request_id": "text", "prediction": "text"},
        fixed_columns=True,
    )
    pairs = logged.groupby("request_id", observed=True)["version"].agg(
        lambda v: sorted(map(str, v))
    )
    assert len(pairs) == 10 * len(ROWS)
    assert all(v == ["v0.1.0", "v0.2.0"] for v in pairs)  # each row, by both versions
    current = deployments.read_current(env)
    assert current is not None and current.version == "v0.1.0" and current.canary is None


def test_a_request_id_that_is_not_one_is_refused(project: Path) -> None:
    with serving(production(project)) as address:
        for bad in ("a" * 129, "../x", "id with space", "-leading", "é"):
            status, answer, headers = score_with_id(address, {"instances": ROWS}, bad)
            assert status == 400 and "X-Request-Id must be" in str(answer["error"])
            assert "x-request-id" not in headers
        assert score_with_id(address, {"instances": ROWS}, "ok-1:2.3_x")[0] == 200


def without_pyarrow(cwd: Path, *args: str) -> tuple[int, str]:
    """mlgate run where pyarrow cannot be imported, as after `pip install mlgate[serve]`."""
    script = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "from mlgate.commands.main import main\nraise SystemExit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--traceback", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stderr


def test_mlgate_canary_judges_on_late_labels_rolls_back_or_promotes(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Live labels decide: a canary that gets them wrong is rolled back, one that gets them
    right is promoted; too little data is a wait; bad inputs are one-line errors."""
    import numpy as np

    env = production(project)
    deployments.deploy(
        project, resolve.resolve(project, "scorer@v0.2.0"), env, monitoring=True, canary=50
    )
    rng = np.random.default_rng(7)
    rows = [{"x1": float(a), "x2": float(b)} for a, b in rng.normal(0, 2, (300, 2))]
    models = {
        v: joblib.load(project / f"deployed/production/versions/{v}/model.pkl")
        for v in ("v0.1.0", "v0.2.0")
    }
    truth = {v: m.predict(pd.DataFrame(rows)).tolist() for v, m in models.items()}
    with serving(env) as address:
        capsys.readouterr()
        assert mlgate_in(project, monkeypatch, "canary", "--env", "production") == 2  # no data
        assert "WAIT" in capsys.readouterr().out
        for n, row in enumerate(rows):
            assert score_with_id(address, {"instances": [row]}, f"t{n}")[0] == 200
        metrics_url = f"http://{address}/metrics"
        labels = project / "labels.csv"

        def labelled_by(version: str) -> None:
            labels.write_text(
                "request_id,label\n"
                + "".join(f"t{n},{truth[version][n]}\n" for n in range(len(rows)))
            )

        labelled_by("v0.1.0")  # the stable version was right: the canary is worse
        judge = ("canary", "--env", "production", "--labels", str(labels))
        capsys.readouterr()
        assert mlgate_in(project, monkeypatch, *judge, "--metrics", metrics_url) == 1
        out = capsys.readouterr().out
        assert "ROLL BACK: canary v0.2.0 against v0.1.0 (" in out
        assert "accuracy: worse" in out  # (latency may fail too on a loaded machine)
        assert "errors" in out and "latency p99" in out and "predictions" in out
        # issue 33.5: a local log needs no pyarrow (the `serve` extra does not install it)
        monitored = ("monitor", "--env", "production", "--labels", str(labels))
        for args, codes in ((judge, (1,)), (monitored, (0, 1))):
            code, said_err = without_pyarrow(project, *args)
            assert code in codes, said_err
        not_metrics = f"http://{address}/ping"  # answers 200, but is no server's metrics
        assert mlgate_in(project, monkeypatch, *judge, "--metrics", not_metrics) == 2
        assert "has no mlgate_version_requests" in capsys.readouterr().err
        labelled_by("v0.2.0")  # the canary was right: promoted, and carried out
        assert mlgate_in(project, monkeypatch, *judge, "--format", "json", "--apply") == 0
        verdict = json.loads(capsys.readouterr().out)
        assert verdict["decision"] == "promote"
        assert {c["name"]: c["outcome"] for c in verdict["checks"]}["accuracy"] == "pass"
        _wait_for_version(address, "v0.2.0")
        capsys.readouterr()
        monitor = ("monitor", "--env", "production", "--labels", str(labels), "--format", "json")
        code = mlgate_in(project, monkeypatch, *monitor)
        said = capsys.readouterr()
        assert code in (0, 1), said.err
        live = {p["version"]: p for p in json.loads(said.out)["performance"]}
        assert live["v0.2.0"]["metrics"]["accuracy"] == 1.0
        assert live["v0.1.0"]["metrics"]["accuracy"] == 0.0
        assert live["v0.1.0"]["rows"] + live["v0.2.0"]["rows"] == len(rows)
    log = deployments.read_log(env)
    assert [d.action for d in log] == ["deploy", "canary", "promote"]
    assert log[-1].note is not None and log[-1].note.startswith("mlgate canary: PROMOTE")
    bad = project / "bad.csv"
    bad.write_text("id,truth\n1,0\n")
    other = project / "other.csv"  # labels keyed by the client's own ids, not the requests'
    other.write_text("request_id,label\ntxn-1,0\ntxn-2,1\n")
    assert mlgate_in(project, monkeypatch, "canary", "--env", "production") == 0
    assert "Nothing to judge: production has no canary" in capsys.readouterr().out
    for args, expected in (
        (("monitor", "--env", "production", "--labels", str(bad)), "columns request_id and label"),
        (("monitor", "--env", "production", "--labels", "nope.csv"), "no such file"),
        (("canary", "--env", "production", "--metrics", "ftp://x/metrics"), "not an http(s) URL"),
        (("monitor", "--env", "production", "--labels", str(other)), "none of its 2 request ids"),
    ):
        capsys.readouterr()
        assert mlgate_in(project, monkeypatch, *args) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # Labels of another target altogether: said, not measured as a model that is always wrong.
    bad.write_text("request_id,label\n" + "".join(f"t{n},fraud\n" for n in range(len(rows))))
    capsys.readouterr()
    assert (
        mlgate_in(project, monkeypatch, "monitor", "--env", "production", "--labels", str(bad)) == 2
    )
    assert "share no class with the predictions (0, 1)" in capsys.readouterr().err
    # A plain deploy while a canary runs replaces both, and the log says the canary went.
    deploy = ("deploy", "--env", "production", "--model", "scorer@v0.1.0")
    assert mlgate_in(project, monkeypatch, *deploy, "--canary", "20") == 0
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, *deploy) == 0
    assert "The canary v0.1.0 is no longer served" in capsys.readouterr().out
    last = deployments.read_log(env)[-2:]
    assert [(d.action, d.version) for d in last] == [
        ("deploy", "v0.1.0"),
        ("remove-canary", "v0.1.0"),
    ]
    assert last[1].note == "replaced by the deploy of v0.1.0"


@pytest.mark.faults
def test_clients_that_hang_up_mid_body_are_not_counted_against_a_version(project: Path) -> None:
    """Issue 31: 40 clients that opened a request routed to a 50% canary and hung up before
    their body arrived were counted as the canary's 500s, and `mlgate canary` rolled a healthy
    canary back. A client's disconnect is no server error, and no version's request."""
    env = production(project)
    deployments.deploy(
        project, resolve.resolve(project, "scorer@v0.2.0"), env, monitoring=True, canary=50
    )
    with serving(env) as address:
        host, port = address.split(":")
        for n in range(40):  # bounded: 40 connections, each closed by the client
            with socket.create_connection((host, int(port)), timeout=10) as client:
                head = (
                    f"POST /invocations HTTP/1.1\r\nHost: {address}\r\n"
                    f"Content-Type: application/json\r\nX-Request-Id: hangup-{n}\r\n"
                    "Content-Length: 5000\r\n\r\n"
                )
                client.sendall(head.encode() + b'{"instances": [')
        status, _ = score(address, {"instances": ROWS[:1]})
        assert status == 200
        deadline = time.monotonic() + 10
        while True:  # the server sees each hang-up when it next reads; bounded wait
            text = request(address, "GET", "/metrics")[1]
            counts = _metric(text, "mlgate_version_requests", "mlgate_version_requests_total")
            served = _metric(
                text, "mlgate_requests", "mlgate_requests_total", ("endpoint", "status")
            )
            closed = served.get(("/invocations", "499"), 0)
            if closed >= 40 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert closed == 40, served
    assert not any(status.startswith("5") for (_, status) in counts), counts
    assert sum(counts.values()) == 1  # the one real request


NULL_ROWS = [
    ([{"x1": None, "x2": 1.0}], "x1", "x1,x2\n,1.0\n"),
    ([{"x1": 0.5, "x2": 1.0}, {"x1": 0.5, "x2": None}], "x2", "x1,x2\n0.5,1.0\n0.5,\n"),
    ([{"x1": float("nan"), "x2": 1.0}], "x1", "x1,x2\n,2.0\n"),
]


@pytest.mark.faults
def test_a_null_for_a_model_without_an_imputer_is_a_400_naming_the_column(project: Path) -> None:
    """Issue 31: a logistic regression has no imputer: null was a 500 (pickle) or a
    meaningless 200 (ONNX). Deploy asks the model which columns it can do without."""
    env = production(project)
    runtimes: tuple[tuple[Literal["onnx", "pickle"], str], ...] = (
        ("onnx", "scorer@v0.2.0"),
        ("pickle", "scorer@v0.1.0"),
    )
    for runtime, version in runtimes:
        model = resolve.resolve(project, version)
        done = deployments.deploy(project, model, env, monitoring=True, runtime=runtime)
        assert done.runtime == runtime and done.refusing_missing == ("x1", "x2")
        with serving(env) as address:
            for rows, missing, csv in NULL_ROWS:
                text = json.dumps({"instances": rows}).replace("NaN", "null")
                status, body = request(address, "POST", "/invocations", text.encode())
                assert status == 400, (runtime, body)
                assert f"column '{missing}' has no value" in json.loads(body)["error"]
                status, body = request(address, "POST", "/invocations", csv.encode(), "text/csv")
                assert status == 400 and f"'{missing}' has no value" in json.loads(body)["error"]
            assert score(address, {"instances": ROWS[:1]})[0] == 200


@pytest.fixture(scope="module")
def strict_scorer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_project(tmp_path_factory.mktemp("strict") / "p", estimator="strict_kind")


@pytest.mark.parametrize("runtime", ["onnx", "pickle"])
def test_a_category_the_model_refuses_is_a_400_naming_the_column_on_either_runtime(
    strict_scorer: Path, tmp_path: Path, runtime: str, monkeypatch
) -> None:
    """A one-hot encoder that raises on a category training did not have: the pickle would
    fail (a 500), and its ONNX conversion would answer as if the column were empty. Deploy
    finds that the model refuses unknown `kind`s; the server takes only the training data's
    (its profile) and says which column and row, on both runtimes alike."""
    project = Path(shutil.copytree(strict_scorer, tmp_path / "p", symlinks=True))
    deploy = ("deploy", "--model", "models/model.pkl", "--runtime", runtime)
    assert mlgate_in(project, monkeypatch, *deploy) == 0
    record = json.loads((project / ".mlgate/deployments/local/current").read_text())
    assert record["runtime"] == runtime and record["refusing_unknown"] == ["kind"]
    env = environments.environment(project, read_policy(revision(WORKSPACE, project)), "local")
    row = {"x1": 0.3, "x2": -0.2, "kind": "a"}
    with serving(env) as address:
        assert score(address, {"dataframe_records": [row]})[0] == 200
        status, body = score(address, {"dataframe_records": [row, {**row, "kind": "zebra"}]})
        assert status == 400, body
        assert body == {
            "error": "column 'kind' must hold a category the model was trained on "
            "(it refuses others) (row 2)"
        }
        assert "zebra" not in json.dumps(body)  # never echoed
        assert score(address, {"dataframe_records": [{**row, "kind": None}]})[0] == 400


def test_a_version_whose_profile_cannot_list_the_categories_it_refuses_is_not_served(
    strict_scorer: Path, tmp_path: Path, monkeypatch
) -> None:
    """The check is never turned off quietly: without the training data's categories the
    server would give 500s (pickle) or silent answers (ONNX), so it serves nothing and says
    why."""
    project = Path(shutil.copytree(strict_scorer, tmp_path / "p", symlinks=True))
    assert mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl") == 0
    [version] = (project / ".mlgate/deployments/local/versions").iterdir()
    (version / "profile.json").unlink()
    env = environments.environment(project, read_policy(revision(WORKSPACE, project)), "local")
    with serving(env) as address:
        status, body = score(address, {"dataframe_records": [{"x1": 0.3, "x2": 0.1, "kind": "a"}]})
    assert status == 503 and "profile.json" in str(body["error"]), body
