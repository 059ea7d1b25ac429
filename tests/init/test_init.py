"""`mlgate init` on real repositories, and the workflows it writes (this repository's own among
them) under GitHub's workflow schema and zizmor's security audits, both offline."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO_ROOT, git, make_plain_project, mlgate_in
from mlgate import __version__, init
from mlgate.defaults import HOOKS
from mlgate.dvcfiles import parse_data_file
from mlgate.errors import ConfigError
from mlgate.git import WORKSPACE, revision
from mlgate.init import PROTECT_HINT
from mlgate.snapshot import read_policy

THIS_REPOSITORY = init.Settings(install="python -m pip install -e .")
TOOLS = Path(sys.executable).parent
ZIZMOR_CONFIG = REPO_ROOT / "src/mlgate/templates/zizmor.yml"


def test_this_repositorys_workflows_are_the_templates_rendered() -> None:
    for path, content in init.workflows(THIS_REPOSITORY).items():
        assert (REPO_ROOT / path).read_text() == content, (
            f'{path}: run `mlgate init --install "python -m pip install -e ." --force`'
        )
    for content in init.workflows(init.Settings()).values():
        assert "@@" not in content


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(TOOLS / "zizmor"),
            "--offline",
            "--persona",
            "pedantic",
            "--config",
            str(ZIZMOR_CONFIG),
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
    )


def schema(kind: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS / "check-jsonschema"), "--builtin-schema", f"vendor.{kind}", *map(str, paths)],
        capture_output=True,
        text=True,
    )


def test_this_repositorys_workflows_and_action_pass_zizmor_and_githubs_schemas() -> None:
    workflows = sorted((REPO_ROOT / ".github/workflows").glob("*.yml"))
    result = zizmor(REPO_ROOT / "action.yml", *workflows)
    assert result.returncode == 0 and "No findings to report" in result.stdout + result.stderr, (
        result.stdout
    )
    assert schema("github-workflows", *workflows).returncode == 0
    assert schema("github-actions", REPO_ROOT / "action.yml").returncode == 0


def test_zizmor_catches_what_the_rules_forbid(tmp_path: Path) -> None:
    """The check above can fail: the same audit on a workflow that breaks the rules."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\non: pull_request_target\npermissions: write-all\njobs:\n  x:\n    name: x\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n      - uses: someone/action@main\n"
    )
    findings = zizmor(bad).stdout
    for audit in (
        "dangerous-triggers",
        "excessive-permissions",
        "template-injection",
        "unpinned-uses",
    ):
        assert audit in findings


@pytest.mark.parametrize("path", sorted(init.TEMPLATES))
def test_every_workflow_follows_the_security_rules(path: str) -> None:
    if not path.startswith(".github/workflows/"):
        return
    workflow = yaml.safe_load(init.workflows(init.Settings())[path])
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request_target" not in triggers
    assert workflow["permissions"] == {} and "concurrency" in workflow
    for job in workflow["jobs"].values():
        assert job["permissions"] and "write-all" not in str(job["permissions"])
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step  # expressions reach scripts via env only
            uses = step.get("uses", "")
            assert not uses or uses.startswith("actions/") or re.search(r"@[0-9a-f]{40}$", uses)


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return make_plain_project(tmp_path / "plain")


def run_init(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    return mlgate_in(root, monkeypatch, "init", *args)


def test_init_writes_workflows_hooks_a_policy_and_runs_dvc_init(
    plain: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_init(plain, monkeypatch) == 0
    assert capsys.readouterr().out.splitlines() == [
        "wrote     .dvc/",
        "wrote     .github/workflows/pr.yml",
        "wrote     .github/workflows/release.yml",
        "wrote     .github/workflows/deploy.yml",
        "wrote     .github/workflows/retrain.yml",
        "wrote     .github/zizmor.yml",
        "wrote     .pre-commit-config.yaml",
        "wrote     pyproject.toml [tool.mlgate] (3 rules, direction from each name: review them)",
        "rule      accuracy (higher is better, tolerance 0.0091)",
        "rule      loss (lower is better, tolerance 0.003)",
        "rule      rows (higher is better, tolerance 1)",
        "note      dvc.yaml (releases, retraining and deploys need a model artifact: declare one "
        "in dvc.yaml, such as `artifacts: {model: {path: model.pkl, type: model}}`, or set "
        "`model` in [tool.mlgate])",
        f"note      .github/CODEOWNERS ({PROTECT_HINT})",
    ]
    assert (plain / ".dvc" / "config").exists()
    policy = read_policy(revision(WORKSPACE, plain))
    assert [(r.key, r.direction, r.tolerance) for r in policy.rules] == [
        ("accuracy", "higher", 0.0091),
        ("loss", "lower", 0.003),
        ("rows", "higher", 1),
    ]
    install = f'python -m pip install "mlgate=={__version__}" -e .'  # the project's own package
    pr = yaml.safe_load((plain / ".github/workflows/pr.yml").read_text())
    assert {"name": "Install", "run": install} in pr["jobs"]["gate"]["steps"]
    assert (
        (plain / "pyproject.toml")
        .read_text()
        .startswith('[project]\nname = "plain"\n\n[tool.mlgate]')
    )
    workflows = sorted((plain / ".github/workflows").glob("*.yml"))
    assert zizmor(*workflows).returncode == 0
    assert schema("github-workflows", *workflows).returncode == 0
    hooks = yaml.safe_load((plain / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    assert [h["entry"] for h in hooks] == [f"mlgate hooks run {h}" for h in HOOKS]
    assert run_init(plain, monkeypatch) == 0  # again: nothing to do
    again = capsys.readouterr().out
    assert "kept      pyproject.toml [tool.mlgate] (a policy exists)" in again.splitlines()
    assert "wrote" not in again and again.count("unchanged") == 6


def test_the_install_step_brings_what_the_project_needs(plain: Path) -> None:
    """Requirements files tracked in git (not a virtual environment's), the project's package
    with all its extras, DVC's plugins for its remotes (http is built in)."""
    (plain / "requirements.txt").write_text("pandas\n")
    (plain / "docs").mkdir()
    (plain / "docs/requirements.txt").write_text("sphinx\n")
    (plain / "venv/lib").mkdir(parents=True)
    (plain / "venv/requirements.txt").write_text("untracked\n")
    (plain / "pyproject.toml").write_text(
        '[project]\nname = "plain"\n'
        "[project.optional-dependencies]\n"
        'train = ["xgboost"]\nplots = ["matplotlib"]\n'
    )
    (plain / ".dvc").mkdir()
    (plain / ".dvc/config").write_text(
        "['remote \"data\"']\n    url = s3://bucket/path\n"
        "['remote \"web\"']\n    url = https://example.org/x\n"
    )
    subprocess.run(
        ["git", "add", "requirements.txt", "docs", "pyproject.toml"], cwd=plain, check=True
    )
    assert init.install_step(plain) == (
        f'python -m pip install "mlgate[s3]=={__version__}" "dvc[s3]" -r docs/requirements.txt '
        '-r requirements.txt -e ".[plots,train]"'
    )
    (plain / "pyproject.toml").write_text("[tool.ruff]\n")  # no package: nothing to install
    assert init.install_step(plain).endswith("-r docs/requirements.txt -r requirements.txt")


@pytest.mark.faults
@pytest.mark.parametrize(
    "folder",
    [
        "x\n      - name: H\n        run: echo INJECTED #",
        "x\r\n  injected: true #",
        'x" && echo INJECTED && "',
        "${{ github.token }}",
        "x: {injected: 1}",
    ],
)
def test_a_folder_name_cannot_write_into_the_workflows(plain: Path, folder: str) -> None:
    """Issue 31: a folder named with a line break and a step, holding requirements.txt, wrote a
    new step into all four workflows. Whatever the name, every workflow parses to the same
    steps as without it, and no run line holds the folder's text."""
    clean = {path: yaml.safe_load(text) for path, text in init.workflows(init.Settings()).items()}
    (plain / folder).mkdir()
    (plain / folder / "requirements.txt").write_text("pandas\n")
    subprocess.run(["git", "add", "--", f"{folder}/requirements.txt"], cwd=plain, check=True)
    settings = init.Settings(install=init.install_step(plain))
    for path, text in init.workflows(settings).items():
        workflow = yaml.safe_load(text)
        assert workflow.keys() == clean[path].keys()
        if "jobs" not in workflow:
            continue
        for name, job in workflow["jobs"].items():
            steps = [step.get("name") for step in job["steps"]]
            assert steps == [step.get("name") for step in clean[path]["jobs"][name]["steps"]]
            for step in job["steps"]:
                assert "INJECTED" not in str(step) and "injected" not in str(step)
                assert "github.token" not in step.get("run", "")


def test_a_workflow_value_is_one_quoted_yaml_scalar() -> None:
    settings = init.Settings(python='3.11"\nx: 1', install="pip install a\n- run: b", main="ma in")
    for text in init.workflows(settings).values():
        document = yaml.safe_load(text)
        assert "x" not in document
    with pytest.raises(ConfigError, match="expression"):
        init.yaml_scalar("${{ github.event.pull_request.title }}")


def test_a_starter_rule_for_every_number_and_none_for_counters() -> None:
    rules = init.starter_rules(
        {
            "eval/metrics.json": {
                "step": 12,
                "val.log_loss": 0.3,
                "test.rmse": 2.0,
                "test.r2": 0.8,
                "note": "text",
                "ok": True,
                'weird key"': 0.5,
            }
        }
    )
    assert [(r.name, r.direction) for r in rules] == [
        ("test.r2", "higher"),
        ("test.rmse", "lower"),
        ("val.log_loss", "lower"),
        ('weird key"', "higher"),
    ]
    table = init.starter_policy(rules)
    assert '"weird key\\"" = { direction = "higher", tolerance = 0.005 }' in table
    assert (
        parse_data_file("pyproject.toml", table.encode(), "")["tool"]["mlgate"]["rules"][
            'weird key"'
        ]["tolerance"]
        == 0.005
    )


def test_init_keeps_an_edited_file_unless_forced_and_never_replaces_a_teams_pre_commit_config(
    plain: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (plain / ".pre-commit-config.yaml").write_text("repos: []  # the team's\n")
    assert run_init(plain, monkeypatch) == 0
    pr = plain / ".github/workflows/pr.yml"
    pr.write_text(pr.read_text() + "# ours\n")
    capsys.readouterr()
    assert run_init(plain, monkeypatch) == 0
    out = capsys.readouterr().out
    assert (
        "kept      .github/workflows/pr.yml (differs from mlgate's template: --force overwrites)"
        in out
    )
    assert (
        "kept      .pre-commit-config.yaml (yours: add the mlgate hooks as docs/hooks.md shows)"
        in out
    )
    assert pr.read_text().endswith("# ours\n")
    assert run_init(plain, monkeypatch, "--force", "--python", "3.12") == 0
    out = capsys.readouterr().out
    assert (
        "overwrote .github/workflows/pr.yml" in out and 'python-version: "3.12"' in pr.read_text()
    )
    assert (plain / ".pre-commit-config.yaml").read_text() == "repos: []  # the team's\n"


def test_a_broken_pyproject_is_refused_before_anything_is_written(
    plain: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (plain / "pyproject.toml").write_text('[project]\nname = "plain\n')
    assert run_init(plain, monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlgate: error: pyproject.toml at workspace is not valid TOML")
    assert not (plain / ".github").exists() and not (plain / ".dvc").exists()
    assert not (plain / ".pre-commit-config.yaml").exists()


def test_init_outside_a_git_repository_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_init(tmp_path, monkeypatch) == 2
    assert "is not inside a git repository" in capsys.readouterr().err
    assert not (tmp_path / ".github").exists()


def test_the_package_ships_the_templates(tmp_path: Path) -> None:
    """A wheel built from this checkout holds every template (package data, not only source)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("mlgate-*.whl")
    shutil.unpack_archive(wheel, tmp_path / "unpacked", "zip")
    for template in init.TEMPLATES.values():
        assert (tmp_path / "unpacked" / "mlgate" / "templates" / template).is_file()


def test_a_project_on_s3_gets_the_s3_extra_and_its_credentials_where_storage_is_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An S3 DVC remote (or an S3 deploy target) puts `mlgate[s3]` in the install step and the
    AWS secrets into the steps that pull, gate (is the data pushed?), deploy and retrain; the
    workflows still pass zizmor and GitHub's schema. Without S3 nothing of it appears."""
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / ".dvc").mkdir()
    (repo / ".dvc" / "config").write_text(
        "[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://bucket/store\n"
    )
    settings = init.Settings(install=init.install_step(repo), storage_env=init.storage_env(repo))
    assert '"mlgate[s3]==' in settings.install and '"dvc[s3]"' in settings.install
    rendered = init.workflows(settings)
    folder = tmp_path / "workflows"
    folder.mkdir()
    for path, content in rendered.items():
        assert "@@" not in content
        if path.startswith(".github/workflows/"):
            (folder / Path(path).name).write_text(content)
    steps = {
        (name, step["name"]): step.get("env", {})
        for name in ("pr.yml", "deploy.yml", "retrain.yml")
        for job in yaml.safe_load((folder / name).read_text())["jobs"].values()
        for step in job["steps"]
        if "name" in step
    }
    secret = "${{ secrets.AWS_SECRET_ACCESS_KEY }}"
    for step in (
        ("pr.yml", "Reproduce the pipeline"),
        ("pr.yml", "Gate"),
        ("deploy.yml", "Deploy"),
        ("retrain.yml", "Look for drift"),
        ("retrain.yml", "Retrain and propose"),
    ):
        assert steps[step]["AWS_SECRET_ACCESS_KEY"] == secret, step
    assert steps[("pr.yml", "Gate")]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert schema("github-workflows", *sorted(folder.glob("*.yml"))).returncode == 0
    result = zizmor(*sorted(folder.glob("*.yml")))
    assert "No findings to report" in result.stdout + result.stderr, result.stdout
    plain = tmp_path / "plain"
    git(tmp_path, "init", "-q", "-b", "main", str(plain))
    assert init.storage_env(plain) == ()
    assert "AWS_" not in "".join(init.workflows(init.Settings()).values())
