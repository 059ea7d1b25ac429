"""Issue 31: one escaper per sink, each holding for every text, not for the examples it met.

Property-based (Hypothesis): arbitrary Unicode through each escaper, the sink's rule checked on
what comes out, and what a reader of that sink sees is the text itself (Markdown's backslash
escapes undone as CommonMark undoes them give back the one-line text).
"""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate import escape
from mlgate.render.table import to_json

HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
# Text an attacker would try, mixed into arbitrary Unicode so that Hypothesis combines them.
PIECES = [
    "::",
    "##[",
    "::stop-commands::tok",
    "##[stop-commands]",
    "\n",
    "\r",
    "\x1b[31m",
    "\x1b[8m",
    "\x1b]8;;http://e\x07",
    "\u200b",
    "\u061c",
    "\U000e0041",
    "\u202e",
    "\u2066",
    "\ufeff",
    "https://evil/p.png",
    "www.evil.com",
    "mailto:a@b.c",
    "![x](http://e)",
    "<img src=x>",
    "<!--",
    "@octocat",
    "__bold__",
    "*em*",
    "`code`",
    "|",
    "$x$",
    "- ",
    "1. ",
    "=cmd()",
    "&amp;",
    ":smile:",
]
hostile_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=12).map(
    "".join
)
SETTINGS = settings(max_examples=150, deadline=None)


def visible(text: str) -> bool:
    return not any(unicodedata.category(c) in HIDDEN for c in text)


@SETTINGS
@given(hostile_text)
def test_terminal_text_is_one_visible_line_with_no_workflow_command(text: str) -> None:
    shown = escape.terminal(text)
    assert visible(shown)
    assert "::" not in shown and "##[" not in shown


@SETTINGS
@given(st.lists(hostile_text, max_size=5))
def test_a_printed_block_keeps_its_lines_and_only_mlgates_colours(lines: list[str]) -> None:
    painted = "\n".join(f"\x1b[32m{line}\x1b[0m" for line in lines)
    shown = escape.terminal_block(painted)
    assert shown.count("\n") == painted.count("\n")
    for line in shown.split("\n"):
        assert "::" not in line and "##[" not in line
        bare = re.sub(r"\x1b\[(0|1|3[1-3](;1)?)m", "", line).replace("@\u2060", "@")
        assert visible(bare), line


def commonmark_unescaped(markdown: str) -> str:
    """What a CommonMark reader shows for backslash escapes, and the disarmed mentions joined."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("@\u2060", "@")


@SETTINGS
@given(hostile_text)
def test_markdown_text_reads_as_itself_and_can_do_nothing(text: str) -> None:
    shown = escape.markdown(text)
    assert commonmark_unescaped(shown) == escape.one_line(text)
    assert "\n" not in shown
    bare = shown.replace("@\u2060", "")
    assert visible(bare)
    unescaped = r"(?:^|[^\\])(?:\\\\)*"  # no backslash before, or an even run of them
    for active in ("<", "[", "]", "`", "|", "*", "!", "&", "~", "$", "#"):
        assert not re.search(unescaped + re.escape(active), shown), (active, shown)
    # '_' only inside a word, where GitHub never reads emphasis; no autolinked scheme or www.
    assert not re.search(unescaped + r"(?:(?<![^\W_])_|_(?![^\W_]))", shown), shown
    assert not re.search(unescaped + r":(?=//)", shown) and not re.search(r"(?i)www\.", shown)
    assert not re.search(r"(?i)(mailto|xmpp):", shown)
    assert not re.search(r"@\w", shown)
    line = escape.markdown_line(text)
    assert commonmark_unescaped(line) == escape.one_line(text)
    assert not re.match(r"\s*([-+=]|\d+[.)])", line)


@SETTINGS
@given(hostile_text)
def test_a_code_span_holds_the_text_in_one_cell(text: str) -> None:
    shown = escape.code(text)
    fence = re.match("`+", shown)
    assert fence is not None and shown.endswith(fence.group())
    inner = shown[len(fence.group()) : -len(fence.group())]
    assert fence.group() not in inner and "\n" not in shown
    assert not re.search(r"(?<!\\)\|", shown)
    assert visible(shown)


@SETTINGS
@given(st.dictionaries(hostile_text, st.one_of(hostile_text, st.floats(), st.integers())))
def test_json_printed_to_a_log_means_the_same_and_commands_nothing(document: dict) -> None:
    text = to_json(document)
    assert "::" not in text and "##[" not in text and text.isascii()
    again = json.loads(text)
    assert set(again) == set(document)
    for key, value in document.items():
        if isinstance(value, float) and value != value:
            assert again[key] == "NaN"
        elif isinstance(value, float) and value in (float("inf"), float("-inf")):
            assert again[key] in ("Infinity", "-Infinity")
        else:
            assert again[key] == value


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "|"])
def test_a_csv_cell_that_starts_like_a_formula_is_text(start: str) -> None:
    assert escape.csv_cell(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"
    assert escape.csv_cell("plain") == "plain"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\u200bb", "a\\u200bb"),
        ("\u061cx", "\\u061cx"),
        ("\U000e0041", "\\U000e0041"),
        ("##[stop-commands]t", "##\\[stop-commands]t"),
        (" ::warning::x", " :\\:warning:\\:x"),
        ("a:::b", "a:\\:\\:b"),
    ],
)
def test_the_breaks_of_the_third_probe_are_shown_as_escapes(text: str, shown: str) -> None:
    assert escape.terminal(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("see https://evil/x", "see https\\://evil/x"),
        ("www.evil.com", "www\\.evil.com"),
        ("__x__", "\\_\\_x\\_\\_"),
        ("roc_auc", "roc_auc"),
    ],
)
def test_bare_links_and_emphasis_in_markdown_are_text(text: str, shown: str) -> None:
    assert escape.markdown(text) == shown


def test_a_markdown_line_starts_no_list_nor_rule() -> None:
    assert escape.markdown_line("- item") == "\\- item"
    assert escape.markdown_line("12. x") == "12\\. x"
    assert escape.markdown("- item") == "- item"  # inside a line it is text already


# --- renderers: hostile text from a scoring client or a bucket, through whole reports -------


def assert_terminal_safe(text: str) -> None:
    for line in escape.terminal_block(text).split("\n"):
        assert not line.lstrip().startswith("::") and "##[" not in line, line
    for line in text.split("\n"):  # the renderer itself kept every value on its line
        assert not line.lstrip().startswith("::") and "##[" not in line, line
        bare = re.sub(r"\x1b\[(0|1|3[1-3](;1)?)m", "", line)
        assert visible(bare), line


def assert_markdown_safe(text: str) -> None:
    unescaped = r"(?:^|[^\\])(?:\\\\)*"
    for line in text.split("\n"):
        if line.startswith("![") and line.endswith(".svg)"):  # mlgate's own image link
            line = line[2 : line.rindex("](")]
        assert not re.search(unescaped + r"(<|!\[|\]\(|`|https?://|@\w)", line), line
        assert visible(line.replace("@\u2060", "")), line


@settings(max_examples=60, deadline=None)
@given(name=hostile_text, category=hostile_text)
def test_a_monitor_report_of_hostile_columns_and_values_is_safe_in_every_format(
    name: str, category: str
) -> None:
    """The probe's breaks: a client's text value ``fuel\\n::warning ...`` reached the text
    histogram raw; a column ``amount](https://evil/p.png) ![x`` embedded an image."""
    from mlgate.artifacts.profile import profile_column
    from mlgate.monitor import drift
    from mlgate.monitor.drift_report import Monitoring, Report
    from mlgate.render import monitor as render_monitor

    categories = [category or "x", "fuel", "diesel"]
    profile = profile_column(name, categories * 40, text=True)
    column = drift.compare(profile, [category or "x", "fuel"] * 60)
    report = Report(f"data {name}", f"ref {name}", 120, Monitoring(), (column,), None)
    assert_terminal_safe(render_monitor.monitor_text(report))
    images = {name: "monitor/00-x.svg"}
    assert_markdown_safe(render_monitor.monitor_markdown(report, images))
    document = json.loads(render_monitor.monitor_json(report))
    assert document["columns"][0]["name"] == name  # kept exactly in JSON
    svg = render_monitor.histogram_svg(column)
    assert "<script" not in svg and visible(svg.replace("\n", ""))


@settings(max_examples=60, deadline=None)
@given(note=hostile_text, error=hostile_text, who=hostile_text)
def test_the_deployment_log_of_a_hostile_bucket_prints_safely(
    note: str, error: str, who: str
) -> None:
    from mlgate.artifacts.deployment import Deployment
    from mlgate.render import registry as render_registry

    record = Deployment(
        "id", "2026-12-02T10:00:00+00:00", "production", "deploy", "failed", "scorer", "v1.0.0",
        "0" * 32, None, "model.pkl", who, True, None, error=error, note=note,
    )  # fmt: skip
    assert_terminal_safe(render_registry.deployments_text([record]))
