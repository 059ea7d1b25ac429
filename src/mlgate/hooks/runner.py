"""What each git hook does when git runs it (``python -m mlgate.hooks HOOK [git's arguments]``,
whose entry point, ``mlgate.commands.hook``, prints what ``run`` found).

No rendering here: ``run`` returns what it found (a stale commit, each pushed branch's gate,
what ``dvc checkout`` changed) as a HookResult, and the command says it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate import git
from mlgate.errors import (
    EXIT_OK,
    EXIT_REJECTED,
    ConfigError,
    GitError,
    MlgateError,
)
from mlgate.hooks.scripts import HOOKS, SKIP_VARIABLE

if TYPE_CHECKING:
    from mlgate.dvc import Checkout
    from mlgate.gate.compare import Check
    from mlgate.hooks.staleness import Staleness


@dataclass(frozen=True)
class PushedBranch:
    """One branch of a push, and its gate against the remote's main branch."""

    branch: str
    check: Check


@dataclass(frozen=True)
class HookResult:
    exit_code: int = EXIT_OK
    notes: tuple[str, ...] = ()  # lines said as they are
    stale: Staleness | None = None  # pre-commit: why the commit is blocked
    reproduced: bool = False  # ... and whether the workspace is reproduced, only not staged
    against: str | None = None  # pre-push: the remote's main branch, REMOTE/BRANCH
    pushed: tuple[PushedBranch, ...] = ()  # ... each gated branch
    checkout: Checkout | None = None  # post-checkout, -merge, -rewrite: what dvc checkout did


@dataclass(frozen=True)
class PushedRef:
    """One line of what git gives pre-push: which local commit goes to which remote ref."""

    local_ref: str
    local_commit: str
    remote_ref: str
    remote_commit: str


def run(hook: str, args: Sequence[str], stdin: str, env: Mapping[str, str]) -> HookResult:
    """Run ``hook`` as git (or the pre-commit framework, through its variables) invoked it."""
    if hook not in HOOKS:
        raise ConfigError(f"unknown hook '{hook}' (mlgate has {', '.join(HOOKS)})")
    if env.get(SKIP_VARIABLE) == "1":
        return HookResult()
    root = git.repo_root()
    if not (root / ".dvc").is_dir():
        return HookResult()  # not a DVC repository: nothing to guard
    if hook == "pre-commit":
        return pre_commit(root)
    if hook == "pre-push":
        remote = args[0] if args else env.get("PRE_COMMIT_REMOTE_NAME", "origin")
        return pre_push(root, remote, pushed_refs(stdin, env, root))
    if hook == "post-merge":  # git pull, git merge: one argument, 1 for a squash merge
        squash = (args[0] if args else env.get("PRE_COMMIT_IS_SQUASH_MERGE", "")) == "1"
        return post_merge(root, squash=squash)
    if hook == "post-rewrite":  # git pull --rebase, git rebase, git commit --amend
        return post_rewrite(root, args[0] if args else env.get("PRE_COMMIT_REWRITE_COMMAND", ""))
    previous, new, flag = (*args, "", "", "")[:3] if args else _checkout_from_env(env)
    return post_checkout(root, previous, new, is_branch_checkout=flag == "1")


def pre_commit(root: Path) -> HookResult:
    from mlgate.hooks import staleness

    result = staleness.check_staged(root)
    if not result.is_stale:
        return HookResult(notes=tuple(f"mlgate: note: {n}" for n in result.notes))
    unstaged = staleness.check_workspace(root)
    return HookResult(EXIT_REJECTED, stale=result, reproduced=not unstaged.is_stale)


def pushed_refs(stdin: str, env: Mapping[str, str], root: Path) -> list[PushedRef]:
    """Parse git's pre-push input; the pre-commit framework passes one ref in variables instead."""
    refs = [PushedRef(*line.split()) for line in stdin.splitlines() if len(line.split()) == 4]
    if refs or "PRE_COMMIT_REMOTE_BRANCH" not in env:
        return refs
    local_ref = env.get("PRE_COMMIT_LOCAL_BRANCH", "HEAD")
    local_commit = env.get("PRE_COMMIT_TO_REF") or git.resolve_commit(local_ref, root)
    remote_commit = env.get("PRE_COMMIT_FROM_REF") or git.NO_COMMIT
    return [PushedRef(local_ref, local_commit, env["PRE_COMMIT_REMOTE_BRANCH"], remote_commit)]


def pre_push(root: Path, remote: str, refs: Sequence[PushedRef]) -> HookResult:
    """Gate every branch being pushed (but main itself, deletions and tags) against remote main."""
    from mlgate.gate import compare

    found = _remote_base(root, remote)
    if found is None:
        gated = [r for r in refs if _is_gated(r, "main")]
        return HookResult(
            notes=(f"mlgate: {remote} has no main branch yet: nothing to gate against",)
            if gated
            else ()
        )
    main, base = found
    pushed = []
    for ref in (r for r in refs if _is_gated(r, main)):
        gc.disable()  # as `mlgate check`: the check's objects live until it ends
        try:
            check = compare.check(
                root, base, _head_name(root, ref), merge_base=True, data_pushed=True
            )
        finally:
            gc.enable()
        pushed.append(PushedBranch(ref.remote_ref.removeprefix("refs/heads/"), check))
    passed = all(p.check.gate.passed for p in pushed)
    return HookResult(
        EXIT_OK if passed else EXIT_REJECTED, against=f"{remote}/{main}", pushed=tuple(pushed)
    )


def _is_gated(ref: PushedRef, main: str) -> bool:
    if ref.local_commit == git.NO_COMMIT or not ref.remote_ref.startswith("refs/heads/"):
        return False  # a deletion, or tags
    return ref.remote_ref != f"refs/heads/{main}"


def _remote_base(root: Path, remote: str) -> tuple[str, str] | None:
    """(branch, ref) of what pushes are gated against: the remote's main branch (its HEAD, else
    main or master), or the branch that branch's own policy names as ``base``. Never read from
    the commits being pushed, which could name themselves."""
    from mlgate.snapshot import read_policy

    default = git.remote_default_branch(remote, root)
    names = [default.split("/", 1)[1]] if default else []
    for name in dict.fromkeys([*names, "main", "master"]):
        ref = _remote_main(root, remote, name)
        if ref is None:
            continue
        configured = read_policy(git.revision(ref, root)).base
        if configured and configured != name:
            other = _remote_main(root, remote, configured)
            if other is not None:
                return configured, other
        return name, ref
    return None


def _remote_main(root: Path, remote: str, main: str) -> str | None:
    """The remote's main branch as last fetched, fetching it once if this clone never has."""
    tracking = f"refs/remotes/{remote}/{main}"
    if git.has_commit(tracking, root):
        return f"{remote}/{main}"
    try:
        git.run_git("fetch", "--no-tags", "--quiet", remote, f"refs/heads/{main}", cwd=root)
    except MlgateError:
        return None
    return git.resolve_commit("FETCH_HEAD", root)


def _head_name(root: Path, ref: PushedRef) -> str:
    """The pushed branch's name when it points at the pushed commit (for the report), else the id."""
    name = ref.local_ref.removeprefix("refs/heads/")
    try:
        return (
            name
            if git.resolve_commit(ref.local_ref, root) == ref.local_commit
            else ref.local_commit
        )
    except MlgateError:
        return ref.local_commit


def post_checkout(root: Path, previous: str, new: str, *, is_branch_checkout: bool) -> HookResult:
    """After a branch checkout, `dvc checkout` when the branches' DVC records differ."""
    if not is_branch_checkout or previous == new or _is_rebasing(root):
        return HookResult()
    if previous == git.NO_COMMIT:
        return _dvc_checkout(root)
    return _dvc_checkout_if_changed(root, git.changed_between(previous, new, root))


def post_merge(root: Path, *, squash: bool) -> HookResult:
    """After a merge (and `git pull`), `dvc checkout` when it brought other DVC records: the
    workspace's data and models would otherwise be the ones from before it."""
    if squash:  # nothing committed yet: the merged records are staged
        return _dvc_checkout_if_changed(root, git.staged_paths(root))
    return _since_orig_head(root)


def post_rewrite(root: Path, command: str) -> HookResult:
    """After a rebase (and `git pull --rebase`), as after a merge; an amend moves no data."""
    return _since_orig_head(root) if command == "rebase" else HookResult()


def _since_orig_head(root: Path) -> HookResult:
    """What changed since ORIG_HEAD, where git keeps HEAD from before a merge or rebase."""
    try:
        before = git.resolve_commit("ORIG_HEAD", root)
    except GitError:
        return _dvc_checkout(root)  # no record of before: cheaper to check than to guess
    return _dvc_checkout_if_changed(root, git.changed_between(before, "HEAD", root))


def _dvc_checkout_if_changed(root: Path, changed: Sequence[str]) -> HookResult:
    return _dvc_checkout(root) if any(_is_dvc_record(p) for p in changed) else HookResult()


def _dvc_checkout(root: Path) -> HookResult:
    from mlgate import dvc

    return HookResult(checkout=dvc.checkout(root))


def _is_dvc_record(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name in ("dvc.lock", "dvc.yaml") or name.endswith(".dvc")


def _is_rebasing(root: Path) -> bool:
    if "rebase" in os.environ.get("GIT_REFLOG_ACTION", ""):
        return True
    return any(git.git_path(name, root).exists() for name in ("rebase-merge", "rebase-apply"))


def _checkout_from_env(env: Mapping[str, str]) -> tuple[str, str, str]:
    return (
        env.get("PRE_COMMIT_FROM_REF", ""),
        env.get("PRE_COMMIT_TO_REF", ""),
        env.get("PRE_COMMIT_CHECKOUT_TYPE", ""),
    )
