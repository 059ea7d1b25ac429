"""This repository's own state is true: the committed dvc.lock records the code its stages
read now, so a fresh clone's `dvc repro` leaves `git status` clean (issue 33.4). Checked with
mlgate's own pre-commit check against HEAD, which agrees with `dvc status` (tests/hooks)."""

from __future__ import annotations

from helpers import REPO_ROOT
from mlgate.hooks import staleness


def test_the_committed_dvc_lock_records_the_code_the_stages_read() -> None:
    result = staleness.check_commit(REPO_ROOT, "HEAD")
    stale = {stage.name: stage.reasons for stage in result.stale}
    assert result.checked and not stale, (
        f"dvc.lock at HEAD is out of date: {stale}; run `dvc repro` and commit dvc.lock"
    )
