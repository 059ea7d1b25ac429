"""The registry's commands: ``release``, ``promote`` (``assign``), ``deprecate``, ``releases``,
``history`` and ``check-ref``. None imports DVC, pandas or scikit-learn."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mlgate import defaults, forges, git
from mlgate.commands.output import echo, progress, pushed, quiet_option, remote_option, say_taken
from mlgate.commands.project import project
from mlgate.render.registry import history_text, releases_text, versions_text
from mlgate.render.table import to_json

if TYPE_CHECKING:
    from mlgate.registry.lifecycle import Published
    from mlgate.registry.tags import Registry


@click.command("release")
@click.argument("name", required=False)
@click.option(
    "--bump",
    type=click.Choice(defaults.BUMPS),
    default="auto",
    show_default=True,
    help="Which part to raise; auto: major if the input signature changed, "
    "minor if a gated metric improved, else patch.",
)
@click.option("--version", "version", help="Release exactly this version (vX.Y.Z).")
@click.option("--message", "-m", help="A note for the annotation, above the release record.")
@click.option("--force", is_flag=True, help="Release despite a failing gate (recorded in the tag).")
@click.option(
    "--push",
    is_flag=True,
    help="Push the tag to the remote; retry if another job took the version.",
)
@remote_option()
@click.option(
    "--if-changed",
    is_flag=True,
    help="Release only if the model file differs from the latest release's (CI on main).",
)
@quiet_option()
def release_command(
    name: str | None,
    bump: str,
    version: str | None,
    message: str | None,
    force: bool,
    push: bool,
    remote: str,
    if_changed: bool,
    quiet: bool,
) -> None:
    """Tag HEAD as a new version NAME@vX.Y.Z, with a release record in the annotation.

    NAME defaults to the model artifact declared in dvc.yaml.
    """
    from mlgate.artifacts import release_record
    from mlgate.registry import lifecycle, release

    root = project().root
    artifact = name or release.declared_artifact(root)
    if artifact is None and if_changed:
        echo(f"Nothing to release: no model artifact ({release.NO_ARTIFACT_HINT}).")
        return
    artifact = artifact or release.default_artifact(root)  # raises, saying what to declare
    same_as = release.unchanged_since(root, artifact) if if_changed else None
    if same_as:
        echo(f"Nothing to release: the model is the one released as {same_as}.")
        return
    with progress("mlgate release", quiet=quiet) as shown:
        outcome = release.release(
            root,
            artifact,
            bump,
            version,
            force=force,
            message=message,
            push=push,
            remote=remote,
            progress=shown,
        )
    made = outcome.release
    say_taken(outcome.taken)
    echo(f"Created tag {made.tag} on {made.commit[:8]} ({made.reason}){pushed(push, remote)}.")
    echo(made.message.split(release_record.BEGIN)[0].rstrip())
    promoted = lifecycle.auto_promote(root, made.tag, made.commit, push=push, remote=remote)
    if promoted is not None:
        say_promoted(made.tag, *promoted, push=push, remote=remote)


def say_promoted(
    ref: str, environment: str, done: Published | None, *, push: bool, remote: str
) -> None:
    if done is None:
        echo(f"{ref} is already the version in {environment}: nothing to do.")
        return
    say_taken(done.taken)
    echo(f"Created tag {done.planned.tag}{pushed(push, remote)}: {ref} is in {environment}.")


@click.command("promote")
@click.argument("release")
@click.argument("environment")
@click.option("--push", is_flag=True, help="Push the tag; retry if another job took the counter.")
@remote_option()
def promote_command(release: str, environment: str, push: bool, remote: str) -> None:
    """Assign RELEASE (NAME@vX.Y.Z) to ENVIRONMENT with the tag NAME#ENVIRONMENT#N."""
    from mlgate.registry import lifecycle

    here = project()
    done = lifecycle.promote(here.root, release, environment, here.policy, push=push, remote=remote)
    say_promoted(release, environment, done, push=push, remote=remote)


@click.command("deprecate")
@click.argument("release")
@click.option("--push", is_flag=True, help="Push the tag to the remote.")
@remote_option()
def deprecate_command(release: str, push: bool, remote: str) -> None:
    """Withdraw RELEASE (NAME@vX.Y.Z) with GTO's deprecation tag NAME@vX.Y.Z!#N."""
    from mlgate.registry import lifecycle

    done = lifecycle.deprecate(project().root, release, push=push, remote=remote)
    echo(f"Created tag {done.planned.tag}{pushed(push, remote)}: {release} is deprecated.")


@click.command("releases")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def releases_command(name: str | None, as_json: bool) -> None:
    """Every artifact's latest version and environments; with NAME, all of its versions."""
    from mlgate.registry import lifecycle

    reg = read_registry()
    rows = lifecycle.versions(reg, name) if name else lifecycle.summary(reg)
    if as_json:
        echo(to_json(rows), nl=False)
    else:
        echo(
            versions_text(rows) if name else releases_text(rows),
            nl=False,
        )


@click.command("history")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history_command(name: str, as_json: bool) -> None:
    """Every registration, promotion and deprecation of NAME, oldest first."""
    from mlgate.registry import lifecycle

    rows = lifecycle.history(read_registry(), name)
    echo(to_json(rows) if as_json else history_text(rows), nl=False)


def read_registry() -> Registry:
    """The registry of the project's tags, warning of the tags it ignores."""
    from mlgate.registry import tags

    reg = tags.read_registry(project().root)
    for tag in reg.ignored:
        echo(
            f"mlgate: warning: ignoring lightweight tag {tag} (registry tags are annotated)",
            err=True,
        )
    return reg


@click.command("check-ref")
@click.argument("ref")
def check_ref_command(ref: str) -> None:
    """Say what a pushed registry tag means, as JSON (and as the CI job's outputs)."""
    from mlgate.registry import lifecycle

    meaning = lifecycle.check_ref(git.repo_root(), ref)
    echo(to_json(meaning), nl=False)
    forges.write_outputs({k: v or "" for k, v in meaning.items()})
