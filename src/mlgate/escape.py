"""Text from outside made safe for each place mlgate writes it: one escaper per sink.

Metric and param names and values, file paths, column names, a scoring client's values and
reasons come from files a pull request, a client or a bucket controls. Printed raw they could end
a line and start a workflow command (``::stop-commands::`` or ``##[...]`` silences every later
annotation), colour or rewrite a terminal, hide text behind invisible or bidirectional
characters, close a Markdown table, open HTML (``<!--`` hides the rest of a comment), link,
embed an image or mention people. Every renderer passes such text through one of these
functions, and everything mlgate prints goes through :func:`terminal_block` last, so that a
renderer that forgot a cell still cannot start a workflow command or move the cursor. Each is
pure and cheap.

The sinks:

- :func:`one_line` and :func:`terminal`: a terminal or a CI log (GitHub's runner reads
  ``::command`` at the start of a trimmed line and ``##[command]`` anywhere in one).
- :func:`terminal_block`: a whole block of output, lines kept, colour codes kept.
- :func:`markdown` and :func:`code`: GitHub-flavoured Markdown (comments, summaries, reports).
- :func:`json_text`: JSON printed where a CI log may read it (``::``/``##[`` as ``\\u`` escapes).
- :func:`csv_cell`: a CSV cell a person may open in a spreadsheet (formula prefixes).
"""

from __future__ import annotations

import re
import unicodedata

# Every character that is not plain printable ASCII is looked at by its Unicode category:
# controls (Cc: C0, C1, DEL), format characters (Cf: bidirectional overrides and marks, zero-width
# spaces and joiners, the BOM, tag characters U+E0000-U+E007F), line and paragraph separators
# (Zl, Zp), surrogates (Cs), private use (Co) and unassigned code points (Cn) are shown as
# escapes; they either do something to the reader's display or show nothing at all.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_PLAIN = re.compile(r"[\x20-\x7e]*\Z")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# In a CI log: "::" starts a workflow command where a trimmed line begins with it, and "##[" is
# the runner's older command form, read anywhere in a line. Both are broken up everywhere.
_COLONS = re.compile(r":(?=:)")
_HASH_BRACKET = re.compile(r"#(?=\[)")
# The colour codes mlgate's own painter writes (render.table.COLOURS, reset): the only escape
# sequences kept; any other (conceal, cursor moves, OSC links) is shown as text.
_SGR = re.compile(r"\x1b\[(?:0|1|3[1-3](?:;1)?)m")
# Markdown: every character that could format ('*', '~', '`'), link or embed ('[', '!'), open
# HTML or an entity ('<', '&'), end a table cell ('|'), start a heading ('#') or maths ('$');
# '_' unless it is inside a word (where GitHub never reads it as emphasis, so "roc_auc" stays
# as it is); the ':' of a scheme GitHub autolinks ("https://", "mailto:", "xmpp:"); the '.' of
# "www." (GitHub's bare autolinks); and, at the start of a line, a list or rule marker.
_MARKDOWN_ACTIVE = re.compile(
    r"([\\`*\[\]<>|!&~#$]|(?<![^\W_])_|_(?![^\W_])|:(?=//)|(?i:(?<=mailto)|(?<=xmpp)):)"
)
_WWW_DOT = re.compile(r"(?i)(?<=www)\.")
_BLOCK_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")
_WORD_JOINER = "\u2060"  # invisible; keeps "@name" from being a mention
_MENTION = "@" + _WORD_JOINER
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|")


def one_line(text: str) -> str:
    """Controls, invisible and bidirectional characters as visible escapes (``\\n``, ``\\x1b``,
    ``\\u200b``): never a new line, never text that displays as something else."""
    if _PLAIN.match(text):
        return text
    return "".join(_escaped(char) for char in text)


def terminal(text: str) -> str:
    """For a table cell or line printed to a terminal or a CI log: one line, and no workflow
    command in it (``::`` shown as ``:\\:``, ``##[`` as ``##\\[``)."""
    return _no_workflow_command(one_line(text))


def terminal_block(text: str) -> str:
    """Everything mlgate prints, as the last step: each line made terminal-safe as
    :func:`terminal` does (its own colour codes kept), the line breaks kept."""
    return "\n".join(_terminal_line(line) for line in text.split("\n"))


def markdown(text: str) -> str:
    """For Markdown inside a line (a table cell, after a heading's ``##``): one line, every
    character that could close a table, open HTML or a code span, link, autolink, embed, or
    format escaped, and mentions disarmed."""
    escaped = _WWW_DOT.sub(r"\\.", _MARKDOWN_ACTIVE.sub(r"\\\1", one_line(text)))
    return escaped.replace("@", _MENTION)


def markdown_line(text: str) -> str:
    """For a whole Markdown line: :func:`markdown`, and no list, rule or heading marker at its
    start."""
    return _BLOCK_START.sub(_escape_last, markdown(text))


def code(text: str) -> str:
    """A Markdown code span holding ``text`` exactly (fenced by more backticks than it holds),
    safe inside a table cell."""
    safe = one_line(text)
    longest = max((len(run) for run in re.findall("`+", safe)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {safe} " if safe.startswith("`") or safe.endswith("`") else safe
    return f"{fence}{padded.replace('|', chr(92) + '|')}{fence}"


def json_text(document: str) -> str:
    """A JSON document as it may be printed to a CI log: ``::`` and ``##[`` can only be inside its
    strings, where ``\\u003a`` and ``\\u0023`` mean the same characters to every JSON reader."""
    return _HASH_BRACKET.sub(r"\\u0023", _COLONS.sub(r"\\u003a", document))


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading
    apostrophe (OWASP's advice for CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _terminal_line(line: str) -> str:
    # markdown()'s disarmed mention ("@" and a word joiner) is the one invisible character kept
    return _MENTION.join(_terminal_part(part) for part in line.split(_MENTION))


def _terminal_part(line: str) -> str:
    kept = _SGR.split(line)
    colours = _SGR.findall(line)
    parts = [_no_workflow_command(one_line(part)) for part in kept]
    joined = parts[0]
    for colour, part in zip(colours, parts[1:], strict=True):
        joined += colour + part
    return joined


def _escape_last(match: re.Match[str]) -> str:
    lead, marker = match.groups()
    return f"{lead}{marker[:-1]}\\{marker[-1]}"


def _no_workflow_command(text: str) -> str:
    return _HASH_BRACKET.sub(r"#\\", _COLONS.sub(r":\\", text))


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    if "\x20" <= char <= "\x7e" or unicodedata.category(char) not in _HIDDEN_CATEGORIES:
        return char
    code_point = ord(char)
    if code_point < 0x100:
        return f"\\x{code_point:02x}"
    return f"\\u{code_point:04x}" if code_point < 0x10000 else f"\\U{code_point:08x}"
