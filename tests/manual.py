"""The manual's examples, read back so tests can hold them to what the commands print: in a
Markdown file's code blocks, each ``$ COMMAND`` line and the lines under it up to the next
``$`` line or the block's end."""

from __future__ import annotations

from helpers import REPO_ROOT


def examples(page: str, command: str) -> list[str]:
    """What ``page`` (a path from the repository's root) shows under ``$ COMMAND``, each time
    it shows it, as text ending in a newline."""
    found: list[str] = []
    current: list[str] | None = None  # the lines of the example being read
    in_block = False
    for line in (REPO_ROOT / page).read_text().splitlines():
        if line.startswith("```"):
            if current is not None:
                found.append("".join(f"{part}\n" for part in current))
                current = None
            in_block = not in_block
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            if current is not None:
                found.append("".join(f"{part}\n" for part in current))
            current = [] if line == f"$ {command}" else None
        elif current is not None:
            current.append(line)
    return found
