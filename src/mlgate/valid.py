"""Values that cross a trust boundary, checked once where they enter and typed from then on.

A pull request writes dvc.lock, .dvc files and dvc.yaml; anyone with a bucket writes its
objects; a scoring client writes requests. The hashes and paths they carry become file names
and directories here, so each is checked by one rule before any path is built from it: an md5
is exactly 32 lower-case hexadecimal digits (a directory's with ``.dir``, as DVC writes them),
a path is relative, stays inside the repository and names no ``..``. Pure: no I/O.
"""

from __future__ import annotations

import posixpath
import re
from typing import NewType

from mlgate.errors import DataError
from mlgate.names import DEPLOYED_VERSION_RE, NAME_RE

Md5 = NewType("Md5", str)
"""An md5 as DVC records it: 32 lower-case hex digits, ``.dir`` after a directory's."""

_MD5 = re.compile(r"[0-9a-f]{32}(\.dir)?")
_COMMIT_ID = re.compile("[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256, in full


def is_md5(value: object) -> bool:
    return isinstance(value, str) and _MD5.fullmatch(value) is not None


def md5(value: object, *, what: str) -> Md5:
    """``value`` as an Md5, or a DataError naming ``what`` recorded it."""
    if not is_md5(value):
        shown = repr(value)[:80]
        raise DataError(
            f"{what} records md5 {shown}, which is not 32 hexadecimal digits "
            "(optionally .dir) as DVC writes them: nothing was read for it"
        )
    return Md5(str(value))


def file_md5(value: object, *, what: str) -> Md5:
    """An md5 of one file (no ``.dir``): what a release record or a manifest entry names."""
    checked = md5(value, what=what)
    if checked.endswith(".dir"):
        raise DataError(f"{what} records md5 {checked!r} of a directory where a file's is expected")
    return checked


def object_parts(value: Md5) -> tuple[str, str]:
    """The two names DVC's cache and remotes file an object under: ``ab`` and ``cdef...``."""
    return value[:2], value[2:]


def relative_path(value: object, *, what: str) -> str:
    """A path inside the repository as a normalised POSIX path: not absolute, no ``..`` out,
    no NUL or line break; anything else is a DataError naming ``what`` gave it."""
    if not isinstance(value, str) or not value or any(c in value for c in "\0\n\r"):
        raise DataError(f"{what} names the path {repr(value)[:80]}, which is not a file path")
    if not is_inside(value):
        raise DataError(f"{what} names {value[:80]!r}, outside the repository: not read")
    return posixpath.normpath(value)


def is_inside(path: str) -> bool:
    """Whether a repository-relative path stays inside: not absolute, no ``..`` climbing out."""
    normal = posixpath.normpath(path)
    return not (posixpath.isabs(normal) or normal == ".." or normal.startswith("../"))


def is_commit_id(value: object) -> bool:
    """A commit's full hexadecimal id (SHA-1 or SHA-256)."""
    return isinstance(value, str) and _COMMIT_ID.fullmatch(value) is not None


def is_deployed_version(value: object) -> bool:
    """``v1.2.0`` (GTO's grammar) or ``md5-0123456789ab``: a name that is safe as a folder."""
    return isinstance(value, str) and DEPLOYED_VERSION_RE.match(value) is not None


def is_name(value: object) -> bool:
    """An artifact's or environment's name in GTO's grammar (mlgate.names)."""
    return isinstance(value, str) and NAME_RE.match(value) is not None


def is_file_name(value: object) -> bool:
    """One file's name: no folder, not "." or "..", no NUL or line break."""
    return (
        isinstance(value, str)
        and value not in ("", ".", "..")
        and not any(c in value for c in "/\\\0\n\r")
    )


def deployed_version(value: object, *, what: str) -> str:
    if not is_deployed_version(value):
        raise DataError(
            f"{what} names the version {repr(value)[:80]}, which is neither a release's "
            "(vX.Y.Z) nor md5-<12 hex digits>: nothing was read or written for it"
        )
    return str(value)
