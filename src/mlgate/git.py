"""All of mlgate's git access: revisions, merge-bases, files at a revision, fetch.

It runs the ``git`` executable directly rather than through GitPython: the gate and the hooks
must start in well under a second, and importing GitPython alone costs about 0.1 s.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import posixpath
import re
import stat
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from mlgate import escape, valid
from mlgate.errors import GitError

WORKSPACE = "workspace"
STAGED = ":"  # git's name for the index in ``:path``
NO_COMMIT = "0" * 40  # what git passes a hook for a ref that does not exist (a deletion)
MAIN_BRANCH_CANDIDATES = ("main", "origin/main", "master", "origin/master")


def run_git(
    *args: str,
    cwd: Path | str = ".",
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run git and return its stdout; a failure raises GitError with git's own message."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            env={**os.environ, **env} if env else None,
        )
    except FileNotFoundError:
        raise GitError("git is not installed, or not on PATH") from None
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {message[-1] if message else 'no message'}")
    return result.stdout.decode(errors="replace")


def repo_root(cwd: Path | str = ".") -> Path:
    try:
        return Path(run_git("rev-parse", "--show-toplevel", cwd=cwd).strip())
    except GitError:
        raise GitError(
            f"{Path(cwd).resolve()} is not inside a git repository (run mlgate from your project)"
        ) from None


def resolve_commit(rev: str, cwd: Path | str = ".") -> str:
    """Return the full commit id of ``rev``, or raise GitError naming it."""
    try:
        return run_git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=cwd).strip()
    except GitError:
        raise GitError(f"unknown revision '{rev}': no such branch, tag or commit") from None


def resolve_revision(rev: str, cwd: Path | str = ".") -> str:
    """A revision a person names (``--head``, ``mlgate diff A B``): what git resolves, else, as
    DVC does, a DVC experiment's name (``dvc exp run -n NAME``). Only here: a branch lookup
    (the main branch, a base) never takes an experiment for a branch."""
    try:
        return resolve_commit(rev, cwd)
    except GitError:
        pass
    try:
        named = [e for e in experiments(cwd) if e.name == rev]
    except GitError:
        named = []
    if len(named) > 1:
        refs = ", ".join(e.ref for e in named)
        raise GitError(f"'{rev}' names several DVC experiments: use one of {refs}")
    if named:
        return named[0].commit
    raise GitError(f"unknown revision '{rev}': no such branch, tag, commit or DVC experiment")


def check_branch_name(name: str, cwd: Path | str = ".") -> str:
    """``name`` when git takes it as a branch name; else a GitError naming it."""
    try:
        run_git("check-ref-format", f"refs/heads/{name}", cwd=cwd)
    except GitError:
        raise GitError(f"{escape.one_line(name)!r} is not a branch name git accepts") from None
    return name


@dataclass(frozen=True)
class Experiment:
    """A DVC experiment: ``refs/exps/<baseline[:2]>/<baseline[2:]>/<name>``, as `dvc exp run`
    writes it (its commit's parent is the baseline)."""

    name: str
    commit: str
    baseline: str
    ref: str
    timestamp: int  # the experiment commit's, seconds since the epoch


_EXPERIMENT_REF = re.compile(r"refs/exps/([0-9a-f]{2})/([0-9a-f]{38})/([^/\s]+)\Z")


def experiments(cwd: Path | str = ".") -> list[Experiment]:
    """Every DVC experiment in the repository, newest first (``refs/exps/exec`` and DVC's
    other working refs are not experiments and are left out)."""
    listed = run_git(
        "for-each-ref",
        "--sort=-committerdate",
        "--format=%(refname)%00%(objectname)%00%(committerdate:unix)",
        "refs/exps/",
        cwd=cwd,
    )
    found = []
    for line in listed.splitlines():
        ref, commit, when = [*line.split("\0"), "", ""][:3]
        match = _EXPERIMENT_REF.match(ref)
        if match and when.isdigit():
            found.append(Experiment(match[3], commit, match[1] + match[2], ref, int(when)))
    return found


def has_commit(rev: str, cwd: Path | str = ".") -> bool:
    try:
        resolve_commit(rev, cwd)
    except GitError:
        return False
    return True


def merge_base(a: str, b: str, cwd: Path | str = ".") -> str | None:
    try:
        return run_git("merge-base", a, b, cwd=cwd).strip() or None
    except GitError:
        return None


def find_main_branch(cwd: Path | str = ".") -> str | None:
    """main or master (local, then origin's), else the branch origin/HEAD names."""
    found = find_main(cwd)
    return None if found is None else found[0]


def find_main(cwd: Path | str = ".") -> tuple[str, str] | None:
    """(name, commit) of main or master (local, then origin's), else of origin/HEAD's branch."""
    for ref in MAIN_BRANCH_CANDIDATES:
        try:
            return ref, resolve_commit(ref, cwd)
        except GitError:
            continue
    default = remote_default_branch("origin", cwd)
    return None if default is None else (default, resolve_commit(default, cwd))


def remote_default_branch(remote: str, cwd: Path | str = ".") -> str | None:
    """``<remote>/<branch>`` that ``refs/remotes/<remote>/HEAD`` points at (set by clone)."""
    try:
        target = run_git("symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD", cwd=cwd).strip()
    except GitError:
        return None
    return target.removeprefix("refs/remotes/") or None


def fetch_ref(remote: str, ref: str, cwd: Path | str = ".", depth: int | None = 1) -> None:
    """Fetch one branch into ``refs/remotes/<remote>/<ref>`` (enough for a shallow CI clone)."""
    args = ["fetch", "--no-tags", "--quiet"]
    if depth:
        args.append(f"--depth={depth}")
    run_git(*args, remote, f"+refs/heads/{ref}:refs/remotes/{remote}/{ref}", cwd=cwd)


def read_blobs(commit: str, paths: Iterable[str], cwd: Path | str = ".") -> dict[str, bytes | None]:
    """Read several files at one commit; absent files map to None. A commit id is read through
    one ``git cat-file --batch`` process per repository, kept for the command's life (objects
    never change); anything else (the index) with a process of its own."""
    paths = list(dict.fromkeys(paths))
    if not paths:
        return {}
    unreadable = next((p for p in paths if "\n" in p or "\r" in p), None)
    if unreadable is not None:  # it would end git's request line early
        raise GitError(f"cannot read a path with a line break in it: {unreadable!r}")
    request = "".join(f"{commit}:{p}\n" for p in paths).encode()
    if valid.is_commit_id(commit):
        return dict(zip(paths, _batch_reader(cwd).read(request, len(paths), commit), strict=True))
    try:
        output = subprocess.run(
            ["git", "cat-file", "--batch"], cwd=cwd, input=request, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise GitError(f"git cat-file failed at {commit[:12]}: {exc}") from None
    return dict(zip(paths, _parse_batch(output, len(paths)), strict=True))


class _BatchReader:
    """A running ``git cat-file --batch``: requests in, objects out, one at a time (locked)."""

    def __init__(self, cwd: Path | str) -> None:
        self.cwd = cwd
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None

    def read(self, request: bytes, count: int, commit: str) -> list[bytes | None]:
        with self.lock:
            try:
                process = self._started()
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write(request)
                process.stdin.flush()
                return [self._one(process.stdout) for _ in range(count)]
            except (OSError, ValueError) as exc:
                self.close()
                raise GitError(f"git cat-file failed at {commit[:12]}: {exc}") from None

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            try:
                self.process = subprocess.Popen(
                    ["git", "cat-file", "--batch"],
                    cwd=self.cwd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except FileNotFoundError:
                raise GitError("git is not installed, or not on PATH") from None
        return self.process

    @staticmethod
    def _one(stdout: IO[bytes]) -> bytes | None:
        header = stdout.readline().split()
        if not header:
            raise ValueError("git cat-file stopped answering")
        if header[-1] == b"missing" or len(header) != 3:
            return None
        content = stdout.read(int(header[2]) + 1)[:-1]
        return content if header[1] == b"blob" else None

    def close(self) -> None:
        if self.process is not None:
            with contextlib.suppress(OSError):
                self.process.kill()
            self.process.wait()
            self.process = None


_READERS: dict[str, _BatchReader] = {}  # most recently used last
_READERS_LOCK = threading.Lock()
_MAX_READERS = 4


def _batch_reader(cwd: Path | str) -> _BatchReader:
    key = os.path.realpath(cwd)
    with _READERS_LOCK:
        reader = _READERS.pop(key, None) or _BatchReader(key)
        _READERS[key] = reader
        while len(_READERS) > _MAX_READERS:
            oldest = _READERS.pop(next(iter(_READERS)))
            with oldest.lock:
                oldest.close()
        return reader


@atexit.register
def _close_readers() -> None:
    for reader in _READERS.values():
        reader.close()


def _parse_batch(output: bytes, count: int) -> list[bytes | None]:
    blobs: list[bytes | None] = []
    position = 0
    for _ in range(count):
        end = output.index(b"\n", position)
        header = output[position:end].split()
        position = end + 1
        if header[-1] == b"missing" or len(header) != 3 or header[1] != b"blob":
            blobs.append(None)
            continue
        size = int(header[2])
        blobs.append(output[position : position + size])
        position += size + 1
    return blobs


@dataclass(frozen=True)
class Revision:
    """A commit to read files from, or the workspace (files on disk)."""

    root: Path
    commit: str | None  # None: the workspace; "": the index (what the next commit holds)
    name: str  # what the user called it: "main", "HEAD~1", "workspace"
    # files_named's answers: one listing per name for as long as this object is used
    _found: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.commit[:8]})" if self.commit else self.name

    def read(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        """Each path's content, None for one the revision lacks, or one outside the
        repository (absolute, or climbing out with ``..``: a dvc.yaml a pull request changed
        may declare such a path, and the workspace must not be read beyond the checkout)."""
        wanted = list(dict.fromkeys(paths))
        inside = [p for p in wanted if valid.is_inside(p)]
        if self.commit is not None:
            found = read_blobs(self.commit, inside, self.root)
        else:
            found = {p: _read_file(self.root, p) for p in inside}
        return {p: found.get(p) for p in wanted}

    def read_one(self, path: str) -> bytes | None:
        return self.read([path])[path]

    def files_named(self, name: str) -> list[str]:
        """Every file called ``name`` at this revision, in any folder (the root's first): at a
        commit as its tree holds them, in the index as staged, in the workspace as on disk
        (untracked ones too, unless git ignores them)."""
        if name in self._found:
            return list(self._found[name])
        if self.commit:
            found = [
                p for p in _tree_files(self.root, self.commit) if posixpath.basename(p) == name
            ]
        else:
            others = ("--others", "--exclude-standard") if self.commit is None else ()
            listed = _paths(
                run_git(
                    "ls-files", "-z", "--cached", *others, "--", f":(glob)**/{name}", cwd=self.root
                )
            )
            found = [
                p
                for p in dict.fromkeys(listed)
                if self.commit is not None or (self.root / p).is_file()
            ]
        self._found[name] = sorted(found, key=lambda path: (path != name, path))
        return list(self._found[name])

    def files_ending(self, suffix: str) -> list[str]:
        """Every file whose name ends with ``suffix`` (``.dvc``), as ``files_named`` finds."""
        key = f"*{suffix}"
        if key not in self._found:
            if self.commit:
                found = [p for p in _tree_files(self.root, self.commit) if p.endswith(suffix)]
            else:
                others = ("--others", "--exclude-standard") if self.commit is None else ()
                listed = _paths(
                    run_git(
                        "ls-files",
                        "-z",
                        "--cached",
                        *others,
                        "--",
                        f":(glob)**/{key}",
                        cwd=self.root,
                    )
                )
                found = [
                    p
                    for p in dict.fromkeys(listed)
                    if self.commit is not None or (self.root / p).is_file()
                ]
            self._found[key] = sorted(found)
        return list(self._found[key])


@functools.lru_cache(maxsize=8)
def _tree_files(root: Path, commit: str) -> tuple[str, ...]:
    """Every file of a commit's tree (a commit never changes: listed once per process)."""
    return tuple(_paths(run_git("ls-tree", "-r", "-z", "--name-only", commit, cwd=root)))


def revision(name: str, root: Path) -> Revision:
    if name == WORKSPACE:
        return Revision(root, None, WORKSPACE)
    if name == STAGED:
        return Revision(root, "", "the staged changes")
    return Revision(root, resolve_revision(name, root), name)


def staged_paths(root: Path) -> list[str]:
    """Paths the next commit adds, changes or deletes (all of the index before a first commit)."""
    try:
        output = run_git("diff", "--cached", "--name-only", "-z", "--no-renames", "HEAD", cwd=root)
    except GitError:  # no HEAD yet: the first commit holds the whole index
        output = run_git("ls-files", "-z", cwd=root)
    return _paths(output)


def uncommitted(root: Path) -> list[str]:
    """Tracked files whose worktree or index differs from HEAD."""
    return _paths(run_git("diff", "HEAD", "--name-only", "-z", cwd=root))


def tracked_files(root: Path, paths: Iterable[str], *, glob: bool = False) -> list[str]:
    """The files in the index at or under ``paths`` (git's own pathspec matching), or matching
    them as globs (``*`` stays within a folder)."""
    pathspecs = [f":({'glob' if glob else 'literal'}){p}" for p in paths]
    if not pathspecs:
        return []
    return _paths(run_git("ls-files", "-z", "--", *pathspecs, cwd=root))


def changed_between(old: str, new: str, root: Path) -> list[str]:
    output = run_git("diff", "--name-only", "-z", "--no-renames", old, new, cwd=root)
    return _paths(output)


def _paths(nul_separated: str) -> list[str]:
    return [p for p in nul_separated.split("\0") if p]


def git_path(name: str, root: Path) -> Path:
    """Where git keeps ``name`` for this worktree: hooks (honouring core.hooksPath), rebase-merge."""
    return (root / run_git("rev-parse", "--git-path", name, cwd=root).strip()).resolve()


# A DVC cache object (3.x, then 2.x layout): where DVC's symlink and hardlink cache types point
# a workspace output, in a cache that may be shared outside the repository (`dvc cache dir`).
_CACHE_OBJECT = re.compile(r"/(files/md5/)?[0-9a-f]{2}/[0-9a-f]{30}(\.dir)?\Z")


def _read_file(root: Path, relative: str) -> bytes | None:
    """A workspace file's bytes; None where there is none. A symlink is followed only to a
    file inside the repository (or a DVC cache object), and only a regular file is read: a
    pull request can commit a link to any file of the machine, or to /dev/zero."""
    path = root / relative
    try:
        real = path.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (RuntimeError, OSError) as exc:  # a symlink loop
        raise GitError(f"cannot read {relative}: {type(exc).__name__}: {exc}") from None
    if not real.is_relative_to(root.resolve()) and not _CACHE_OBJECT.search(real.as_posix()):
        raise GitError(f"{relative} is a symlink to {real}, outside the repository: not read")
    if real.is_dir():
        return None
    if not stat.S_ISREG(real.stat().st_mode):
        raise GitError(f"{relative} is not a regular file (a device, socket or FIFO): not read")
    try:
        return real.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
