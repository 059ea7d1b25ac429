"""A repository with several dvc.yaml files, as DVC collects them: a root pipeline and one in a
subfolder whose stage runs in its own wdir, with its own dvc.lock, params and metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import commit_all, dvc, git, init_dvc_repo
from mlgate import dvcfiles
from mlgate import git as gitmod
from mlgate.hooks import staleness
from mlgate.snapshot import read_snapshot
from mlgate.values import diff

ROOT_PIPELINE = {
    "stages": {
        "prepare": {
            "cmd": "python prepare.py",
            "deps": ["prepare.py"],
            "params": ["prepare.rows"],
            "outs": ["data.txt"],
        }
    },
    "metrics": ["root_metrics.json"],
}
PREPARE = """\
import yaml
rows = yaml.safe_load(open("params.yaml"))["prepare"]["rows"]
open("data.txt", "w").write("x\\n" * rows)
import json; json.dump({"rows": rows}, open("root_metrics.json", "w"))
"""
# models/dvc.yaml: its stage runs in models/code/, reads the root's data, and writes the model
# and metrics there; its params file is models/code/params.yaml (exponent notation).
SUB_PIPELINE = {
    "stages": {
        "train": {
            "wdir": "code",
            "cmd": "python train.py",
            "deps": ["train.py", "../../data.txt"],
            "params": ["lr"],
            "outs": ["model.bin"],
            "metrics": [{"scores.json": {"cache": False}}],
        }
    },
    "artifacts": {"ranker": {"path": "code/model.bin", "type": "model"}},
}
TRAIN = """\
import json, yaml
lr = float(yaml.safe_load(open("params.yaml"))["lr"])
rows = len(open("../../data.txt").read().split())
open("model.bin", "wb").write(b"lr %f rows %d" % (lr, rows))
json.dump({"auc": round(0.5 + lr * 100 + rows / 1000, 6), "val": {"loss": 0.3}}, open("scores.json", "w"))
"""


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = init_dvc_repo(tmp_path_factory.mktemp("pipelines") / "repo")
    (root / "prepare.py").write_text(PREPARE)
    (root / "dvc.yaml").write_text(yaml.safe_dump(ROOT_PIPELINE))
    (root / "params.yaml").write_text("prepare:\n  rows: 10\n")
    (root / "models/code").mkdir(parents=True)
    (root / "models/code/train.py").write_text(TRAIN)
    (root / "models/code/params.yaml").write_text("lr: 1e-3\n")
    (root / "models/dvc.yaml").write_text(yaml.safe_dump(SUB_PIPELINE))
    dvc(root, "repro", "-q", "--all-pipelines")
    commit_all(root, "two pipelines")
    git(root, "tag", "base")
    return root


@pytest.fixture
def repo(reproduced: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(reproduced, tmp_path / "repo", symlinks=True))


def changed(repo: Path) -> Path:
    """lr 1e-3 -> 2e-3 and 20 rows, reproduced and committed."""
    (repo / "models/code/params.yaml").write_text("lr: 2e-3\n")
    (repo / "params.yaml").write_text("prepare:\n  rows: 20\n")
    dvc(repo, "repro", "-q", "--all-pipelines")
    commit_all(repo, "more rows, higher lr")
    return repo


def test_every_dvc_yaml_is_read_and_the_diff_equals_dvcs(repo: Path) -> None:
    changed(repo)
    old = read_snapshot(gitmod.revision("base", repo))
    new = read_snapshot(gitmod.revision("HEAD", repo))
    assert sorted(new.metrics) == ["models/code/scores.json", "root_metrics.json"]
    assert sorted(new.params) == ["models/code/params.yaml", "params.yaml"]
    for kind in ("metrics", "params"):
        expected = json.loads(dvc(repo, kind, "diff", "base", "HEAD", "--json").stdout)
        assert diff(getattr(old, kind), getattr(new, kind)) == expected, kind
    assert new.params["models/code/params.yaml"] == {"lr": 0.002}


def test_lock_outputs_are_the_repositorys_paths_and_artifacts_are_named_as_gto_names_them(
    repo: Path,
) -> None:
    """dvc.lock keeps paths relative to the stage's wdir; only dvc.yaml says which it is."""
    head = gitmod.revision("HEAD", repo)
    outputs = dvcfiles.lock_outputs(dvcfiles.read_lock(head))
    assert sorted(outputs) == ["data.txt", "models/code/model.bin", "models/code/scores.json"]
    assert sorted(dvcfiles.read_lock(head)) == ["models/dvc.yaml:train", "prepare"]
    assert dvcfiles.artifact_file(head, "models:ranker") == (
        "models/code/model.bin",
        outputs["models/code/model.bin"]["md5"],
    )


def test_the_pre_commit_check_covers_a_subfolders_pipeline(repo: Path) -> None:
    (repo / "models/code/params.yaml").write_text("lr: 5e-3\n")
    git(repo, "add", "-A")
    result = staleness.check_staged(repo)
    assert {s.name: s.reasons for s in result.stale} == {
        "models/dvc.yaml:train": ("params.yaml changed: lr (0.001 -> 0.005)",)
    }
    (repo / "params.yaml").write_text("prepare:\n  rows: 30\n")
    git(repo, "add", "-A")
    result = staleness.check_staged(repo)
    assert [s.name for s in result.stale] == ["prepare", "models/dvc.yaml:train"]
    dvc(repo, "repro", "-q", "--all-pipelines")
    git(repo, "add", "-A")
    assert not staleness.check_staged(repo).is_stale
    assert "up to date" in dvc(repo, "status").stdout  # DVC agrees


def test_an_untracked_pipeline_in_the_workspace_counts_and_an_ignored_one_does_not(
    repo: Path,
) -> None:
    workspace = gitmod.revision(gitmod.WORKSPACE, repo)
    assert dvcfiles.pipeline_files(workspace) == ["dvc.yaml", "models/dvc.yaml"]
    (repo / "extra").mkdir()
    (repo / "extra/dvc.yaml").write_text("stages: {}\n")
    (repo / "venv").mkdir()
    (repo / "venv/dvc.yaml").write_text("stages: {}\n")
    with open(repo / ".gitignore", "a") as ignore:
        ignore.write("venv/\n")
    assert dvcfiles.pipeline_files(workspace) == ["dvc.yaml", "models/dvc.yaml"]  # listed once
    fresh = gitmod.revision(gitmod.WORKSPACE, repo)
    assert dvcfiles.pipeline_files(fresh) == ["dvc.yaml", "extra/dvc.yaml", "models/dvc.yaml"]


def test_a_pipeline_in_a_folder_dvcignore_leaves_out_is_not_read(repo: Path) -> None:
    """As DVC: `dvc metrics show` no longer lists it either."""
    with open(repo / ".dvcignore", "a") as ignore:
        ignore.write("models/\n")
    workspace = gitmod.revision(gitmod.WORKSPACE, repo)
    assert dvcfiles.pipeline_files(workspace) == ["dvc.yaml"]
    assert sorted(read_snapshot(workspace).metrics) == ["root_metrics.json"]
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    assert sorted(shown[""]["data"]) == ["root_metrics.json"]
