"""Releasing this repository's own pipeline: real `dvc repro`, real DVC status, a bare origin."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from helpers import REPO_ROOT, commit_all, dvc, git, write_params
from mlgate.commands.main import main
from mlgate.registry.release import read_record

pytestmark = pytest.mark.slow


def test_release_promote_and_a_stale_pipeline_refused(
    reproduced_project: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    project = reproduced_project
    shutil.copy2(REPO_ROOT / "pyproject.toml", project / "pyproject.toml")
    commit_all(project, "trained")
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(project, "remote", "add", "origin", str(tmp_path / "origin.git"))
    monkeypatch.chdir(project)

    assert main(["release", "--push"]) == 0
    assert "Created tag fraud-detector@v0.1.0" in capsys.readouterr().out
    record = read_record(
        git(project, "for-each-ref", "--format=%(contents)", "refs/tags/fraud-detector@v0.1.0")
    )
    lock = yaml.safe_load(git(project, "show", "HEAD:dvc.lock"))
    (lock_md5,) = [
        o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model.pkl"
    ]
    assert record.model.md5 == lock_md5

    write_params(project, {"train": {"n_estimators": 40}})
    commit_all(project, "more trees, not reproduced")
    assert main(["release"]) == 2
    err = capsys.readouterr().err
    assert (
        "the pipeline is stale (train: changed deps params.yaml (train modified))" in err
        and "run `dvc repro`" in err
    )
    assert git(project, "tag", "--list") == "fraud-detector@v0.1.0"

    dvc(project, "repro")
    commit_all(project, "more trees")
    assert main(["release", "--push"]) == 0
    assert main(["promote", "fraud-detector@v0.2.0", "staging", "--push"]) == 0
    assert sorted(git(tmp_path / "origin.git", "tag", "--list").split()) == [
        "fraud-detector#staging#1",
        "fraud-detector@v0.1.0",
        "fraud-detector@v0.2.0",
    ]
