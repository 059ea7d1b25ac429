"""git.py's reads at a commit through one long-lived `git cat-file --batch` per repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import commit_all, git
from mlgate import git as gitmod
from mlgate.errors import GitError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.txt").write_text("a\n")
    (tmp_path / "b.bin").write_bytes(b"\x00\n\nb" * 1000)
    commit_all(tmp_path, "files")
    return tmp_path


def test_reads_stay_in_step_across_trees_missing_paths_and_binary_files(repo: Path) -> None:
    commit = gitmod.resolve_commit("HEAD", repo)
    for _ in range(3):  # the same process answers every round
        read = gitmod.read_blobs(commit, ["dir", "nope", "b.bin", "dir/a.txt", "a b c"], repo)
        assert read == {
            "dir": None,
            "nope": None,
            "b.bin": b"\x00\n\nb" * 1000,
            "dir/a.txt": b"a\n",
            "a b c": None,
        }


def test_a_path_with_a_line_break_is_refused_not_sent(repo: Path) -> None:
    commit = gitmod.resolve_commit("HEAD", repo)
    with pytest.raises(GitError, match="line break"):
        gitmod.read_blobs(commit, ["dir/a.txt\n" + commit + ":b.bin"], repo)
    assert gitmod.read_blobs(commit, ["dir/a.txt"], repo) == {"dir/a.txt": b"a\n"}


def test_a_path_outside_the_repository_is_never_read(repo: Path) -> None:
    """A dvc.yaml a pull request changed may name ``../secret`` or an absolute path as a
    metrics or plots file: neither the workspace nor a commit is read beyond the checkout."""
    checkout = repo / "checkout"
    git(repo, "clone", "-q", str(repo), str(checkout))
    (repo / "secret.json").write_text('{"token": 1}')
    for at in (gitmod.WORKSPACE, "HEAD"):
        revision = gitmod.revision(at, checkout)
        read = revision.read(["../secret.json", str(repo / "secret.json"), "dir/a.txt"])
        assert read == {
            "../secret.json": None,
            str(repo / "secret.json"): None,
            "dir/a.txt": b"a\n",
        }


def test_a_reader_whose_process_died_starts_again(repo: Path) -> None:
    commit = gitmod.resolve_commit("HEAD", repo)
    assert gitmod.read_blobs(commit, ["dir/a.txt"], repo)["dir/a.txt"] == b"a\n"
    reader = gitmod._batch_reader(repo)
    assert reader.process is not None
    reader.process.kill()
    reader.process.wait()
    assert gitmod.read_blobs(commit, ["dir/a.txt"], repo)["dir/a.txt"] == b"a\n"
