"""The one error type mlgate raises for problems a user can fix.

The CLI turns an MlgateError into a one-line message and exit code 2 ("could not run").
A failed gate or check is not an error: it is a result, and exits 1.
"""

from __future__ import annotations

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
