"""A Markdown report fitted to a forge's size limit: tables and lists lose their last rows
first, each saying how many it lost and where the full report is."""

from __future__ import annotations

_CUT_NOTE_SIZE = 300  # room kept for each "rows not shown" line


def fit(markdown: str, limit: int, full: str, host: str) -> str:
    """``markdown`` in at most ``limit`` bytes of UTF-8 (so at most that many characters too):
    the longest tables and lists lose their last rows first, each saying how many it lost and
    where the full report is (``full``); text outside them is cut only as a last resort.
    ``host``: whose limit it is, as the notes say ("GitHub")."""
    if _size(markdown) <= limit:
        return markdown
    lines = markdown.split("\n")
    blocks = _cuttable_blocks(lines)
    kept = {start: end for start, end in blocks}
    sizes = {start: sum(_size(line) + 1 for line in lines[start:end]) for start, end in blocks}
    excess = _size(markdown) - limit + _CUT_NOTE_SIZE * len(blocks)
    while excess > 0 and any(kept[s] > s for s in kept):
        start = max((s for s in kept if kept[s] > s), key=sizes.__getitem__)
        kept[start] -= 1
        dropped = _size(lines[kept[start]]) + 1
        sizes[start] -= dropped
        excess -= dropped
    out: list[str] = []
    position = 0
    for start, end in blocks:
        out.extend(lines[position : kept[start]])
        if kept[start] < end:
            count = end - kept[start]
            out.append(
                f"\n*{count:,} more row{'s' if count > 1 else ''} not shown: {host} "
                f"limits this to {limit:,} characters; {full}.*"
            )
        position = end
    out.extend(lines[position:])
    text = "\n".join(out)
    if _size(text) <= limit:
        return text
    note = f"\n\n*Cut here: {host} limits this to {limit:,} characters; {full}.*\n"
    budget = limit - _size(note)
    return text.encode()[:budget].decode(errors="ignore").rsplit("\n", 1)[0] + note


def _cuttable_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(first, end) of each run of Markdown table rows (below a table's |---| line) and each run
    of list items: the lines ``fit`` may drop, from the end of a run."""
    blocks, index = [], 0
    while index < len(lines):
        table = lines[index].startswith("|---")
        start = index + 1 if table else index
        prefix = "|" if table else "- "
        end = start
        while end < len(lines) and lines[end].startswith(prefix):
            end += 1
        if end > start:
            blocks.append((start, end))
        index = max(end, index + 1)
    return blocks


def _size(text: str) -> int:
    return len(text.encode("utf-8", errors="replace"))
