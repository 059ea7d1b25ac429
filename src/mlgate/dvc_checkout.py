"""Bring DVC-tracked data and models in line with the checked-out commit (``dvc checkout``).

The one module of the hooks that imports DVC, and only when a checkout changed DVC's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlgate import dvcfiles, git
from mlgate.errors import DataError


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
        raise DataError(f"dvc checkout failed: {str(exc).splitlines()[0]}") from None
    return Checkout(*(tuple(_relative(root, p) for p in result.get(kind, ())) for kind in (
        "added", "modified", "deleted", "failed")))  # fmt: skip


def _relative(root: Path, path: str) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
