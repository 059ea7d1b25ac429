"""mlgate's hooks through the pre-commit framework: the real `pre-commit` tool installs this
checkout of mlgate from `.pre-commit-hooks.yaml` into its own environment, and real git runs it.

The test extra installs pre-commit-uv, so pre-commit builds that environment with uv (as its
users who install the plugin have it): the same package and dependencies, in about 35 s
instead of the 2-3 minutes pip takes to resolve and install them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO_ROOT, commit_all, dvc, git, make_score_project
from mlgate.defaults import HOOKS

pytestmark = pytest.mark.slow

# Read before the tests isolate HOME: pre-commit's pip installs mlgate's dependencies with the
# machine's own pip configuration and cache, as it would on a developer's workstation.
_HOME = Path.home()
PIP_ENV = {
    "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(_HOME / ".cache" / "pip")),
    **(
        {"PIP_CONFIG_FILE": str(_HOME / ".config" / "pip" / "pip.conf")}
        if (_HOME / ".config" / "pip" / "pip.conf").exists()
        else {}
    ),
}
HOOK_IDS = (
    "mlgate-stale-pipeline",
    "mlgate-gate",
    "mlgate-dvc-checkout",
    "mlgate-dvc-checkout-after-merge",
    "mlgate-dvc-checkout-after-rebase",
)


def mlgate_source(path: Path) -> str:
    """This checkout of mlgate (its working tree, committed changes or not) as a git repository
    pre-commit can clone at a revision."""
    path.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(REPO_ROOT / name, path / name)
    shutil.copytree(
        REPO_ROOT / "src", path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    git(path, "init", "-q")
    return commit_all(path, "mlgate")


def test_the_manifest_names_every_hook_at_its_stage() -> None:
    manifest = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    stages = {hook["id"]: hook["stages"] for hook in manifest}
    assert stages == dict(zip(HOOK_IDS, ([hook] for hook in HOOKS), strict=True))


@pytest.mark.long
def test_the_pre_commit_framework_runs_every_hook(tmp_path: Path) -> None:
    rev = mlgate_source(tmp_path / "mlgate")
    repo = make_score_project(tmp_path / "repo")
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "origin", "main")
    config = {
        "repos": [
            {"repo": str(tmp_path / "mlgate"), "rev": rev, "hooks": [{"id": i} for i in HOOK_IDS]}
        ]
    }
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    commit_all(repo, "use mlgate's hooks")
    env = {**os.environ, **PIP_ENV, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        return result  # .stdout: both streams, as a terminal would show them

    hook_types = [arg for kind in HOOKS for arg in ("-t", kind)]
    installed = run(sys.executable, "-m", "pre_commit", "install", *hook_types)
    assert installed.returncode == 0, installed.stdout
    environment = run(sys.executable, "-m", "pre_commit", "install-hooks")
    assert environment.returncode == 0, environment.stdout

    # pre-commit: a params change without `dvc repro` is blocked, then goes in after it
    (repo / "params.yaml").write_text(yaml.safe_dump({"score": {"quality": 0.5}}))
    git(repo, "add", "-A")
    blocked = run("git", "commit", "-m", "worse")
    assert blocked.returncode == 1
    assert "score: params.yaml changed: score.quality (0.9 -> 0.5)" in blocked.stdout
    git(repo, "checkout", "-q", "-b", "worse")
    dvc(repo, "repro", "-q")
    git(repo, "add", "-A")
    committed = run("git", "commit", "-m", "worse")
    assert committed.returncode == 0, committed.stdout

    # pre-push: the regression is stopped with the gate's table
    pushed = run("git", "push", "origin", "worse")
    assert pushed.returncode != 0
    assert "push of worse blocked" in pushed.stdout and "accuracy" in pushed.stdout

    # post-checkout: switching back to main brings main's model back
    (repo / "data" / "extra.csv").write_text("x,y\n5,5\n")
    dvc(repo, "add", "-q", "data")
    dvc(repo, "repro", "-q")
    git(repo, "add", "-A")
    assert run("git", "commit", "-m", "more data").returncode == 0
    switched = run("git", "checkout", "main")
    assert switched.returncode == 0, switched.stdout
    assert not (repo / "data" / "extra.csv").exists()
    assert (repo / "model.txt").read_text() == "quality 0.9 on 3 rows\n"

    # post-merge: merging the branch brings its data and model
    merged = run("git", "merge", "-q", "worse")
    assert merged.returncode == 0, merged.stdout
    assert (repo / "data" / "extra.csv").exists()
    assert (repo / "model.txt").read_text() == "quality 0.5 on 5 rows\n"
