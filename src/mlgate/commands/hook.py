"""``python -m mlgate.hooks HOOK [git's arguments]``: what the installed hook scripts run.

Deliberately not a Click command: the pre-commit hook must answer in about 0.1 s, and importing
Click with the whole command line costs more than that. ``hooks.runner`` decides; this says it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from mlgate.errors import EXIT_COULD_NOT_RUN, guarded
from mlgate.escape import terminal
from mlgate.hooks.runner import HookResult, run
from mlgate.hooks.scripts import HOOKS, READS_STDIN, SKIP_VARIABLE


def lines(result: HookResult) -> list[str]:
    """What a hook says: its notes, why a commit is blocked, each pushed branch's gate, what
    ``dvc checkout`` changed."""
    said = list(result.notes)
    if result.stale is not None:
        from mlgate.render.hooks import staleness_lines  # only to explain a block

        said += staleness_lines(result.stale, reproduced=result.reproduced)
    blocked = False
    for pushed in result.pushed:
        if pushed.check.gate.passed:
            said.append(f"mlgate: {pushed.branch}: the gate passes against {result.against}")
            continue
        from mlgate.render.check import check_text

        blocked = True
        said.append(
            f"mlgate: push of {pushed.branch} blocked: the gate fails against {result.against}"
        )
        said += check_text(pushed.check, colour=False).rstrip("\n").splitlines()
    if blocked:
        said.append(
            f"Fix what fails above, or push with {SKIP_VARIABLE}=1 (or --no-verify) to skip."
        )
    if result.checkout is not None:
        from mlgate.render.hooks import checkout_lines

        said += checkout_lines(result.checkout)
    return said


def run_hook(hook: str, args: Sequence[str]) -> HookResult:
    """Run ``hook`` with git's ``args``, reading what git gives it on stdin."""
    stdin = sys.stdin.read() if hook in READS_STDIN and not sys.stdin.isatty() else ""
    return run(hook, args, stdin, os.environ)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one hook, print what it says on stderr, return its code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(
            f"usage: python -m mlgate.hooks {{{','.join(HOOKS)}}} [git's hook arguments]",
            file=sys.stderr,
        )
        return EXIT_COULD_NOT_RUN

    def hook() -> int:
        result = run_hook(args[0], args[1:])
        for line in lines(result):
            print(terminal(line), file=sys.stderr)
        return result.exit_code

    # a bug must not leave git with a traceback and no way out: one line, and how to skip
    return guarded(
        hook,
        say=lambda line: print(terminal(line), file=sys.stderr),
        hint=f" (set {SKIP_VARIABLE}=1 to skip the hook)",
        advice=f"in the {args[0]} hook; set {SKIP_VARIABLE}=1 to skip it, and please report it",
    )
