"""Thin Click commands: parse options, call a module, print, exit with its code.

Exit codes: 0 ok, 1 the gate or a check said no, 2 could not run (an MlgateError),
3 a bug in mlgate (run again with --traceback to see it), 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from mlgate import __version__, compare, git, github, report
from mlgate.errors import (
    EXIT_BUG,
    EXIT_COULD_NOT_RUN,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    MlgateError,
)
from mlgate.files import write_text

FORMATS = click.Choice(["table", "md", "json"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mlgate")
@click.option(
    "--traceback",
    "show_traceback",
    is_flag=True,
    help="Show the full traceback of an unexpected error.",
)
@click.pass_context
def cli(ctx: click.Context, show_traceback: bool) -> None:
    """mlgate: versioned, gated, released ML models for DVC projects."""
    ctx.obj = {"traceback": show_traceback}


@cli.command("diff")
@click.argument("base", required=False)
@click.argument("head", required=False, default=git.WORKSPACE)
@click.option("--all", "all_keys", is_flag=True, help="Show unchanged keys too.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help="Output: a table, Markdown, or JSON shaped like `dvc exp diff --json`.")  # fmt: skip
def diff_command(base: str | None, head: str, all_keys: bool, fmt: str) -> None:
    """Metrics and params of two revisions side by side.

    BASE defaults to the merge-base of HEAD and the main branch; HEAD to the workspace.
    """
    comparison = compare.compare(git.repo_root(), base, head, merge_base=base is None)
    if fmt == "json":
        click.echo(report.diff_json(comparison, all_keys), nl=False)
    else:
        click.echo(report.diff_text(comparison, all_keys, markdown=fmt == "md"), nl=False)


@cli.command("check")
@click.option("--base", help="Compare with the merge-base of this ref (default: the main branch).")
@click.option("--head", default=git.WORKSPACE, show_default=True, help="The revision under review.")
@click.option("--policy-from", type=click.Choice(compare.POLICY_FROM), default="base", show_default=True,
              help="Read [tool.mlgate] from the base (as CI must) or from the change itself.")  # fmt: skip
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
              help="Output: a table, Markdown, or the documented JSON document.")  # fmt: skip
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the Markdown report to this file.")  # fmt: skip
@click.option(
    "--comment", is_flag=True, help="Post the report as the pull request's sticky comment."
)
@click.pass_context
def check_command(
    ctx: click.Context, base: str | None, head: str, policy_from: str, fmt: str,
    report_path: Path | None, comment: bool,
) -> None:  # fmt: skip
    """Gate the change: compare its metrics with the base under the policy.

    Exit 0 when every rule passes, 1 when one fails, 2 when the comparison cannot be made.
    """
    result = compare.check(git.repo_root(), base, head, policy_from)
    markdown = report.check_markdown(result)
    if fmt == "json":
        click.echo(report.check_json(result), nl=False)
    elif fmt == "md":
        click.echo(markdown, nl=False)
    else:
        click.echo(report.check_text(result, colour=sys.stdout.isatty()), nl=False)
    if report_path:
        write_text(report_path, markdown)
    if github.in_actions():
        _publish_to_actions(result, markdown, report_path)
    if comment:
        _post_comment(markdown)
    ctx.exit(EXIT_OK if result.gate.passed else EXIT_REJECTED)


@cli.command("comment")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def comment_command(file: Path) -> None:
    """Post FILE as the pull request's sticky comment, updating it in place on later runs."""
    _post_comment(file.read_text(encoding="utf-8"))


def _publish_to_actions(result: compare.Check, markdown: str, report_path: Path | None) -> None:
    github.append_step_summary(markdown)
    github.write_outputs({
        "verdict": "pass" if result.gate.passed else "fail",
        "failed": ",".join(dict.fromkeys(o.metric or o.rule.key for o in result.gate.failures)),
        "report": str(report_path or ""),
    })  # fmt: skip
    for outcome in result.gate.failures:
        name = outcome.metric or outcome.rule.key
        click.echo(github.error_annotation(f"{name}: {outcome.reason}", f"mlgate: {name}"))


def _post_comment(markdown: str) -> None:
    client = github.GitHubClient.from_env()
    number = github.pull_request_number()
    try:
        action, url = client.upsert_comment(number, markdown, report.COMMENT_MARKER)
    except github.CommentForbidden as exc:
        click.echo(
            f"::warning title=mlgate::{exc}" if github.in_actions() else f"mlgate: warning: {exc}"
        )
        return
    click.echo(f"mlgate: {action} the pull request comment {url}".rstrip(), err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; the one place errors become messages."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # Outside standalone mode Click returns the code a command passed to ctx.exit().
        code = cli.main(args=args, prog_name="mlgate", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_COULD_NOT_RUN
    except click.exceptions.Abort:
        click.echo("mlgate: interrupted", err=True)
        return EXIT_INTERRUPTED
    except MlgateError as exc:
        click.echo(f"mlgate: error: {exc}", err=True)
        return EXIT_COULD_NOT_RUN
    except KeyboardInterrupt:
        click.echo("mlgate: interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if "--traceback" in args:
            traceback.print_exc()
        click.echo(
            f"mlgate: an unexpected error has occurred: {type(exc).__name__}: {exc} "
            "(run again with --traceback for details, and please report it)",
            err=True,
        )
        return EXIT_BUG
    return code if isinstance(code, int) else EXIT_OK
