"""``mlgate init``: workflows, hooks and a starter policy for a DVC project."""

from __future__ import annotations

import click

from mlgate import defaults
from mlgate.commands.output import echo
from mlgate.commands.project import project


@click.command("init")
@click.option(
    "--python",
    "python_version",
    default=defaults.WORKFLOW_PYTHON,
    show_default=True,
    help="The Python version the workflows set up.",
)
@click.option(
    "--install",
    metavar="COMMAND",
    help="The workflows' install step. Default: mlgate, the project's requirements.txt "
    "files, its own package with its extras, DVC's plugins for its remotes.",
)
@click.option(
    "--main",
    "main_branch",
    default=defaults.MAIN_BRANCH,
    show_default=True,
    help="The branch releases are made from.",
)
@click.option(
    "--ci",
    type=click.Choice(["github", "gitlab"]),
    default="github",
    show_default=True,
    help="Write GitHub Actions workflows, or a .gitlab-ci.yml for GitLab CI/CD.",
)
@click.option("--force", is_flag=True, help="Overwrite files that differ from the templates.")
def init_command(
    python_version: str, install: str | None, main_branch: str, ci: str, force: bool
) -> None:
    """Write CI pipelines (GitHub or GitLab), pre-commit hooks and a starter policy; dvc init
    if needed."""
    from mlgate import init

    root = project().root
    settings = init.Settings(
        python_version,
        install or init.install_step(root),
        main_branch,
        init.storage_env(root),
    )
    for written in init.write_files(root, settings, force=force, ci=ci):
        note = f" ({written.note})" if written.note else ""
        echo(f"{written.action:<9} {written.path}{note}")
