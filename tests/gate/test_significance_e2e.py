"""`mlgate check` with significance rules, end to end: a real DVC pipeline whose model gets
worse by a known amount, real git branches, the real CLI and its exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mermaid_parser
from helpers import commit_all, git, make_predict_project, mlgate_in, retrain

pytestmark = pytest.mark.slow

POLICY = """\
[tool.mlgate]
base = "main"
predictions = "eval/predictions.csv"

[tool.mlgate.rules]
accuracy = {{ direction = "higher", significance = 0.05{extra} }}
"""


def project(path: Path, rows: int, extra: str = "") -> Path:
    make_predict_project(path, rows, POLICY.format(extra=extra))
    git(path, "checkout", "-q", "-b", "change")
    return path


def check(path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    return mlgate_in(path, monkeypatch, "check", *args)


def test_a_small_drop_on_500_rows_is_noise_though_the_point_estimate_would_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project(tmp_path / "p", rows=500)
    retrain(repo, flip=0.004)  # wrong on 0.4% of the rows it had right: 1 or 2 rows
    assert check(repo, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "PASS: within noise" in out and "McNemar exact" in out and "500" in out
    # the same change judged on the point estimate alone (the change's own policy, no test)
    (repo / "pyproject.toml").write_text(
        POLICY.format(extra="").replace(", significance = 0.05", "")
    )
    assert check(repo, monkeypatch, "--policy-from", "head") == 1
    assert "FAIL: regression of" in capsys.readouterr().out


def test_two_percent_fewer_right_on_50000_rows_fails_with_the_evidence_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project(tmp_path / "p", rows=50_000)
    retrain(repo, flip=0.02)
    commit_all(repo, "a worse model")
    assert check(repo, monkeypatch, "--format", "json") == 1
    document = json.loads(capsys.readouterr().out)
    [rule] = document["rules"]
    tested = rule["significance"]
    drawn = document["charts"]  # the curves' points and the confusion matrices, both sides
    assert [c["name"] for c in drawn["curves"]] == ["roc", "precision_recall", "calibration"]
    assert sum(map(sum, drawn["base_confusion"])) == sum(map(sum, drawn["head_confusion"]))
    assert sum(map(sum, drawn["head_confusion"])) == 50_000
    right = [
        sum(m[k][k] for k in range(2)) for m in (drawn["base_confusion"], drawn["head_confusion"])
    ]
    assert right[0] > right[1]  # head is wrong on more rows
    # the pull-request comment: every chart in, each parsed by Mermaid, under GitHub's limit
    assert check(repo, monkeypatch, "--format", "md") == 1
    comment = capsys.readouterr().out
    diagrams = mermaid_parser.blocks(comment)
    assert len(diagrams) == 3 and len(comment) < 65_536
    assert mermaid_parser.errors(diagrams) == [None, None, None]
    assert rule["status"] == "fail" and tested["verdict"] == "regression, significant"
    assert tested["low"] <= tested["difference"] <= tested["high"] < 0
    assert tested["p_value"] < 1e-10 and tested["test"] == "McNemar exact"
    assert (tested["method"], tested["paired"], tested["rows"]) == (
        "paired bootstrap",
        True,
        50_000,
    )
    assert (tested["resamples"], tested["seed"], tested["confidence"]) == (1000, 20261123, 0.95)
    # deterministic: the same inputs, the same verdict and interval
    assert check(repo, monkeypatch, "--format", "json") == 1
    assert json.loads(capsys.readouterr().out)["rules"][0]["significance"] == tested


def test_a_regression_within_min_effect_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project(tmp_path / "p", rows=20_000, extra=", min_effect = 0.05")
    retrain(repo, flip=0.02)
    assert check(repo, monkeypatch) == 0
    assert "PASS: regression, significant: 0.01" in capsys.readouterr().out


def test_a_changed_test_set_is_compared_unpaired_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project(tmp_path / "p", rows=2_000)
    retrain(repo, rows_seed=2, first_id=1_000)
    assert check(repo, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "unpaired bootstrap" in out
    assert "1,000 rows only at base, 1,000 only at head" in out


def test_unusable_predictions_stop_the_check_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project(tmp_path / "p", rows=300)
    retrain(repo, flip=0.1)
    predictions = repo / "eval" / "predictions.csv"
    header, first, *rest = predictions.read_text().splitlines()
    cells = first.split(",")
    cells[header.split(",").index("score")] = "nan"
    predictions.write_text("\n".join([header, ",".join(cells), *rest]) + "\n")
    assert check(repo, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "eval/predictions.csv at workspace: score is 'nan' on line" in err
    assert 'fallback = "point-estimate"' in err and "Traceback" not in err
    predictions.unlink()
    assert check(repo, monkeypatch) == 2
    assert "eval/predictions.csv at workspace is missing" in capsys.readouterr().err


def test_a_fallback_rule_judges_the_point_estimate_when_predictions_are_unusable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project(tmp_path / "p", rows=300, extra=', fallback = "point-estimate"')
    retrain(repo, flip=0.1)
    (repo / "eval" / "predictions.csv").unlink()
    assert check(repo, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "FAIL: no significance test (eval/predictions.csv at workspace is missing" in out
    assert "point estimate: regression of" in out


def test_a_metric_that_is_not_a_number_at_head_fails_with_its_test_still_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = project(tmp_path / "p", rows=300)
    (repo / "metrics.json").write_text('{"accuracy": "n/a"}')
    assert check(repo, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "FAIL: head value is not a number ('n/a')" in out and "McNemar exact" in out
