"""``mlgate retrain``: retrain on fresh data, gate the new model, propose it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlgate import forges
from mlgate.commands.check import publish_check
from mlgate.commands.output import echo, progress, quiet_option, remote_option, report_option
from mlgate.commands.project import project
from mlgate.errors import EXIT_OK, EXIT_REJECTED
from mlgate.render.check import check_markdown, check_text


@click.command("retrain")
@click.argument("name", required=False)
@click.option(
    "--refresh",
    multiple=True,
    metavar="STAGE",
    help="A stage that fetches fresh data, rerun even when unchanged (repeatable; "
    "default: the policy's retrain.refresh).",
)
@click.option("--base", help="Judge against the merge-base of this ref (default: the main branch).")
@report_option("Also write the gate's Markdown report to this file.")
@click.option(
    "--propose",
    is_flag=True,
    help="Commit a changed model on a branch, push it and open or update its pull request "
    "(GitHub) or merge request (GitLab).",
)
@click.option("--branch", help="The proposal's branch (default: the policy's retrain.branch).")
@remote_option("The remote --propose pushes to.")
@click.option(
    "--merge-wait",
    type=click.FloatRange(min=0, max=6 * 3600),
    default=1800,
    show_default=True,
    help="With auto_merge where the forge's own auto-merge is not available: seconds to wait "
    "for the change's checks before merging it.",
)
@quiet_option()
@click.pass_context
def retrain_command(
    ctx: click.Context,
    name: str | None,
    refresh: tuple[str, ...],
    base: str | None,
    report_path: Path | None,
    propose: bool,
    branch: str | None,
    remote: str,
    merge_wait: float,
    quiet: bool,
) -> None:
    """Retrain on fresh data and gate the new model against the main branch.

    NAME defaults to the model artifact declared in dvc.yaml. Exit 0 when the model is unchanged
    or passes the gate, 1 when it fails (a proposal is still made, for people to see).
    """
    from mlgate import retrain
    from mlgate.registry import release

    here = project()
    policy = here.policy_at("HEAD")
    artifact = name or release.declared_artifact(here.root)
    if artifact is None:
        echo(f"Nothing to retrain: no model artifact ({release.NO_ARTIFACT_HINT}).")
        return
    client = forges.client() if propose else None  # before hours of training
    retrain.reproduce(here.root, refresh or policy.retrain.refresh)
    retrained = retrain.gate_retrained(here.root, artifact, base)
    if retrained.check is None:
        echo(
            f"The model is unchanged ({retrained.model_path} md5 {retrained.new_md5}): "
            "nothing to propose."
        )
        return
    markdown = check_markdown(retrained.check)
    echo(check_text(retrained.check, colour=sys.stdout.isatty()), nl=False)
    publish_check(retrained.check, markdown, report_path)
    passed = retrained.check.gate.passed
    if client is not None:
        with progress("mlgate retrain", quiet=quiet) as shown:
            proposal = retrain.propose(
                here.root,
                retrained,
                markdown,
                client,
                branch or policy.retrain.branch,
                base,
                remote,
                progress=shown,
            )
        data = " and its data to the DVC remote" if proposal.data_pushed else ""
        echo(
            f"\nPushed {proposal.branch} ({proposal.commit[:8]}){data}; {proposal.action} "
            f"{client.change} {client.sigil}{proposal.number} {proposal.url}".rstrip()
        )
        with progress("mlgate retrain", quiet=quiet) as shown:
            merging, said = retrain.auto_merge(
                here.root,
                proposal,
                passed=passed,
                client=client,
                wait_seconds=merge_wait,
                progress=shown,
            )
        if said:
            echo(said)
        if merging is False and passed:  # checks failed, or still running
            ctx.exit(EXIT_REJECTED)
    ctx.exit(EXIT_OK if passed else EXIT_REJECTED)
