"""The ``mlgate`` command line: the Click group, its commands (one module per area), and
``main``, which runs it and returns its exit code.

Exit codes: 0 ok, 1 the gate or a check said no, 2 could not run (an MlgateError, or a usage
error), 3 a bug in mlgate (run again with --traceback to see it), 130 interrupted.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence

import click

from mlgate import __version__
from mlgate.commands import check, deploy, hooks, init, monitor, registry, retrain, serve
from mlgate.commands.output import echo
from mlgate.errors import EXIT_COULD_NOT_RUN, EXIT_OK, guarded


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mlgate")
@click.option(
    "--traceback",
    "show_traceback",
    is_flag=True,
    help="Show the full traceback of an unexpected error.",
)
def cli(show_traceback: bool) -> None:  # main() acts on --traceback: see there
    """mlgate: versioned, gated, released ML models for DVC projects."""


for command in (
    check.diff_command,
    check.check_command,
    check.exp_command,
    check.comment_command,
    registry.release_command,
    retrain.retrain_command,
    registry.promote_command,
    registry.deprecate_command,
    registry.releases_command,
    registry.history_command,
    registry.check_ref_command,
    deploy.deploy_command,
    deploy.describe_command,
    deploy.rollback_command,
    deploy.deployments_command,
    monitor.monitor_command,
    monitor.canary_command,
    serve.serve_command,
    init.init_command,
    hooks.hooks_group,
):
    cli.add_command(command)
# GTO's name for promote: its own command object, so each name is one command (the docs'
# reference lists both)
assign_command = copy.copy(registry.promote_command)
assign_command.name = "assign"
cli.add_command(assign_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)

    def run() -> int:
        try:
            # Outside standalone mode Click returns the code a command passed to ctx.exit().
            code = cli.main(args=args, prog_name="mlgate", standalone_mode=False)
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.ClickException as exc:
            exc.show()
            return EXIT_COULD_NOT_RUN
        except click.exceptions.Abort:
            raise KeyboardInterrupt from None
        return code if isinstance(code, int) else EXIT_OK

    # An unexpected error escapes Click before any option is acted on: --traceback is read from
    # the command line itself, wherever it was given.
    return guarded(run, say=lambda line: echo(line, err=True), show_traceback="--traceback" in args)
