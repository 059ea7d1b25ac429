"""The pre-commit check against real `dvc repro` results: what DVC recorded, read without DVC."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import TEMPLATED_PIPELINE, commit_all, dvc, git, init_dvc_repo, make_score_project
from mlgate.hooks import staleness


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_score_project(tmp_path_factory.mktemp("staleness") / "project")


@pytest.fixture
def repo(reproduced: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(reproduced, tmp_path / "repo", symlinks=True))


def stale(result: staleness.Staleness) -> dict[str, tuple[str, ...]]:
    return {stage.name: stage.reasons for stage in result.stale}


def set_quality(repo: Path, quality: float) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump({"score": {"quality": quality}}))


def test_a_reproduced_pipeline_agrees_with_dvc_on_every_kind_of_dependency(repo: Path) -> None:
    # git-tracked file and directory (lib/ with a CRLF file), dvc-added data, untracked raw/,
    # an upstream output: every hash mlgate computes equals the one DVC wrote.
    assert "Data and pipelines are up to date" in dvc(repo, "status").stdout
    result = staleness.check_workspace(repo)
    assert result.checked and not result.is_stale and not result.notes


def test_nothing_staged_that_the_pipeline_reads_is_not_checked(repo: Path) -> None:
    set_quality(repo, 0.5)  # stale in the workspace, but not part of this commit
    (repo / "README.md").write_text("notes\n")
    git(repo, "add", "README.md")
    assert not staleness.check_staged(repo).checked


def test_a_staged_param_change_names_the_stage_the_values_and_what_reruns(repo: Path) -> None:
    set_quality(repo, 0.5)
    git(repo, "add", "params.yaml")
    result = staleness.check_staged(repo)
    assert stale(result) == {"score": ("params.yaml changed: score.quality (0.9 -> 0.5)",)}
    assert result.downstream == ("report",)


def test_reproduced_but_not_staged_is_stale_for_the_commit_not_the_workspace(repo: Path) -> None:
    set_quality(repo, 0.5)
    dvc(repo, "repro", "-q")
    git(repo, "add", "params.yaml")
    assert stale(staleness.check_staged(repo))["score"][0].startswith("params.yaml changed")
    assert not staleness.check_workspace(repo).is_stale
    git(repo, "add", "dvc.lock")  # metrics.json (git-tracked output) still unstaged
    assert stale(staleness.check_staged(repo)) == {
        "score": ("output metrics.json differs from what dvc.lock records",)
    }
    git(repo, "add", "metrics.json")
    assert not staleness.check_staged(repo).is_stale


def test_code_a_tracked_directory_and_a_command_change(repo: Path) -> None:
    (repo / "score.py").write_text((repo / "score.py").read_text() + "# tweak\n")
    (repo / "lib" / "a.py").write_text("A = 2\n")
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    pipeline["stages"]["report"]["cmd"] += " # louder"
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    git(repo, "add", "-A")
    assert stale(staleness.check_staged(repo)) == {
        "score": ("score.py changed", "lib changed"),
        "report": ("command changed",),
    }


def test_data_updated_with_dvc_add_is_read_from_its_dvc_file(repo: Path) -> None:
    (repo / "data" / "more.csv").write_text("x,y\n3,0\n")
    dvc(repo, "add", "-q", "data")
    git(repo, "add", "data.dvc")
    assert stale(staleness.check_staged(repo)) == {"score": ("data changed",)}


def test_untracked_data_is_hashed_when_small_and_size_checked_when_large(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "raw" / "events.log").write_text("one\nTWO\n")  # same size, other bytes
    assert stale(staleness.check_workspace(repo)) == {"score": ("raw changed",)}
    monkeypatch.setattr(staleness, "HASH_LIMIT", 4)
    result = staleness.check_workspace(repo)
    assert not result.is_stale
    assert result.notes == ("raw (0 MiB) not hashed; `dvc status` checks it",)
    (repo / "raw" / "events.log").write_text("one\ntwo\nthree\n")  # a new size needs no hash
    assert stale(staleness.check_workspace(repo)) == {"score": ("raw changed",)}


def test_added_and_removed_dependencies_and_a_stage_never_run(repo: Path) -> None:
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    pipeline["stages"]["score"]["deps"] = ["score.py", "lib", "data", "extra.txt"]
    pipeline["stages"]["new"] = {"cmd": "echo hi", "outs": ["hi.txt"]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (repo / "extra.txt").write_text("x\n")
    git(repo, "add", "-A")
    assert stale(staleness.check_staged(repo)) == {
        "score": ("dependencies added extra.txt; removed raw",),
        "new": ("never reproduced: not in dvc.lock",),
    }


def test_a_deleted_dependency_is_missing(repo: Path) -> None:
    git(repo, "rm", "-q", "score.py")
    assert stale(staleness.check_staged(repo)) == {"score": ("score.py is missing",)}


def test_a_dvc_2_lock_hashes_text_with_unix_line_endings(repo: Path) -> None:
    """DVC 2 wrote no `hash: md5` and hashed text as if its line endings were LF."""
    (repo / "code.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    unix_md5 = hashlib.md5(b"x = 1\ny = 2\n").hexdigest()
    stage = {"cmd": "true", "deps": ["code.py"]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"s": stage}}))
    lock: dict[str, Any] = {"cmd": "true", "deps": [{"path": "code.py", "md5": unix_md5}]}
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"s": lock}}))
    git(repo, "add", "-A")
    assert not staleness.check_staged(repo).is_stale
    lock["deps"][0]["hash"] = "md5"  # DVC 3 hashes the bytes as they are
    (repo / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"s": lock}}))
    git(repo, "add", "-A")
    assert stale(staleness.check_staged(repo)) == {"s": ("code.py changed",)}


def dvc_stale(repo: Path) -> set[str]:
    """The stages `dvc status` says changed."""
    return set(json.loads(dvc(repo, "status", "--json").stdout or "{}"))


def test_a_templated_pipeline_is_checked_as_dvc_resolves_it(repo: Path) -> None:
    """Issue 32.1: with `vars`, `${}` or `foreach` the hook waved every change through with a
    note. Resolved as DVC resolves it, it names the stale stages `dvc status` names."""
    templated = copy.deepcopy(TEMPLATED_PIPELINE)
    (repo / "dvc.yaml").write_text(yaml.safe_dump(templated, sort_keys=False))
    dvc(repo, "repro", "-q")
    commit_all(repo, "templated")
    result = staleness.check_workspace(repo)
    assert result.checked and not result.is_stale and not result.notes
    assert dvc_stale(repo) == set()

    set_quality(repo, 0.5)
    git(repo, "add", "params.yaml")
    result = staleness.check_staged(repo)
    assert stale(result) == {"score": ("params.yaml changed: score.quality (0.9 -> 0.5)",)}
    assert result.downstream == ("report@report.txt",)
    assert dvc_stale(repo) == {"score"}

    git(repo, "checkout", "-q", "--", ".")
    git(repo, "reset", "-q", "--hard")
    templated["stages"]["report"]["do"]["cmd"] += " # ${files.report}"  # resolved: new text
    (repo / "dvc.yaml").write_text(yaml.safe_dump(templated, sort_keys=False))
    git(repo, "add", "dvc.yaml")
    reasons = stale(staleness.check_staged(repo))
    assert set(reasons) == dvc_stale(repo) == {"report@report.txt"}
    assert any("command changed" in r for r in reasons["report@report.txt"])


def test_a_staged_vars_file_is_a_change_to_the_pipeline(tmp_path: Path) -> None:
    """A file named in `vars` is no declared dependency, yet it changes the commands."""
    repo = init_dvc_repo(tmp_path / "repo")
    (repo / "conf.yaml").write_text("greeting: hello\n")
    pipeline = {"vars": ["conf.yaml"], "stages": {"s": {"cmd": "echo ${greeting} > out.txt",
                                                        "outs": ["out.txt"]}}}  # fmt: skip
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    dvc(repo, "repro", "-q")
    commit_all(repo, "a templated stage")
    (repo / "conf.yaml").write_text("greeting: goodbye\n")
    git(repo, "add", "conf.yaml")
    assert stale(staleness.check_staged(repo)) == {"s": ("command changed",)}
    assert dvc_stale(repo) == {"s"}


def test_a_templated_pipeline_that_cannot_be_resolved_is_one_line(repo: Path) -> None:
    from mlgate.errors import DataError

    (repo / "dvc.yaml").write_text("stages:\n  s:\n    cmd: echo ${nowhere}\n")
    git(repo, "add", "dvc.yaml")
    with pytest.raises(DataError, match="Could not find 'nowhere'"):
        staleness.check_staged(repo)


def test_a_repository_without_a_pipeline_has_nothing_to_check(tmp_path: Path) -> None:
    repo = init_dvc_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("a\n")
    commit_all(repo, "a")
    (repo / "a.txt").write_text("b\n")
    git(repo, "add", "a.txt")
    assert not staleness.check_staged(repo).checked


def test_a_params_file_that_is_not_a_mapping_is_a_clear_error(repo: Path) -> None:
    from mlgate.errors import DataError

    (repo / "params.yaml").write_text("- just\n- a list\n")
    git(repo, "add", "params.yaml")
    with pytest.raises(DataError, match=r"params.yaml in the staged changes must be a mapping"):
        staleness.check_staged(repo)


def test_the_first_commit_of_a_pipeline_is_checked(tmp_path: Path) -> None:
    repo = init_dvc_repo(tmp_path / "repo")
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"s": {"cmd": "true"}}}))
    git(repo, "add", "-A")
    assert stale(staleness.check_staged(repo)) == {"s": ("never reproduced: not in dvc.lock",)}


def test_a_python_params_file_is_checked_as_dvc_records_it(tmp_path: Path) -> None:
    """Tuples in params.py are lists in dvc.lock: equal, not a change."""
    root = init_dvc_repo(tmp_path / "repo")
    (root / "params.py").write_text("LR = 1e-3\nSHAPE = (3, 4)\n\nclass Model:\n    DEPTH = 3\n")
    stage = {
        "cmd": "echo ok > out.txt",
        "params": [{"params.py": ["LR", "SHAPE", "Model"]}],
        "outs": ["out.txt"],
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": stage}}))
    dvc(root, "repro", "-q")
    commit_all(root, "a python params file")
    assert not staleness.check_workspace(root).is_stale
    (root / "params.py").write_text("LR = 1e-3\nSHAPE = (3, 5)\n\nclass Model:\n    DEPTH = 4\n")
    git(root, "add", "params.py")
    assert stale(staleness.check_staged(root)) == {
        "train": ("params.py changed: Model.DEPTH (3 -> 4), SHAPE ([3, 4] -> [3, 5])",)
    }
