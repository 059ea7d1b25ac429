"""How every command prints (``echo``: terminal-safe as a whole), the report formats, and the
options several commands share."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TextIO, cast

import click

from mlgate import defaults, escape
from mlgate.errors import MlgateError
from mlgate.forges import github
from mlgate.progress import SILENT, Progress

Format = Literal["table", "md", "json"]
FORMATS = click.Choice(["table", "md", "json"])
_REDRAW_SECONDS = 0.1  # a progress line is redrawn at most this often
_BAR_WIDTH = 24

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def format_option(text: str) -> Decorator:
    return click.option(
        "--format", "fmt", type=FORMATS, default="table", show_default=True, help=text
    )


def wait_option(text: str) -> Decorator:
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=defaults.DEPLOY_WAIT_SECONDS,
        show_default=True,
        help=text,
    )


def labels_option(more: str) -> Decorator:
    return click.option(
        "--labels",
        "labels_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="True labels that arrived later: CSV or Parquet with request_id and label" + more,
    )


def report_option(text: str) -> Decorator:
    return click.option(
        "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help=text
    )


def env_option(text: str, *, required: bool = False, local_default: bool = True) -> Decorator:
    default = defaults.LOCAL_ENVIRONMENT if local_default and not required else None
    return click.option(
        "--env",
        "env_name",
        required=required,
        default=default,
        show_default=default is not None,
        help=text,
    )


def remote_option(text: str = "The remote --push pushes to.") -> Decorator:
    return click.option("--remote", default="origin", show_default=True, help=text)


def as_format(value: str) -> Format:
    return cast(Format, value)


def echo(text: str | github.WorkflowCommand, *, err: bool = False, nl: bool = True) -> None:
    """The one way the CLI prints: text made terminal-safe as a whole (escape.terminal_block),
    so a renderer that forgot to escape a value still cannot start a workflow command or move
    the cursor; only a github.WorkflowCommand, built with its values escaped, goes out as is."""
    if _shown_progress is not None:  # a line printed while progress is shown starts clean
        _shown_progress.clear()
    if isinstance(text, github.WorkflowCommand):
        click.echo(text.line, err=True, nl=nl)
    else:
        click.echo(escape.terminal_block(text), err=err, nl=nl)


def warn(message: str) -> None:
    echo(f"mlgate: warning: {escape.one_line(message)}", err=True)


def print_report(
    fmt: str, as_json: Callable[[], str], markdown: str, as_text: Callable[[bool], str]
) -> None:
    """One report in the chosen format; the table in colour on a terminal."""
    if fmt == "json":
        echo(as_json(), nl=False)
    elif fmt == "md":
        echo(markdown, nl=False)
    else:
        echo(as_text(sys.stdout.isatty()), nl=False)


def write_report(path: Path, text: str, what: str = "report") -> None:
    from mlgate.files import write_text

    try:
        write_text(path, text)
    except OSError as exc:
        raise MlgateError(f"cannot write the {what} to {path}: {exc.strerror or exc}") from None


def full_report(report_path: Path | None) -> str:
    """Where a reader finds what a size limit cut."""
    return (
        f"the full report is in {escape.markdown(str(report_path))}"
        if report_path
        else "run `mlgate check --format md` for the full report"
    )


def publish(
    markdown: str,
    report_path: Path | None,
    to_actions: Callable[[str], list[github.WorkflowCommand]],
) -> None:
    """A report to its file (``--report``), and in GitHub Actions to the job: ``to_actions``
    writes the summary and outputs given where the full report is, and returns the
    annotations, printed here."""
    if report_path:
        write_report(report_path, markdown)
    if github.in_actions():
        for annotation in to_actions(full_report(report_path)):
            echo(annotation)


class TerminalProgress:
    """Progress on one line of stderr, rewritten at each step (``mlgate deploy: compiling the
    model to ONNX``, with a bar and a percentage where the step has a size) and erased when
    the command ends, so what the command prints is the same as without it."""

    def __init__(self, command: str, stream: TextIO) -> None:
        self._command = command
        self._stream = stream
        self._what = ""
        self._drawn = 0.0  # when the line was last drawn (monotonic seconds)
        self._shown = False

    def step(self, what: str) -> None:
        self._what = escape.one_line(what)
        self._draw("")

    def advance(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._drawn < _REDRAW_SECONDS and done < total:
            return
        share = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
        filled = round(share * _BAR_WIDTH)
        self._draw(f" [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {share:4.0%}")

    def _draw(self, tail: str) -> None:
        self._drawn = time.monotonic()
        width = shutil.get_terminal_size().columns - 1
        line = f"{self._command}: {self._what}{tail}"[:width]
        self._stream.write(f"\r\x1b[K{line}")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the line (the next step draws it again)."""
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False

    def close(self) -> None:
        self.clear()


_shown_progress: TerminalProgress | None = None  # the one drawn now, which echo clears first


@contextlib.contextmanager
def progress(command: str, *, quiet: bool) -> Iterator[Progress]:
    """Where the core tells what it is doing: a line on stderr when stderr is a terminal and
    ``--quiet`` was not given, else nowhere (a log, a pipe, CI)."""
    if quiet or not sys.stderr.isatty():
        yield SILENT
        return
    global _shown_progress
    shown = _shown_progress = TerminalProgress(command, sys.stderr)
    try:
        yield shown
    finally:
        _shown_progress = None
        shown.close()


def quiet_option() -> Decorator:
    return click.option(
        "--quiet",
        "-q",
        is_flag=True,
        help="No progress line on the terminal (it is never shown when stderr is not one).",
    )


def pushed(push: bool, remote: str) -> str:
    return f" and pushed it to {remote}" if push else ""


def say_taken(taken: tuple[str, ...] | list[str]) -> None:
    for tag in taken:
        echo(f"mlgate: {tag} was pushed by someone else first; planned again")
