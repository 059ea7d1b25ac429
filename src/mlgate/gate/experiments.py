"""DVC experiments (``dvc exp run``) judged by the gate against the main branch and ranked, so
the one to propose is the gate's choice, significance included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlgate import git
from mlgate.errors import ConfigError, DataError, MlgateError
from mlgate.gate import compare, ranking
from mlgate.gate.judge import SKIP


@dataclass(frozen=True)
class Ranking:
    entries: tuple[ranking.Entry, ...]  # best first
    baseline: str | None  # the commit whose experiments these are (None: every commit's)

    @property
    def judged(self) -> bool:
        """Whether the gate could judge any of them (else each says why not)."""
        return any(e.result is not None for e in self.entries)

    @property
    def proposed(self) -> ranking.Entry | None:
        """The experiment to propose: the best, when it passes the gate."""
        best = self.entries[0] if self.entries else None
        return best if best is not None and best.standing == "pass" else None


def rank_experiments(
    root: Path,
    *,
    base: str | None = None,
    every: bool = False,
    stale: Callable[[Path, str], str | None] | None = None,
) -> Ranking:
    """Each experiment of HEAD (``every``: of any commit) gated as its pull request would be:
    against the merge-base with the main branch (or ``base``), under the base's policy.
    ``stale`` says what an experiment's dvc.lock does not record (hooks.staleness.why_stale):
    such an experiment's metrics are not what its params give, so it cannot be judged."""
    head = git.resolve_commit("HEAD", root)
    found = [e for e in git.experiments(root) if every or e.baseline == head]
    if not found:
        where = "this repository" if every else f"HEAD ({head[:8]})"
        hint = "run `dvc exp run`" if every else "run `dvc exp run`, or --all for every commit's"
        raise DataError(f"no DVC experiments of {where}: {hint}")
    entries = []
    for experiment in found:
        unrecorded = stale(root, experiment.ref) if stale is not None else None
        if unrecorded:
            entries.append(ranking.Entry(experiment.name, experiment.commit, experiment.timestamp,
                                         None, f"its dvc.lock does not record what it ran "
                                         f"({unrecorded}): reproduce those stages"))  # fmt: skip
            continue
        try:
            check = compare.check(root, base=base, head=experiment.ref)
        except MlgateError as exc:
            entries.append(ranking.Entry(experiment.name, experiment.commit, experiment.timestamp,
                                         None, str(exc)))  # fmt: skip
            continue
        against = check.comparison.base.revision.label
        entries.append(ranking.Entry(experiment.name, experiment.commit, experiment.timestamp,
                                     check.gate, against=against))  # fmt: skip
    judged = [e for e in entries if e.result is not None]
    if judged and all(o.status == SKIP for e in judged for o in e.outcomes):
        raise ConfigError(
            "the policy gates no metric ([tool.mlgate.rules] names none found in the "
            "experiments' metrics): there is nothing to rank them by"
        )
    return Ranking(tuple(ranking.rank(entries)), None if every else head)
