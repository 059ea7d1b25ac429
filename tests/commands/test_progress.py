"""Long commands say what they are doing on a terminal, and nowhere else (issue 33.6): one
line on stderr, rewritten at each step and erased at the end, never in a pipe or a log, never
with --quiet. The end-to-end tests run `mlgate deploy` under a real pseudo-terminal."""

from __future__ import annotations

import io
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_model_project
from mlgate.commands.output import TerminalProgress

ERASE = "\r\x1b[K"


def test_each_step_rewrites_one_line_and_the_end_erases_it() -> None:
    stream = io.StringIO()
    shown = TerminalProgress("mlgate deploy", stream)
    shown.step("fetching models/model.pkl")
    shown.step("compiling v0.1.0 to ONNX")
    shown.advance(24, 24)
    shown.close()
    assert stream.getvalue() == (
        f"{ERASE}mlgate deploy: fetching models/model.pkl"
        f"{ERASE}mlgate deploy: compiling v0.1.0 to ONNX"
        f"{ERASE}mlgate deploy: compiling v0.1.0 to ONNX [{'#' * 24}] 100%"
        f"{ERASE}"
    )


def test_a_step_s_text_cannot_move_the_cursor_or_break_the_line() -> None:
    stream = io.StringIO()
    shown = TerminalProgress("mlgate deploy", stream)
    shown.step("fetching evil\x1b[2J\rname\nnext")  # a file name from a hostile dvc.lock
    shown.close()
    drawn = stream.getvalue().removeprefix(ERASE).removesuffix(ERASE)
    assert "\x1b" not in drawn and "\r" not in drawn and "\n" not in drawn


def test_nothing_is_drawn_when_nothing_was_told() -> None:
    stream = io.StringIO()
    TerminalProgress("mlgate release", stream).close()
    assert stream.getvalue() == ""


def in_terminal(cwd: Path, *args: str) -> tuple[int, str]:
    """Run mlgate with stdout and stderr on one pseudo-terminal: its exit code, what showed."""
    leader, follower = pty.openpty()
    environment = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlgate", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=environment,
    )
    os.close(follower)
    seen = b""
    while True:  # until the command closed its end (EIO) and exited
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            process.kill()
            raise AssertionError(f"mlgate {' '.join(args)} printed nothing for 120 s")
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return process.wait(timeout=60), seen.decode()


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_project(tmp_path_factory.mktemp("progress") / "project")


@pytest.mark.slow
def test_deploy_shows_its_steps_on_a_terminal_and_erases_them(scorer: Path, tmp_path: Path) -> None:
    project = Path(shutil.copytree(scorer, tmp_path / "p", symlinks=True))
    code, seen = in_terminal(project, "deploy", "--model", "models/model.pkl")
    assert code == 0, seen
    steps = [part for part in seen.split(ERASE) if part.startswith("mlgate deploy: ")]
    assert [step.split(" ", 3)[2] for step in steps] == [
        "waiting", "fetching", "compiling", "publishing", "smoke-testing", "checking",
        "switching",
    ]  # fmt: skip
    # erased before the result is printed: the lines read as without a terminal
    assert f"{ERASE}Deployed scorer md5-" in seen


@pytest.mark.slow
def test_deploy_shows_no_steps_with_quiet_or_outside_a_terminal(
    scorer: Path, tmp_path: Path
) -> None:
    project = Path(shutil.copytree(scorer, tmp_path / "p", symlinks=True))
    code, seen = in_terminal(project, "deploy", "--model", "models/model.pkl", "--quiet")
    assert code == 0, seen
    assert "\x1b" not in seen and "mlgate deploy:" not in seen
    piped = subprocess.run(
        [sys.executable, "-m", "mlgate", "deploy", "--model", "models/model.pkl", "--env",
         "local"], cwd=project, capture_output=True, text=True,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "\x1b" not in piped.stderr + piped.stdout and "mlgate deploy:" not in piped.stderr


def test_a_line_printed_while_progress_shows_starts_on_a_clean_line(monkeypatch, capsys) -> None:
    from mlgate.commands import output

    stream = io.StringIO()
    shown = TerminalProgress("mlgate monitor", stream)
    shown.step("reading staging's monitoring log")
    monkeypatch.setattr(output, "_shown_progress", shown)
    output.warn("segment 3 was cut short")
    assert stream.getvalue().endswith(ERASE)  # erased before the warning went out
    assert capsys.readouterr().err == "mlgate: warning: segment 3 was cut short\n"
    shown.close()
    assert stream.getvalue().count(ERASE) == 2  # nothing left to erase at the end
