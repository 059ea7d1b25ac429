"""``mlgate diff``, ``mlgate check`` (the gate), ``mlgate exp`` and ``mlgate comment``."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import click

from mlgate import escape, forges, git
from mlgate.commands.output import (
    echo,
    format_option,
    full_report,
    print_report,
    publish,
    remote_option,
    report_option,
    write_report,
)
from mlgate.errors import EXIT_OK, EXIT_REJECTED, DataError, MlgateError
from mlgate.forges import github
from mlgate.gate import actions, compare, experiments
from mlgate.render.check import (
    COMMENT_MARKER,
    check_json,
    check_markdown,
    check_text,
    diff_json,
    diff_text,
)
from mlgate.render.experiments import ranking_json, ranking_text


@click.command("diff")
@click.argument("base", required=False)
@click.argument("head", required=False, default=git.WORKSPACE)
@click.option("--all", "all_keys", is_flag=True, help="Show unchanged keys too.")
@format_option("Output: a table, Markdown, or JSON shaped like `dvc exp diff --json`.")
def diff_command(base: str | None, head: str, all_keys: bool, fmt: str) -> None:
    """Metrics and params of two revisions side by side.

    BASE defaults to the merge-base of HEAD and the main branch; HEAD to the workspace.
    """
    comparison = compare.compare(git.repo_root(), base, head, merge_base=base is None, partial=True)
    if fmt == "json":
        echo(diff_json(comparison, all_keys=all_keys), nl=False)
        for note in comparison.notes:  # DVC's JSON shape has no place for them
            echo(f"mlgate: note: {escape.one_line(note)}", err=True)
    else:
        echo(diff_text(comparison, all_keys=all_keys, markdown=fmt == "md"), nl=False)


@click.command("check")
@click.option("--base", help="Compare with the merge-base of this ref (default: the main branch).")
@click.option("--head", default=git.WORKSPACE, show_default=True, help="The revision under review.")
@click.option(
    "--policy-from",
    type=click.Choice(compare.POLICY_FROM),
    default="base",
    show_default=True,
    help="Read [tool.mlgate] from the base (as CI must) or from the change itself.",
)
@format_option("Output: a table, Markdown, or the documented JSON document.")
@report_option("Also write the Markdown report to this file.")
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the verdict as a JUnit XML report to this file (GitLab lists its "
    "failures in the merge request).",
)
@click.option(
    "--comment",
    is_flag=True,
    help="Post the report as the pull or merge request's sticky comment.",
)
@click.pass_context
def check_command(
    ctx: click.Context,
    base: str | None,
    head: str,
    policy_from: str,
    fmt: str,
    report_path: Path | None,
    junit_path: Path | None,
    comment: bool,
) -> None:
    """Gate the change: compare its metrics with the base under the policy.

    Exit 0 when every rule passes, 1 when one fails, 2 when the comparison cannot be made.
    """
    # Whether the DVC remote holds the data is checked where it matters: in CI, and for a
    # committed head (the pre-push hook checks it too); not for work in progress.
    pushed = forges.in_ci() or head != git.WORKSPACE
    reported = fmt != "table" or bool(report_path) or comment or github.in_actions()
    with collector_paused():
        result = compare.check(
            git.repo_root(),
            base,
            head,
            cast(compare.PolicyFrom, policy_from),
            data_pushed=pushed,
            charts=reported,
        )
    if reported:  # a report that shows charts: the pipeline's own plots when no predictions
        result = compare.with_plotted_charts(result)
    markdown = check_markdown(result)
    print_report(
        fmt,
        lambda: check_json(result),
        markdown,
        lambda colour: check_text(result, colour=colour),
    )
    publish_check(result, markdown, report_path)
    if junit_path:
        from mlgate.render.junit import check_junit

        write_report(junit_path, check_junit(result), "JUnit report")
    if comment:
        post_comment(markdown, report_path)
    ctx.exit(EXIT_OK if result.gate.passed else EXIT_REJECTED)


@click.command("exp")
@click.option("--base", help="Gate against the merge-base of this ref (default: the main branch).")
@click.option("--all", "every", is_flag=True, help="Every commit's experiments, not only HEAD's.")
@format_option("Output: a table, Markdown, or JSON.")
@click.option(
    "--propose",
    is_flag=True,
    help="Push the experiment ranked first (when it passes) as a branch and open or update "
    "its pull request.",
)
@click.option("--branch", help="The proposal's branch (default: exp/NAME).")
@remote_option("The remote --propose pushes to.")
@click.pass_context
def exp_command(
    ctx: click.Context,
    base: str | None,
    every: bool,
    fmt: str,
    propose: bool,
    branch: str | None,
    remote: str,
) -> None:
    """Rank DVC experiments (`dvc exp run`) by the gate: which one to propose.

    Each experiment is gated as its pull request would be (against the merge-base with the
    main branch, under the base's policy, significance included), then ranked: passing
    first, then by significant improvements, improvements, the first rule's gain.
    Exit 0 with one to propose, 1 when none passes, 2 when there are none or none could be
    judged.
    """
    root = git.repo_root()
    client = forges.client() if propose else None  # before any work
    from mlgate.hooks import staleness

    with collector_paused():
        ranking = experiments.rank_experiments(
            root, base=base, every=every, stale=staleness.why_stale
        )
    markdown = ranking_text(ranking, markdown=True)
    print_report(
        fmt, lambda: ranking_json(ranking), markdown, lambda _colour: ranking_text(ranking)
    )
    if not ranking.judged:  # a verdict that cannot be given is exit 2, never "none passes"
        raise DataError("no experiment could be judged (each one's reason is in the table)")
    proposed = ranking.proposed
    if client is not None and proposed is not None:
        from mlgate import retrain

        proposal = retrain.propose_experiment(
            root, proposed, markdown, client, branch=branch, base=base, remote=remote
        )
        data = " and its data to the DVC remote" if proposal.data_pushed else ""
        echo(
            f"Pushed {proposal.branch} ({proposal.commit[:8]}){data}; {proposal.action} "
            f"{client.change} {client.sigil}{proposal.number} {proposal.url}".rstrip(),
            err=fmt == "json",
        )
    ctx.exit(EXIT_OK if proposed is not None else EXIT_REJECTED)


def publish_check(result: compare.Check, markdown: str, report_path: Path | None) -> None:
    """The gate's report to its file, and to the Actions job when there is one."""
    publish(
        markdown,
        report_path,
        lambda full: actions.publish(result, markdown, full=full, report_path=report_path),
    )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The check's objects live until it ends: the cyclic garbage collector's passes over
    what NumPy's import creates free nothing and cost 5% of the gate's time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@click.command("comment")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def comment_command(file: Path) -> None:
    """Post FILE as the pull or merge request's sticky comment, updated in place on later runs."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MlgateError(f"cannot read {file}: {exc}") from None
    post_comment(text, file)


def post_comment(markdown: str, report_path: Path | None) -> None:
    said = forges.post_sticky_comment(
        markdown, marker=COMMENT_MARKER, full=full_report(report_path)
    )
    if isinstance(said, github.WorkflowCommand) or said.startswith("mlgate: warning"):
        echo(said)
    else:
        echo(said, err=True)
