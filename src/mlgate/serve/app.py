"""`mlgate serve`: an environment's current model over HTTP (FastAPI on uvicorn).

Endpoints follow MLflow's scoring server, so its clients work unchanged: ``POST /invocations``
(see mlgate.serve.payload) answers ``{"predictions": [...]}``; ``GET /ping`` and ``/health`` say the
process is alive; ``/ready`` whether a verified, smoke-tested model is loaded; ``/version``
which; ``/metrics`` Prometheus' text format.

A watcher thread looks at the environment's ``current`` twice a second. When a deploy or
rollback replaces it, the new version is verified, loaded and smoke-tested beside the old one,
then swapped in with one reference assignment: requests in flight finish on the model they
started with, and none is refused. A version that fails to load leaves the old one serving.

Every answer to ``/invocations`` carries ``X-Request-Id`` (the client's, or one made here) and
``X-Model-Version``. With a canary beside the current version (``mlgate deploy --canary``), a
request goes to the canary when a hash of its id falls in the canary's share, so a client's
retries with the same id meet the same version; a shadow gets a copy of its share of requests
after they are answered, and its answers are only logged and counted.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlgate import defaults
from mlgate.artifacts import requestlog
from mlgate.artifacts.card import CARD_FILE, Feature, read_card
from mlgate.artifacts.deployment import ONNX, Deployment
from mlgate.artifacts.profile import PROFILE_FILE, parse_profile
from mlgate.deploy import deployments, environments, modelfile, onnx_model
from mlgate.deploy.targets import SegmentStore
from mlgate.errors import MlgateError
from mlgate.serve import batching, payload, shipping, workers
from mlgate.serve.logs import log

NO_CARD = modelfile.NO_CARD + " (requests cannot be checked without it)"

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response
    from starlette.background import BackgroundTask

DEFAULT_HOST = defaults.SERVE_HOST
DEFAULT_PORT = defaults.SERVE_PORT
DEFAULT_MAX_BODY_MB = defaults.MAX_BODY_MB
POLL_SECONDS = 0.5
RETRY_SECONDS = 5.0  # a failed switch is tried again this often
# What a request whose client hung up before its body arrived is counted as (nginx's 499): in
# /invocations' own counter only, never a version's, so a client cannot make a canary look broken.
CLIENT_CLOSED = 499
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REQUEST_ID_HEADER, VERSION_HEADER = "X-Request-Id", "X-Model-Version"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
BAD_REQUEST_ID = (
    f"{REQUEST_ID_HEADER} must be 1 to 128 letters, digits and ._:- (starting with a letter "
    "or digit)"
)
STABLE, CANARY, SHADOW = "stable", "canary", "shadow"


@dataclass(frozen=True)
class Loaded:
    deployment: Deployment
    model: Any
    features: tuple[Feature, ...]
    log: requestlog.RequestLog | None  # None: monitoring disabled for this deployment
    shipper: shipping.Shipper | None = None  # ships the log's closed segments to the bucket


class ModelHolder:
    """The environment's current model (and its canary), reloaded when ``current`` changes."""

    def __init__(self, env: environments.Environment) -> None:
        self.env = env
        self.serving: tuple[Loaded | None, Loaded | None] = (None, None)  # (current, canary)
        self.problem: str | None = "nothing is deployed"
        self.refused: dict[str, str] | None = None  # the last version it would not switch to
        self.switch_failures = 0
        self._seen: object | None = None
        self._retry_at = 0.0  # a switch that failed is tried again from then on

    @property
    def loaded(self) -> Loaded | None:
        return self.serving[0]

    @property
    def canary(self) -> Loaded | None:
        return self.serving[1]

    def refresh(self) -> bool:
        """Load ``current`` (and its canary) if it changed since the last look, or retry a
        switch that failed (a download cut short, the bucket unreachable) every RETRY_SECONDS;
        True when a new model is in. A canary that fails to load leaves the current version
        answering every request."""
        try:
            key = self.env.target.current_stamp()
        except MlgateError as exc:  # the target unreachable: keep serving what is loaded
            self._failed(str(exc), None)
            return False
        retry = self.refused is not None and time.monotonic() >= self._retry_at
        if key is None or (key == self._seen and not retry):
            return False
        self._seen = key
        deployment = None
        stable, canary = self.serving
        try:
            deployment = deployments.read_current(self.env)
            if deployment is None:
                return False
            if stable is None or stable.deployment.id != deployment.id:
                stable = self._load(deployment)
        except Exception as exc:  # a version folder edited by hand can fail in any way
            self._failed(_problem(exc), deployment)
            return False
        side, refused = deployment.canary, None
        if side is None:
            canary = None
        elif canary is None or canary.deployment.id != side.id:
            try:
                canary = self._load(side, ship=False)
            except Exception as exc:
                canary, refused = None, (_problem(exc), side)
        changed = stable is not self.serving[0] or canary is not self.serving[1]
        self.serving, self.problem = (stable, canary), None
        if refused is None:
            self.refused = None
        else:  # said once, retried: as a version the server would not switch to
            self._failed(*refused)
        return changed

    def _failed(self, problem: str, deployment: Deployment | None) -> None:
        """Remember why, say it once (not at every retry), try again in RETRY_SECONDS."""
        repeated = self.refused is not None and self.refused["reason"] == problem
        self.problem = problem
        self.refused = {
            "version": deployment.version if deployment else "unreadable current",
            "reason": problem,
            "time": requestlog.now(),
        }
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if repeated:
            return
        self.switch_failures += 1
        kept = f"; still serving {self.loaded.deployment.version}" if self.loaded else ""
        log.warning("cannot switch: %s%s", problem, kept)

    def _load(self, deployment: Deployment, *, ship: bool = True) -> Loaded:
        folder = self.env.target.version_folder(deployment.version)
        card = read_card(folder / CARD_FILE)
        what = f"{self.env.name} {deployment.version}"
        if deployment.runtime == ONNX and deployment.onnx_md5:
            # the compiled model: no pickle is read, let alone unpickled
            onnx_file = folder / onnx_model.ONNX_FILE
            modelfile.verify(onnx_file, deployment.onnx_md5, what)
            model: Any = onnx_model.load(onnx_file, card)
            modelfile.smoke_test(model, card)
        else:
            model_file = folder / deployment.model_file
            modelfile.verify(model_file, deployment.md5, what)
            model = modelfile.load_model(model_file)
            modelfile.smoke_test(model, card)
            _one_thread_per_prediction(model)
            model = modelfile.servable(model, card)
        features = (
            card.refusing_missing(deployment.refusing_missing)
            .refusing_unknown(_trained_categories(folder, deployment.refusing_unknown))
            .features
        )
        log = None
        if deployment.monitoring:
            options = self.env.options
            sample, max_mb = options.monitoring_sample, options.monitoring_max_mb
            log = requestlog.RequestLog(
                self.env.target.workdir(),
                [f.name for f in features],
                requestlog.DEFAULT_SAMPLE if sample is None else sample,
                int((requestlog.DEFAULT_MAX_MB if max_mb is None else max_mb) * 2**20),
            )
        shipper = None
        if ship and log is not None and isinstance(self.env.target, SegmentStore):
            seconds = self.env.options.monitoring_segment_seconds
            if seconds is None:
                seconds = shipping.DEFAULT_SEGMENT_SECONDS
            shipper = shipping.Shipper(self.env.target, self.env.target.workdir(), seconds)
        return Loaded(deployment, model, features, log, shipper)

    def ship(self, *, closing: bool = False) -> None:
        """Ship the request log's closed segments, when the target keeps replicas' logs."""
        loaded = self.loaded
        if loaded is None or loaded.shipper is None or not (closing or loaded.shipper.due()):
            return
        kinds = {feature.name: feature.kind for feature in loaded.features}
        problem = loaded.shipper.problem
        loaded.shipper.tick(kinds, closing=closing)
        if loaded.shipper.problem and loaded.shipper.problem != problem:
            log.warning("cannot ship the request log yet: %s", loaded.shipper.problem)


class Server:
    """One server process: the model it holds, its metrics, the batcher, and the handlers of
    each endpoint (``create_app`` routes them)."""

    def __init__(
        self, env: environments.Environment, max_body_bytes: int, max_batch_rows: int
    ) -> None:
        from fastapi.concurrency import run_in_threadpool

        self.holder = ModelHolder(env)
        self.holder.refresh()
        self.metrics = _Metrics()
        self.metrics.switch_failures.inc(self.holder.switch_failures)
        self.batcher = batching.Batcher(
            run_in_threadpool, max_batch_rows, self.metrics.batch.observe
        )
        self.metrics.model_changed(*self.holder.serving)
        self.max_body_bytes = max_body_bytes
        self.stop = threading.Event()

    def watch(self) -> None:
        """The watcher thread: ship the log, switch to a new ``current``, until stopped."""
        holder, metrics = self.holder, self.metrics
        while not self.stop.wait(POLL_SECONDS):
            holder.ship()
            failures = holder.switch_failures
            switched = holder.refresh()
            metrics.switch_failures.inc(holder.switch_failures - failures)
            if switched:
                metrics.model_changed(*holder.serving)
                log.info("now serving %s", _serving(holder))

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        watcher = threading.Thread(target=self.watch, name="mlgate-watcher", daemon=True)
        watcher.start()
        yield
        self.stop.set()
        watcher.join(timeout=5)
        self.holder.ship(closing=True)  # what this replica logged reaches the bucket first

    def answer(
        self,
        endpoint: str,
        status: int,
        body: Any,
        started: float,
        media_type: str = "application/json",
        *,
        served: Loaded | None = None,
        request_id: str | None = None,
        background: BackgroundTask | None = None,
    ) -> Response:
        from fastapi import Response

        seconds = time.perf_counter() - started
        self.metrics.observe(endpoint, status, seconds)
        headers = {REQUEST_ID_HEADER: request_id} if request_id else {}
        if served is not None:
            version = served.deployment.version
            self.metrics.observe_version(version, status, seconds)
            headers[VERSION_HEADER] = version
        content = body if isinstance(body, (bytes, str)) else json.dumps(body, allow_nan=False)
        return Response(
            content=content,
            status_code=status,
            media_type=media_type,
            headers=headers,
            background=background,
        )

    async def ping(self) -> Response:
        return self.answer("/ping", 200, "\n", time.perf_counter(), "text/plain")

    async def ready(self) -> Response:
        holder = self.holder
        started, loaded = time.perf_counter(), holder.loaded
        if loaded is None:
            body = {"ready": False, "reason": holder.problem, **_refused(holder)}
            return self.answer("/ready", 503, body, started)
        body = {"ready": True, "version": loaded.deployment.version, **_refused(holder)}
        return self.answer("/ready", 200, body, started)

    async def version(self) -> Response:
        holder = self.holder
        started, loaded = time.perf_counter(), holder.loaded
        if loaded is None:
            return self.answer("/version", 503, {"error": f"no model: {holder.problem}"}, started)
        described = {k: v for k, v in loaded.deployment.to_dict().items() if k in _SHOWN}
        canary = holder.canary
        if canary is not None:
            side = canary.deployment.to_dict()
            described["canary"] = {
                **{k: v for k, v in side.items() if k in _SHOWN and k != "environment"},
                "percent": side["percent"],
                "shadow": side["shadow"],
            }
        return self.answer("/version", 200, {**described, **_refused(holder)}, started)

    async def prometheus(self) -> Response:
        from fastapi import Response
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    async def predict(self, loaded: Loaded, frame: payload.Rows, request_id: str) -> list[Any]:
        """``loaded``'s predictions of a request's rows, counted and logged."""
        predictions = await self.batcher.predict(loaded.model, frame)
        classifier = hasattr(loaded.model, "classes_")
        self.metrics.predicted(loaded.deployment.version, predictions, classifier=classifier)
        if loaded.log is not None:
            _log_rows(loaded, frame, predictions, self.metrics, request_id)
        return predictions

    async def shadow(self, copy: Loaded, frame: payload.Rows, request_id: str) -> None:
        """A shadow's prediction of a request already answered: counted and logged only."""
        started, status = time.perf_counter(), 200
        try:
            await self.predict(copy, frame, request_id)
        except Exception:
            status = 500
        seconds = time.perf_counter() - started
        self.metrics.observe_version(copy.deployment.version, status, seconds)

    async def invocations(self, request: Request) -> Response:
        from starlette.background import BackgroundTask
        from starlette.requests import ClientDisconnect

        started, (stable, canary) = time.perf_counter(), self.holder.serving
        self.metrics.in_progress.inc()
        served: Loaded | None = None
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex

        def reply(status: int, body: Any, background: BackgroundTask | None = None) -> Response:
            return self.answer(
                "/invocations",
                status,
                body,
                started,
                served=served,
                request_id=request_id,
                background=background,
            )

        try:
            if not _REQUEST_ID.match(request_id):
                request_id = ""  # not echoed: it is not one
                return reply(400, {"error": BAD_REQUEST_ID})
            if stable is None:
                return reply(503, {"error": f"no model: {self.holder.problem}"})
            copy = None
            served = stable
            if canary is not None and routed(request_id, canary.deployment.percent):
                if canary.deployment.shadow:
                    copy = canary
                else:
                    served = canary
            try:
                body = await _read_body(request, self.max_body_bytes)
            except ClientDisconnect:  # the client's doing: no version's request, no 5xx
                served = None
                return reply(CLIENT_CLOSED, {"error": "the client closed the request"})
            if body is None:
                limit = f"{self.max_body_bytes:,} bytes"
                return reply(413, {"error": f"the body is over the limit of {limit}"})
            if not served.features:  # nothing to check a request against: never guess
                return reply(400, {"error": NO_CARD})
            frame = payload.parse(body, request.headers.get("content-type", ""), served.features)
            predictions = await self.predict(served, frame, request_id)
            shadowed = (
                None if copy is None else BackgroundTask(self.shadow, copy, frame, request_id)
            )
            return reply(200, {"predictions": predictions}, shadowed)
        except payload.UnsupportedMediaType as exc:
            return reply(415, {"error": str(exc)})
        except payload.BadRequest as exc:
            return reply(400, {"error": str(exc)})
        except Exception as exc:  # the model's own failure: say what kind, never the data
            log.warning("prediction failed: %s", type(exc).__name__)
            return reply(500, {"error": f"prediction failed ({type(exc).__name__})"})
        finally:
            self.metrics.in_progress.dec()


# what /version says of a deployment
_SHOWN = ("artifact", "version", "md5", "commit", "environment", "time", "monitoring", "runtime")


def create_app(
    env: environments.Environment,
    max_body_bytes: int,
    max_batch_rows: int = batching.DEFAULT_MAX_ROWS,
) -> FastAPI:
    """The ASGI application; its lifespan runs the watcher thread."""
    from fastapi import FastAPI

    server = Server(env, max_body_bytes, max_batch_rows)
    app = FastAPI(
        title="mlgate", lifespan=server.lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.get("/ping")(server.ping)
    app.get("/health")(server.ping)
    app.get("/ready")(server.ready)
    app.get("/version")(server.version)
    app.get("/metrics")(server.prometheus)
    # A plain Starlette route: the body is read as bytes, with no validation layer in between.
    app.add_route("/invocations", server.invocations, methods=["POST"])
    app.state.holder = server.holder
    return app


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: any free port). Bound here, not by uvicorn, so a
    port in use or a host that is no address is a one-line error, not uvicorn's own exit 3."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError, OverflowError) as exc:
        raise MlgateError(f"--host {host!r} is not an address to listen on: {exc}") from None
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise MlgateError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def run(
    env: environments.Environment,
    sock: socket.socket,
    max_body_mb: float,
    max_batch_rows: int = batching.DEFAULT_MAX_ROWS,
    *,
    worker_count: int = 1,
) -> int:
    """Serve on ``sock`` (from ``listen``) until interrupted, in ``worker_count`` processes;
    the exit code."""
    try:
        import uvicorn
    except ImportError:
        raise MlgateError(
            "mlgate serve needs its optional dependencies: pip install 'mlgate[serve]'"
        ) from None

    def serve(_worker: int = 0) -> None:
        app = create_app(env, int(max_body_mb * 2**20), max_batch_rows)
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[sock])

    if worker_count == 1:
        serve()
        return 0
    return workers.run(worker_count, serve)


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is over ``limit`` bytes (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def routed(request_id: str, percent: float | None) -> bool:
    """Whether a request with this id goes to a canary on ``percent`` of requests: the same
    id always does, or never (a hash, in steps of a hundredth of a percent)."""
    if percent is None:
        return False
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < round(percent * 100)


def _serving(holder: ModelHolder) -> str:
    stable, canary = holder.serving
    shown = stable.deployment.version if stable else "nothing"
    if canary is not None:
        side = canary.deployment
        role = SHADOW if side.shadow else CANARY
        shown += f", with {side.version} as its {role} on {side.percent:g}% of requests"
    return shown


def _problem(exc: Exception) -> str:
    return str(exc) if isinstance(exc, MlgateError) else f"{type(exc).__name__}: {exc}"


def _trained_categories(folder: Any, columns: tuple[str, ...]) -> dict[str, list[str]]:
    """The categories the training data had in each of ``columns`` (the text columns where the
    model refuses others), from the version's profile. A profile that cannot say is an error:
    the version is not served, since it would fail (the pickle) or answer as if the value were
    absent (ONNX) on a category it never saw."""
    if not columns:
        return {}
    path = folder / PROFILE_FILE
    try:
        described = parse_profile(json.loads(path.read_text(encoding="utf-8")), str(path)).columns
    except (OSError, ValueError, RecursionError) as exc:
        raise MlgateError(f"cannot read {path}: {exc}") from None
    lacking = [name for name in columns if name not in described or not described[name].text]
    if lacking:
        raise MlgateError(
            f"{path} lists no categories for {', '.join(lacking)}, where the model refuses "
            "categories it was not trained on"
        )
    return {name: [category for category, _ in described[name].counts] for name in columns}


def _one_thread_per_prediction(model: Any) -> None:
    """Trained with ``n_jobs=-1``, a forest starts a thread pool on every call: for one request's
    rows that costs more than the prediction. Requests are the parallelism when serving."""
    estimators = [model, *getattr(model, "named_steps", {}).values()]
    for estimator in estimators:
        if getattr(estimator, "n_jobs", None) not in (None, 1):
            estimator.n_jobs = 1


def _refused(holder: ModelHolder) -> dict[str, Any]:
    """The version the server would not switch to, and why: beside the one it serves."""
    return {"refused": holder.refused} if holder.refused else {}


def _log_rows(
    loaded: Loaded, frame: Any, predictions: list[Any], metrics: _Metrics, request_id: str
) -> None:
    """Log a request's rows; a log that cannot be written (a full disk) never fails the answer:
    the failure is counted on /metrics and said once on stderr."""
    assert loaded.log is not None
    try:
        loaded.log.append(loaded.deployment.version, frame, predictions, request_id)
    except (requestlog.LogWriteFailed, OSError) as exc:
        metrics.log_errors.inc()
        if not metrics.log_error_said:
            metrics.log_error_said = True
            log.warning(
                "warning: requests are not being logged (%s); answers go on, "
                "mlgate_log_errors_total counts the requests not logged",
                exc,
            )


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlgate_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mlgate_request_duration_seconds",
            "Time to answer a request",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "mlgate_requests_in_progress",
            "Scoring requests being answered",
            registry=self.registry,
            multiprocess_mode="livesum",  # with --workers: the sum over the running ones
        )
        self.version_requests = Counter(
            "mlgate_version_requests",
            "Scoring requests by the version that answered them (or a shadow ran) and status",
            ["version", "status"],
            registry=self.registry,
        )
        self.version_latency = Histogram(
            "mlgate_version_request_duration_seconds",
            "Time to answer a scoring request, by the version that answered it",
            ["version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "mlgate_predictions",
            "A classifier's predictions, by version and class",
            ["version", "prediction"],
            registry=self.registry,
        )
        self.values = Histogram(
            "mlgate_prediction_value",
            "A regressor's predicted values, by version",
            ["version"],
            registry=self.registry,
        )
        self.batch = Histogram(
            "mlgate_batch_requests",
            "Requests answered by one model call",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.model = Gauge(
            "mlgate_model_info",
            "The model being served (value 1)",
            ["artifact", "version", "md5", "runtime", "role"],
            registry=self.registry,
            multiprocess_mode="liveall",  # with --workers: each worker's, labelled by pid
        )
        self.served: list[tuple[str, ...]] = []
        self.switch_failures = Counter(
            "mlgate_switch_failures",
            "New versions the server would not switch to (tampered, failed to load)",
            registry=self.registry,
        )
        self.log_errors = Counter(
            "mlgate_log_errors",
            "Requests answered but not logged (the monitoring log could not be written)",
            registry=self.registry,
        )
        self.log_error_said = False

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observe_version(self, version: str, status: int, seconds: float) -> None:
        self.version_requests.labels(version, str(status)).inc()
        self.version_latency.labels(version).observe(seconds)

    def predicted(self, version: str, predictions: list[Any], *, classifier: bool) -> None:
        if not classifier:
            values = self.values.labels(version)
            for value in predictions:
                values.observe(float(value))
            return
        counts: dict[str, int] = {}
        for value in predictions:
            label = str(value)
            counts[label] = counts.get(label, 0) + 1
        for label, count in counts.items():
            self.predictions.labels(version, label).inc(count)

    def model_changed(self, loaded: Loaded | None, canary: Loaded | None = None) -> None:
        for served in self.served:
            if workers.shared_metrics():  # kept in a file, which clear() cannot edit: 0
                self.model.labels(*served).set(0)
        if self.served and not workers.shared_metrics():
            self.model.clear()
        self.served = []
        for role, side in ((STABLE, loaded), (CANARY, canary)):
            if side is None:
                continue
            d = side.deployment
            role = SHADOW if d.shadow else role
            self.served.append((d.artifact, d.version, d.md5, d.runtime, role))
            self.model.labels(*self.served[-1]).set(1)

    def exposition(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest

        if not workers.shared_metrics():
            return bytes(generate_latest(self.registry))
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return bytes(generate_latest(registry))
