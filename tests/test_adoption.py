"""mlgate on a project it did not create: DVC's get-started layout (tests/getstarted.py)."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import mermaid_parser
from getstarted import ARTIFACT, make_get_started
from helpers import dvc, git, mlgate_in, push_to_new_origin
from manual import examples
from mlgate import __version__
from mlgate.deploy import environments
from mlgate.git import WORKSPACE, revision
from mlgate.snapshot import read_policy, read_snapshot
from mlgate.values import diff
from servers import score, serving


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
    printed = capsys.readouterr().out
    assert examples("docs/adopt.md", "mlgate init") == [printed]  # the manual shows it as it is
    out = printed.splitlines()
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
        ("avg_prec.test", "higher"),
        ("avg_prec.train", "higher"),
        ("roc_auc.test", "higher"),
        ("roc_auc.train", "higher"),
    ]
    assert sorted(policy.environments) == ["dev", "prod"]
    install = f'python -m pip install "mlgate=={__version__}" -r src/requirements.txt'
    for workflow in ("pr", "release", "deploy", "retrain"):
        text = (project / f".github/workflows/{workflow}.yml").read_text()
        runs = [
            step.get("run")
            for job in yaml.safe_load(text)["jobs"].values()
            for step in job["steps"]
        ]
        assert install in runs, workflow


DESCRIBE_STAGE = {
    "cmd": "mlgate describe model.pkl --data data/features/test.pkl --target 1 --drop 0",
    "deps": ["model.pkl", "data/features"],
    "outs": [{"model.json": {"cache": False}}, {"model.profile.json": {"cache": False}}],
}  # the README's stanza


def try_git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)


def set_params(project: Path, **changes: str) -> None:
    """Edit params.yaml as a person does: the text, exponent notation kept."""
    text = (project / "params.yaml").read_text()
    for key, value in changes.items():
        text = re.sub(rf"(?m)^(  {key}: ).*$", rf"\g<1>{value}", text)
    (project / "params.yaml").write_text(text)


@pytest.mark.slow
@pytest.mark.long
def test_the_whole_path_on_a_project_mlgate_did_not_create(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push_to_new_origin(project, tmp_path / "origin.git")
    assert mlgate_in(project, monkeypatch, "init") == 0
    assert mlgate_in(project, monkeypatch, "hooks", "install") == 0
    pipeline = yaml.safe_load((project / "dvc.yaml").read_text())
    pipeline["stages"]["describe"] = DESCRIBE_STAGE
    (project / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    dvc(project, "repro", "-q")
    git(project, "add", "-A")
    adopted = try_git(project, "commit", "-q", "-m", "adopt mlgate")
    assert adopted.returncode == 0, adopted.stderr  # the pre-commit hook lets it through
    assert try_git(project, "push", "-q", "origin", "main").returncode == 0
    capsys.readouterr()

    # A regression: the hook stops the commit until `dvc repro`, the gate and the push hook fail it.
    git(project, "checkout", "-q", "-b", "worse")
    set_params(project, n_est="2", min_split="5e-1")
    git(project, "add", "params.yaml")
    blocked = try_git(project, "commit", "-q", "-m", "fewer trees")
    assert blocked.returncode == 1
    assert (
        "train: params.yaml changed: train.min_split (0.01 -> 0.5), train.n_est (30 -> 2)"
        in blocked.stderr
    )
    dvc(project, "repro", "-q")
    git(project, "add", "-A")
    assert try_git(project, "commit", "-q", "-m", "fewer trees").returncode == 0
    old = read_snapshot(revision("main", project))
    new = read_snapshot(revision("HEAD", project))
    for kind in ("metrics", "params"):  # what `dvc metrics diff` / `dvc params diff` say
        expected = json.loads(dvc(project, kind, "diff", "main", "HEAD", "--json").stdout)
        assert diff(getattr(old, kind), getattr(new, kind)) == expected, kind
    assert mlgate_in(project, monkeypatch, "check") == 1
    assert "FAIL: 4 of 4 checks failed" in capsys.readouterr().out
    # the report draws the ROC curve dvclive logged into the DVC-cached eval/, at both sides
    assert mlgate_in(project, monkeypatch, "check", "--format", "md") == 1
    report = capsys.readouterr().out
    [roc] = mermaid_parser.blocks(report)
    assert 'title "ROC"' in roc and "from `eval/plots/sklearn/roc/test.json`" in report
    assert mermaid_parser.errors([roc]) == [None]
    pushed = try_git(project, "push", "origin", "worse")
    assert pushed.returncode != 0 and "push of worse blocked" in pushed.stderr

    # An improvement passes, is pushed and merged; the merge brings its model into the workspace.
    git(project, "checkout", "-q", "main")
    git(project, "checkout", "-q", "-b", "better")
    set_params(project, n_est="100")
    dvc(project, "repro", "-q")
    git(project, "add", "-A")
    assert try_git(project, "commit", "-q", "-m", "more trees").returncode == 0
    assert mlgate_in(project, monkeypatch, "check") == 0
    assert capsys.readouterr().out.startswith("PASS: all 4 checks passed")
    assert try_git(project, "push", "-q", "origin", "better").returncode == 0
    git(project, "checkout", "-q", "main")
    merged = try_git(project, "merge", "-q", "better")
    assert merged.returncode == 0 and "mlgate: dvc checkout:" in merged.stderr
    assert "Data and pipelines are up to date" in dvc(project, "status").stdout

    # Released, promoted, deployed with monitoring, served, monitored.
    assert mlgate_in(project, monkeypatch, "release") == 0
    assert f"Created tag {ARTIFACT}@v2.0.0" in capsys.readouterr().out  # its input is now known
    assert mlgate_in(project, monkeypatch, "promote", f"{ARTIFACT}@v2.0.0", "prod") == 0
    assert (
        mlgate_in(
            project,
            monkeypatch,
            "deploy",
            "--model",
            f"{ARTIFACT}#prod",
            "--env",
            "prod",
            "--monitoring",
            "enable",
        )
        == 0
    )
    deployed = capsys.readouterr().out
    assert "smoke test: 5 rows predicted" in deployed
    # get-started's forest takes NaN itself (no imputer): compiled, its missing-value routing
    # kept, it agrees with the pickle on the parity rows with holes too (issue 36)
    assert "Runtime: onnx (agrees with the pickle on 4,005 rows" in deployed, deployed
    env = environments.environment(project, read_policy(revision(WORKSPACE, project)), "prod")
    card = json.loads((project / "model.json").read_text())
    with serving(env) as address:
        status, body = score(address, {"dataframe_records": card["input_example"]})
        with open(project / "model.pkl", "rb") as fd:
            model = pickle.load(fd)
        rows = [[row[f"x{i}"] for i in range(20)] for row in card["input_example"]]
        assert (status, body["predictions"]) == (200, model.predict(rows).tolist())
        status, body = score(address, {"instances": [{"text": "how do I plot in R?"}]})
        assert status == 400 and "lacks x0" in str(body["error"])
    assert mlgate_in(project, monkeypatch, "monitor", "--env", "prod") == 0
    assert "NOT ENOUGH DATA: 5 rows" in capsys.readouterr().out
    shifted = pd.DataFrame(
        np.random.default_rng(1).poisson(4.0, size=(300, 20)).astype(float),
        columns=[f"x{i}" for i in range(20)],
    )
    shifted.to_csv(tmp_path / "batch.csv", index=False)
    assert (
        mlgate_in(
            project, monkeypatch, "monitor", "--env", "prod", "--file", str(tmp_path / "batch.csv")
        )
        == 1
    )
    assert "DRIFT: 20 of 20 columns drifted" in capsys.readouterr().out
