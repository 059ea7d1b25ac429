"""What each git hook does when git runs it: ``python -m mlgate.hooks HOOK [git's arguments]``.

That entry point (``main``) is deliberately not a Click command: the pre-commit hook must answer
in about 0.1 s, and importing Click with the whole command line costs more than that.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlgate import git
from mlgate.errors import (
    EXIT_BUG,
    EXIT_COULD_NOT_RUN,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    ConfigError,
    GitError,
    MlgateError,
)
from mlgate.escape import one_line, terminal
from mlgate.hooks.scripts import HOOKS, READS_STDIN, SKIP_VARIABLE


@dataclass(frozen=True)
class HookResult:
    exit_code: int = EXIT_OK
    lines: tuple[str, ...] = ()


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
        return HookResult(lines=tuple(f"mlgate: note: {n}" for n in result.notes))
    from mlgate.render import hooks as render_hooks  # only to explain a block

    unstaged = staleness.check_workspace(root)
    return HookResult(
        EXIT_REJECTED, tuple(render_hooks.staleness_lines(result, reproduced=not unstaged.is_stale))
    )


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
    from mlgate.render import check as render_check

    found = _remote_base(root, remote)
    if found is None:
        gated = [r for r in refs if _is_gated(r, "main")]
        return HookResult(
            lines=(f"mlgate: {remote} has no main branch yet: nothing to gate against",)
            if gated
            else ()
        )
    main, base = found
    gated = [r for r in refs if _is_gated(r, main)]
    if not gated:
        return HookResult()
    lines, code = [], EXIT_OK
    for ref in gated:
        gc.disable()  # as `mlgate check`: the check's objects live until it ends
        try:
            check = compare.check(
                root, base, _head_name(root, ref), merge_base=True, data_pushed=True
            )
        finally:
            gc.enable()
        branch = ref.remote_ref.removeprefix("refs/heads/")
        if check.gate.passed:
            lines.append(f"mlgate: {branch}: the gate passes against {remote}/{main}")
            continue
        code = EXIT_REJECTED
        lines.append(f"mlgate: push of {branch} blocked: the gate fails against {remote}/{main}")
        lines.extend(render_check.check_text(check, colour=False).rstrip("\n").splitlines())
    if code != EXIT_OK:
        lines.append(
            f"Fix what fails above, or push with {SKIP_VARIABLE}=1 (or --no-verify) to skip."
        )
    return HookResult(code, tuple(lines))


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
    from mlgate.render import hooks as render_hooks

    return HookResult(lines=tuple(render_hooks.checkout_lines(dvc.checkout(root))))


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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mlgate.hooks HOOK [git's arguments]``: run one hook, print, return its code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(
            f"usage: python -m mlgate.hooks {{{','.join(HOOKS)}}} [git's hook arguments]",
            file=sys.stderr,
        )
        return EXIT_COULD_NOT_RUN
    stdin = sys.stdin.read() if args[0] in READS_STDIN and not sys.stdin.isatty() else ""
    try:
        result = run(args[0], args[1:], stdin, os.environ)
    except MlgateError as exc:
        print(
            f"mlgate: error: {one_line(str(exc))} (set {SKIP_VARIABLE}=1 to skip the hook)",
            file=sys.stderr,
        )
        return EXIT_COULD_NOT_RUN
    except KeyboardInterrupt:
        print("mlgate: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug must not leave git with a traceback and no way out
        print(
            f"mlgate: an unexpected error has occurred in the {args[0]} hook: "
            f"{type(exc).__name__}: {one_line(str(exc))} (set {SKIP_VARIABLE}=1 to skip it, and please report it)",
            file=sys.stderr,
        )
        return EXIT_BUG
    for line in result.lines:
        print(terminal(line), file=sys.stderr)
    return result.exit_code
