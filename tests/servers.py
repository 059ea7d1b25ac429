"""`mlgate serve`'s app on 127.0.0.1 for the tests: uvicorn serving it in a thread, and the
requests a client sends (shared by the serve, describe, adoption and workflow tests)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mlgate.deploy import environments
from mlgate.serve import app as serve


@contextmanager
def serving(env: environments.Environment, max_body_bytes: int = 1 << 20) -> Iterator[str]:
    import uvicorn

    app = serve.create_app(env, max_body_bytes)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def request(
    address: str,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, timeout=30)
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def score(address: str, document: object) -> tuple[int, dict[str, object]]:
    status, body = request(address, "POST", "/invocations", json.dumps(document).encode())
    return status, json.loads(body)


def score_with_id(
    address: str, document: object, request_id: str | None
) -> tuple[int, dict[str, object], dict[str, str]]:
    """The status, the answer and its headers (lower-cased names), sending ``X-Request-Id``."""
    connection = http.client.HTTPConnection(address, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        if request_id is not None:
            headers["X-Request-Id"] = request_id
        connection.request("POST", "/invocations", json.dumps(document).encode(), headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        return response.status, answer, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
