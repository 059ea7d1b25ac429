"""Text from a pull request made safe for each place mlgate writes it.

Metric and param names and values, file paths and reasons come from files a pull request
controls. Printed raw they could end a line and start a workflow command (``::stop-commands::``
silences every later annotation), colour or rewrite a terminal, close a Markdown table, open HTML
(``<!--`` hides the rest of a comment) or mention people. Every renderer passes such text through
one of these functions; each is pure and cheap.
"""

from __future__ import annotations

import re

# C0 and C1 controls (newlines, ESC), DEL, line/paragraph separators, and the bidirectional
# overrides that make text read differently from what it is ("Trojan Source").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_MARKDOWN_ACTIVE = re.compile(r"([\\`*\[\]<>|!&~#])")
_WORKFLOW_COMMAND = "::"
_WORD_JOINER = "\u2060"  # invisible; keeps "@name" from being a mention


def one_line(text: str) -> str:
    """Control characters as visible escapes (``\\n``, ``\\x1b``): never a new line."""
    return _CONTROL.sub(_escape_control, text)


def terminal(text: str) -> str:
    """For a table cell or line printed to a terminal or a CI log. A cell that would start a
    line with ``::`` (a GitHub workflow command) is shown quoted."""
    safe = one_line(text)
    if safe.lstrip().startswith(_WORKFLOW_COMMAND):
        return '"' + safe.replace('"', '\\"') + '"'
    return safe


def markdown(text: str) -> str:
    """For Markdown prose and table cells: one line, every character that could close a table,
    open HTML or a code span, link, or format escaped, and mentions disarmed."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", one_line(text)).replace("@", "@" + _WORD_JOINER)


def code(text: str) -> str:
    """A Markdown code span holding ``text`` exactly (fenced by more backticks than it holds),
    safe inside a table cell."""
    safe = one_line(text)
    longest = max((len(run) for run in re.findall("`+", safe)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {safe} " if safe.startswith("`") or safe.endswith("`") else safe
    return f"{fence}{padded.replace('|', chr(92) + '|')}{fence}"


def _escape_control(match: re.Match[str]) -> str:
    char = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
