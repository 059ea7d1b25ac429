"""What every output mlgate writes must hold, whatever text a pull request put in it: no
workflow command but mlgate's own in a log, Markdown tables that keep their shape and open no
HTML, link, quote or mention."""

from __future__ import annotations

import re


def assert_no_workflow_command_but_ours(text: str) -> None:
    for line in text.splitlines():
        assert "\x1b" not in line and "\r" not in line and "\u202e" not in line
        if line.lstrip().startswith("::"):
            # ours: an annotation whose title has no raw ':' or ',' and whose message no newline
            assert re.match(r"^::(error|warning) title=[^:,]*::", line), line


def assert_markdown_tables_hold(markdown: str) -> None:
    lines = markdown.splitlines()
    assert lines[0] == "<!-- mlgate-report -->"
    rest = "\n".join(lines[1:])
    assert not re.search(r"(?<!\\)<", rest) and "](" not in rest.replace("\\](", "")
    assert not re.search(r"^>", rest, re.MULTILINE), "a quote opened"
    assert "@octocat" not in rest  # a mention would notify someone
    header_cells = None
    for line in lines:
        if not line.startswith("|"):
            header_cells = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        header_cells = header_cells or cells
        assert cells == header_cells, line
        assert not re.search(r"(?<!\\)`", line), line
