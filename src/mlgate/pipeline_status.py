"""Whether the pipeline's recorded results (dvc.lock) still match the workspace, per DVC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate import dvcfiles, git
from mlgate.errors import DataError


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
        raise DataError(f"dvc status failed: {str(exc).splitlines()[0]}") from None
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
