"""DVC experiments as revisions and ranked by the gate (issue 32.3): real `dvc exp run`
experiments on a real DVC project, compared with DVC's own `metrics diff`, `params diff` and
`exp show`; the ranking's order on verdicts built to known answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import commit_all, dvc, git, make_score_project, mlgate_in
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
