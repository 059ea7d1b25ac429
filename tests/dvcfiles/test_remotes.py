"""Is the data pushed? The gate in CI and the pre-push hook fail when the DVC remote lacks an
output the change records, naming the paths; checked against DVC's own answer
(`dvc data status --not-in-remote`), on a local remote and on a real S3 server (SeaweedFS)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import TEMPLATED_PIPELINE, commit_all, dvc, git, make_score_project, mlgate_in
from mlgate import dvcfiles
from mlgate.dvcfiles import remotes
from mlgate.git import revision
from mlgate.hooks import scripts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_score_project(tmp_path_factory.mktemp("remotes") / "project")


def with_remote(scored: Path, tmp_path: Path, url: str) -> Path:
    """A copy of the project whose default DVC remote is ``url``, everything pushed."""
    project = Path(shutil.copytree(scored, tmp_path / "project", symlinks=True))
    dvc(project, "remote", "add", "-d", "storage", url)
    commit_all(project, "a DVC remote")
    dvc(project, "push", "-q")
    return project


def change(project: Path, quality: float, branch: str = "change") -> None:
    git(project, "checkout", "-q", "-b", branch)
    (project / "params.yaml").write_text(yaml.safe_dump({"score": {"quality": quality}}))
    (project / "data" / "extra.csv").write_text(f"x,y\n{quality},1\n")
    dvc(project, "add", "-q", "data")
    dvc(project, "repro", "-q")
    commit_all(project, f"quality {quality}")


def dvc_not_in_remote(project: Path) -> set[str]:
    """What DVC itself says the remote lacks (its JSON names folders with a slash)."""
    out = dvc(project, "data", "status", "--not-in-remote", "--json").stdout
    missing = json.loads(out or "{}").get("not_in_remote", [])
    return {path.rstrip("/") for path in missing}


def test_the_gate_names_what_the_remote_lacks_as_dvc_does_and_passes_once_pushed(
    scored: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = with_remote(
        scored, tmp_path, "../store"
    )  # relative, as DVC resolves it: tmp_path/store
    change(project, 0.95)
    assert mlgate_in(project, monkeypatch, "check", "--head", "HEAD") == 1
    out = capsys.readouterr().out
    assert "FAIL: 3 outputs not in the DVC remote 'storage' (run `dvc push`)" in out
    flagged = {
        line.strip() for line in out.split("Not in the DVC remote 'storage':")[1].splitlines()[2:5]
    }
    assert flagged == {"data", "model.txt", "report.txt"} == dvc_not_in_remote(project)
    # the workspace (work in progress) is not held to it
    assert mlgate_in(project, monkeypatch, "check") == 0
    capsys.readouterr()
    dvc(project, "push", "-q")
    assert dvc_not_in_remote(project) == set()
    assert mlgate_in(project, monkeypatch, "check", "--head", "HEAD", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["unpushed"] == []


def test_one_file_missing_from_a_pushed_directory_flags_the_directory(
    scored: Path, tmp_path: Path
) -> None:
    project = with_remote(scored, tmp_path, str(tmp_path / "store"))
    change(project, 0.95)
    dvc(project, "push", "-q")
    extra = dvcfiles.cached_object(project, _md5(project / "data" / "extra.csv"))
    assert extra is not None
    stored = tmp_path / "store" / extra.relative_to(project / ".dvc" / "cache")
    stored.unlink()
    outputs = dvcfiles.cached_outputs(revision("HEAD", project))
    remote = remotes.LocalRemote(tmp_path / "store")
    assert remotes.not_pushed(project, remote, outputs) == ["data"]
    # DVC's status looks at the directory's manifest only and misses it; a fresh clone's
    # `dvc pull` shows who is right
    assert dvc_not_in_remote(project) == set()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    pulled = subprocess.run(
        ["dvc", "pull", "-q", "data"], cwd=clone, capture_output=True, text=True
    )
    assert pulled.returncode != 0 and not (clone / "data" / "extra.csv").exists()


def _md5(path: Path) -> str:
    from mlgate.files import file_md5

    return file_md5(path)


def test_the_pre_push_hook_blocks_a_push_whose_data_is_not_pushed(
    scored: Path, tmp_path: Path
) -> None:
    project = with_remote(scored, tmp_path, str(tmp_path / "store"))
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(project, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(project, "push", "-q", "origin", "main")
    scripts.install(project)
    change(project, 0.95)
    blocked = subprocess.run(
        ["git", "push", "-q", "origin", "change"], cwd=project, capture_output=True, text=True
    )
    assert blocked.returncode != 0
    assert "1 of 1" not in blocked.stderr  # the gate's rule passes: only the data blocks
    assert "3 outputs not in the DVC remote 'storage' (run `dvc push`)" in blocked.stderr
    dvc(project, "push", "-q")
    pushed = subprocess.run(
        ["git", "push", "-q", "origin", "change"], cwd=project, capture_output=True, text=True
    )
    assert pushed.returncode == 0, pushed.stderr


def test_a_change_cannot_point_the_check_at_another_remote(
    scored: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = with_remote(scored, tmp_path, str(tmp_path / "store"))
    change(project, 0.95)
    dvc(project, "remote", "add", "-f", "-d", "elsewhere", "gs://not-checked/store")
    commit_all(project, "a remote mlgate cannot check")
    assert mlgate_in(project, monkeypatch, "check", "--head", "HEAD") == 1
    assert "not in the DVC remote 'storage'" in capsys.readouterr().out


def test_a_remote_mlgate_cannot_check_is_said_and_require_pushed_false_turns_it_off(
    scored: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = Path(shutil.copytree(scored, tmp_path / "project", symlinks=True))
    dvc(project, "remote", "add", "-d", "cloud", "gs://some-bucket/store")
    commit_all(project, "a GCS remote")
    change(project, 0.95)
    assert mlgate_in(project, monkeypatch, "check", "--head", "HEAD") == 0
    out = capsys.readouterr().out
    assert "whether the data is in the DVC remote 'cloud' (gs://) is not checked" in out
    # a remote that is not there cannot say the data is pushed: exit 2, unless not required
    git(project, "checkout", "-q", "main")
    dvc(project, "remote", "add", "-f", "-d", "cloud", str(tmp_path / "unmounted"))
    commit_all(project, "a remote on a disk that is not mounted")
    git(project, "checkout", "-q", "change")
    git(project, "merge", "-q", "main")
    assert mlgate_in(project, monkeypatch, "check", "--head", "HEAD") == 2
    err = capsys.readouterr().err
    assert "the DVC remote 'cloud'" in err and "is not there" in err and err.count("\n") == 1
    git(project, "checkout", "-q", "main")
    policy = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        policy.replace("[tool.mlgate]\n", "[tool.mlgate]\nrequire_pushed = false\n")
    )
    commit_all(project, "the data need not be pushed")
    git(project, "checkout", "-q", "change")
    git(project, "merge", "-q", "main")
    assert mlgate_in(project, monkeypatch, "check", "--head", "HEAD") == 0


def test_an_s3_remote_is_checked_by_content_hash(
    scored: Path,
    s3: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = with_remote(scored, tmp_path, f"{s3}/dvcstore")
    change(project, 0.95)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # as in CI: the workspace is the commit
    for name, value in (
        ("GITHUB_STEP_SUMMARY", tmp_path / "summary"),
        ("GITHUB_OUTPUT", tmp_path / "out"),
    ):
        monkeypatch.setenv(name, str(value))
    assert mlgate_in(project, monkeypatch, "check") == 1
    printed = capsys.readouterr()
    assert "3 outputs not in the DVC remote 'storage'" in printed.out
    assert "::error title=mlgate%3A data not pushed::" in printed.err
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in printed.out + printed.err
    dvc(project, "push", "-q")
    assert mlgate_in(project, monkeypatch, "check") == 0


def test_a_templated_pipeline_s_outputs_are_checked_too(
    scored: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 32: with `vars`, `${}` and `foreach` in dvc.yaml the gate skipped the push check
    and passed a change whose outputs were never pushed. Resolved as DVC resolves it, the same
    outputs are named as DVC names them."""
    project = Path(shutil.copytree(scored, tmp_path / "project", symlinks=True))
    (project / "dvc.yaml").write_text(yaml.safe_dump(TEMPLATED_PIPELINE, sort_keys=False))
    dvc(project, "repro", "-q")
    dvc(project, "remote", "add", "-d", "storage", "../store")  # this test's own store
    commit_all(project, "a templated pipeline and a DVC remote")
    dvc(project, "push", "-q")
    change(project, 0.95)
    assert mlgate_in(project, monkeypatch, "check", "--head", "HEAD") == 1
    out = capsys.readouterr().out
    assert "FAIL: 3 outputs not in the DVC remote 'storage' (run `dvc push`)" in out
    flagged = {
        line.strip() for line in out.split("Not in the DVC remote 'storage':")[1].splitlines()[2:5]
    }
    assert flagged == {"data", "model.txt", "report.txt"} == dvc_not_in_remote(project)
