"""Installing mlgate's git hooks: small shell scripts in git's hooks directory that call
``python -m mlgate.hooks HOOK`` with the interpreter that installed them, so they work from GUIs
and shells without the virtual environment (what each hook then does: mlgate.hooks.runner).

A hook already in place is moved aside to ``<hook>.before-mlgate``, run first (its failure stops
git), and put back exactly by uninstall.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgate import defaults, git
from mlgate.errors import ConfigError

HOOKS = defaults.HOOKS
CHAINED_SUFFIX = ".before-mlgate"
MARKER = "# mlgate-managed-hook"
SKIP_VARIABLE = "MLGATE_SKIP"
# Hooks git gives input on standard input: the pushed refs, the rewritten commits. The script
# reads it once and feeds it to a chained hook and to mlgate.
READS_STDIN = ("pre-push", "post-rewrite")

_TEMPLATE = """#!/bin/sh
{marker} (`mlgate hooks install`). `mlgate hooks uninstall` removes it and puts back the
# hook it found here, which it runs first: {hook}{suffix}
MLGATE_PYTHON={python}
hook={hook}
chained="$(dirname "$0")/$hook{suffix}"
{read_stdin}if [ -x "$chained" ]; then
    {feed}"$chained" "$@" || exit $?
fi
[ "${{{skip}:-}}" = 1 ] && exit 0
if [ -x "$MLGATE_PYTHON" ]; then
    {feed}"$MLGATE_PYTHON" -m mlgate.hooks "$hook" "$@"
    exit $?
elif command -v mlgate >/dev/null 2>&1; then
    {feed}mlgate hooks run "$hook" "$@"
    exit $?
fi
echo "mlgate: $MLGATE_PYTHON is gone and mlgate is not on PATH: run \\`mlgate hooks install\\` again, or set {skip}=1 to skip" >&2
exit 1
"""


@dataclass(frozen=True)
class HookState:
    hook: str
    path: Path
    installed: bool  # mlgate's hook is in place
    foreign: bool  # a hook mlgate did not write is in place
    chained: bool  # a hook mlgate found there is kept aside and run first
    python: str | None  # the interpreter mlgate's hook calls

    @property
    def python_missing(self) -> bool:
        return self.python is not None and not os.access(self.python, os.X_OK)


def hooks_dir(root: Path) -> Path:
    """Where git looks for hooks: core.hooksPath if set, else the repository's (shared by worktrees)."""
    return git.git_path("hooks", root)


def status(root: Path, hooks: Sequence[str] = HOOKS) -> list[HookState]:
    directory = hooks_dir(root)
    return [_state(hook, directory / hook) for hook in hooks]


def install(
    root: Path, hooks: Sequence[str] = HOOKS, python: str = sys.executable
) -> list[HookState]:
    """Install (or refresh) mlgate's hooks, keeping any other hook to run first."""
    directory = hooks_dir(root)
    for state in status(root, hooks):  # refuse before touching any hook
        if state.foreign and state.chained:
            raise ConfigError(
                f"both {state.path} and {state.path.name}{CHAINED_SUFFIX} exist and neither is "
                "mlgate's: move one of them away, then install again"
            )
    directory.mkdir(parents=True, exist_ok=True)
    for hook in hooks:
        _install_one(directory / hook, hook, python)
    return status(root, hooks)


def uninstall(root: Path, hooks: Sequence[str] = HOOKS) -> list[HookState]:
    """Remove mlgate's hooks and put back the hooks they chained, byte for byte."""
    states = status(root, hooks)
    for state in states:  # refuse before touching any hook
        if state.foreign and state.chained:
            raise ConfigError(
                f"cannot put back {state.path.name}{CHAINED_SUFFIX}: {state.path} is not mlgate's "
                "hook any more; move one of them away, then uninstall again"
            )
    for state in states:
        if state.installed:
            state.path.unlink()
        if state.chained:
            os.replace(_chained_path(state.path), state.path)
    return status(root, hooks)


def _install_one(path: Path, hook: str, python: str) -> None:
    script = _write_script(path.with_name(f".{hook}.mlgate-new"), hook, python)
    if (path.exists() or path.is_symlink()) and not _is_ours(path):
        os.replace(path, _chained_path(path))  # the same file, mode and all: uninstall restores it
    os.replace(script, path)


def _write_script(path: Path, hook: str, python: str) -> Path:
    path.write_text(render_hook(hook, python), encoding="utf-8")
    path.chmod(0o755)
    return path


def render_hook(hook: str, python: str) -> str:
    reads_stdin = hook in READS_STDIN
    return _TEMPLATE.format(
        marker=MARKER,
        hook=hook,
        suffix=CHAINED_SUFFIX,
        python=_shell_quote(python),
        skip=SKIP_VARIABLE,
        read_stdin="refs=$(cat)\n" if reads_stdin else "",
        feed="printf '%s\\n' \"$refs\" | " if reads_stdin else "",
    )


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _state(hook: str, path: Path) -> HookState:
    ours = _is_ours(path)
    chained = _chained_path(path)
    return HookState(
        hook=hook,
        path=path,
        installed=ours,
        foreign=(path.exists() or path.is_symlink()) and not ours,
        chained=chained.exists() or chained.is_symlink(),
        python=_installed_python(path) if ours else None,
    )


def _is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return MARKER.encode() in f.read(512)
    except OSError:
        return False


def _installed_python(path: Path) -> str | None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("MLGATE_PYTHON="):
            value = line.split("=", 1)[1]
            return value[1:-1].replace("'\\''", "'") if value.startswith("'") else value
    return None


def _chained_path(path: Path) -> Path:
    return path.with_name(path.name + CHAINED_SUFFIX)
