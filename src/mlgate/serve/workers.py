"""`mlgate serve --workers N`: N server processes on one port.

The parent binds the socket, then forks N workers that accept on it (the kernel hands each
connection to one of them) and does nothing else: it forwards SIGTERM and SIGINT, waits, and
starts a worker again when one dies (at most RESTARTS times within RESTART_WINDOW seconds, then
it stops them all). Each worker is a whole server: its own model, watcher (so every worker
switches on its own after a deploy), batcher and thread pool; they append to one request log,
taking turns under its lock.

Prometheus' counters are per process; with workers they are kept in files in a temporary
folder (prometheus_client's multiprocess mode) and ``/metrics``, whichever worker answers it,
sums them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from types import FrameType

from mlgate.serve.logs import log

RESTARTS, RESTART_WINDOW = 5, 60.0
METRICS_FOLDER = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own setting


def run(count: int, serve: Callable[[int], None]) -> int:
    """Run ``serve(worker number)`` in ``count`` forked processes until SIGTERM or SIGINT; the
    exit code for the command."""
    folder = tempfile.mkdtemp(prefix="mlgate-metrics-")
    os.environ[METRICS_FOLDER] = folder
    children: dict[int, int] = {}  # pid -> worker number
    stopping = False
    restarts: list[float] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                serve(number)
            except BaseException as exc:  # a worker's end is never a traceback in the parent
                log.warning("worker %d stopped: %s", number, exc)
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = number

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    code = 0
    try:
        for number in range(count):
            start(number)
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            number = children.pop(pid)
            _mark_dead(pid)
            if stopping:
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < RESTART_WINDOW] + [now]
            if len(restarts) > RESTARTS:
                log.warning(
                    "workers died %d times in %.0f s; stopping", len(restarts), RESTART_WINDOW
                )
                code = 1
                stop(signal.SIGTERM, None)
                continue
            log.warning("worker %d ended (%s); starting it again", number, _how(status))
            start(number)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(METRICS_FOLDER, None)
    return code


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit {os.waitstatus_to_exitcode(status)}"


def _mark_dead(pid: int) -> None:
    """A dead worker's gauges (requests in progress) no longer count."""
    with contextlib.suppress(ImportError, OSError):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def shared_metrics() -> bool:
    """Whether this process is one of several workers (metrics kept in files, summed)."""
    return bool(os.environ.get(METRICS_FOLDER))
