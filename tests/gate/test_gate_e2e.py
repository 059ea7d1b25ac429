"""`mlgate check` and `mlgate diff` end to end: real git, real `dvc repro`, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import commit_all, dvc, git, mlgate_in, write_params

pytestmark = pytest.mark.slow

POLICY = """
[tool.mlgate]
base = "main"

[tool.mlgate.rules]
roc_auc = { direction = "higher", min = 0.6, tolerance = 0.02, required = true }
log_loss = { direction = "lower", tolerance_pct = 25.0 }
"""

LAX_POLICY = """
[tool.mlgate.rules]
roc_auc = { min = 0.1 }
log_loss = { max = 1000.0 }
"""


@pytest.fixture(scope="module")
def trained_main(_reproduced_once: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's reproduced project with a policy, committed on main (once for the
    module, cloned per test)."""
    import shutil

    project = tmp_path_factory.mktemp("gate") / "project"
    shutil.copytree(_reproduced_once, project, symlinks=True)
    (project / "pyproject.toml").write_text(POLICY)
    commit_all(project, "trained on main")
    return project


@pytest.fixture
def repo(trained_main: Path, tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(trained_main), str(clone))
    cache = trained_main / ".dvc" / "cache"
    dvc(clone, "config", "--local", "cache.dir", str(cache))
    dvc(clone, "checkout", "-q")
    git(clone, "checkout", "-q", "-b", "change")
    return clone


def test_regressing_branch_fails_naming_the_rule(repo: Path, monkeypatch, capsys) -> None:
    write_params(repo, {"train": {"n_estimators": 1, "min_samples_leaf": 1, "max_features": 1}})
    dvc(repo, "repro")
    commit_all(repo, "one tree")
    assert mlgate_in(repo, monkeypatch, "check") == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL:") and "log_loss" in out
    assert "params.yaml:train.n_estimators" in out


def test_improving_branch_passes(repo: Path, monkeypatch, capsys) -> None:
    write_params(repo, {"train": {"n_estimators": 80}})
    dvc(repo, "repro")
    commit_all(repo, "more trees")
    assert mlgate_in(repo, monkeypatch, "check", "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["verdict"] == "pass"
    assert document["params"]["params.yaml"]["train.n_estimators"] == {
        "old": 25,
        "new": 80,
        "diff": 55,
    }


def test_corrupted_metrics_exits_2_naming_file_and_revision(
    repo: Path, monkeypatch, capsys
) -> None:
    (repo / "metrics.json").write_text('{"roc_auc": 0.9,')
    commit_all(repo, "broken metrics")
    assert mlgate_in(repo, monkeypatch, "check", "--head", "HEAD") == 2
    err = capsys.readouterr().err
    assert "metrics.json at HEAD (" in err and "is not valid JSON" in err
    assert "Traceback" not in err


def test_lowering_the_threshold_in_the_change_does_not_relax_the_gate(
    repo: Path, monkeypatch, capsys
) -> None:
    write_params(repo, {"train": {"n_estimators": 1, "min_samples_leaf": 1, "max_features": 1}})
    dvc(repo, "repro")
    (repo / "pyproject.toml").write_text(LAX_POLICY)
    commit_all(repo, "one tree, and a laxer policy")
    assert mlgate_in(repo, monkeypatch, "check") == 1
    out = capsys.readouterr().out
    assert "Policy changed" in out
    assert mlgate_in(repo, monkeypatch, "check", "--policy-from", "head") == 0
    assert "--policy-from head" in capsys.readouterr().out


def test_unknown_base_exits_2(repo: Path, monkeypatch, capsys) -> None:
    assert mlgate_in(repo, monkeypatch, "check", "--base", "no-such-branch") == 2
    assert "no-such-branch" in capsys.readouterr().err


def test_diff_json_matches_dvc_exp_diff_shape(repo: Path, monkeypatch, capsys) -> None:
    write_params(repo, {"train": {"n_estimators": 5}})
    dvc(repo, "repro")
    assert mlgate_in(repo, monkeypatch, "diff", "main", "--format", "json") == 0
    ours = json.loads(capsys.readouterr().out)
    expected = json.loads(dvc(repo, "metrics", "diff", "main", "--json").stdout)
    assert ours["metrics"] == expected
    assert set(ours) == {"metrics", "params"}


def test_github_actions_shallow_clone_fetches_base_and_reports(
    repo: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from fake_github import fake_github

    write_params(repo, {"train": {"n_estimators": 1, "min_samples_leaf": 1, "max_features": 1}})
    dvc(repo, "repro")
    commit_all(repo, "one tree")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    shallow = tmp_path / "checkout"
    git(
        tmp_path, "clone", "-q", "--depth=1", "--branch", "change", f"file://{origin}", str(shallow)
    )
    assert "main" not in git(shallow, "branch", "-a")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 3}}))
    with fake_github() as server:
        for name, value in {
            "GITHUB_ACTIONS": "true",
            "GITHUB_BASE_REF": "main",
            "GITHUB_API_URL": server.url,
            "GITHUB_REPOSITORY": "acme/fraud",
            "GITHUB_TOKEN": "t0ken",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_OUTPUT": str(tmp_path / "output"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        }.items():
            monkeypatch.setenv(name, value)
        for _ in range(2):
            report = str(tmp_path / "r.md")
            assert mlgate_in(shallow, monkeypatch, "check", "--comment", "--report", report) == 1
        comments = server.comments[3]
    printed = capsys.readouterr()
    assert "::error title=mlgate%3A log_loss::log_loss: regression" in printed.err
    assert "compared with its tip" in printed.out
    assert len(comments) == 1 and comments[0]["body"].startswith("<!-- mlgate-report -->")
    assert "FAIL" in (tmp_path / "summary").read_text()
    outputs = (tmp_path / "output").read_text()
    assert "\nfail\n" in outputs and "log_loss" in outputs
    assert (tmp_path / "r.md").read_text() == comments[0]["body"]


def test_check_imports_neither_dvc_pandas_nor_sklearn(repo: Path) -> None:
    import subprocess
    import sys

    # Nor what other commands need (the server, deploys, thread pools, numpy.ma): start-up is
    # most of the gate's time (issue 17.12).
    unwanted = (
        "dvc",
        "pandas",
        "sklearn",
        "mlgate.serve",
        "mlgate.deploy",
        "mlgate.monitor",
        "asyncio",
        "concurrent.futures",
        "numpy.ma",
        "mlgate.hooks",
    )
    code = (
        "import sys; from mlgate.commands.main import main; code = main(['check']); "
        f"print(code, sorted(m for m in {unwanted!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert result.stdout.strip().endswith("0 []"), result.stdout + result.stderr


def test_numpy_is_preloaded_only_when_the_policy_asks_for_significance(tmp_path: Path) -> None:
    """The statistics' import (NumPy, 0.1 s) starts on a thread while git is read when the
    policy file asks for significance; a policy without it never loads NumPy."""
    import subprocess
    import sys

    code = (
        "import sys, threading; from pathlib import Path; "
        "from mlgate.gate.compare import _preload_statistics; "
        "_preload_statistics(Path('.')); "
        "[t.join() for t in threading.enumerate() if t.name == 'preload']; "
        "print('numpy' in sys.modules, 'mlgate.gate.stats' in sys.modules)"
    )
    for policy, loaded in (
        ('[tool.mlgate.rules]\nauc = { direction = "higher" }\n', "False False"),
        ('[tool.mlgate.rules]\nauc = { direction = "higher", significance = 0.05 }\n', "True True"),
    ):
        (tmp_path / "pyproject.toml").write_text(policy)
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.stdout.strip() == loaded, result.stderr
