"""A target directory, on this machine or a mounted one::

    versions/<version>/  a published version's files
    current              the pointer: replaced by a rename, never edited
    deployments.jsonl    the log: one line per event, appended
    .lock                locked (flock) while a deploy or rollback changes the target

Safety comes from the file system: a staging folder renamed into place, fsync before a rename,
appends that first end a line a crash cut short, and flock, which the kernel releases when the
holder dies (a killed deploy never leaves a stale lock).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mlgate import valid
from mlgate.errors import MlgateError

CURRENT, LOG, LOCK, VERSIONS = "current", "deployments.jsonl", ".lock", "versions"
STAGING_PREFIX = ".tmp-"


class LocalTarget:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"LocalTarget({str(self.path)!r})"

    @property
    def location(self) -> str:
        return str(self.path)

    @contextlib.contextmanager
    def lock(self, wait: float) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        ignore_in_git(self.path)
        deadline = time.monotonic() + wait
        with open(self.path / LOCK, "a+") as handle:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise MlgateError(
                            f"another deploy or rollback to {self.path} is running; waited "
                            f"{wait:g} s (--wait to wait longer)"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def recover(self) -> None:
        """Remove the staging folders of installs a crash interrupted."""
        for leftover in (self.path / VERSIONS).glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def read_current(self) -> bytes | None:
        path = self.path / CURRENT
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise MlgateError(f"cannot read {path}: {exc.strerror or exc}") from None

    def current_stamp(self) -> object | None:
        try:
            stat = (self.path / CURRENT).stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def write_current(self, data: bytes) -> None:
        """Write a sibling, fsync it, rename it over ``current``: all or nothing."""
        fd, tmp = tempfile.mkstemp(prefix=".current.", dir=self.path)
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path / CURRENT)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path)

    def append_event(self, event: bytes) -> None:
        """One line for the event, always on a line of its own: a last line a crash cut short
        (appends hold the target's lock, so it is no other writer's) is ended first, so it
        cannot swallow this one."""
        line = event.rstrip(b"\n") + b"\n"
        fd = os.open(self.path / LOG, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            while line:
                line = line[os.write(fd, line) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_events(self) -> list[tuple[str, bytes]]:
        path = self.path / LOG
        try:
            lines = path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise MlgateError(f"cannot read {path}: {exc.strerror or exc}") from None
        return [(f"{path} line {n}", line) for n, line in enumerate(lines, start=1) if line.strip()]

    def has_version(self, version: str) -> bool:
        valid.deployed_version(version, what=self.location)
        return (self.path / VERSIONS / version).is_dir()

    def install_version(self, version: str, fill: Callable[[Path], None]) -> None:
        """``fill`` a staging folder, fsync it, rename it to ``versions/<version>``."""
        valid.deployed_version(version, what=self.location)
        versions = self.path / VERSIONS
        versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{version}-", dir=versions))
        try:
            fill(staging)
            for path in staging.iterdir():
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
            _fsync_dir(staging)
            staging.chmod(0o755)  # mkdtemp makes it private; a server may run as another user
            os.rename(staging, versions / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def version_folder(self, version: str) -> Path:
        valid.deployed_version(version, what=self.location)
        return self.path / VERSIONS / version

    def workdir(self) -> Path:
        return self.path


def ignore_in_git(target: Path) -> None:
    """A target (or a target's local folder) inside ``.mlgate/`` gets a ``.mlgate/.gitignore``,
    so deployments never show as untracked files."""
    for parent in target.parents:
        if parent.name == ".mlgate":
            ignore = parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n")
            return


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
