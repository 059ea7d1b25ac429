"""The documentation site builds with `mkdocs build --strict` (a broken link, a missing page or
a bad extension fails the suite), and its generated reference pages hold every command and
every policy key the code has (issue 33)."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO_ROOT
from manual import examples
from mlgate import policy
from mlgate.commands.main import cli


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stderr
    return out


def text_of(page: Path) -> str:
    """The page's text without markup, code quotes or white space (a cell, a word, an inline
    code span are compared by their characters alone)."""
    return squeezed(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text())))


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("`", ""))


def test_every_command_is_in_the_reference(site: Path) -> None:
    page = text_of(site / "reference/commands/index.html")
    for name, command in cli.commands.items():
        assert squeezed(f"mlgate {name}") in page, name
        assert squeezed((command.help or "").strip().splitlines()[0]) in page, name


def test_every_policy_key_is_in_the_reference_with_its_meaning(site: Path) -> None:
    page = text_of(site / "reference/policy/index.html")
    for record in (policy.Policy, policy.Rule, policy.EnvironmentOptions, policy.Retraining,
                   policy.Monitoring, policy.Canary, policy.Slicing):  # fmt: skip
        for key in policy._keys(record, internal=("key", "source", "table")):
            field = record.__dataclass_fields__[key]
            assert "doc" in field.metadata, f"{record.__name__}.{key} has no meaning for the docs"
            assert squeezed(f"{key}") in page and squeezed(field.metadata["doc"]) in page, key


def test_the_readme_s_help_is_what_mlgate_prints() -> None:
    """An example that cannot drift: the README's `mlgate --help` is the command's own."""
    [shown] = examples("README.md", "mlgate --help")
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    printed = subprocess.run(
        [sys.executable, "-m", "mlgate", "--help"], capture_output=True, text=True, env=environment
    )
    assert printed.returncode == 0
    assert shown == printed.stdout, "the README's `mlgate --help` is not what mlgate prints"
