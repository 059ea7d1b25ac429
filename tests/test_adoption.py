"""mlgate on a project it did not create: DVC's get-started layout (tests/getstarted.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from getstarted import make_get_started
from helpers import mlgate_in
from mlgate import __version__
from mlgate.config import read_policy
from mlgate.git import WORKSPACE, revision


@pytest.fixture(scope="module")
def get_started_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_get_started(tmp_path_factory.mktemp("once") / "example-get-started")


@pytest.fixture
def project(get_started_once: Path, tmp_path: Path) -> Path:
    """A copy of the project for one test (its DVC cache included)."""
    copy = tmp_path / "example-get-started"
    shutil.copytree(get_started_once, copy, symlinks=True)
    return copy


def test_init_fits_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rule per dvclive metric (dotted names kept), the project's requirements installed by
    the workflows, its GTO stages as environments, and a word on its CML workflow."""
    assert mlgate_in(project, monkeypatch, "init") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[6:12] == [
        "wrote     pyproject.toml [tool.mlgate] (4 rules, direction from each name: review them)",
        "rule      avg_prec.test (higher is better, tolerance 0.0092)",
        "rule      avg_prec.train (higher is better, tolerance 0.01)",
        "rule      roc_auc.test (higher is better, tolerance 0.0089)",
        "rule      roc_auc.train (higher is better, tolerance 0.01)",
        "note      [tool.mlgate.environments] (dev, prod from the project's GTO tags; "
        'promotion_order = ["dev", "prod"] would require that order)',
    ]
    assert out[12].startswith("note      .github/workflows/cml.yaml (also runs on pull requests")
    policy = read_policy(revision(WORKSPACE, project))
    assert [(r.key, r.direction) for r in policy.rules] == [
        ("avg_prec.test", "higher"), ("avg_prec.train", "higher"),
        ("roc_auc.test", "higher"), ("roc_auc.train", "higher")]  # fmt: skip
    assert sorted(policy.environments) == ["dev", "prod"]
    install = f'python -m pip install "mlgate=={__version__}" -r src/requirements.txt'
    for workflow in ("pr", "release", "deploy", "retrain"):
        assert f"run: {install}\n" in (project / f".github/workflows/{workflow}.yml").read_text()
