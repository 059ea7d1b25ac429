"""`mlgate retrain`: real `dvc repro` of a pipeline whose first stage fetches data from outside
the repository, real git with a bare origin, and GitHub's pull-request endpoints played by a
server on 127.0.0.1 (fake_github.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_github import FakeGitHub, github_for_a_job
from helpers import dvc, git, make_fetch_project, mlgate_in, push_to_new_origin
from mlgate.policy import ConfigError, parse_policy

pytestmark = pytest.mark.slow

POLICY = """\
[tool.mlgate]
base = "main"
predictions = "eval/predictions.csv"

[tool.mlgate.rules]
accuracy = { direction = "higher", tolerance = 0.01 }

[tool.mlgate.retrain]
refresh = ["fetch"]
"""
BRANCH = "mlgate/retrain"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with github_for_a_job(monkeypatch) as state:
        yield state


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(clone, upstream data file, bare origin): main's model is wrong on 5% of the rows."""
    upstream = tmp_path / "upstream.txt"
    upstream.write_text("0.05")
    clone = make_fetch_project(tmp_path / "clone", upstream, 2_000, POLICY)
    origin = push_to_new_origin(clone, tmp_path / "origin.git")
    return clone, upstream, origin


def test_fresh_data_that_changes_the_model_is_proposed_as_one_pull_request(
    project: tuple[Path, Path, Path], server: FakeGitHub, monkeypatch, capsys
) -> None:
    clone, upstream, origin = project
    main_commit = git(clone, "rev-parse", "HEAD")
    upstream.write_text("0.0")

    assert mlgate_in(clone, monkeypatch, "retrain", "--propose") == 0
    out = capsys.readouterr().out
    assert "PASS" in out and f"Pushed {BRANCH}" in out and "opened pull request #1" in out
    [pull] = server.pulls
    assert (pull["head"], pull["base"], pull["state"]) == (BRANCH, "main", "open")
    assert pull["title"].startswith("Retrain predictor on fresh data (")
    assert "produced a new `model.txt`" in pull["body"] and "PASS" in pull["body"]
    proposed = git(origin, "rev-parse", BRANCH)
    assert git(origin, "rev-parse", f"{BRANCH}^") == main_commit
    assert git(origin, "show", f"{BRANCH}:model.txt") == "flip 0.0"
    assert sorted(git(origin, "diff", "--name-only", "main", BRANCH).split()) == [
        "dvc.lock",
        "eval/predictions.csv",
        "metrics.json",
        "model.txt",
    ]
    # The person's checkout is as it was: same branch, same index, retrained files in the worktree.
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(clone, "rev-parse", "HEAD") == main_commit
    assert git(clone, "diff", "--cached", "--name-only") == ""
    assert (clone / "model.txt").read_text() == "flip 0.0\n"

    git(clone, "checkout", "--", ".")  # the next scheduled run starts from a clean checkout
    upstream.write_text("0.01")
    assert mlgate_in(clone, monkeypatch, "retrain", "--propose") == 0
    assert "updated pull request #1" in capsys.readouterr().out
    [pull] = server.pulls
    assert git(origin, "show", f"{BRANCH}:model.txt") == "flip 0.01"
    assert git(origin, "rev-parse", f"{BRANCH}^") == main_commit != proposed
    assert {r["authorization"] for r in server.requests} == {"Bearer t0ken"}


def test_the_same_data_proposes_nothing(
    project: tuple[Path, Path, Path], server: FakeGitHub, monkeypatch, capsys
) -> None:
    clone, _, origin = project
    assert mlgate_in(clone, monkeypatch, "retrain", "--propose") == 0
    assert "The model is unchanged (model.txt md5 " in capsys.readouterr().out
    assert server.requests == [] and git(origin, "branch", "--list", BRANCH) == ""
    assert git(clone, "status", "--porcelain") == ""


def test_a_worse_model_fails_the_gate_and_is_still_proposed_for_people_to_see(
    project: tuple[Path, Path, Path], server: FakeGitHub, monkeypatch, capsys
) -> None:
    clone, upstream, _ = project
    upstream.write_text("0.2")
    report = clone.parent / "report.md"
    assert mlgate_in(clone, monkeypatch, "retrain", "--propose", "--report", str(report)) == 1
    assert "FAIL" in capsys.readouterr().out
    [pull] = server.pulls
    assert "FAIL" in pull["body"] and "accuracy" in pull["body"]
    assert "FAIL" in report.read_text()


def test_retraining_without_proposing_leaves_the_result_in_the_worktree(
    project: tuple[Path, Path, Path], monkeypatch, capsys
) -> None:
    clone, upstream, origin = project
    upstream.write_text("0.0")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert mlgate_in(clone, monkeypatch, "retrain", "--refresh", "fetch") == 0
    assert "PASS" in capsys.readouterr().out
    assert (clone / "model.txt").read_text() == "flip 0.0\n"
    assert git(origin, "branch", "--list", BRANCH) == ""


def test_the_data_goes_to_the_dvc_remote_so_the_pull_request_can_pull_it(
    project: tuple[Path, Path, Path], server: FakeGitHub, tmp_path: Path, monkeypatch, capsys
) -> None:
    clone, upstream, _ = project
    storage = tmp_path / "dvc-storage"
    dvc(clone, "remote", "add", "--default", "storage", str(storage))
    git(clone, "commit", "-q", "-am", "a DVC remote")
    upstream.write_text("0.0")
    assert mlgate_in(clone, monkeypatch, "retrain", "--propose") == 0
    assert "and its data to the DVC remote" in capsys.readouterr().out
    assert sum(p.is_file() for p in storage.rglob("*")) == 1  # data/flip.txt, the cached output


def test_the_data_goes_to_an_s3_dvc_remote_too(
    project: tuple[Path, Path, Path], server: FakeGitHub, s3: str, monkeypatch, capsys
) -> None:
    """The same with the remote on S3 (SeaweedFS on loopback, credentials from the
    environment): `retrain --propose` pushes with DVC's S3 plugin."""
    from mlgate.deploy.targets import S3Target

    clone, upstream, _ = project
    dvc(clone, "remote", "add", "--default", "storage", f"{s3}/dvcstore")
    git(clone, "commit", "-q", "-am", "a DVC remote on S3")
    upstream.write_text("0.0")
    assert mlgate_in(clone, monkeypatch, "retrain", "--propose") == 0
    assert "and its data to the DVC remote" in capsys.readouterr().out
    bucket = S3Target(s3, clone / ".unused")
    assert len(bucket._list(bucket._key("dvcstore") + "/")) == 1  # data/flip.txt


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("dirty", [], "the worktree has uncommitted changes (model.txt)"),
        (
            "",
            ["--refresh", "download"],
            "no stage download in dvc.yaml to refresh (stages: fetch, predict)",
        ),
        ("no token", ["--propose"], "GITHUB_TOKEN not set"),
        (
            "forbidden",
            ["--propose"],
            "GitHub refused to open the pull request (403); the branch mlgate/retrain is pushed",
        ),
        ("bad policy", [], "[tool.mlgate.retrain]: refresh must be a list of stage names"),
    ],
)
def test_what_cannot_run_says_why_in_one_line_and_exits_2(
    project: tuple[Path, Path, Path],
    server: FakeGitHub,
    monkeypatch,
    capsys,
    setup: str,
    args: list[str],
    message: str,
) -> None:
    clone, upstream, origin = project
    upstream.write_text("0.0")
    lock = (clone / "dvc.lock").read_text()
    if setup == "dirty":
        (clone / "model.txt").write_text("edited by hand\n")
    if setup == "no token":
        monkeypatch.delenv("GITHUB_TOKEN")
    if setup == "forbidden":
        server.fail_next = [403]  # a token that may push but not use pull requests
    if setup == "bad policy":
        (clone / "pyproject.toml").write_text(POLICY.replace('["fetch"]', '"fetch"'))
        git(clone, "commit", "-q", "-am", "a bad retrain table")
    assert mlgate_in(clone, monkeypatch, "retrain", *args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()[-1]) > 20, err
    assert "Traceback" not in err
    if setup != "forbidden":
        assert (clone / "dvc.lock").read_text() == lock  # nothing was retrained
        assert git(origin, "branch", "--list", BRANCH) == ""


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"refresh": "ingest"}, "refresh must be a list of stage names"),
        ({"refresh": [""]}, "refresh must be a list of stage names"),
        ({"branch": "-x"}, "branch must be a branch name"),
        ({"branch": 3}, "branch must be a branch name"),
        ({"schedule": "daily"}, "unknown key schedule (known: refresh, branch, auto_merge"),
        ({"auto_merge": "yes"}, "auto_merge must be true or false"),
        ({"auto_promote": "Prod uction"}, "auto_promote must name an environment"),
    ],
)
def test_a_bad_retrain_table_is_named(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="retrain") as error:
        parse_policy({"retrain": table}, "pyproject.toml", "pyproject.toml")
    assert message in str(error.value)


# --- issue 24: auto-merge on a passing gate ----------------------------------------------------


def _turn_on_auto_merge(clone: Path) -> None:
    """auto_merge on main (the base), where the gate reads its policy from."""
    pyproject = clone / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "auto_merge = true\n")
    git(clone, "commit", "-qam", "auto-merge retraining")
    git(clone, "push", "-q", "origin", "main")


def test_a_passing_proposal_is_auto_merged_and_a_failing_one_never(
    project: tuple[Path, Path, Path], server: FakeGitHub, monkeypatch, capsys
) -> None:
    clone, upstream, origin = project
    _turn_on_auto_merge(clone)
    upstream.write_text("0.0")
    assert mlgate_in(clone, monkeypatch, "retrain", "--propose") == 0
    out = capsys.readouterr().out
    proposed = git(origin, "rev-parse", BRANCH)
    assert f"Auto-merge enabled on pull request #1 ({proposed[:8]})" in out
    [pull] = server.pulls
    assert pull["auto_merge"] == {"merge_method": "SQUASH", "expected_head": proposed}

    # Where the repository does not allow auto-merge: merged through REST once checks pass.
    server.auto_merge_allowed = False
    gate = {"name": "Gate", "app": {"slug": "github-actions"}}
    server.checks = [{**gate, "status": "in_progress", "conclusion": None}]
    server.checks_after = (2, [{**gate, "status": "completed", "conclusion": "success"}])
    git(clone, "checkout", "--", ".")
    upstream.write_text("0.01")
    assert mlgate_in(clone, monkeypatch, "retrain", "--propose", "--merge-wait", "30") == 0
    out = capsys.readouterr().out
    assert "Auto merge is not allowed for this repository" in out
    assert "pull request #1 merged: every check on its commit passed" in out
    [pull] = server.pulls
    assert pull["merged"] and pull["merged_sha"] == git(origin, "rev-parse", BRANCH)

    # A failing gate is proposed for people to see, and never merged.
    git(clone, "checkout", "--", ".")
    upstream.write_text("0.2")
    asked = len(server.requests)
    assert mlgate_in(clone, monkeypatch, "retrain", "--propose") == 1
    assert "Not merging pull request #2: its gate failed." in capsys.readouterr().out
    later = server.requests[asked:]
    assert not any(r["path"] == "/graphql" or r["method"] == "PUT" for r in later)
    assert "merged" not in server.pulls[1]
