"""The operations a deployment target offers (``deploy.deployments`` uses nothing else).

Their contract, whatever the storage:

- ``lock`` serialises deploys and rollbacks of one target (a holder that dies must not leave
  it locked for ever);
- ``read_current``/``write_current``: the pointer to the deployment being served, replaced
  whole, never edited in place; ``current_stamp`` changes whenever it does (servers poll it);
- ``append_event``/``read_events``: the deployment log, each event whole or absent, in order;
- ``install_version`` publishes a version's files all at once, from a staging folder filled
  by the caller; a crash mid-way leaves nothing that ``has_version`` would report, and
  ``recover`` clears what it left;
- ``version_folder``: a folder on this machine holding a published version's files;
- ``workdir``: this machine's folder for the target (the request log).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable


class Target(Protocol):
    @property
    def location(self) -> str: ...  # as messages show it

    def lock(self, wait: float) -> AbstractContextManager[None]: ...

    def recover(self) -> None: ...

    def read_current(self) -> bytes | None: ...

    def current_stamp(self) -> object | None: ...

    def write_current(self, data: bytes) -> None: ...

    def append_event(self, event: bytes) -> None: ...

    def read_events(self) -> list[tuple[str, bytes]]: ...  # (where, event): "log line 3"

    def has_version(self, version: str) -> bool: ...

    def install_version(self, version: str, fill: Callable[[Path], None]) -> None: ...

    def version_folder(self, version: str) -> Path: ...

    def workdir(self) -> Path: ...


@runtime_checkable
class SegmentStore(Protocol):
    """A target that keeps its replicas' request logs (object storage: each replica writes its
    log on its own machine and ships the closed segments here). A directory target needs none:
    the servers write the log into it."""

    def ship_segment(self, replica: str, name: str, data: bytes) -> None: ...

    def shipped_segments(self, since: str | None) -> list[str]: ...  # keys, oldest first

    def read_segment(self, key: str) -> bytes: ...
