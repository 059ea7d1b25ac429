"""Mermaid's own parser (the `mermaid` npm package, in Node with jsdom) for the tests: installed
into tests/mermaid/node_modules from its lock file the first time a test needs it (one process
at a time), then run once per batch of diagrams."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
from pathlib import Path

FOLDER = Path(__file__).parent / "mermaid"
_BLOCK = re.compile(r"```mermaid\n(.*?)\n```", re.DOTALL)


def install() -> None:
    if (FOLDER / "node_modules" / "mermaid").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the chart tests need Node.js and npm (Mermaid's parser runs in Node)")
    with open(FOLDER / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (FOLDER / "node_modules" / "mermaid").is_dir():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=FOLDER,
                check=True,
                timeout=600,
            )


def errors(diagrams: list[str]) -> list[str | None]:
    """Mermaid's parse error for each diagram, None for each it accepts."""
    install()
    run = subprocess.run(
        ["node", str(FOLDER / "parse.mjs")],
        input=json.dumps(diagrams),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(run.stdout))


def blocks(markdown: str) -> list[str]:
    """The Mermaid diagrams in a Markdown text."""
    return _BLOCK.findall(markdown)
