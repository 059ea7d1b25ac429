"""``mlgate hooks install|uninstall|status|run``."""

from __future__ import annotations

import click

from mlgate import defaults, escape
from mlgate.commands.output import echo
from mlgate.commands.project import project
from mlgate.render.hooks import hooks_text


@click.group("hooks")
def hooks_group() -> None:
    """Git hooks: a stale pipeline stops a commit, a regression a push; checkout, merge, rebase sync data."""


HOOK_OPTION = click.option(
    "--hook",
    "hook_names",
    type=click.Choice(defaults.HOOKS),
    multiple=True,
    help="Only this hook (repeatable); default: all of them.",
)


@hooks_group.command("install")
@HOOK_OPTION
def hooks_install_command(hook_names: tuple[str, ...]) -> None:
    """Install the hooks, keeping any existing hook to run first."""
    from mlgate.hooks import scripts

    states = scripts.install(project().root, hook_names or defaults.HOOKS)
    echo(hooks_text(states), nl=False)


@hooks_group.command("uninstall")
@HOOK_OPTION
def hooks_uninstall_command(hook_names: tuple[str, ...]) -> None:
    """Remove mlgate's hooks and put back the hooks they chained."""
    from mlgate.hooks import scripts

    states = scripts.uninstall(project().root, hook_names or defaults.HOOKS)
    echo(hooks_text(states), nl=False)


@hooks_group.command("status")
def hooks_status_command() -> None:
    """Which hooks are installed, where, and with which Python."""
    from mlgate.hooks import scripts

    echo(hooks_text(scripts.status(project().root)), nl=False)


@hooks_group.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("hook", type=click.Choice(defaults.HOOKS))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def hooks_run_command(ctx: click.Context, hook: str, args: tuple[str, ...]) -> None:
    """Run HOOK now with git's ARGS (what the pre-commit framework calls)."""
    from mlgate.commands.hook import lines, run_hook

    result = run_hook(hook, args)
    for line in lines(result):
        echo(escape.one_line(line), err=True)
    ctx.exit(result.exit_code)
