"""Thin Click commands: parse options, call a module, print, exit with its code.

Exit codes: 0 ok, 1 the gate or a check said no, 2 could not run (an MlgateError),
3 a bug in mlgate (run again with --traceback to see it), 130 interrupted.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import click

from mlgate import __version__
from mlgate.errors import EXIT_BUG, EXIT_COULD_NOT_RUN, EXIT_INTERRUPTED, MlgateError


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; the one place errors become messages."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="mlgate", standalone_mode=False)
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
    return 0
