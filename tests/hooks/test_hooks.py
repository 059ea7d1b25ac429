"""mlgate's git hooks, installed in real repositories and run by real git commits, pushes and
checkouts (with a bare `origin` where pushing matters)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import commit_all, dvc, git, make_score_project, run
from mlgate.commands import hook
from mlgate.commands.main import main
from mlgate.errors import ConfigError
from mlgate.hooks import runner, scripts

LEGACY_HOOK = "#!/bin/sh\necho legacy ran >> legacy.log\nexit ${LEGACY_EXIT:-0}\n"


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_score_project(tmp_path_factory.mktemp("hooks") / "project")


@pytest.fixture
def repo(reproduced: Path, tmp_path: Path) -> Path:
    """A copy of the reproduced project with a bare origin holding main, hooks installed."""
    repo = Path(shutil.copytree(reproduced, tmp_path / "repo", symlinks=True))
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "origin", "main")
    scripts.install(repo)
    return repo


def set_quality(repo: Path, quality: float) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump({"score": {"quality": quality}}))


def try_git(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **env}
    )


def commit(repo: Path, message: str = "change", **env: str) -> subprocess.CompletedProcess[str]:
    git(repo, "add", "-A")
    return try_git(repo, "commit", "-q", "-m", message, **env)


# --- install, uninstall, status ------------------------------------------------------------


def test_install_status_and_uninstall(tmp_path: Path, monkeypatch, capsys) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    monkeypatch.chdir(repo)
    assert main(["hooks", "install", "--hook", "pre-commit", "--hook", "pre-push"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == [
        f"pre-commit     installed, runs {scripts.sys.executable}",
        f"pre-push       installed, runs {scripts.sys.executable}",
    ]
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert hook.stat().st_mode & stat.S_IXUSR
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()
    assert main(["hooks", "status"]) == 0
    assert "post-checkout  not installed" in capsys.readouterr().out
    assert main(["hooks", "uninstall"]) == 0
    assert not hook.exists() and not list((repo / ".git" / "hooks").glob("*mlgate*"))


def test_install_again_refreshes_the_interpreter_and_keeps_one_chained_hook(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    legacy = repo / ".git" / "hooks" / "pre-commit"
    legacy.write_text(LEGACY_HOOK)
    scripts.install(repo, python="/old/venv/bin/python")
    [state] = scripts.install(repo, ["pre-commit"])
    assert state.installed and state.chained and state.python == scripts.sys.executable
    assert (repo / ".git" / "hooks" / "pre-commit.before-mlgate").read_text() == LEGACY_HOOK


def test_an_existing_hook_is_chained_first_its_failure_stops_and_uninstall_restores_it(
    repo: Path,
) -> None:
    scripts.uninstall(repo)
    legacy = repo / ".git" / "hooks" / "pre-commit"
    legacy.write_text(LEGACY_HOOK)
    legacy.chmod(0o750)
    before = (legacy.read_bytes(), stat.S_IMODE(legacy.stat().st_mode))
    scripts.install(repo)
    (repo / "notes.txt").write_text("hello\n")
    assert commit(repo).returncode == 0
    assert (repo / "legacy.log").read_text() == "legacy ran\n"
    set_quality(repo, 0.5)  # mlgate would block, but the legacy hook's failure comes first
    failed = commit(repo, LEGACY_EXIT="3")
    assert failed.returncode != 0 and "mlgate" not in failed.stderr
    scripts.uninstall(repo)
    assert (legacy.read_bytes(), stat.S_IMODE(legacy.stat().st_mode)) == before


def test_install_refuses_when_a_foreign_hook_and_a_chained_one_both_exist(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    directory = repo / ".git" / "hooks"
    (directory / "pre-commit").write_text(LEGACY_HOOK)
    (directory / "pre-commit.before-mlgate").write_text("#!/bin/sh\n")
    with pytest.raises(ConfigError, match="move one of them away"):
        scripts.install(repo)
    assert (directory / "pre-commit").read_text() == LEGACY_HOOK  # untouched
    assert not (directory / "pre-push").exists()  # and no hook half installed


def test_uninstall_refuses_to_put_back_a_hook_over_one_written_since(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    directory = repo / ".git" / "hooks"
    (directory / "pre-commit").write_text(LEGACY_HOOK)
    scripts.install(repo)
    (directory / "pre-commit").write_text("#!/bin/sh\necho another tool\n")
    with pytest.raises(ConfigError, match="is not mlgate's hook any more"):
        scripts.uninstall(repo)
    assert scripts.status(repo)[1].installed  # pre-push untouched too
    assert (directory / "pre-commit.before-mlgate").read_text() == LEGACY_HOOK


def test_core_hooks_path_is_honoured(repo: Path) -> None:
    scripts.uninstall(repo)
    git(repo, "config", "core.hooksPath", ".githooks")
    scripts.install(repo)
    assert (repo / ".githooks" / "pre-commit").exists()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    set_quality(repo, 0.5)
    assert commit(repo).returncode == 1


def test_a_worktree_shares_the_hooks(repo: Path, tmp_path: Path) -> None:
    scripts.uninstall(repo)
    git(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    worktree = tmp_path / "side"
    scripts.install(worktree)
    assert (repo / ".git" / "hooks" / "pre-commit").exists()
    set_quality(worktree, 0.5)
    blocked = commit(worktree)
    assert blocked.returncode == 1 and "score: params.yaml changed" in blocked.stderr


def test_a_hook_whose_interpreter_is_gone_says_how_to_recover(repo: Path) -> None:
    scripts.install(repo, ["pre-commit"], python="/nonexistent/python")
    (repo / "notes.txt").write_text("hello\n")
    git(repo, "add", "-A")
    result = try_git(repo, "commit", "-q", "-m", "x", PATH="/usr/bin:/bin")
    assert result.returncode == 1
    assert "/nonexistent/python is gone and mlgate is not on PATH" in result.stderr
    assert commit(repo).returncode == 0  # with mlgate on PATH, the hook falls back to it


# --- pre-commit ----------------------------------------------------------------------------


def test_a_stale_commit_is_blocked_then_allowed_after_dvc_repro(repo: Path) -> None:
    set_quality(repo, 0.5)
    blocked = commit(repo)
    assert blocked.returncode == 1
    assert blocked.stderr.splitlines() == [
        "mlgate: commit blocked: dvc.lock does not match what is being committed",
        "  score: params.yaml changed: score.quality (0.9 -> 0.5)",
        "  (dvc repro also reruns report)",
        "Run `dvc repro`, stage dvc.lock and its outputs, then commit "
        "(or set MLGATE_SKIP=1 to commit anyway).",
    ]
    dvc(repo, "repro", "-q")
    assert commit(repo).returncode == 0
    assert yaml.safe_load(git(repo, "show", "HEAD:dvc.lock"))["stages"]["score"]["params"] == {
        "params.yaml": {"score": {"quality": 0.5}}
    }


def test_reproduced_but_unstaged_results_say_git_add(repo: Path) -> None:
    set_quality(repo, 0.5)
    dvc(repo, "repro", "-q")
    git(repo, "add", "params.yaml")
    blocked = try_git(repo, "commit", "-q", "-m", "params only")
    assert blocked.returncode == 1
    assert "not all of it is staged: `git add dvc.lock`" in blocked.stderr


def test_mlgate_skip_and_no_verify_skip_the_hook(repo: Path) -> None:
    set_quality(repo, 0.5)
    assert commit(repo, MLGATE_SKIP="1").returncode == 0
    set_quality(repo, 0.4)
    git(repo, "add", "-A")
    assert try_git(repo, "commit", "-q", "--no-verify", "-m", "x").returncode == 0


def test_hooks_in_a_repository_without_dvc_are_silent(tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    git(tmp_path, "init", "-q", str(repo))
    scripts.install(repo)
    (repo / "params.yaml").write_text("a: 1\n")
    result = commit(repo)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_broken_params_file_blocks_with_one_line(repo: Path) -> None:
    (repo / "params.yaml").write_text("score: [unclosed\n")
    result = commit(repo)
    assert result.returncode == 1  # git reports any failing pre-commit hook as 1
    assert result.stderr.startswith("mlgate: error: params.yaml in the staged changes is not valid")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


# --- pre-push ------------------------------------------------------------------------------


def branch_with_quality(repo: Path, branch: str, quality: float) -> None:
    git(repo, "checkout", "-q", "-b", branch, "main")
    set_quality(repo, quality)
    dvc(repo, "repro", "-q")
    assert commit(repo, f"quality {quality}").returncode == 0


def remote_branches(repo: Path) -> list[str]:
    heads = git(repo, "ls-remote", "--heads", "origin").splitlines()
    return [line.split("refs/heads/", 1)[1] for line in heads]


def test_a_regressing_push_is_blocked_with_the_verdict_and_an_improving_one_goes_through(
    repo: Path,
) -> None:
    branch_with_quality(repo, "worse", 0.5)
    blocked = try_git(repo, "push", "-q", "origin", "worse")
    assert blocked.returncode != 0
    assert "mlgate: push of worse blocked: the gate fails against origin/main" in blocked.stderr
    assert "accuracy" in blocked.stderr and "FAIL" in blocked.stderr
    assert "worse" not in remote_branches(repo)
    branch_with_quality(repo, "better", 0.95)
    pushed = try_git(repo, "push", "-q", "origin", "better")
    assert pushed.returncode == 0, pushed.stderr
    assert "the gate passes against origin/main" in pushed.stderr
    assert "better" in remote_branches(repo)


def test_main_itself_deletions_and_tags_are_not_gated(repo: Path) -> None:
    branch_with_quality(repo, "worse", 0.5)
    assert try_git(repo, "push", "-q", "origin", "worse", MLGATE_SKIP="1").returncode == 0
    deleted = try_git(repo, "push", "-q", "origin", "--delete", "worse")
    assert (deleted.returncode, deleted.stderr) == (0, "")
    git(repo, "tag", "-a", "-m", "t", "worse-tag")
    tagged = try_git(repo, "push", "-q", "origin", "worse-tag")
    assert (tagged.returncode, tagged.stderr) == (0, "")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "worse")
    to_main = try_git(repo, "push", "-q", "origin", "main")
    assert (to_main.returncode, to_main.stderr) == (0, "")


def test_a_push_to_a_remote_without_main_is_allowed_with_a_note(repo: Path, tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "empty.git")
    git(repo, "remote", "add", "empty", str(tmp_path / "empty.git"))
    git(repo, "checkout", "-q", "-b", "first")
    pushed = try_git(repo, "push", "-q", "empty", "first")
    assert pushed.returncode == 0
    assert "empty has no main branch yet: nothing to gate against" in pushed.stderr


# --- post-checkout -------------------------------------------------------------------------


def test_switching_branches_checks_out_their_data_and_is_quiet_when_nothing_changed(
    repo: Path,
) -> None:
    git(repo, "checkout", "-q", "-b", "more-data")
    (repo / "data" / "extra.csv").write_text("x,y\n9,1\n")
    dvc(repo, "add", "-q", "data")
    dvc(repo, "repro", "-q")
    assert commit(repo, "more data").returncode == 0
    back = try_git(repo, "checkout", "-q", "main")
    assert back.returncode == 0
    assert not (repo / "data" / "extra.csv").exists()
    assert "mlgate: dvc checkout:" in back.stderr and "data" in back.stderr
    assert (repo / "model.txt").read_text() == "quality 0.9 on 3 rows\n"
    again = try_git(repo, "checkout", "-q", "more-data")
    assert (repo / "data" / "extra.csv").read_text() == "x,y\n9,1\n"
    assert (repo / "model.txt").read_text() == "quality 0.9 on 5 rows\n"
    assert "mlgate: dvc checkout:" in again.stderr
    git(repo, "checkout", "-q", "-b", "same-data")
    quiet = try_git(repo, "checkout", "-q", "more-data")
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_post_checkout_does_nothing_during_a_rebase(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "notes.txt").write_text("topic\n")
    commit_all(repo, "topic notes")
    git(repo, "checkout", "-q", "main")
    (repo / "notes.txt").write_text("main\n")
    commit_all(repo, "main notes")
    git(repo, "checkout", "-q", "topic")
    assert run(repo, "git", "rebase", "main", check=False).returncode != 0  # stops on a conflict
    (repo / "data" / "train.csv").write_text("changed by hand\n")
    head = git(repo, "rev-parse", "HEAD")
    result = runner.post_checkout(
        repo, git(repo, "rev-parse", "topic"), head, is_branch_checkout=True
    )
    assert result == runner.HookResult()  # nothing done, nothing said
    assert (repo / "data" / "train.csv").read_text() == "changed by hand\n"


def test_a_checkout_of_files_is_not_a_branch_checkout(repo: Path) -> None:
    (repo / "data" / "train.csv").write_text("changed by hand\n")
    previous = git(repo, "rev-parse", "HEAD~0")
    result = runner.post_checkout(repo, previous, previous, is_branch_checkout=False)
    assert result == runner.HookResult()
    assert (repo / "data" / "train.csv").read_text() == "changed by hand\n"


def test_git_pull_by_merge_or_by_rebase_checks_out_the_data_it_brought(repo: Path) -> None:
    """Without post-merge and post-rewrite, the workspace keeps the data from before the pull
    and `mlgate release` refuses it as stale."""
    git(repo, "checkout", "-q", "-b", "upstream")
    (repo / "data" / "extra.csv").write_text("x,y\n9,1\n")
    dvc(repo, "add", "-q", "data")
    dvc(repo, "repro", "-q")
    assert commit(repo, "more data upstream").returncode == 0
    assert try_git(repo, "push", "-q", "origin", "upstream:main", MLGATE_SKIP="1").returncode == 0
    git(repo, "checkout", "-q", "main")
    (repo / "notes.txt").write_text("a local change\n")
    assert commit(repo, "local notes").returncode == 0
    local = git(repo, "rev-parse", "HEAD")
    assert not (repo / "data" / "extra.csv").exists()

    merged = try_git(repo, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
    assert merged.returncode == 0, merged.stderr
    assert merged.stderr.count("mlgate: dvc checkout:") == 1
    assert (repo / "data" / "extra.csv").exists()
    assert (repo / "model.txt").read_text() == "quality 0.9 on 5 rows\n"

    git(repo, "reset", "-q", "--hard", local)  # no hook runs on a reset: dvc checkout by hand
    dvc(repo, "checkout", "-q")
    assert not (repo / "data" / "extra.csv").exists()
    rebased = try_git(repo, "pull", "-q", "--rebase", "origin", "main")
    assert rebased.returncode == 0, rebased.stderr
    assert rebased.stderr.count("mlgate: dvc checkout:") == 1  # once, at the end of the rebase
    assert (repo / "data" / "extra.csv").exists()
    assert (repo / "model.txt").read_text() == "quality 0.9 on 5 rows\n"
    assert git(repo, "log", "-1", "--format=%s") == "local notes"

    (repo / "notes.txt").write_text("amended\n")
    git(repo, "add", "notes.txt")
    amended = try_git(repo, "commit", "-q", "--amend", "--no-edit")
    assert (amended.returncode, amended.stderr) == (0, "")  # an amend moves no data
    quiet = try_git(repo, "pull", "-q", "--rebase", "origin", "main")  # nothing new
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_unknown_hook_is_a_clear_error(capsys) -> None:
    assert hook.main(["pre-rebase"]) == 2
    assert capsys.readouterr().err.startswith("mlgate: error: unknown hook 'pre-rebase'")


def test_the_commit_and_push_hooks_import_neither_click_dvc_pandas_nor_sklearn(repo: Path) -> None:
    set_quality(repo, 0.5)
    git(repo, "add", "params.yaml")
    head = git(repo, "rev-parse", "HEAD")
    code = (
        "import sys; from mlgate.commands.hook import main; "
        "codes = [main(['pre-commit']), main(['pre-push', 'origin', 'url'])]; "
        "print(codes, sorted(m for m in ('click', 'dvc', 'pandas', 'sklearn') if m in sys.modules))"
    )
    refs = f"refs/heads/side {head} refs/heads/side {'0' * 40}\n"
    result = subprocess.run(
        [scripts.sys.executable, "-c", code], cwd=repo, input=refs, capture_output=True, text=True
    )
    assert result.stdout.strip() == "[1, 0] []", result.stdout + result.stderr
