"""What ``mlgate diff`` and ``mlgate check`` compare: two revisions, their values, the policy.

Resolves the base the way a pull request means it (the merge-base with the main branch), fetches
it when a shallow CI clone lacks it, and reads the policy from the base revision.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlgate import dvcfiles, forges, git
from mlgate.errors import DataError, GitError
from mlgate.gate.judge import GateResult, evaluate, is_real, significance_rules
from mlgate.policy import POLICY_FILES, Policy
from mlgate.snapshot import Snapshot, read_policy, read_recorded, read_snapshot

if TYPE_CHECKING:
    from mlgate.gate.curves import Charts
    from mlgate.gate.significance import PredictionsFile
    from mlgate.gate.slicing import SliceReport
    from mlgate.gate.stats import Difference

PolicyFrom = Literal["base", "head"]
POLICY_FROM: tuple[PolicyFrom, ...] = ("base", "head")
DISAGREEMENT = 5e-4  # metrics file vs predictions: more than scores rounded in a CSV explain


@dataclass(frozen=True)
class Comparison:
    base: Snapshot
    head: Snapshot
    notes: tuple[str, ...] = ()

    @property
    def compared(self) -> bool:
        return any(self.base.metrics.values())


@dataclass(frozen=True)
class Check:
    comparison: Comparison
    policy: Policy
    policy_from: PolicyFrom
    policy_changed: bool
    gate: GateResult
    data_changes: tuple[dvcfiles.DataChange, ...]
    charts: Charts | None = None  # curves and confusion matrices, when predictions were read


def compare(
    root: Path,
    base: str | None = None,
    head: str = git.WORKSPACE,
    *,
    merge_base: bool = True,
    env: Mapping[str, str] | None = None,
    partial: bool = False,
) -> Comparison:
    """Read both revisions; ``base`` None means the merge-base of ``head`` and the main branch.
    ``partial``: a metrics file missing at the head is a note (what `mlgate diff` shows), not
    an error (what the gate needs)."""
    env = os.environ if env is None else env
    head_revision = git.revision(head, root)
    base_revision, notes = resolve_base(root, base, head_revision, merge_base=merge_base, env=env)
    base_snapshot = read_snapshot(base_revision)
    head_snapshot = read_snapshot(head_revision)
    if head_snapshot.missing_metrics:
        missing = ", ".join(head_snapshot.missing_metrics)
        problem = (
            f"metrics file {missing} declared in dvc.yaml is missing at "
            f"{head_revision.label} (run `dvc repro`, or `dvc pull` if it is cached)"
        )
        if not partial:
            raise DataError(problem)
        notes = (*notes, problem)
    skipped = dict.fromkeys([*base_snapshot.skipped, *head_snapshot.skipped])
    notes = (*notes, *skipped)
    if not any(base_snapshot.metrics.values()):
        notes = (*notes, f"{base_revision.label} has no metrics yet: nothing to compare against")
    return Comparison(base_snapshot, head_snapshot, notes)


def check(
    root: Path,
    base: str | None = None,
    head: str = git.WORKSPACE,
    policy_from: PolicyFrom = "base",
    env: Mapping[str, str] | None = None,
    *,
    merge_base: bool = True,
    data_pushed: bool = False,
    charts: bool = False,
) -> Check:
    """``merge_base`` False compares with ``base`` itself (a release with the one before it);
    ``data_pushed``: also fail when the DVC remote lacks an output the change records (when
    the policy requires it, as it does by default), as in CI and the pre-push hook;
    ``charts``: draw both revisions' predictions, for a report that shows them."""
    _preload_statistics(root)
    comparison = compare(root, base, head, merge_base=merge_base, env=env)
    base_policy = read_policy(comparison.base.revision)
    head_policy = read_policy(comparison.head.revision)
    policy = base_policy if policy_from == "base" else head_policy
    notes = comparison.notes
    if policy_from == "base" and base_policy.source is None and head_policy.source is not None:
        policy, policy_from = head_policy, "head"
        notes = (*notes, "the base has no [tool.mlgate] policy yet: using the change's own")
    if policy_from == "head":
        notes = (
            *notes,
            "policy read from the change itself (--policy-from head): for local experiments only",
        )
    tested, untested, test_notes, distrusted, drawn, sliced = _test_significance(
        policy, comparison, draw=charts
    )
    result = evaluate(
        policy,
        comparison.base.metrics,
        comparison.head.metrics,
        tested,
        untested,
        distrusted=distrusted,
    )
    if sliced is not None:
        result = dataclasses.replace(
            result, slices=dataclasses.replace(sliced, distrusted=distrusted)
        )
    notes = (*notes, *test_notes, *_disagreements(result, policy.predictions))
    if data_pushed and policy.require_pushed:
        unpushed, cannot_tell, remote = _unpushed(root, comparison)
        result = dataclasses.replace(result, unpushed=tuple(unpushed), remote=remote)
        notes = (*notes, *([cannot_tell] if cannot_tell else []))
    comparison = Comparison(comparison.base, comparison.head, notes)
    changes = dvcfiles.lock_changes(
        dvcfiles.read_lock(comparison.base.revision), dvcfiles.read_lock(comparison.head.revision)
    )
    return Check(
        comparison,
        policy,
        policy_from,
        base_policy.table != head_policy.table,
        result,
        tuple(changes),
        drawn,
    )


def with_plotted_charts(check: Check) -> Check:
    """The check with charts from the pipeline's own plots when it read no predictions (for
    the report; the verdict is the same)."""
    if check.charts is not None:
        return check
    from mlgate.gate import plotted  # NumPy: only for a report that shows charts

    comparison = check.comparison
    charts, notes = plotted.charts(comparison.base.revision, comparison.head.revision)
    if notes:
        comparison = Comparison(comparison.base, comparison.head, (*comparison.notes, *notes))
    return dataclasses.replace(check, comparison=comparison, charts=charts)


def _unpushed(root: Path, comparison: Comparison) -> tuple[list[str], str | None, str]:
    """The cached outputs the head records anew (not at the base) that the DVC remote lacks;
    the remote is the base's (a change cannot move the check to a remote of its choosing),
    else the workspace's when the base has no DVC config."""
    from mlgate.dvcfiles import (
        remotes,  # botocore for an S3 remote: only when the check is asked for
    )

    base = dvcfiles.cached_outputs(comparison.base.revision)
    head = dvcfiles.cached_outputs(comparison.head.revision)
    recorded = {path: md5 for path, md5 in head.items() if base.get(path) != md5}
    base_config = comparison.base.revision.read_one(".dvc/config")
    return remotes.check_pushed(root, recorded, base_config)


def _preload_statistics(root: Path) -> None:
    """Start importing NumPy and the statistics (about 0.1 s) on a thread, while git and the
    YAML files are read, when the policy asks for significance. Judged from the workspace's
    policy file, which nearly always says what the base's does: a wrong guess costs or saves
    time, never changes a verdict. The thread is not a daemon: an early exit waits for it."""
    for name in POLICY_FILES:
        try:
            text = (root / name).read_bytes()
        except OSError:
            continue
        if b"significance" in text:
            threading.Thread(target=_import_significance, name="preload").start()
            return


def _import_significance() -> None:
    with contextlib.suppress(Exception):  # the check's own import raises it again, in its thread
        from mlgate.gate import significance  # noqa: F401


Tested = tuple[
    dict[str, "Difference"],
    str | None,
    tuple[str, ...],
    str | None,
    "Charts | None",
    "SliceReport | None",
]


def _test_significance(policy: Policy, comparison: Comparison, *, draw: bool = False) -> Tested:
    """Tests for the rules that ask for significance: (by prediction metric, why there are
    none, notes, why they cannot be trusted, the charts of both revisions, each slice's
    verdicts). Unusable predictions stop the check unless every such rule falls back to its
    point estimate and the policy does not slice (a slice has no point estimate to fall back
    on)."""
    nothing: Tested = ({}, None, (), None, None, None)
    if not policy.reads_predictions or not comparison.compared or policy.predictions is None:
        return nothing
    rules = significance_rules(policy, comparison.base.metrics, comparison.head.metrics)
    levels: dict[str, float] = {}
    for tested_metrics in rules.values():
        for name, level in tested_metrics.items():
            levels[name] = min(levels.get(name, 1.0), level)
    if not levels and policy.slices is None:
        return nothing
    from mlgate.gate import significance  # NumPy, only when a rule asks for significance

    try:
        measured = significance.measure(
            predictions_file(comparison.base.revision, policy.predictions),
            predictions_file(comparison.head.revision, policy.predictions),
            policy.predictions,
            {name: 1 - level for name, level in levels.items()},
            policy.resamples,
            policy.seed,
            draw=draw,
            slicing=policy.slices,
        )
    except DataError as exc:
        if rules and policy.slices is None and all(r.fallback == "point-estimate" for r in rules):
            return {}, f"no significance test ({exc})", (), None, None, None
        if policy.slices is not None:
            raise
        raise DataError(
            f'{exc}; or set fallback = "point-estimate" on the rule to judge its '
            "point estimate instead"
        ) from None
    shrunk = policy.shrinkage(*measured.rows)
    return (
        measured.differences,
        None,
        measured.notes,
        shrunk,
        measured.charts,
        measured.slices,
    )


def _disagreements(result: GateResult, predictions: str | None) -> list[str]:
    """Where the metrics file and the predictions give one metric different values (a stale
    file, or another definition), the report says which the test used."""
    notes = []
    for outcome in result.outcomes:
        tested = outcome.tested
        if tested is None:
            continue
        for side, recorded, computed in (
            ("base", outcome.base, tested.base),
            ("head", outcome.head, tested.head),
        ):
            if is_real(recorded) and abs(float(recorded) - computed) > DISAGREEMENT:
                notes.append(
                    f"{outcome.metric} at {side}: {outcome.path} says {recorded:.6g}, "
                    f"{predictions} gives {computed:.6g}; the test used the latter"
                )
    return notes


def resolve_base(
    root: Path, base: str | None, head: git.Revision, *, merge_base: bool, env: Mapping[str, str]
) -> tuple[git.Revision, tuple[str, ...]]:
    """The revision to compare with, and notes on how it was chosen."""
    head_commit = head.commit or git.resolve_commit("HEAD", root)
    if base is not None and not merge_base:
        return git.revision(base, root), ()
    ci_base = forges.base_branch(env)  # a pull or merge request's target, in its CI
    main = None if base or ci_base else git.find_main(root)
    branch = base or ci_base or (main and _configured_base(root, main))
    found = _find_or_fetch(root, branch, env) if branch and branch != (main or ("",))[0] else main
    if found is None:
        raise GitError(
            "no base to compare with: no main, origin/main or master branch; pass --base REF"
        )
    ref, tip = found
    fork_point = git.merge_base(head_commit, tip, root)
    if fork_point is None:
        note = (
            f"no common history with {ref} (a shallow clone?): compared with its tip; "
            "use `fetch-depth: 0` in actions/checkout for the exact merge-base"
        )
        return git.Revision(root, tip, ref), (note,)
    name = ref if fork_point == tip else f"merge-base of {ref}"
    return git.Revision(root, fork_point, name), ()


def _configured_base(root: Path, main: tuple[str, str]) -> str:
    """The ``base`` the main branch's own policy names (else main itself): never the change's,
    so a branch cannot name itself as its base and pass."""
    name, commit = main
    return read_policy(git.Revision(root, commit, name)).base or name


def _find_or_fetch(root: Path, branch: str, env: Mapping[str, str]) -> tuple[str, str]:
    """The branch (or origin's copy of it, fetched if need be): (name, commit)."""
    for candidate in (branch, f"origin/{branch}"):
        try:
            return candidate, git.resolve_commit(candidate, root)
        except GitError:
            continue
    try:
        git.fetch_ref("origin", branch, root)
    except GitError as exc:
        how = (
            "give actions/checkout `fetch-depth: 0`"
            if env.get("GITHUB_ACTIONS") == "true"
            else "set `GIT_DEPTH: 0` in the job's variables"
            if env.get("GITLAB_CI") == "true"
            else f"check the name, or `git fetch origin {branch}`"
        )
        raise GitError(
            f"base branch '{branch}' is not in this clone and fetching it failed ({exc}); "
            f"{how}, or pass --base REF"
        ) from None
    return f"origin/{branch}", git.resolve_commit(f"origin/{branch}", root)


def predictions_file(revision: git.Revision, path: str) -> PredictionsFile:
    """The policy's predictions file at ``revision`` (from git, or DVC's cache)."""
    from mlgate.gate import significance  # NumPy, only when a rule asks for significance

    return significance.PredictionsFile(revision.label, read_recorded(revision, path))
