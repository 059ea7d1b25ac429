"""What the server says as it runs (switching versions, failures, workers restarted): the
``mlgate.serve`` logger, each line on stderr as ``mlgate serve: ...``. Operators route it as
any Python logging (a level, a JSON formatter); mlgate configures only its default."""

from __future__ import annotations

import logging
import sys
from typing import Any


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Lines on whatever ``sys.stderr`` is now (a test's capture, a forked worker's)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("mlgate serve: %(message)s"))

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


log = logging.getLogger("mlgate.serve")
if not log.handlers:
    log.addHandler(_Stderr())
    log.setLevel(logging.INFO)
    log.propagate = False
