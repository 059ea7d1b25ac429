"""The one error type mlgate raises for problems a user can fix, and the one boundary
(``guarded``) where an error becomes a message and an exit code.

An MlgateError is a one-line message and exit code 2 ("could not run"). A failed gate or check
is not an error: it is a result, and exits 1. A bug is exit 3.
"""

from __future__ import annotations

from collections.abc import Callable

from mlgate.escape import one_line

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_COULD_NOT_RUN = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class MlgateError(Exception):
    """A problem mlgate cannot get past; the message says what to do about it."""


class GitError(MlgateError):
    """git failed, or a revision, ref or path does not exist."""


class ConfigError(MlgateError):
    """The [tool.mlgate] policy or another configuration file is invalid."""


class DataError(MlgateError):
    """Input data (a CSV, a metrics file, a params file) cannot be used as it is."""


class Refused(MlgateError):
    """An action would leave a false or inconsistent record, so nothing was changed."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none: what a
    one-line error quotes of a library's (DVC's, pandas', a model's) exception."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def guarded(
    run: Callable[[], int],
    *,
    say: Callable[[str], None],
    prefix: str = "mlgate",
    hint: str = "",
    advice: str = "run again with --traceback for details, and please report it",
    show_traceback: bool = False,
) -> int:
    """The one error boundary, used by the command line, the git hooks and the pipeline's
    stages: ``run`` returns its exit code; an MlgateError becomes one line and exit 2 (``hint``
    after it: how to skip a hook), Ctrl-C exit 130, anything else (a bug) one line naming its
    type and exit 3, with the traceback first when ``show_traceback``. ``say`` prints a line
    (on stderr); every message is made one line here, whatever the exception quoted."""
    try:
        return run()
    except MlgateError as exc:  # its message may quote a file's text: kept to one line
        say(f"{prefix}: error: {one_line(str(exc))}{hint}")
        return EXIT_COULD_NOT_RUN
    except KeyboardInterrupt:
        say(f"{prefix}: interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if show_traceback:
            import traceback

            traceback.print_exc()
        say(
            f"{prefix}: an unexpected error has occurred: {type(exc).__name__}: "
            f"{one_line(str(exc))} ({advice})"
        )
        return EXIT_BUG
