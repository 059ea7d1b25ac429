"""What the git hooks print: a blocked commit's stale stages, what `dvc checkout` changed, and
the `mlgate hooks` status table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.dvc import Checkout
    from mlgate.hooks.scripts import HookState
    from mlgate.hooks.staleness import Staleness


def staleness_lines(result: Staleness, *, reproduced: bool) -> list[str]:
    """Why the pre-commit hook blocks: each stale stage and its reasons, then what to do."""
    lines = ["mlgate: commit blocked: dvc.lock does not match what is being committed"]
    for stage in result.stale:
        lines.append(f"  {stage.name}: {'; '.join(stage.reasons)}")
    if result.downstream:
        lines.append(f"  (dvc repro also reruns {', '.join(result.downstream)})")
    lines.extend(f"  note: {n}" for n in result.notes)
    if reproduced:
        lines.append(
            "The workspace is reproduced but not all of it is staged: "
            "`git add dvc.lock` and the outputs git tracks, then commit."
        )
    else:
        lines.append(
            "Run `dvc repro`, stage dvc.lock and its outputs, then commit "
            "(or set MLGATE_SKIP=1 to commit anyway)."
        )
    return lines


def checkout_lines(result: Checkout) -> list[str]:
    """What the post-checkout hook changed; nothing at all when nothing changed."""
    lines = []
    if result.changed:
        counts = [
            f"{len(paths)} {kind}"
            for kind, paths in (
                ("added", result.added),
                ("modified", result.modified),
                ("deleted", result.deleted),
            )
            if paths
        ]
        lines.append(f"mlgate: dvc checkout: {', '.join(counts)}")
        lines.extend(f"  {path}" for path in (*result.added, *result.modified, *result.deleted))
    if result.failed:
        lines.append(
            f"mlgate: warning: not in the DVC cache, left as they were: "
            f"{', '.join(result.failed)} (`dvc pull` fetches them)"
        )
    return lines


def hooks_text(states: Sequence[HookState]) -> str:
    lines = []
    for state in states:
        if state.installed:
            how = f"installed, runs {state.python}"
            if state.python_missing:
                how += " (missing: install again)"
            if state.chained:
                how += f"; runs {state.hook}.before-mlgate first"
        elif state.foreign:
            how = "not installed (another hook is there; `mlgate hooks install` chains it)"
        else:
            how = "not installed"
        lines.append(f"{state.hook:<14} {how}")
    if states:
        lines.append(f"hooks directory: {states[0].path.parent}")
    return "\n".join(lines) + "\n"
