"""Predictions files read from real git revisions: checked, paired by id, tested."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from helpers import commit_all, git
from mlgate.errors import DataError
from mlgate.gate import significance, stats
from mlgate.gate.compare import predictions_file
from mlgate.gate.significance import parse_predictions
from mlgate.git import WORKSPACE, Revision, revision


def measure(
    base: Revision, head: Revision, path: str, levels: dict[str, float], *args, **kwargs
) -> significance.Significance:
    """significance.measure on the predictions file as gate.compare reads it at each revision."""
    return significance.measure(
        predictions_file(base, path), predictions_file(head, path), path, levels, *args, **kwargs
    )


PATH = "eval/predictions.csv"


def csv_of(rows: list[tuple], header: str = "id,label,prediction,score") -> bytes:
    return (header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)).encode()


def sample(rows: int = 400, seed: int = 0, flip: float = 0.0, ids_from: int = 0) -> list[tuple]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.3).astype(int)
    scores = np.clip(0.5 + np.where(labels == 1, 0.25, -0.25) + rng.normal(0, 0.2, rows), 0, 1)
    flipped = np.random.default_rng(seed + 1).random(rows) < flip
    scores = np.where(flipped, 1 - scores, scores)
    return [
        (ids_from + i, y, int(s >= 0.5), f"{s:.4f}")
        for i, (y, s) in enumerate(zip(labels, scores, strict=True))
    ]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "eval").mkdir()
    (tmp_path / PATH).write_bytes(csv_of(sample()))
    commit_all(tmp_path, "base predictions")
    return tmp_path


def at(repo: Path, content: bytes) -> tuple[Revision, Revision]:
    (repo / PATH).write_bytes(content)
    return revision("main", repo), revision(WORKSPACE, repo)


def test_identical_predictions_are_paired_and_within_noise(repo: Path) -> None:
    base, head = at(repo, csv_of(sample()))
    result = measure(base, head, PATH, {"accuracy": 0.95, "roc_auc": 0.95})
    assert result.paired and result.notes == ()
    assert result.differences["accuracy"].p_value == 1.0
    assert result.differences["roc_auc"].difference == 0.0


def test_rows_in_another_order_are_paired_by_id(repo: Path) -> None:
    shuffled = sample()
    np.random.default_rng(3).shuffle(shuffled)
    base, head = at(repo, csv_of(shuffled))
    result = measure(base, head, PATH, {"roc_auc": 0.95, "log_loss": 0.95})
    assert result.paired
    assert (result.differences["roc_auc"].low, result.differences["roc_auc"].high) == (0, 0)


def test_another_test_set_is_compared_unpaired_and_the_report_says_why(repo: Path) -> None:
    base, head = at(repo, csv_of(sample(rows=500, seed=9, ids_from=300)))
    result = measure(base, head, PATH, {"accuracy": 0.95})
    assert not result.paired
    assert result.differences["accuracy"].method == stats.UNPAIRED
    assert "300 rows only at base, 400 only at head" in result.notes[0]


def test_the_same_ids_with_other_labels_are_compared_unpaired(repo: Path) -> None:
    relabelled = [(i, 1 - y, p, s) if i < 10 else (i, y, p, s) for i, y, p, s in sample()]
    base, head = at(repo, csv_of(relabelled))
    result = measure(base, head, PATH, {"f1": 0.95})
    assert not result.paired and "10 of them have another label" in result.notes[0]


def test_a_worse_model_is_a_significant_regression(repo: Path) -> None:
    (repo / PATH).write_bytes(csv_of(sample(rows=20_000)))
    commit_all(repo, "bigger test set")
    base, head = at(repo, csv_of(sample(rows=20_000, flip=0.05)))
    result = measure(base, head, PATH, {"accuracy": 0.95, "roc_auc": 0.99})
    assert result.differences["accuracy"].test == stats.MCNEMAR
    assert result.differences["accuracy"].high < 0 and result.differences["roc_auc"].high < 0
    assert result.differences["roc_auc"].confidence == 0.99


def test_multiclass_score_columns_in_another_order_are_matched_by_class(repo: Path) -> None:
    header = "id,label,prediction,score_cat,score_dog,score_eel"
    rows = [(i, ["cat", "dog", "eel"][i % 3], "cat", "0.5,0.3,0.2") for i in range(60)]
    (repo / PATH).write_bytes(csv_of(rows, header))
    commit_all(repo, "three classes")
    swapped = [(i, y, p, "0.2,0.3,0.5") for i, y, p, _ in rows]  # eel, dog, cat: the same scores
    base, head = at(repo, csv_of(swapped, "id,label,prediction,score_eel,score_dog,score_cat"))
    result = measure(base, head, PATH, {"log_loss": 0.95, "accuracy": 0.95})
    assert result.differences["log_loss"].difference == 0.0
    assert result.differences["accuracy"].base == pytest.approx(1 / 3)


def test_predictions_read_from_the_staged_index_and_from_a_commit(repo: Path) -> None:
    (repo / PATH).write_bytes(csv_of(sample(flip=0.5)))
    git(repo, "add", PATH)
    (repo / PATH).write_bytes(b"garbage that is not read\n")
    result = measure(revision("main", repo), revision(":", repo), PATH, {"accuracy": 0.95})
    assert result.differences["accuracy"].difference < 0


WHERE = "eval/predictions.csv at main (abc)"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"id,label,prediction,score\n", "has no rows"),
        (b"id,label,score\n1,0,0.5\n", "lacks the column prediction"),
        (b"id,label,prediction\n1,0,0\n", "lacks the column score (or score_<class> columns)"),
        (b"id,label,prediction,score\n1,0,0,0.5\n2,1,1\n", "line 3 has 3 fields, the header 4"),
        (
            b"id,label,prediction,score\n1,0,0,0.5\n2,1,1,high\n",
            "score 'high' on line 3 is not a number",
        ),
        (b"id,label,prediction,score\n1,0,0,nan\n2,1,1,0.9\n", "score is 'nan' on line 2"),
        (b"id,label,prediction,score\n1,0,0,0.5\n2,1,1,1.5\n", "scores must be probabilities"),
        (b"id,label,prediction,score\n1,0,0,0.5\n1,1,1,0.9\n", "id '1' appears more than once"),
        (b"\xff\xfe\x00bad", "is not a readable CSV file"),
    ],
)
def test_a_malformed_file_is_a_data_error_naming_file_revision_and_line(
    content: bytes, message: str
) -> None:
    with pytest.raises(DataError, match=re.escape(message)) as raised:
        parse_predictions(content, WHERE)
    assert str(raised.value).startswith(WHERE)


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (
            csv_of([(0, 0, 0, "0.3,0.7")], "id,label,prediction,score_0,score_1"),
            "mismatched columns: .* has 'score', .* has 'score_0', 'score_1'",
        ),
        (csv_of([(0, 0, 2, "0.3")]), "3 classes but one 'score' column"),
    ],
)
def test_revisions_that_disagree_on_the_classes_are_a_data_error(
    repo: Path, head: bytes, message: str
) -> None:
    base, workspace = at(repo, head)
    with pytest.raises(DataError, match=message):
        measure(base, workspace, PATH, {"accuracy": 0.95})


def test_a_prediction_outside_the_scored_classes_is_a_data_error(repo: Path) -> None:
    header = "id,label,prediction,score_a,score_b,score_c"
    (repo / PATH).write_bytes(csv_of([(0, "a", "a", "0.2,0.3,0.5")], header))
    commit_all(repo, "classes a b c")
    base, head = at(repo, csv_of([(0, "a", "d", "0.2,0.3,0.5")], header))
    with pytest.raises(DataError, match="prediction 'd' is not one of the classes scored"):
        measure(base, head, PATH, {"accuracy": 0.95})


def test_missing_predictions_at_a_revision_say_how_to_make_them(repo: Path) -> None:
    (repo / PATH).unlink()
    with pytest.raises(
        DataError, match=r"eval/predictions\.csv at workspace is missing .*dvc repro"
    ):
        measure(revision("main", repo), revision(WORKSPACE, repo), PATH, {"accuracy": 0.95})


def test_labels_that_are_numbers_match_however_they_are_written(repo: Path) -> None:
    rows = [(i, f"{y}.0", p, s) for i, y, p, s in sample()]  # "1.0" is the class "1"
    base, head = at(repo, csv_of(rows))
    assert measure(base, head, PATH, {"f1": 0.95}).differences["f1"].difference == 0.0


def test_one_class_only_is_binary_when_the_labels_are_0_and_1(repo: Path) -> None:
    rows = [(i, 0, 0, "0.1") for i in range(5)]
    (repo / PATH).write_bytes(csv_of(rows))
    commit_all(repo, "negatives only")
    base, head = at(repo, csv_of(rows))
    assert measure(base, head, PATH, {"accuracy": 0.95}).differences["accuracy"].base == 1.0
    (repo / PATH).write_bytes(csv_of([(i, "cat", "cat", "0.1") for i in range(5)]))
    with pytest.raises(DataError, match="only the class 'cat' appears"):
        measure(revision(WORKSPACE, repo), revision(WORKSPACE, repo), PATH, {"accuracy": 0.95})


def test_quoted_fields_are_read_like_unquoted_ones() -> None:
    plain = parse_predictions(b"id,label,prediction,score\nr1,0,0,0.2\nr2,1,1,0.9\n", WHERE)
    quoted = parse_predictions(
        b'id,label,prediction,score\n"r1",0,0,0.2\r\n"r2",1,"1",0.9\n', WHERE
    )
    assert (quoted.ids, quoted.labels, quoted.predicted) == (
        plain.ids,
        plain.labels,
        plain.predicted,
    )
    assert quoted.scores.tolist() == plain.scores.tolist()
    with_comma = parse_predictions(b'id,label,prediction,score\n"a,b",0,0,0.2\n', WHERE)
    assert with_comma.ids == ["a,b"]
    with pytest.raises(DataError, match="line 3 has 5 fields, the header 4"):
        parse_predictions(b'id,label,prediction,score\n"a",0,0,0.2\n"b",1,1,0.9,x\n', WHERE)


def regression_csv(rows: int = 800, seed: int = 0, noise: float = 1.0) -> bytes:
    rng = np.random.default_rng(seed)
    labels = np.random.default_rng(99).normal(50, 10, rows)  # the same test set every time
    predicted = labels + rng.normal(0, noise, rows)
    lines = [f"{i},{y:.3f},{p:.3f}" for i, (y, p) in enumerate(zip(labels, predicted, strict=True))]
    return ("id,label,prediction\n" + "\n".join(lines) + "\n").encode()


def test_a_regression_models_values_are_tested_on_mae_rmse_and_r2(repo: Path) -> None:
    (repo / PATH).write_bytes(regression_csv())
    commit_all(repo, "a regressor")
    base, head = at(repo, regression_csv(seed=1, noise=1.5))
    result = measure(base, head, PATH, {"mae": 0.95, "rmse": 0.95, "r2": 0.95})
    assert result.paired and result.rows == (800, 800)
    mae, r2 = result.differences["mae"], result.differences["r2"]
    assert mae.difference > 0 and mae.p_value < 0.01 and mae.method == stats.PAIRED
    assert r2.difference < 0 and r2.high < 0


def test_mae_on_a_classifiers_file_or_both_kinds_of_rule_are_data_errors(repo: Path) -> None:
    base, head = at(repo, regression_csv())  # main holds a classifier's file
    with pytest.raises(DataError, match=r"has score: a classifier's predictions, and the policy"):
        measure(base, head, PATH, {"mae": 0.95})
    (repo / PATH).write_bytes(regression_csv())
    commit_all(repo, "a regressor")
    with pytest.raises(DataError, match="a classifier's"):  # one file, both kinds of rule
        measure(base, head, PATH, {"mae": 0.95, "accuracy": 0.95})


def test_a_regression_file_that_is_not_numbers_names_the_line() -> None:
    content = b"id,label,prediction\n1,2.5,3\n2,cat,4\n"
    with pytest.raises(DataError, match=r"p.csv: label 'cat' on line 3 is not a finite number"):
        parse_predictions(content, "p.csv", values=True)
    infinite = b"id,label,prediction\n1,2.5,inf\n"
    with pytest.raises(DataError, match=r"prediction 'inf' on line 2 is not a finite number"):
        parse_predictions(infinite, "p.csv", values=True)
