"""What `mlgate init` writes into a DVC repository: GitHub Actions workflows from the templates
in ``mlgate/templates`` (the one source of mlgate's own workflows too), a starter policy that
fits the metrics the repository already has, pre-commit hooks, and ``dvc init`` when needed.

A file that exists and differs from what init would write is kept unless ``force``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from mlgate import __version__, defaults, dvc, git
from mlgate.dvcfiles import parse_data_file
from mlgate.errors import ConfigError, MlgateError
from mlgate.files import write_text
from mlgate.measures import better
from mlgate.names import NAME_RE
from mlgate.policy import POLICY_FILES
from mlgate.registry import release, tags
from mlgate.snapshot import read_policy, read_snapshot

# Where each template goes in a repository.
TEMPLATES = {
    ".github/workflows/pr.yml": "workflows/pr.yml",
    ".github/workflows/release.yml": "workflows/release.yml",
    ".github/workflows/deploy.yml": "workflows/deploy.yml",
    ".github/workflows/retrain.yml": "workflows/retrain.yml",
    ".github/zizmor.yml": "zizmor.yml",
}
GITLAB_TEMPLATES = {".gitlab-ci.yml": "gitlab-ci.yml"}
CI_CHOICES = ("github", "gitlab")
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
WROTE, SAME, KEPT, OVERWROTE, NOTE, RULE = "wrote", "unchanged", "kept", "overwrote", "note", "rule"
PROTECT_HINT = (
    "a pull request can edit its own workflow and policy: make the `Gate` check "
    "(pr.yml) required in branch protection, and give .github/ and pyproject.toml "
    "owners in CODEOWNERS whose review is required"
)
GITLAB_PROTECT_HINT = (
    "a merge request can edit its own pipeline and policy: protect the main branch, turn on "
    '"Pipelines must succeed", and give .gitlab-ci.yml and pyproject.toml code owners whose '
    "approval is required"
)
_PRE_COMMIT_HEADER = "# Written by `mlgate init`"


@dataclass(frozen=True)
class Settings:
    """What differs between repositories in the workflows."""

    python: str = defaults.WORKFLOW_PYTHON
    install: str = defaults.WORKFLOW_INSTALL  # `mlgate init` puts install_step(root) here
    main: str = defaults.MAIN_BRANCH
    # the environment of the steps that reach object storage: storage_env(root)
    storage_env: tuple[tuple[str, str], ...] = ()
    # the environments a GitLab pipeline deploys to, a job each (GitHub's reads the tag)
    environments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Written:
    path: str
    action: str  # WROTE, SAME, KEPT, OVERWROTE, RULE (one starter rule) or NOTE (to do)
    note: str = ""


def render(template: str, settings: Settings) -> str:
    """A template with its placeholders filled, each value a YAML double-quoted scalar made by
    YAML's own emitter (never text pasted into YAML: a value with a line break or a quote stays
    one value). A line ``@@STORAGE_ENV@@`` (in a step's env block) becomes the storage
    variables at its indentation, ``@@STORAGE_ENV_BLOCK@@`` an ``env:`` block of them; both
    vanish when the project reaches no object storage."""
    text = (resources.files("mlgate") / "templates" / template).read_text()
    text = text.replace("@@VERSION@@", __version__)  # in a comment; mlgate's own constant
    for name, value in (
        ("PYTHON", settings.python),
        ("INSTALL", settings.install),
        ("MAIN", settings.main),
        ("IMAGE", f"python:{settings.python}"),
    ):
        text = text.replace(f"@@{name}@@", yaml_scalar(value))
    lines = []
    for line in text.splitlines(keepends=True):
        indent = line[: len(line) - len(line.lstrip())]
        marker = line.strip()
        if marker == "@@DEPLOY_JOBS@@":
            lines.append(deploy_jobs(settings.environments))
        elif marker == "@@STORAGE_ENV@@":
            lines += [
                f"{indent}{key}: {yaml_scalar(value)}\n" for key, value in settings.storage_env
            ]
        elif marker == "@@STORAGE_ENV_BLOCK@@":
            if settings.storage_env:
                lines.append(f"{indent}env:\n")
                lines += [
                    f"{indent}  {key}: {yaml_scalar(value)}\n"
                    for key, value in settings.storage_env
                ]
        else:
            lines.append(line)
    return "".join(lines)


def yaml_scalar(value: str) -> str:
    """``value`` as one YAML double-quoted scalar, by PyYAML's emitter. GitHub evaluates
    ``${{ }}`` inside any scalar, so a value holding one that is not mlgate's own is refused."""
    if "${{" in value and not _OWN_EXPRESSION.fullmatch(value):
        raise ConfigError(
            f"cannot write {value[:60]!r} into a workflow: it holds a '${{{{' expression"
        )
    return yaml.safe_dump(value, default_style='"', width=1 << 30).rstrip("\n")


_OWN_EXPRESSION = re.compile(r"\$\{\{ secrets\.[A-Z_]+ \}\}")


def workflows(settings: Settings, ci: str = "github") -> dict[str, str]:
    """Each workflow file's path in the repository and its content, for GitHub Actions or
    GitLab CI/CD (``ci``)."""
    templates = GITLAB_TEMPLATES if ci == "gitlab" else TEMPLATES
    return {path: render(template, settings) for path, template in templates.items()}


def deploy_jobs(environments: Sequence[str]) -> str:
    """GitLab jobs deploying a promotion to each environment: one job per environment, run by
    the tags that promote to it, so GitLab's protected environments decide who may deploy."""
    if not environments:
        return (
            "# No environments in [tool.mlgate.environments] yet: once they are declared,\n"
            "# `mlgate init --ci gitlab --force` adds a deploy job for each.\n\n"
        )
    jobs = []
    for name in environments:
        if not NAME_RE.match(name):
            raise ConfigError(f"cannot write a deploy job for the environment {name[:60]!r}")
        pattern = re.escape(name).replace("/", "\\/")
        jobs.append(
            f"{yaml_scalar(f'deploy-{name}')}:\n"
            "  extends: .deploy\n"
            "  rules:\n"
            f"    - if: '$CI_COMMIT_TAG =~ /^[^#]+#{pattern}#[0-9]+$/'\n"
            "  environment:\n"
            f"    name: {yaml_scalar(name)}\n"
            "  variables:\n"
            f"    MLGATE_ENV: {yaml_scalar(name)}\n"
        )
    return "\n".join(jobs) + "\n"


def write_files(
    root: Path, settings: Settings, *, force: bool = False, ci: str = "github"
) -> list[Written]:
    """Write what is missing; report each file. ``dvc init`` runs first when ``.dvc/`` is."""
    # Everything that reads the project (and may refuse it: a broken pyproject.toml, several
    # artifacts) comes before anything is written.
    policy_table, said_of_policy = _starter_policy(root)
    has_artifact = release.declared_artifact(root) is not None
    if ci == "gitlab":  # a deploy job for each environment the policy declares, or will
        declared = (
            list(read_policy(git.revision(git.WORKSPACE, root)).environments)
            if policy_table is None
            else gto_environments(root)
        )
        settings = dataclasses.replace(settings, environments=tuple(declared))
    files = workflows(settings, ci)
    written = []
    if not (root / ".dvc").is_dir():
        dvc.init(root)
        written.append(Written(".dvc/", WROTE))
    for path, content in files.items():
        written.append(_write(root / path, path, content, force=force))
    written.append(_pre_commit(root, force=force))
    if policy_table is not None:
        _append_policy(root, policy_table)
    written += said_of_policy
    if not has_artifact:
        need = "releases, retraining and deploys need a model artifact"
        written.append(Written("dvc.yaml", NOTE, f"{need}: {release.NO_ARTIFACT_HINT}"))
    if ci == "gitlab":
        return [*written, Written("CODEOWNERS", NOTE, GITLAB_PROTECT_HINT)]
    for path in pull_request_workflows(root):
        written.append(
            Written(
                path,
                NOTE,
                "also runs on pull requests: mlgate's gate reports "
                "beside it; drop what the two duplicate (a second `dvc repro`, a second comment)",
            )
        )
    written.append(Written(".github/CODEOWNERS", NOTE, PROTECT_HINT))
    return written


def _write(target: Path, path: str, content: str, *, force: bool) -> Written:
    if target.exists():
        if target.read_text(errors="replace") == content:
            return Written(path, SAME)
        if not force:
            return Written(path, KEPT, "differs from mlgate's template: --force overwrites")
        write_text(target, content)
        return Written(path, OVERWROTE)
    write_text(target, content)
    return Written(path, WROTE)


def _pre_commit(root: Path, *, force: bool) -> Written:
    """The pre-commit framework's config: written if absent; one that mlgate did not write
    holds the team's other hooks, so it is never replaced."""
    target = root / PRE_COMMIT_CONFIG
    if target.exists() and not target.read_text(errors="replace").startswith(_PRE_COMMIT_HEADER):
        note = (
            "yours: add the mlgate hooks as docs/hooks.md shows"
            if "mlgate-" not in target.read_text(errors="replace")
            else "yours, with mlgate's hooks"
        )
        return Written(PRE_COMMIT_CONFIG, KEPT, note)
    return _write(target, PRE_COMMIT_CONFIG, pre_commit_config(), force=force)


def pre_commit_config() -> str:
    """mlgate's hooks for the pre-commit framework, run from the environment mlgate is in."""
    hooks = [
        ("mlgate-stale-pipeline", "pre-commit", "pre-commit"),
        ("mlgate-gate", "pre-push", "pre-push"),
        ("mlgate-dvc-checkout", "post-checkout", "post-checkout"),
        ("mlgate-dvc-checkout-after-merge", "post-merge", "post-merge"),
        ("mlgate-dvc-checkout-after-rebase", "post-rewrite", "post-rewrite"),
    ]
    lines = [
        f"{_PRE_COMMIT_HEADER} (mlgate {__version__}). Then: pre-commit install "
        + " ".join(f"--hook-type {hook}" for hook in defaults.HOOKS),
        "repos:",
        "  - repo: local",
        "    hooks:",
    ]
    for hook_id, stage, hook in hooks:
        lines += [
            f"      - id: {hook_id}",
            f"        name: mlgate {hook}",
            f"        entry: mlgate hooks run {hook}",
            "        language: system",
            "        pass_filenames: false",
            "        always_run: true",
            f"        stages: [{stage}]",
        ]
    return "\n".join(lines) + "\n"


# dvclive's and trainers' bookkeeping counters: numbers, but not a model's quality.
BOOKKEEPING = ("step", "epoch", "epochs", "iteration", "timestamp")
# Environment names GTO projects use, in the order a version usually travels.
ENVIRONMENT_LADDER = (
    "dev",
    "development",
    "test",
    "qa",
    "stage",
    "staging",
    "preprod",
    "prod",
    "production",
)
REQUIREMENTS = ("requirements.txt", "*/requirements.txt")  # the project's own, tracked in git
_PLAIN_PATH = re.compile(r"[\w.+-]+(/[\w.+ -]+)*")  # letters, digits, ._+- and spaces in folders
# DVC's extras by remote URL scheme: CI needs the plugin to pull (http(s) is built in).
DVC_REMOTES = {
    "s3": "s3",
    "gs": "gs",
    "gcs": "gs",
    "azure": "azure",
    "ssh": "ssh",
    "hdfs": "hdfs",
    "webhdfs": "webhdfs",
    "oss": "oss",
    "gdrive": "gdrive",
    "webdav": "webdav",
    "webdavs": "webdav",
}


@dataclass(frozen=True)
class Rule:
    """A starter rule and why init chose it."""

    name: str  # as the policy names it: "roc_auc.test", or "eval/a.json:loss" with several files
    direction: str
    tolerance: float


def starter_rules(metrics: dict[str, dict[str, object]]) -> list[Rule]:
    """A rule for every numeric metric; direction from its name (loss, error, rmse... lower)."""
    rules = []
    for path in sorted(metrics):
        for key, value in sorted(metrics[path].items()):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if key.rsplit(".", 1)[-1].lower() in BOOKKEEPING:
                continue
            allowed = float(f"{max(abs(float(value)) * 0.01, 1e-4):.2g}")
            name = f"{path}:{key}" if len(metrics) > 1 else key
            rules.append(Rule(name, direction(key), allowed))
    return rules


def starter_policy(rules: Sequence[Rule], environments: Sequence[str] = ()) -> str:
    """A [tool.mlgate] table holding ``rules`` and the ``environments``, as TOML."""
    lines = ["[tool.mlgate]", 'base = "main"', "", "[tool.mlgate.rules]"]
    for rule in rules:
        lines.append(
            f'{_toml_key(rule.name)} = {{ direction = "{rule.direction}", '
            f"tolerance = {rule.tolerance:g} }}"
        )
    for name in environments:
        lines += ["", f"[tool.mlgate.environments.{_toml_key(name)}]"]
    return "\n".join(lines) + "\n"


def _toml_key(name: str) -> str:
    """A bare key when TOML allows one, else a quoted one (JSON's escapes are TOML's)."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def direction(key: str) -> str:
    """Lower is better for a log loss or any loss or error; else higher (``measures.better``)."""
    return better(key)


def _starter_policy(root: Path) -> tuple[str | None, list[Written]]:
    """The starter [tool.mlgate] table for pyproject.toml (None when a policy exists) and what
    init says of it; reads only."""
    workspace = git.revision(git.WORKSPACE, root)
    policy = read_policy(workspace)
    if policy.source is not None:
        return None, [Written(f"{policy.source} [tool.mlgate]", KEPT, "a policy exists")]
    rules = starter_rules(read_snapshot(workspace).metrics)
    environments = gto_environments(root)
    where = f"{POLICY_FILES[0]} [tool.mlgate]"
    if rules:
        summary = f"{len(rules)} rule{'s' if len(rules) != 1 else ''}, direction from each name: review them"
    else:
        summary = "no numeric metrics in the workspace yet: add rules once `dvc repro` writes them"
    written = [Written(where, WROTE, summary)]
    written += [
        Written(rule.name, RULE, f"{rule.direction} is better, tolerance {rule.tolerance:g}")
        for rule in rules
    ]
    if environments:
        written.append(
            Written(
                "[tool.mlgate.environments]",
                NOTE,
                f"{', '.join(environments)} from the project's GTO tags; "
                f"promotion_order = {json.dumps(environments)} would require that order",
            )
        )
    return starter_policy(rules, environments), written


def _append_policy(root: Path, table: str) -> None:
    pyproject = root / POLICY_FILES[0]
    existing = pyproject.read_text() if pyproject.exists() else ""
    separator = (
        ""
        if not existing or existing.endswith("\n\n")
        else ("\n" if existing.endswith("\n") else "\n\n")
    )
    write_text(pyproject, existing + separator + table)


def gto_environments(root: Path) -> list[str]:
    """The stages the repository's GTO tags assign, in the order a version usually travels."""
    stages = tags.read_registry(root).stage_names()
    known = [name for name in ENVIRONMENT_LADDER if name in stages]
    return known + [name for name in stages if name not in known]


def install_step(root: Path) -> str:
    """The workflows' install command: mlgate, the project's own requirements files and
    package (with its extras), and DVC's plugin for each remote the project pushes to."""
    parts = [f'"mlgate[s3]=={__version__}"' if uses_s3(root) else f'"mlgate=={__version__}"']
    plugins = sorted(
        {DVC_REMOTES[scheme] for scheme in _remote_schemes(root) if scheme in DVC_REMOTES}
    )
    if plugins:
        parts.append(f'"dvc[{",".join(plugins)}]"')
    for path in git.tracked_files(root, REQUIREMENTS, glob=True):
        # a folder's name is a pull request's to choose: only plain paths become arguments
        if not path.startswith(".") and _PLAIN_PATH.fullmatch(path):
            parts.append(f"-r {shlex.quote(path)}")
    project = _pyproject_project(root)
    if project is not None:
        optional = project.get("optional-dependencies")
        extras = (
            [name for name in sorted(optional) if re.fullmatch(r"[A-Za-z0-9._-]+", name)]
            if isinstance(optional, dict)
            else []
        )
        parts.append("-e " + (f'".[{",".join(extras)}]"' if extras else "."))
    elif (root / "setup.py").is_file() or (root / "setup.cfg").is_file():
        parts.append("-e .")
    return "python -m pip install " + " ".join(parts)


# The steps that reach an S3 remote or target get the standard AWS variables from the
# repository's secrets (an unset secret is an empty value, which botocore and DVC ignore).
S3_ENV = (
    ("AWS_ACCESS_KEY_ID", "${{ secrets.AWS_ACCESS_KEY_ID }}"),
    ("AWS_SECRET_ACCESS_KEY", "${{ secrets.AWS_SECRET_ACCESS_KEY }}"),
)


def uses_s3(root: Path) -> bool:
    """Whether the project's DVC remote or a deploy target is on S3."""
    if "s3" in _remote_schemes(root):
        return True
    policy = read_policy(git.revision(git.WORKSPACE, root))
    return any(
        (options.target or "").lower().startswith("s3://")
        for options in policy.environments.values()
    )


def storage_env(root: Path) -> tuple[tuple[str, str], ...]:
    return S3_ENV if uses_s3(root) else ()


def _remote_schemes(root: Path) -> set[str]:
    schemes: set[str] = set()
    for name in ("config", "config.local"):
        path = root / ".dvc" / name
        text = path.read_text(errors="replace") if path.is_file() else ""
        schemes.update(
            m.lower() for m in re.findall(r"(?m)^\s*url\s*=\s*([A-Za-z][A-Za-z0-9+.-]*)://", text)
        )
    return schemes


def _pyproject_project(root: Path) -> dict[str, object] | None:
    path = root / POLICY_FILES[0]
    try:
        data = parse_data_file(path.name, path.read_bytes(), path.name) if path.is_file() else None
    except MlgateError:
        return None  # the policy check says what is wrong with it
    table = data.get("project") if isinstance(data, dict) else None
    return table if isinstance(table, dict) else None


def pull_request_workflows(root: Path) -> list[str]:
    """Workflows other than mlgate's that already run on pull requests."""
    found = []
    folder = root / ".github" / "workflows"
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        relative = path.relative_to(root).as_posix()
        if relative in TEMPLATES:
            continue
        try:
            workflow = yaml.safe_load(path.read_text(errors="replace"))
        except yaml.YAMLError:
            continue
        # PyYAML reads the bare key `on` as True (YAML 1.1): look under both.
        triggers = workflow.get("on", workflow.get(True)) if isinstance(workflow, dict) else None
        names = [triggers] if isinstance(triggers, str) else list(triggers or [])
        if any(name in ("pull_request", "pull_request_target") for name in names):
            found.append(relative)
    return found
