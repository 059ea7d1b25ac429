"""The `serve` benchmark: `mlgate serve` against `mlflow models serve` of the same model.

mlgate serves the model three ways (its pickle, compiled to ONNX, compiled with monitoring on,
compiled in 2 worker processes), MLflow its pickle; all answer the same POST /invocations bodies
(one row and 100 rows, MLflow's ``dataframe_split``) under the same load from wrk, a C load
generator on loopback, and their answers are checked equal first. Rounds alternate the servers
so the machine's drift is shared.
MLflow lives in its own virtual environment (``--mlflow-venv``, made on first use), never in
mlgate's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import commit_all, make_project  # noqa: E402  (the tests' project builder)

SAVE_FOR_MLFLOW = """\
import json, sys
import joblib, mlflow.sklearn, pandas
model_file, card_file, out, serialization = sys.argv[1:]
model = joblib.load(model_file)
for step in [model, *getattr(model, "named_steps", {}).values()]:
    if getattr(step, "n_jobs", None) not in (None, 1):
        step.n_jobs = 1  # as mlgate serves it: one thread per prediction
example = pandas.DataFrame(json.load(open(card_file))["input_example"])
if serialization == "skops":  # MLflow's default format, told to trust a forest's types
    mlflow.sklearn.save_model(model, out, input_example=example,
                              skops_trusted_types=["numpy.dtype", "sklearn.tree._tree.Tree"])
else:  # a pipeline ending in LightGBM, which skops does not take
    mlflow.sklearn.save_model(model, out, input_example=example, serialization_format=serialization)
"""

PICKLE, ONNX, MLFLOW = "mlgate serve, pickle", "mlgate serve, ONNX", "mlflow models serve"

WRK_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local body = io.open("{body}", "rb")
wrk.body = body:read("*a")
body:close()
"""


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


def mlflow_python(venv: Path, *, model: str | None = None) -> Path:
    """The peer environment's Python, made with MLflow and this scikit-learn on first use (and
    this LightGBM, for a LightGBM model)."""
    import sklearn

    python = venv / "bin" / "python"
    if model == "lightgbm" and python.exists():
        import lightgbm

        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"lightgbm=={lightgbm.__version__}"],
            check=True,
        )
    if not python.exists():
        print(f"(making MLflow's own environment in {venv}: a minute, once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "mlflow",
                f"scikit-learn=={sklearn.__version__}",
            ],
            check=True,
        )
    return python


def trained_project(root: Path, rows: int, model: str | None = None) -> Path:
    """This repository's pipeline with its own model parameters (or ``model``'s defaults, as
    many trees as the forest), trained and committed."""
    import yaml

    train = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]

    project = make_project(root, {"data": {"rows": rows}, "train": train}, commit=False)
    if model is not None:  # its own keys only: the forest's are not its hyperparameters
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["train"] = {
            "model": model,
            "n_estimators": train["n_estimators"],
            "random_state": 42,
        }
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project, check=True)
    commit_all(project, "trained")
    return project


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def server(command: list[str], cwd: Path, port: int) -> Iterator[str]:
    """Start a server; yield its URL once /ping answers; stop it."""
    url = f"http://127.0.0.1:{port}"
    # MLflow starts `uvicorn` from PATH: its own environment's comes first
    path = f"{Path(command[0]).parent}{os.pathsep}{os.environ['PATH']}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=log, stderr=log, env={**os.environ, "PATH": path}
        )
        try:
            _wait_for_ping(url, process, log)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_for_ping(url: str, process: subprocess.Popen[bytes], log: Any) -> None:
    deadline = time.monotonic() + 120
    while True:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{url}/ping", timeout=1).close()
            return
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise SystemExit(f"{process.args} did not start:\n{log.read().decode()[-2000:]}")
        time.sleep(0.2)


def predictions(url: str, body: bytes) -> list[object]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.load(response)["predictions"])


def wrk(url: str, script: Path, connections: int, seconds: int) -> Load:
    """Requests/s and latency percentiles of ``seconds`` of closed-loop load; exit on any
    failed request."""
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"{url}/invocations",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if failed or errors:
        raise SystemExit(f"requests failed against {url}:\n{out}")
    return Load(
        float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        _percentile_ms(out, "50"),
        _percentile_ms(out, "99"),
    )


def _percentile_ms(wrk_output: str, percent: str) -> float:
    found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", wrk_output, re.MULTILINE)
    if found is None:
        raise SystemExit(f"no {percent}% latency in wrk's output:\n{wrk_output}")
    value, unit = float(found.group(1)), found.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def request_bodies(project: Path, folder: Path) -> dict[str, Path]:
    """One-row and 100-row dataframe_split bodies of the test split's features."""
    import pandas as pd

    card = json.loads((project / "models" / "model.json").read_text())
    features = [feature["name"] for feature in card["features"]]
    test = pd.read_csv(project / "data" / "processed" / "test.csv")[features]
    bodies = {}
    for label, rows in (("1 row", 1), ("100 rows", 100)):
        body = folder / f"body-{rows}.json"
        split = json.loads(test.head(rows).to_json(orient="split", index=False))
        body.write_text(json.dumps({"dataframe_split": split}))
        bodies[label] = body
    return bodies


def bench_serve(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("the serve benchmark needs wrk on PATH (Debian: apt-get install wrk)")
    peer = mlflow_python(Path(args.mlflow_venv), model=args.serve_model)
    if args.serve_model == "lightgbm":
        mlflow_python(Path(args.mlflow_venv), model="lightgbm")  # made, then given LightGBM
    mlgate = [sys.executable, "-m", "mlgate"]
    with tempfile.TemporaryDirectory() as tmp:
        project = trained_project(Path(tmp) / "p", args.serve_rows, args.serve_model)
        for env, monitoring, runtime in (
            ("pickle", "disable", "pickle"),
            ("onnx", "disable", "onnx"),
            ("monitored", "enable", "onnx"),
        ):
            subprocess.run(
                [
                    *mlgate,
                    "deploy",
                    "--model",
                    "models/model.pkl",
                    "--env",
                    env,
                    "--monitoring",
                    monitoring,
                    "--runtime",
                    runtime,
                ],
                cwd=project,
                check=True,
                capture_output=True,
            )
        saved = Path(tmp) / "mlflow-model"
        subprocess.run(
            [
                str(peer),
                "-c",
                SAVE_FOR_MLFLOW,
                "models/model.pkl",
                "models/model.json",
                str(saved),
                "skops" if args.serve_model is None else "cloudpickle",
            ],
            cwd=project,
            check=True,
        )
        bodies = request_bodies(project, Path(tmp))
        ports = [free_port() for _ in range(5)]
        mlflow = [
            str(peer.parent / "mlflow"),
            "models",
            "serve",
            "-m",
            str(saved),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
        ]

        def ours(env: str, port: int, *more: str) -> list[str]:
            return [*mlgate, "serve", "--env", env, "--port", str(port), *more]

        commands = {
            PICKLE: ours("pickle", ports[0]),
            ONNX: ours("onnx", ports[1]),
            f"{ONNX}, monitoring on": ours("monitored", ports[2]),
            f"{ONNX}, 2 workers": ours("onnx", ports[3], "--workers", "2"),
            MLFLOW: [*mlflow, str(ports[4])],
        }
        with contextlib.ExitStack() as stack:
            urls = {
                name: stack.enter_context(server(command, project, port))
                for (name, command), port in zip(commands.items(), ports, strict=True)
            }
            _check_same_answers(urls, bodies)
            results = _measure(urls, bodies, Path(tmp), args)
    _print_results(results, args)


def _check_same_answers(urls: dict[str, str], bodies: dict[str, Path]) -> None:
    for label, body in bodies.items():
        answers = {name: predictions(url, body.read_bytes()) for name, url in urls.items()}
        if len({json.dumps(a) for a in answers.values()}) != 1:
            raise SystemExit(f"the servers disagree on the {label} body: {answers}")


def _measure(
    urls: dict[str, str], bodies: dict[str, Path], folder: Path, args: argparse.Namespace
) -> dict[tuple[str, int, str], list[Load]]:
    """wrk against each server in turn, ``--repeat`` rounds, per body and connection count."""
    results: dict[tuple[str, int, str], list[Load]] = {}
    for label, body in bodies.items():
        script = folder / f"post-{body.stem}.lua"
        script.write_text(WRK_SCRIPT.format(body=body))
        for url in urls.values():
            wrk(url, script, max(args.connections), 2)  # warm-up, not counted
        for connections in args.connections:
            for _ in range(args.repeat):
                for name, url in urls.items():
                    results.setdefault((label, connections, name), []).append(
                        wrk(url, script, connections, args.seconds)
                    )
    return results


def _median(loads: list[Load], figure: str) -> float:
    return statistics.median(getattr(load, figure) for load in loads)


def _print_results(
    results: dict[tuple[str, int, str], list[Load]], args: argparse.Namespace
) -> None:
    print(
        f"serve: {args.seconds} s of load per run, median of {args.repeat} runs; one process "
        f"per server unless said; the same model ({args.serve_model or 'the default forest'}); "
        "wrk on the same 2 cores"
    )
    print(f"{'body':<9} {'conns':>5} {'server':<30} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for (label, connections, name), loads in results.items():
        print(
            f"{label:<9} {connections:>5} {name:<30} {_median(loads, 'requests_per_second'):>11.1f} "
            f"{_median(loads, 'p50_ms'):>8.2f} {_median(loads, 'p99_ms'):>8.2f}"
        )
    for label, connections in dict.fromkeys((label, c) for label, c, _ in results):
        theirs = results[(label, connections, MLFLOW)]
        for name in (PICKLE, ONNX, f"{ONNX}, 2 workers"):
            ours = results[(label, connections, name)]
            rps = _median(ours, "requests_per_second") / _median(theirs, "requests_per_second")
            p99 = _median(theirs, "p99_ms") / _median(ours, "p99_ms")
            print(
                f"ratio, {label}, {connections} connection{'s' * (connections > 1)}, {name}: "
                f"{rps:.2f}x MLflow's requests/s; p99 {p99:.2f}x lower"
            )


def bench_serve_steps(args: argparse.Namespace) -> None:
    """Where a request's time goes, in-process: each step of the scoring path timed alone
    (median of --repeat rounds of many calls), for the pickle and the ONNX runtime."""
    import timeit

    from mlgate.artifacts.card import read_card
    from mlgate.deploy import modelfile, onnx_model
    from mlgate.serve import payload

    with tempfile.TemporaryDirectory() as tmp:
        project = trained_project(Path(tmp) / "p", args.serve_rows)
        card = read_card(project / "models" / "model.json")
        model = modelfile.load_model(project / "models" / "model.pkl")
        for step in [model, *getattr(model, "named_steps", {}).values()]:
            if getattr(step, "n_jobs", None) not in (None, 1):
                step.n_jobs = 1  # as the server runs it
        onnx = onnx_model.OnnxModel(onnx_model.compile_model(model, card), card)
        features = card.features
        bodies = request_bodies(project, Path(tmp))
        print(f"serve steps, in-process, microseconds per call (median of {args.repeat} rounds)")
        print(f"{'body':<9} {'step':<44} {'us':>9}")
        for label, path in bodies.items():
            body = path.read_bytes()
            rows = payload.parse(body, "application/json", features)
            steps = _steps(body, rows, features, model, onnx)
            for name, step in steps.items():
                calls = 20 if "pickle" in name else 500
                rounds = [timeit.timeit(step, number=calls) / calls for _ in range(args.repeat)]
                print(f"{label:<9} {name:<44} {statistics.median(rounds) * 1e6:>9.0f}")


def _steps(body: bytes, rows: Any, features: Any, model: Any, onnx: Any) -> dict[str, Any]:
    """The scoring path's steps, each a call to time."""
    from mlgate.serve import payload

    answer = {"predictions": onnx.predict(rows).tolist()}
    return {
        "JSON body -> checked column arrays (payload.parse)": lambda: payload.parse(
            body, "application/json", features
        ),
        "  of which json.loads": lambda: json.loads(body),
        "ONNX: arrays -> inputs -> onnxruntime": lambda: onnx.predict(rows),
        "pickle: arrays -> DataFrame -> scikit-learn": lambda: model.predict(
            payload.Rows({n: rows[n] for n in rows.columns}).frame()
        ),
        "answer -> JSON (json.dumps)": lambda: json.dumps(answer),
    }


CANARY_POLICY = """
[tool.mlgate.environments.plain]
target = "deployed/plain"

[tool.mlgate.environments.canary]
target = "deployed/canary"
"""


def bench_serve_canary(args: argparse.Namespace) -> None:
    """What a 10% canary costs the server: the same compiled forest served alone, and with a
    second version (trained with another seed) beside it on 10% of requests, routed by a hash
    of each request's id (wrk sends none: the server makes one per request, so a tenth go to
    the canary). Monitoring off for both, to measure the routing."""
    import yaml

    if shutil.which("wrk") is None:
        raise SystemExit("the serve-canary benchmark needs wrk on PATH (apt-get install wrk)")
    mlgate = [sys.executable, "-m", "mlgate"]
    with tempfile.TemporaryDirectory() as tmp:
        project = trained_project(Path(tmp) / "p", args.serve_rows)
        pyproject = project / "pyproject.toml"
        pyproject.write_text((pyproject.read_text() if pyproject.exists() else "") + CANARY_POLICY)
        commit_all(project, "two environments")

        def deploy(env: str, *more: str) -> None:
            subprocess.run(
                [*mlgate, "deploy", "--model", "models/model.pkl", "--env", env, *more],
                cwd=project,
                check=True,
                capture_output=True,
            )

        deploy("plain", "--runtime", "onnx")
        deploy("canary", "--runtime", "onnx")
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["train"]["random_state"] = int(params["train"].get("random_state", 0)) + 1
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project, check=True)
        deploy("canary", "--runtime", "onnx", "--canary", "10")
        bodies = request_bodies(project, Path(tmp))
        ports = [free_port() for _ in range(2)]
        commands = {
            "ONNX, one version": [*mlgate, "serve", "--env", "plain", "--port", str(ports[0])],
            "ONNX, 10% canary": [*mlgate, "serve", "--env", "canary", "--port", str(ports[1])],
        }
        with contextlib.ExitStack() as stack:
            urls = {
                name: stack.enter_context(server(command, project, port))
                for (name, command), port in zip(commands.items(), ports, strict=True)
            }
            shares = _canary_share(urls["ONNX, 10% canary"], bodies["1 row"], 2_000)
            results = _measure(urls, bodies, Path(tmp), args)
    print(f"canary's share of 2,000 requests with ids made by the server: {shares:.1%}")
    print(
        f"serve-canary: {args.seconds} s of load per run, median of {args.repeat} runs, one "
        "process per server, wrk on the same 2 cores"
    )
    print(f"{'body':<9} {'conns':>5} {'server':<20} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for (label, connections, name), loads in results.items():
        print(
            f"{label:<9} {connections:>5} {name:<20} {_median(loads, 'requests_per_second'):>11.1f} "
            f"{_median(loads, 'p50_ms'):>8.2f} {_median(loads, 'p99_ms'):>8.2f}"
        )
    for label, connections in dict.fromkeys((label, c) for label, c, _ in results):
        plain = results[(label, connections, "ONNX, one version")]
        canary = results[(label, connections, "ONNX, 10% canary")]
        rps = _median(canary, "requests_per_second") / _median(plain, "requests_per_second")
        p99 = _median(canary, "p99_ms") / _median(plain, "p99_ms")
        print(
            f"ratio, {label}, {connections} connection{'s' * (connections > 1)}: the canary "
            f"server's requests/s {rps:.3f}x the plain one's, p99 {p99:.3f}x"
        )


def _canary_share(url: str, body: Path, requests: int) -> float:
    """The share of requests the canary answered (X-Model-Version), ids left to the server."""
    versions: dict[str, int] = {}
    data = body.read_bytes()
    for _ in range(requests):
        request = urllib.request.Request(
            f"{url}/invocations", data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            version = response.headers["X-Model-Version"]
            versions[version] = versions.get(version, 0) + 1
    return min(versions.values()) / requests if len(versions) == 2 else 0.0
