"""Issue 32's bank-churn layout (tests/churn.py: a templated dvc.yaml with a vars file,
foreach, a directory model declared in `artifacts:`, a confusion plot, experiments), taken
through what a user does with mlgate, each answer compared with DVC's own where DVC has one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from churn import ARTIFACT, make_churn_project
from helpers import commit_all, dvc, git, mlgate_in, write_params
from mlgate.files import file_md5
from mlgate.hooks import staleness

pytestmark = [pytest.mark.slow, pytest.mark.long]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_churn_project(tmp_path_factory.mktemp("churn") / "project")


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "project", symlinks=True))


def dvc_json(root: Path, *args: str) -> dict:
    return json.loads(dvc(root, *args, "--json").stdout or "{}")


def test_the_gate_hooks_and_diff_read_it_as_dvc_does(project: Path, monkeypatch, capsys) -> None:
    assert staleness.check_workspace(project).checked
    assert not staleness.check_workspace(project).is_stale
    git(project, "checkout", "-q", "-b", "weaker")
    write_params(project, {"train": {"C": 0.0005}})
    git(project, "add", "params.yaml")
    stale = {s.name: s.reasons for s in staleness.check_staged(project).stale}
    # the command interpolates ${train.C}: it changed too, as `dvc status` says
    assert stale == {"train": ("command changed", "params.yaml changed: train.C (1.0 -> 0.0005)")}
    assert set(dvc_json(project, "status")) == {"train"}
    dvc(project, "repro", "-q")
    commit_all(project, "a weaker model")
    assert mlgate_in(project, monkeypatch, "diff", "main", "HEAD", "--format", "json", "--all") == 0
    ours = json.loads(capsys.readouterr().out)
    assert ours["metrics"] == dvc_json(project, "metrics", "diff", "main", "HEAD", "--all")
    assert ours["params"] == dvc_json(project, "params", "diff", "main", "HEAD", "--all")
    assert "config/paths.yaml" in ours["params"]  # the vars file's interpolated values
    code = mlgate_in(project, monkeypatch, "check", "--base", "main", "--format", "md")
    report = capsys.readouterr().out
    weaker = json.loads((project / "reports/metrics.json").read_text())["accuracy"]
    assert code == (1 if _main_accuracy(project) - weaker > 0.02 + 1e-12 else 0), report
    assert "Confusion" in report  # drawn from the confusion plot, not a regression chart


def _main_accuracy(project: Path) -> float:
    return float(json.loads(git(project, "show", "main:reports/metrics.json"))["accuracy"])


def test_its_directory_model_is_released_and_deployed(project: Path, monkeypatch, capsys) -> None:
    assert mlgate_in(project, monkeypatch, "release") == 0
    out = capsys.readouterr().out
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    manifest = next(
        o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "model/clf-model"
    )
    assert f"Created tag {ARTIFACT}@v0.1.0" in out and f"md5 {manifest}" in out
    assert mlgate_in(project, monkeypatch, "deploy", "--model", f"{ARTIFACT}@v0.1.0", "--env",
                     "staging") == 0  # fmt: skip
    current = json.loads((project / "deployed/staging/current").read_text())
    assert current["md5"] == file_md5(project / "model/clf-model/model.pkl")


def test_its_experiments_are_ranked_and_the_best_proposed(
    project: Path, monkeypatch, capsys
) -> None:
    for name, c in (("tiny-c", 0.0005), ("big-c", 10.0)):
        dvc(project, "exp", "run", "-q", "-S", f"train.C={c}", "-n", name)
    git(project, "checkout", "-q", "--", ".")
    shown = dvc_json(project, "exp", "show")
    theirs = {e["name"] for row in shown for e in row.get("experiments") or []}
    assert mlgate_in(project, monkeypatch, "exp", "--format", "json") in (0, 1)
    ranking = json.loads(capsys.readouterr().out)
    assert {e["name"] for e in ranking["experiments"]} == theirs == {"tiny-c", "big-c"}
    for entry in ranking["experiments"]:  # each verdict is the gate's on that experiment
        expected = 0 if entry["verdict"] == "pass" else 1
        assert mlgate_in(project, monkeypatch, "check", "--head", entry["name"]) == expected
        capsys.readouterr()
        ours = mlgate_in(project, monkeypatch, "diff", "main", entry["name"], "--format", "json")
        assert ours == 0
        diffed = json.loads(capsys.readouterr().out)
        assert diffed["metrics"] == dvc_json(project, "metrics", "diff", "main", entry["name"])
