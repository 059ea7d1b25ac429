"""What a revision's DVC files say together: where a declared artifact's file is and its md5, and every file parsed with mlgate's bounds before DVC itself reads it."""

from __future__ import annotations

from typing import Any

from mlgate.dvcfiles.lock import lock_outputs, read_lock
from mlgate.dvcfiles.params import DEFAULT_PARAMS_FILE, parse_data_file
from mlgate.dvcfiles.pipelines import read_declarations
from mlgate.git import Revision


def check_pipeline_files(revision: Revision) -> None:
    """Parse dvc.yaml, dvc.lock and every params file they name with the bounds above, before
    DVC reads them: DVC itself expands YAML aliases without a bound (gigabytes, minutes)."""
    declared = read_declarations(revision)
    read_lock(revision)
    paths = list(dict.fromkeys([*declared.params, DEFAULT_PARAMS_FILE]))
    for path, content in revision.read(paths).items():
        if content is not None:
            parse_data_file(path, content, f"{path} at {revision.label}")


def artifact_path(revision: Revision, artifact: str) -> str | None:
    """Where dvc.yaml's ``artifacts:`` section puts ``artifact`` at ``revision``."""
    declared = read_declarations(revision).artifacts.get(artifact)
    return str(declared["path"]) if isinstance(declared, dict) and "path" in declared else None


def artifact_file(
    revision: Revision, artifact: str, outputs: dict[str, Any] | None = None
) -> tuple[str | None, str | None]:
    """The artifact's path and the md5 dvc.lock records for it at ``revision``."""
    path = artifact_path(revision, artifact)
    if outputs is None:
        outputs = lock_outputs(read_lock(revision))
    return path, (outputs.get(path) or {}).get("md5") if path else None
