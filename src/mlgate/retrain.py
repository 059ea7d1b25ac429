"""Scheduled retraining through the same gate as a person's change: rerun the stages that fetch
fresh data, reproduce the pipeline, judge the new model against the main branch, and propose it
as a pull request from one branch that each run replaces.

The proposal is committed with a temporary index, so the checked-out branch and the index stay
as they were; the retrained files stay in the worktree for a person to look at.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlgate import dvc, dvcfiles, forges, git
from mlgate.errors import MlgateError
from mlgate.gate import compare, ranking
from mlgate.policy import Policy
from mlgate.progress import SILENT, Progress
from mlgate.registry.release import refuse_uncommitted
from mlgate.snapshot import read_policy


@dataclass(frozen=True)
class Proposal:
    branch: str
    commit: str
    action: str  # "opened" or "updated"
    number: int
    url: str
    data_pushed: bool  # to the DVC remote, so the pull request's job can pull it
    base: str = ""  # the branch it is to be merged into


@dataclass(frozen=True)
class Retrained:
    artifact: str
    model_path: str | None
    old_md5: str | None
    new_md5: str | None
    check: compare.Check | None  # None when the model did not change


def reproduce(root: Path, refresh: Sequence[str]) -> None:
    """Rerun ``refresh`` stages whatever their state (they fetch data from outside the
    repository), then every stage downstream that changed, as ``dvc repro`` decides."""
    refuse_uncommitted(root, "retraining starts from a commit, so commit or stash them first")
    dvcfiles.check_pipeline_files(git.revision(git.WORKSPACE, root))
    stages = _stages(root)
    unknown = [stage for stage in refresh if stage not in stages]
    if unknown:
        raise MlgateError(
            f"no stage {', '.join(unknown)} in dvc.yaml to refresh "
            f"(stages: {', '.join(stages) or 'none'})"
        )
    pull = ("--pull", "--allow-missing") if _has_dvc_remote(root) else ()
    for stage in refresh:
        dvc.run(root, "repro", *pull, "--force", "--single-item", stage)
    dvc.run(root, "repro", "--all-pipelines", *pull)  # every dvc.yaml, as the gate reads them


def gate_retrained(root: Path, artifact: str, base: str | None) -> Retrained:
    """Whether the workspace's model differs from HEAD's, and if so the gate's verdict on it
    against ``base`` (default: the main branch)."""
    path, old_md5 = dvcfiles.artifact_file(git.revision("HEAD", root), artifact)
    _, new_md5 = dvcfiles.artifact_file(git.revision(git.WORKSPACE, root), artifact)
    if path is None:
        raise MlgateError(f"dvc.yaml declares no path for the artifact {artifact}")
    if new_md5 == old_md5:
        return Retrained(artifact, path, old_md5, new_md5, None)
    check = compare.check(root, base, git.WORKSPACE)
    return Retrained(artifact, path, old_md5, new_md5, check)


def propose(
    root: Path,
    retrained: Retrained,
    report_markdown: str,
    client: forges.Forge,
    branch: str,
    base: str | None,
    remote: str,
    env: Mapping[str, str] | None = None,
    progress: Progress = SILENT,
) -> Proposal:
    """Commit the retrained files on ``branch`` (from HEAD), push it, push the data to the DVC
    remote if there is one, and open the pull request into ``base`` (default: the policy's base,
    else the main branch) or update the one already open."""
    env = os.environ if env is None else env
    base = base or read_policy(git.revision("HEAD", root)).base or _main_branch(root)
    progress.step(f"committing the retrained files on {branch}")
    commit = _commit_on_branch(root, _message(retrained))
    progress.step(f"pushing {branch} to {remote}")
    git.run_git("push", "--quiet", "--force", remote, f"{commit}:refs/heads/{branch}", cwd=root)
    progress.step("pushing the data to the DVC remote")
    data_pushed = _push_data(root)
    progress.step(f"opening the {client.change} into {base}")
    title = f"Retrain {retrained.artifact} on fresh data ({_today()})"
    try:
        action, number, url = client.upsert_change(
            branch, base, title, _body(retrained, report_markdown, client.run_url(env))
        )
    except forges.Forbidden:
        raise MlgateError(client.refused_proposal(branch)) from None
    return Proposal(branch, commit, action, number, url, data_pushed, base)


def propose_experiment(
    root: Path,
    proposed: ranking.Entry,
    report_markdown: str,
    client: forges.Forge,
    *,
    branch: str | None,
    base: str | None,
    remote: str,
) -> Proposal:
    """Push the experiment the gate ranked first as ``branch`` (default ``exp/NAME``), its
    data to the DVC remote if there is one (`dvc exp push`), and open its pull request into
    ``base`` (default: the policy's base, else the main branch) or update the one open."""
    base = base or read_policy(git.revision("HEAD", root)).base or _main_branch(root)
    branch = branch or f"exp/{proposed.name}"
    git.check_branch_name(branch, root)
    git.run_git(
        "push", "--quiet", "--force", remote, f"{proposed.commit}:refs/heads/{branch}", cwd=root
    )
    data_pushed = _has_dvc_remote(root)
    if data_pushed:
        dvc.run(root, "exp", "push", remote, proposed.name)
    title = f"Experiment {proposed.name}, proposed by the gate ({_today()})"
    body = (
        f"`mlgate exp --propose` gated the DVC experiments of `{proposed.commit[:8]}`'s "
        "baseline as their pull requests would be gated and proposes the one ranked first; "
        "it goes through the same gate as any change:\n\n"
        f"{report_markdown}"
    )
    try:
        action, number, url = client.upsert_change(branch, base, title, body)
    except forges.Forbidden:
        raise MlgateError(client.refused_proposal(branch)) from None
    return Proposal(branch, proposed.commit, action, number, url, data_pushed, base)


def auto_merge(
    root: Path,
    proposal: Proposal,
    *,
    passed: bool,
    client: forges.Forge,
    wait_seconds: float,
    progress: Progress = SILENT,
) -> tuple[bool | None, str]:
    """What ``[tool.mlgate.retrain] auto_merge`` (read from the base branch, so a proposal
    cannot turn it on for itself) does with a proposal: nothing when it is off (None); never
    for a failed gate (False); else the forge's auto-merge, pinned to the proposal's commit, or,
    where the repository does not allow it, a merge through the REST API once every check on
    that commit passed (True when enabled or merged). And what to say."""
    if not base_policy(root, proposal.base).retrain.auto_merge:
        return None, ""
    change = f"{client.change} {client.sigil}{proposal.number}"
    if not passed:
        return False, f"Not merging {change}: its gate failed."
    why_not = client.enable_auto_merge(proposal.number, proposal.commit)
    if why_not is None:
        return True, (
            f"Auto-merge enabled on {change} ({proposal.commit[:8]}): {client.name} "
            "merges it once its required checks pass."
        )
    progress.step(f"waiting for the checks of {change}")
    merged, said = client.merge_when_green(proposal.number, proposal.commit, wait_seconds)
    return merged, f"{client.name}'s auto-merge is not available ({why_not}); {change} {said}."


def base_policy(root: Path, base: str) -> Policy:
    """The policy on the base branch (the local branch, else the remote's); a policy there
    that does not parse is its own error, not a missing branch."""
    ref = next((r for r in (base, f"origin/{base}") if git.has_commit(r, root)), None)
    if ref is None:
        raise MlgateError(f"cannot read the policy on the base branch {base}: no such branch")
    return read_policy(git.revision(ref, root))


def _stages(root: Path) -> list[str]:
    """Every stage as `dvc repro` names it (``sub/dvc.yaml:fetch`` in a subfolder's dvc.yaml)."""
    workspace = git.revision(git.WORKSPACE, root)
    stages = []
    for path, content in workspace.read(dvcfiles.pipeline_files(workspace)).items():
        document = dvcfiles.parse_yaml(content, path) if content else None
        names = (document.get("stages") or {}) if isinstance(document, dict) else {}
        stages += [dvcfiles.stage_address(path, str(name)) for name in names]
    return stages


def _main_branch(root: Path) -> str:
    return (git.find_main_branch(root) or "main").removeprefix("origin/")


def _commit_on_branch(root: Path, message: str) -> str:
    """A commit on top of HEAD holding the worktree's changes to tracked files, made with a
    temporary index so the real index and the checked-out branch are untouched."""
    with tempfile.TemporaryDirectory() as folder:
        index = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
        git.run_git("read-tree", "HEAD", cwd=root, env=index)
        git.run_git("add", "--update", "--", ".", cwd=root, env=index)
        tree = git.run_git("write-tree", cwd=root, env=index).strip()
    return git.run_git("commit-tree", tree, "-p", "HEAD", "-m", message, cwd=root).strip()


def _push_data(root: Path) -> bool:
    """``dvc push`` when the project has a default remote; False when it has none."""
    if not _has_dvc_remote(root):
        return False
    dvc.run(root, "push")
    return True


@functools.cache  # asked before reproducing and again before pushing: one `dvc` process
def _has_dvc_remote(root: Path) -> bool:
    remote = subprocess.run(
        [sys.executable, "-m", "dvc", "remote", "default"], cwd=root, capture_output=True, text=True
    )
    return remote.returncode == 0 and bool(remote.stdout.strip())


def _message(retrained: Retrained) -> str:
    return (
        f"Retrain {retrained.artifact} on fresh data\n\n"
        f"{retrained.model_path}: md5 {retrained.old_md5} -> {retrained.new_md5}\n"
        "Proposed by `mlgate retrain --propose`."
    )


def _body(retrained: Retrained, report_markdown: str, run_url: str | None) -> str:
    run = f" by [this run]({run_url})" if run_url else ""
    return (
        f"Scheduled retraining{run} on {_today()} produced a new `{retrained.model_path}` "
        f"(md5 `{retrained.new_md5}`, was `{retrained.old_md5}`). It goes through the same gate "
        "as any change; the gate's verdict against the main branch when it was proposed:\n\n"
        f"{report_markdown}"
    )


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()
