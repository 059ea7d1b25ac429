"""DVC experiments as revisions and ranked by the gate (issue 32.3): real `dvc exp run`
experiments on a real DVC project, compared with DVC's own `metrics diff`, `params diff` and
`exp show`; the ranking's order on verdicts built to known answers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fake_github import FakeGitHub, github_for_a_job
from helpers import commit_all, dvc, git, make_score_project, mlgate_in, push_to_new_origin
from mlgate.gate.judge import GateResult, judge_rule
from mlgate.gate.ranking import Entry, rank
from mlgate.gate.stats import Difference
from mlgate.policy import Rule

ACCURACY = Rule(key="accuracy", direction="higher", tolerance=0.01, significance=0.05)


def a_difference(difference: float, p_value: float) -> Difference:
    low, high = difference - 0.01, difference + 0.01
    return Difference("accuracy", 0.9, 0.9 + difference, low, high, 0.95, p_value,
                      "paired bootstrap", "McNemar exact", 500, 1000, 1)  # fmt: skip


def entry(name: str, head: float, p_value: float | None = None, when: int = 0) -> Entry:
    test = a_difference(head - 0.9, p_value) if p_value is not None else None
    outcome = judge_rule(ACCURACY, "metrics.json", "accuracy", 0.9, head, test)
    return Entry(name, name * 5, when, GateResult((outcome,), compared=True))


def test_the_ranking_puts_passing_first_then_significant_then_larger_gains() -> None:
    entries = [
        entry("worse", 0.7, p_value=0.001),  # fails: a significant regression
        entry("big_noise", 0.95, p_value=0.4),  # a larger gain, but within noise
        entry("significant", 0.93, p_value=0.01),
        entry("untested", 0.92),
        entry("older_same", 0.92, when=-1),
        Entry("broken", "b" * 40, 5, None, "metrics.json is missing"),
    ]
    ranked = [e.name for e in rank(entries)]
    assert ranked == ["significant", "big_noise", "untested", "older_same", "worse", "broken"]
    assert [e.standing for e in rank(entries)][-2:] == ["fail", "cannot judge"]


@pytest.fixture(scope="module")
def experimented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The score project with three experiments of main: better, slightly better, worse."""
    root = make_score_project(tmp_path_factory.mktemp("experiments") / "project")
    for name, quality in (("better", 0.95), ("slightly", 0.91), ("worse", 0.8)):
        dvc(root, "exp", "run", "-q", "-S", f"score.quality={quality}", "-n", name)
    git(root, "checkout", "-q", "--", ".")  # the last experiment's results stay in the workspace
    return root


@pytest.fixture
def project(experimented: Path, tmp_path: Path) -> Path:
    root = Path(shutil.copytree(experimented, tmp_path / "project", symlinks=True))
    git(root, "checkout", "-q", "--", ".")
    return root


def test_an_experiment_is_a_revision_as_dvc_takes_it(project: Path, monkeypatch, capsys) -> None:
    """`dvc metrics diff main better` takes an experiment's name; so do diff and check."""
    assert mlgate_in(project, monkeypatch, "diff", "main", "better", "--format", "json") == 0
    ours = json.loads(capsys.readouterr().out)
    for kind in ("metrics", "params"):
        theirs = json.loads(dvc(project, kind, "diff", "main", "better", "--json").stdout)
        assert ours[kind] == theirs, kind
    assert mlgate_in(project, monkeypatch, "check", "--head", "better") == 0
    assert mlgate_in(project, monkeypatch, "check", "--head", "worse") == 1
    capsys.readouterr()
    assert mlgate_in(project, monkeypatch, "check", "--head", "nothing-by-that-name") == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("no such branch, tag, commit or DVC experiment") and "\n" not in err


def test_experiments_are_ranked_by_the_gate_and_the_best_proposed(
    project: Path, monkeypatch, capsys
) -> None:
    assert mlgate_in(project, monkeypatch, "exp", "--format", "json") == 0
    ranking = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in ranking["experiments"]] == ["better", "slightly", "worse"]
    assert [e["verdict"] for e in ranking["experiments"]] == ["pass", "pass", "fail"]
    assert ranking["proposed"] == "better"
    # the same experiments, and commits, as DVC's own `exp show`
    shown = json.loads(dvc(project, "exp", "show", "--json").stdout)
    theirs = {e["name"]: e["revs"][0]["rev"] for row in shown for e in row.get("experiments") or []}
    assert {e["name"]: e["commit"] for e in ranking["experiments"]} == theirs
    assert mlgate_in(project, monkeypatch, "exp") == 0
    text = capsys.readouterr().out
    assert "Propose better (" in text
    assert "- worse: accuracy regression of 0.1, more than the 0.01 allowed" in text


def test_none_passing_is_exit_1_and_none_at_all_or_nothing_to_rank_by_exit_2(
    project: Path, monkeypatch, capsys
) -> None:
    """Each experiment is judged under its baseline's policy, as its pull request would be."""

    def experiment_under(policy_rules: str, name: str) -> None:
        (project / "pyproject.toml").write_text(
            f'[tool.mlgate]\nbase = "main"\n[tool.mlgate.rules]\n{policy_rules}\n'
        )
        commit_all(project, f"policy for {name}")
        dvc(project, "exp", "run", "-q", "-S", "score.quality=0.9", "-n", name)
        git(project, "checkout", "-q", "--", ".")

    experiment_under('f1 = { direction = "higher" }', "unranked")  # nothing writes f1
    assert mlgate_in(project, monkeypatch, "exp") == 2
    err = capsys.readouterr().err.strip()
    assert "nothing to rank them by" in err and "\n" not in err
    experiment_under('accuracy = { direction = "higher", min = 0.99 }', "short")
    assert mlgate_in(project, monkeypatch, "exp") == 1
    assert "No experiment passes the gate: none to propose." in capsys.readouterr().out
    (project / "notes.txt").write_text("one more commit\n")
    commit_all(project, "one more commit")
    assert mlgate_in(project, monkeypatch, "exp") == 2  # HEAD moved: it has none of its own
    err = capsys.readouterr().err.strip()
    assert "no DVC experiments of HEAD" in err and "\n" not in err
    assert mlgate_in(project, monkeypatch, "exp", "--all") == 0  # better, of the first commit


def test_an_experiment_name_on_two_baselines_is_ambiguous_in_one_line(
    project: Path, monkeypatch, capsys
) -> None:
    (project / "notes.txt").write_text("a second baseline\n")
    commit_all(project, "another commit")
    dvc(project, "exp", "run", "-q", "-S", "score.quality=0.96", "-n", "better")
    git(project, "checkout", "-q", "--", ".")
    assert mlgate_in(project, monkeypatch, "check", "--head", "better") == 2
    err = capsys.readouterr().err.strip()
    assert "'better' names several DVC experiments: use one of refs/exps/" in err
    assert "\n" not in err


@pytest.fixture
def github_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """A loopback server implementing the GitHub endpoints a proposal calls (fake_github.py)."""
    with github_for_a_job(monkeypatch) as state:
        yield state


def test_the_best_experiment_is_proposed_as_a_pull_request_with_its_data(
    project: Path, github_server: FakeGitHub, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Issue 32.3: the one to propose is chosen by the gate, and opened as its pull request:
    the experiment's own commit as the branch, its outputs in the DVC remote."""
    origin = push_to_new_origin(project, tmp_path / "origin.git")
    store = tmp_path / "store"
    dvc(project, "remote", "add", "-d", "storage", str(store))
    commit_all(project, "a DVC remote")
    git(project, "push", "-q", "origin", "main")
    # a new baseline: its experiments
    for name, quality in (("good", 0.93), ("bad", 0.5)):
        dvc(project, "exp", "run", "-q", "-S", f"score.quality={quality}", "-n", name)
    git(project, "checkout", "-q", "--", ".")
    good = git(project, "rev-parse", git_ref(project, "good"))

    assert mlgate_in(project, monkeypatch, "exp", "--propose", "--branch", "a..b") == 2
    err = capsys.readouterr().err.strip()
    assert "'a..b' is not a branch name git accepts" in err and "\n" not in err
    assert github_server.pulls == []

    assert mlgate_in(project, monkeypatch, "exp", "--propose") == 0
    out = capsys.readouterr().out
    assert "Pushed exp/good (" in out and "opened pull request #1" in out
    [pull] = github_server.pulls
    assert (pull["head"], pull["base"], pull["state"]) == ("exp/good", "main", "open")
    assert "Propose good (" in pull["body"] and "| 2 | bad | FAIL |" in pull["body"]
    assert git(origin, "rev-parse", "exp/good") == good
    lock = yaml.safe_load(git(origin, "show", "exp/good:dvc.lock"))
    model_md5 = next(o["md5"] for o in lock["stages"]["score"]["outs"] if o["path"] == "model.txt")
    assert (store / "files" / "md5" / model_md5[:2] / model_md5[2:]).is_file()


def git_ref(root: Path, name: str) -> str:
    [ref] = [
        line.split()[1] for line in git(root, "show-ref").splitlines() if line.endswith(f"/{name}")
    ]
    return ref
