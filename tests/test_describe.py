"""`mlgate describe`: the card and profile of a model mlgate did not train, and what serve and
deploy do for a model that has none."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge

from helpers import commit_all, dvc, git, make_model_project, mlgate_in
from mlgate.artifacts.card import parse_card
from mlgate.deploy import environments, modelfile
from mlgate.git import WORKSPACE, revision
from mlgate.snapshot import read_policy
from servers import request, score, serving

RNG = np.random.default_rng(0)
FRAME = pd.DataFrame(
    {
        "id": np.arange(200),
        "age": RNG.integers(18, 90, 200).astype(float),
        "income": RNG.normal(50, 10, 200),
        "city": RNG.choice(["a", "b"], 200),
    }
)
LABEL = (FRAME.income + RNG.normal(0, 5, 200) > 50).astype(int)


def run(path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    return mlgate_in(path, monkeypatch, "describe", *args)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main", "repo")
    return tmp_path / "repo"


def test_a_model_fitted_on_a_frame_is_described_by_its_own_column_names(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = LogisticRegression().fit(FRAME[["income", "age"]], LABEL)
    joblib.dump(model, repo / "model.joblib")
    FRAME.assign(label=LABEL).to_csv(repo / "test.csv", index=False)
    assert run(repo, monkeypatch, "model.joblib", "--data", "test.csv", "--target", "label") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "wrote model.json: classification (2 classes: 0, 1), 2 columns "
        "(income, age), from 200 rows of test.csv"
    )
    assert out[2].startswith("accuracy on test.csv: 0.")
    card = json.loads((repo / "model.json").read_text())
    assert [f["name"] for f in card["features"]] == ["income", "age"]  # the model's order
    assert card["input"] == "frame" and card["target"] == "label" and card["classes"] == [0, 1]
    assert card["training_data"]["file"] == "test.csv" and len(card["input_example"]) == 5
    profile = json.loads((repo / "model.profile.json").read_text())
    assert sorted(profile["columns"]) == ["age", "income"] and profile["rows"] == 200
    assert modelfile.smoke_test(model, parse_card(card)) == 5


def test_a_model_fitted_on_a_sparse_matrix_is_described_by_position(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """get-started's layout: (matrix, names) pickled, column 0 the id, 1 the label."""
    words = RNG.poisson(1.0, size=(200, 12)).astype(float)
    label = (words[:, 0] > 1).astype(float)
    matrix = sparse.csr_matrix(np.column_stack([np.arange(200), label, words]))
    with open(repo / "test.pkl", "wb") as fd:
        pickle.dump((matrix, [f"w{i}" for i in range(12)]), fd)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(words, label)
    with open(repo / "model.pkl", "wb") as fd:
        pickle.dump(model, fd)
    assert (
        run(repo, monkeypatch, "model.pkl", "--data", "test.pkl", "--target", "1", "--drop", "0")
        == 0
    )
    out = capsys.readouterr().out
    assert "12 columns x0..x11 by position (served as an array)" in out
    assert "accuracy on test.pkl: 1.0000" in out
    card = json.loads((repo / "model.json").read_text())
    assert card["input"] == "array" and card["classes"] == [0.0, 1.0]
    assert [f["name"] for f in card["features"]] == [f"x{i}" for i in range(12)]
    servable = modelfile.servable(model, parse_card(card))
    frame = pd.DataFrame(card["input_example"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an array: no "X has feature names" warning
        assert list(servable.predict(frame)) == list(model.predict(words[:5]))


def test_a_regressor_is_described_with_its_r2(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Ridge().fit(FRAME[["age", "income"]], FRAME.income * 2)
    joblib.dump(model, repo / "ridge.pkl")
    FRAME.assign(y=FRAME.income * 2).to_parquet(repo / "rows.parquet")
    assert run(repo, monkeypatch, "ridge.pkl", "--data", "rows.parquet", "--target", "y") == 0
    out = capsys.readouterr().out
    assert "regression, 2 columns (age, income)" in out and "r2 on rows.parquet: 1.0000" in out
    assert json.loads((repo / "ridge.json").read_text())["task"] == "regression"


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("frame", ["model.pkl", "--data", "nothing.csv"], "nothing.csv: no such file"),
        ("frame", ["model.pkl", "--data", "rows.xlsx"], "mlgate reads .csv, .tsv, .parquet"),
        ("frame", ["rows.csv", "--data", "rows.csv"], "rows.csv is not a model file"),
        (
            "frame",
            ["model.pkl", "--data", "rows.csv", "--target", "nope"],
            "rows.csv has no column 'nope' (it has id, age, income, city, label)",
        ),
        (
            "frame",
            ["model.pkl", "--data", "rows.csv", "--target", "label", "--drop", "label"],
            "--target label is also given to --drop",
        ),
        (
            "frame",
            ["model.pkl", "--data", "bad.csv"],
            "bad.csv lacks 1 of the model's columns: age",
        ),
        (
            "frame",
            ["model.pkl", "--data", "text.csv"],
            "the model failed its smoke test on the card's input example: ValueError",
        ),
        (
            "array",
            ["model.pkl", "--data", "rows.npy"],
            "the model takes 3 columns and rows.npy has 4 besides --target and --drop (name the "
            "label with --target)",
        ),
        (
            "array",
            ["model.pkl", "--data", "rows.npy", "--target", "label"],
            "rows.npy is a matrix of 4 columns without names: give a column by its position (0 to 3)",
        ),
        ("array", ["model.pkl", "--data", "words.npy"], "is not a table mlgate can read"),
        ("text", ["model.pkl", "--data", "rows.csv"], "holds a str, not a model with predict()"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_and_writes_nothing(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: list[str],
    message: str,
) -> None:
    rows = FRAME.assign(label=LABEL)
    rows.to_csv(repo / "rows.csv", index=False)
    rows.drop(columns="age").to_csv(repo / "bad.csv", index=False)
    rows.assign(age="old").to_csv(repo / "text.csv", index=False)  # a column the model cannot take
    (repo / "rows.xlsx").write_bytes(b"PK\x03\x04")
    np.save(repo / "rows.npy", np.column_stack([LABEL, FRAME[["age", "income"]], LABEL]))
    np.save(repo / "words.npy", np.array(["a", "b"], dtype=object), allow_pickle=True)
    if setup == "frame":
        joblib.dump(LogisticRegression().fit(FRAME[["income", "age"]], LABEL), repo / "model.pkl")
    elif setup == "array":
        fitted = LogisticRegression().fit(FRAME[["age", "income"]].to_numpy(), LABEL)
        joblib.dump(
            fitted.fit(np.column_stack([FRAME.age, FRAME.income, LABEL]), LABEL), repo / "model.pkl"
        )
    else:
        joblib.dump("not a model", repo / "model.pkl")
    assert run(repo, monkeypatch, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlgate: error: ") and message in err and err.count("\n") == 1
    assert not (repo / "model.json").exists() and not (repo / "model.profile.json").exists()


POLICY = """\
[project]
name = "scorer"

[tool.mlgate.environments.production]
target = "deployed/production"
"""


def test_without_a_card_serve_answers_400_and_monitoring_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_model_project(tmp_path / "project", POLICY)
    train = (project / "train.py").read_text()
    card = 'json.dump({"features": features, "input_example": example}'
    assert card in train
    (project / "train.py").write_text(
        train.replace(card, "json.dump({}")
    )  # a card that says nothing
    dvc(project, "repro", "-q")
    commit_all(project, "no card")
    assert mlgate_in(project, monkeypatch, "release") == 0
    refused = mlgate_in(
        project,
        monkeypatch,
        "deploy",
        "--model",
        "scorer@v0.1.0",
        "--env",
        "production",
        "--monitoring",
        "enable",
    )
    assert refused == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "monitoring logs each request's columns, and the model has no card" in err
    )
    assert "`mlgate describe MODEL --data FILE`" in err and "nothing was deployed" in err
    assert (
        mlgate_in(project, monkeypatch, "deploy", "--model", "scorer@v0.1.0", "--env", "production")
        == 0
    )
    env = environments.environment(project, read_policy(revision(WORKSPACE, project)), "production")
    with serving(env) as address:
        status, body = score(address, {"instances": [{"x1": 1.0, "x2": 2.0}]})
        assert status == 400 and "has no card naming its input columns" in str(body["error"])
        assert request(address, "GET", "/ready")[0] == 200  # served, but nothing is guessed


@pytest.mark.faults
def test_a_full_disk_while_writing_leaves_neither_file_and_exits_2(repo: Path) -> None:
    """A real fault: RLIMIT_FSIZE lets the card (about 1 KB) be written but not the profile
    (about 50 KB), as a disk filling up part way would."""
    import resource
    import signal
    import subprocess
    import sys

    model = LogisticRegression().fit(FRAME[["income", "age"]], LABEL)
    joblib.dump(model, repo / "model.pkl")
    FRAME.assign(label=LABEL).to_csv(repo / "rows.csv", index=False)

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as ENOSPC, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    command = [
        sys.executable,
        "-m",
        "mlgate",
        "describe",
        "model.pkl",
        "--data",
        "rows.csv",
        "--target",
        "label",
    ]
    result = subprocess.run(
        command, cwd=repo, capture_output=True, text=True, preexec_fn=small_files
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("mlgate: error: cannot write model.json and model.profile.json")
    assert result.stderr.count("\n") == 1 and "neither was written" in result.stderr
    assert sorted(p.name for p in repo.iterdir() if p.name != ".git") == ["model.pkl", "rows.csv"]
