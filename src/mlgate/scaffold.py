"""What `mlgate init` writes into a DVC repository: GitHub Actions workflows from the templates
in ``mlgate/templates`` (the one source of mlgate's own workflows too), a starter policy that
fits the metrics the repository already has, pre-commit hooks, and ``dvc init`` when needed.

A file that exists and differs from what init would write is kept unless ``force``.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mlgate import __version__, defaults, git, release
from mlgate.config import POLICY_FILES, prediction_metric, read_policy
from mlgate.errors import MlgateError
from mlgate.files import write_text
from mlgate.metrics import read_snapshot

# Where each template goes in a repository.
TEMPLATES = {".github/workflows/pr.yml": "workflows/pr.yml",
             ".github/workflows/release.yml": "workflows/release.yml",
             ".github/workflows/deploy.yml": "workflows/deploy.yml",
             ".github/workflows/retrain.yml": "workflows/retrain.yml",
             ".github/zizmor.yml": "zizmor.yml"}  # fmt: skip
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
# Where a metric's name says which way is better (the rest get no starter rule).
LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "rmse", "mape", "brier")
HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "roc_auc", "auc",
                    "average_precision", "r2", "score")  # fmt: skip
WROTE, SAME, KEPT, OVERWROTE, NOTE = "wrote", "unchanged", "kept", "overwrote", "note"
PROTECT_HINT = ("a pull request can edit its own workflow and policy: make the `Gate` check "
                "(pr.yml) required in branch protection, and give .github/ and pyproject.toml "
                "owners in CODEOWNERS whose review is required")  # fmt: skip
_PRE_COMMIT_HEADER = "# Written by `mlgate init`"


@dataclass(frozen=True)
class Settings:
    """What differs between repositories in the workflows."""

    python: str = defaults.WORKFLOW_PYTHON
    install: str = defaults.WORKFLOW_INSTALL
    main: str = defaults.MAIN_BRANCH


@dataclass(frozen=True)
class Written:
    path: str
    action: str  # WROTE, SAME, KEPT, OVERWROTE, or NOTE (nothing written, something to do)
    note: str = ""


def render(template: str, settings: Settings) -> str:
    """A template with its placeholders filled."""
    text = (resources.files("mlgate") / "templates" / template).read_text()
    for name, value in (("VERSION", __version__), ("PYTHON", settings.python),
                        ("INSTALL", settings.install), ("MAIN", settings.main)):  # fmt: skip
        text = text.replace(f"@@{name}@@", value)
    return text


def workflows(settings: Settings) -> dict[str, str]:
    """Each workflow file's path in the repository and its content."""
    return {path: render(template, settings) for path, template in TEMPLATES.items()}


def init(root: Path, settings: Settings, force: bool = False) -> list[Written]:
    """Write what is missing; report each file. ``dvc init`` runs first when ``.dvc/`` is."""
    written = []
    if not (root / ".dvc").is_dir():
        _dvc_init(root)
        written.append(Written(".dvc/", WROTE))
    for path, content in workflows(settings).items():
        written.append(_write(root / path, path, content, force))
    written.append(_pre_commit(root, force))
    written.append(_starter_policy(root))
    if release.declared_artifact(root) is None:
        need = "releases, retraining and deploys need a model artifact"
        written.append(Written("dvc.yaml", NOTE, f"{need}: {release.NO_ARTIFACT_HINT}"))
    written.append(Written(".github/CODEOWNERS", NOTE, PROTECT_HINT))
    return written


def _write(target: Path, path: str, content: str, force: bool) -> Written:
    if target.exists():
        if target.read_text(errors="replace") == content:
            return Written(path, SAME)
        if not force:
            return Written(path, KEPT, "differs from mlgate's template: --force overwrites")
        write_text(target, content)
        return Written(path, OVERWROTE)
    write_text(target, content)
    return Written(path, WROTE)


def _pre_commit(root: Path, force: bool) -> Written:
    """The pre-commit framework's config: written if absent; one that mlgate did not write
    holds the team's other hooks, so it is never replaced."""
    target = root / PRE_COMMIT_CONFIG
    if target.exists() and not target.read_text(errors="replace").startswith(_PRE_COMMIT_HEADER):
        note = ("yours: add the mlgate hooks from the README" if "mlgate-" not in target.read_text(errors="replace")
                else "yours, with mlgate's hooks")  # fmt: skip
        return Written(PRE_COMMIT_CONFIG, KEPT, note)
    return _write(target, PRE_COMMIT_CONFIG, pre_commit_config(), force)


def pre_commit_config() -> str:
    """mlgate's hooks for the pre-commit framework, run from the environment mlgate is in."""
    hooks = [("mlgate-stale-pipeline", "pre-commit", "pre-commit"),
             ("mlgate-gate", "pre-push", "pre-push"),
             ("mlgate-dvc-checkout", "post-checkout", "post-checkout")]  # fmt: skip
    lines = [f"{_PRE_COMMIT_HEADER} (mlgate {__version__}). Then: pre-commit install "
             "--hook-type pre-commit --hook-type pre-push --hook-type post-checkout",
             "repos:", "  - repo: local", "    hooks:"]  # fmt: skip
    for hook_id, stage, hook in hooks:
        lines += [f"      - id: {hook_id}", f"        name: mlgate {hook}",
                  f"        entry: mlgate hooks run {hook}", "        language: system",
                  "        pass_filenames: false", "        always_run: true",
                  f"        stages: [{stage}]"]  # fmt: skip
    return "\n".join(lines) + "\n"


def starter_policy(metrics: dict[str, dict[str, object]]) -> str:
    """A [tool.mlgate] table with a rule for each metric whose name says which way is better."""
    lines = ["[tool.mlgate]", 'base = "main"', "", "[tool.mlgate.rules]"]
    for path in sorted(metrics):
        for key, value in sorted(metrics[path].items()):
            direction = _direction(key)
            if direction is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            allowed = max(abs(float(value)) * 0.01, 1e-4)
            name = f'"{path}:{key}"' if len(metrics) > 1 else (f'"{key}"' if "." in key else key)
            lines.append(f'{name} = {{ direction = "{direction}", tolerance = {allowed:.2g} }}')
    return "\n".join(lines) + "\n"


def _direction(key: str) -> str | None:
    name = key.rsplit(".", 1)[-1].lower()
    if any(w in name for w in LOWER_IS_BETTER):  # log_loss and logloss among them
        return "lower"
    if prediction_metric(name) or any(name.endswith(w) for w in HIGHER_IS_BETTER):
        return "higher"
    return None


def _starter_policy(root: Path) -> Written:
    """Append a starter [tool.mlgate] table to pyproject.toml unless a policy exists."""
    workspace = git.revision(git.WORKSPACE, root)
    policy = read_policy(workspace)
    if policy.source is not None:
        return Written(f"{policy.source} [tool.mlgate]", KEPT, "a policy exists")
    table = starter_policy(read_snapshot(workspace).metrics)
    pyproject = root / POLICY_FILES[0]
    existing = pyproject.read_text() if pyproject.exists() else ""
    separator = (
        ""
        if not existing or existing.endswith("\n\n")
        else ("\n" if existing.endswith("\n") else "\n\n")
    )
    write_text(pyproject, existing + separator + table)
    return Written(f"{POLICY_FILES[0]} [tool.mlgate]", WROTE)


def _dvc_init(root: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dvc", "init", "--quiet"], cwd=root,
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise MlgateError(f"dvc init failed: {message[-1] if message else 'no message'}")
