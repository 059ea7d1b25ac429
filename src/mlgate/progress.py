"""What a long command is doing, told as it goes.

The core (deploy, release, retrain, monitor) calls a ``Progress`` with each step's name
(``compiling the model to ONNX``) and, where a step has a size, how far it is; only the command
line decides whether anyone sees it (on a terminal, without ``--quiet``: commands/output.py).
Pure: no I/O here.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def step(self, what: str) -> None:
        """A new step begins (it ends the one before)."""

    def advance(self, done: int, total: int) -> None:
        """How far the current step is: ``done`` of ``total`` (bytes, rows, files)."""


class Silent:
    """Progress nobody sees: the default of every function that takes one."""

    def step(self, what: str) -> None:
        return None

    def advance(self, done: int, total: int) -> None:
        return None


SILENT: Progress = Silent()
