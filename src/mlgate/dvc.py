"""All of mlgate's use of DVC itself: its Python API and its command line, each failure turned
into one line that says what to do.

Everything else reads DVC's files (dvc.yaml, dvc.lock, .dvc files, the cache's manifests) as
plain data without importing DVC (mlgate.dvcfiles): importing DVC costs about a second, so
these functions import it only when called, and only the slow paths call them (a file only
the remote holds, `dvc checkout` after a branch switch, `dvc status`
before a release, `dvc repro` and `dvc push` when retraining, `dvc init`).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import dvcfiles, git
from mlgate.errors import DataError, MlgateError, first_line


def read(revision: git.Revision, path: str, record: dvcfiles.DvcRecord | None = None) -> bytes:
    """A file kept in DVC's cache or remote, read with DVC's API at that commit; DataError,
    with DVC's reason and the fix, when it cannot be."""
    try:
        import dvc.api

        return bytes(dvc.api.read(path, repo=str(revision.root), rev=revision.commit, mode="rb"))
    except Exception as exc:  # DVC says "does not exist" for a cleared cache and no remote alike
        tracked = f" ({record.describe()})" if record else ""
        raise DataError(
            f"{path} at {revision.label} is tracked by DVC{tracked} but cannot be read: "
            f"{reason(exc)}; fetch it into the cache (`dvc fetch --all-branches`, or "
            f"`dvc pull` with {revision.name} checked out), or configure the DVC remote that "
            "holds it (`dvc remote add -d NAME URL`)"
        ) from None


def reason(exc: BaseException) -> str:
    """What DVC said: the first line of the exception (or of the one it wraps)."""
    return first_line(exc.__cause__ or exc).rstrip(".")


@dataclass(frozen=True)
class Checkout:
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # not in the local DVC cache: `dvc pull` fetches them

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.deleted)


def checkout(root: Path) -> Checkout:
    """Run ``dvc checkout`` without ``--force``: data with unsaved changes is never overwritten."""
    dvcfiles.check_pipeline_files(git.revision(git.WORKSPACE, root))
    from dvc.exceptions import CheckoutError, DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            result = repo.checkout()
    except CheckoutError as exc:
        result = {**exc.result, "failed": exc.target_infos}
    except DvcException as exc:
        raise DataError(f"dvc checkout failed: {reason(exc)}") from None
    return Checkout(
        *(
            tuple(_relative(root, p) for p in result.get(kind, ()))
            for kind in ("added", "modified", "deleted", "failed")
        )
    )


def _relative(root: Path, path: str) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def stale_stages(root: Path) -> dict[str, str]:
    """Stages whose dependencies, params or outputs differ from dvc.lock: stage -> why.

    Asks DVC itself (``dvc status``), which hashes what changed; imported only here. A git
    repository that is not a DVC repository has no pipeline to be stale.
    """
    if not (root / ".dvc").is_dir():
        return {}
    dvcfiles.check_pipeline_files(git.revision(git.WORKSPACE, root))
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            status: dict[str, list[Any]] = repo.status()
    except DvcException as exc:
        raise DataError(f"dvc status failed: {reason(exc)}") from None
    return {stage: _why(changes) for stage, changes in sorted(status.items())}


def _why(changes: list[Any]) -> str:
    reasons = []
    for change in changes:
        if isinstance(change, str):
            reasons.append(change)
            continue
        for kind, paths in change.items():
            if isinstance(paths, dict):
                reasons.append(f"{kind} {', '.join(_describe(p, s) for p, s in paths.items())}")
            else:
                reasons.append(str(kind))
    return "; ".join(reasons) or "changed"


def _describe(path: str, state: Any) -> str:
    """``metrics.json (modified)``; a params file names its keys: ``params.yaml (train modified)``."""
    if isinstance(state, dict):
        state = ", ".join(f"{key} {value}" for key, value in state.items())
    return f"{path} ({state})"


def run(root: Path, *args: str) -> None:
    """Run DVC's own command line (`dvc repro`, `dvc push`), its progress going to our stderr."""
    command = [sys.executable, "-m", "dvc", *args]
    try:
        sink: int | None = sys.stderr.fileno()
    except (AttributeError, OSError):  # an in-memory stderr, as under a test runner
        sink = None
    result = subprocess.run(
        command,
        cwd=root,
        stdout=sink if sink is not None else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if sink is None:
        sys.stderr.write(result.stdout)
    if result.returncode != 0:
        raise MlgateError(f"`dvc {' '.join(args)}` failed (exit {result.returncode}); see above")


def init(root: Path) -> None:
    """`dvc init` in a git repository that has no .dvc/ yet."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "init", "--quiet"], cwd=root, capture_output=True, text=True
    )
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise MlgateError(f"dvc init failed: {message[-1] if message else 'no message'}")
