from __future__ import annotations

import subprocess
import sys

import click

from mlgate import __version__
from mlgate.commands import main as cli


def test_version_and_help(capsys) -> None:
    assert cli.main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    assert "Usage: mlgate" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlgate", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and __version__ in result.stdout


def test_unknown_option_is_a_usage_error_with_exit_2(capsys) -> None:
    assert cli.main(["--no-such-option"]) == 2
    assert "No such option" in capsys.readouterr().err


def _walk(command: click.Command, path: str = "mlgate"):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, f"{path} {name}")


def test_every_command_and_option_has_help_text() -> None:
    for path, command in _walk(cli.cli):
        assert command.help, f"{path} has no help text"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{path} {param.opts[0]} has no help text"
