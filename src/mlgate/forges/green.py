"""Merge a change once its commit is green, as every forge's fallback to its own auto-merge
does: look at the commit's checks every tenth of the wait (20 s at most), merge pinned to it
when nothing runs or failed and the gate's own check passed, give up when one failed or the
wait is over."""

from __future__ import annotations

import time
from collections.abc import Callable


def merge_when_green(
    look: Callable[[], tuple[str | None, list[str]]],
    merge: Callable[[], str | None],
    wait_seconds: float,
    sleep: Callable[[float], None],
    merged: str,
) -> tuple[bool, str]:
    """``look``: what is still running or has not run (None: nothing, and the gate's own check
    passed) and the names of the checks that failed. ``merge``: None once merged, else why the
    forge would not. ``merged``: what to say of a merge. (merged, what happened)."""
    poll_seconds = min(20.0, max(0.2, wait_seconds / 10))
    deadline = time.monotonic() + wait_seconds
    while True:
        waiting, failed = look()
        if failed:
            return False, f"not merged: {', '.join(failed)} failed"
        if waiting is None:
            refused = merge()
            return (True, merged) if refused is None else (False, f"not merged: {refused}")
        if time.monotonic() >= deadline:
            return False, f"not merged: {waiting} after {wait_seconds:g} s"
        sleep(poll_seconds)
