"""The repository's pipeline through real `dvc repro` in temporary git repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers import commit_all, dvc, git, make_project, mlgate_in, write_params

pytestmark = pytest.mark.slow

STAGES = ("ingest", "prepare", "train", "evaluate")


def stages_run(output: str) -> list[str]:
    return [s for s in STAGES if f"Running stage '{s}'" in output]


def test_fresh_repro_runs_every_stage_then_nothing_then_only_what_changed(
    reproduced_project: Path, first_repro: str
) -> None:
    project = reproduced_project  # reproduced once for the session: its first run's output
    assert stages_run(first_repro) == list(STAGES)
    metrics = json.loads((project / "metrics.json").read_text())
    assert 0.8 < metrics["roc_auc"] <= 1.0
    assert metrics["data"]["test_rows"] == 800
    assert 0.005 < metrics["data"]["positive_rate"] < 0.05
    for output in (
        "data/raw/data.csv",
        "data/processed/train.csv",
        "models/model.pkl",
        "models/model.json",
        "eval/predictions.csv",
        "eval/plots/roc.json",
        "dvc.lock",
    ):
        assert (project / output).is_file(), output
    header = (project / "eval/predictions.csv").read_text().splitlines()[0]
    assert header == "id,label,prediction,score,merchant_category,hour"  # the slice columns
    commit_all(project, "trained")

    second = dvc(project, "repro")
    assert stages_run(second.stdout) == []

    write_params(project, {"train": {"n_estimators": 10}})
    third = dvc(project, "repro")
    assert stages_run(third.stdout) == ["train", "evaluate"]


def test_model_card_describes_the_signature_and_data(reproduced_project: Path) -> None:
    project = reproduced_project
    assert "Data and pipelines are up to date" in dvc(project, "repro").stdout
    card = json.loads((project / "models/model.json").read_text())
    names = [f["name"] for f in card["features"]]
    assert "amount" in names and "merchant_category" in names
    assert "is_fraud" not in names and "transaction_id" not in names
    assert card["classes"] == [0, 1]
    assert len(card["training_data"]["md5"]) == 32
    assert set(card["libraries"]) >= {"python", "scikit-learn", "pandas", "numpy"}
    assert len(card["input_example"]) == 5 and set(card["input_example"][0]) == set(names)


def test_iris_quickstart_parity(tmp_path: Path) -> None:
    """The classic RandomForest-on-iris example, reproduced through the pipeline."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split

    project = make_project(tmp_path / "iris")
    write_params(
        project,
        {
            "data": {"source": "sklearn:iris"},
            "prepare": {"test_size": 0.3, "seed": 42, "stratify": False},
            "train": {"model": "random_forest", "random_state": 42},
            "evaluate": {"slice_columns": []},
        },
        replace=True,
    )
    dvc(project, "repro")

    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42)
    classic = RandomForestClassifier(random_state=42).fit(X_train, y_train)
    expected = accuracy_score(y_test, classic.predict(X_test))

    metrics = json.loads((project / "metrics.json").read_text())
    assert metrics["accuracy"] == expected == 1.0
    header = (project / "eval/predictions.csv").read_text().splitlines()[0]
    assert header == "id,label,prediction,score_0,score_1,score_2"


def _repro_fails(project: Path) -> str:
    result = dvc(project, "repro", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    return output


def test_missing_csv_names_the_path(project: Path) -> None:
    write_params(project, {"data": {"source": "data/external/transactions.csv"}})
    output = _repro_fails(project)
    assert "data.source file not found:" in output and "data/external/transactions.csv" in output
    assert not (project / "data/raw").exists()


def test_csv_without_target_lists_its_columns(project: Path) -> None:
    (project / "mine.csv").write_text("a,b,outcome\n1,2,0\n3,4,1\n")
    write_params(project, {"data": {"source": "mine.csv", "target": "label"}})
    output = _repro_fails(project)
    assert "target column 'label' not found" in output
    assert "columns are: a, b, outcome" in output
    assert not (project / "data/raw").exists()


def test_garbage_in_numeric_column_names_column_and_row(project: Path) -> None:
    rows = "\n".join(f"{i},{i % 2}" for i in range(30))
    (project / "mine.csv").write_text("amount,label\n" + rows.replace("17,1", "seventeen,1") + "\n")
    write_params(project, {"data": {"source": "mine.csv", "target": "label"}})
    output = _repro_fails(project)
    assert "column 'amount', data row 18 (line 19 of a CSV): 'seventeen' is not a number" in output
    assert not (project / "data/raw").exists()


def test_unknown_model_lists_valid_ones_and_loses_nothing(reproduced_project: Path) -> None:
    project = reproduced_project
    assert "Data and pipelines are up to date" in dvc(project, "repro").stdout
    model_before = (project / "models/model.pkl").read_bytes()
    lock_before = (project / "dvc.lock").read_text()
    write_params(project, {"train": {"model": "xgboost_turbo"}})
    output = _repro_fails(project)
    assert (
        "unknown train.model 'xgboost_turbo' for classification; valid models: random_forest,"
        in output
    )
    assert "logistic_regression" in output
    # No half-written or temporary file of ours; DVC's record still names the previous model.
    assert [p.name for p in (project / "models").iterdir() if p.name.startswith(".model")] == []
    assert (project / "dvc.lock").read_text() == lock_before
    dvc(project, "checkout", "models/model.pkl")
    assert (project / "models/model.pkl").read_bytes() == model_before


def test_user_csv_trains_end_to_end(tmp_path: Path) -> None:
    project = make_project(tmp_path / "csv")
    lines = ["x1,x2,colour,label"] + [
        f"{i % 7},{(i * 3) % 11},{'red' if i % 3 else 'blue'},{int(i % 7 > 3)}" for i in range(300)
    ]
    (project / "mine.csv").write_text("\n".join(lines) + "\n")
    write_params(
        project,
        {
            "data": {"source": "mine.csv", "target": "label"},
            "prepare": {"test_size": 0.25, "seed": 1},
            "train": {"model": "logistic_regression", "max_iter": 500},
            "evaluate": {"slice_columns": ["colour", "size"]},
        },
        replace=True,
    )
    ran = dvc(project, "repro")
    metrics = json.loads((project / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9
    # the user's column is written beside each prediction for the gate's slices; one the data
    # lacks is named, not invented
    assert "evaluate: the test data has no size: not written for slicing" in ran.stdout
    predictions = (project / "eval/predictions.csv").read_text().splitlines()
    assert predictions[0] == "id,label,prediction,score,colour"
    assert {line.rsplit(",", 1)[1] for line in predictions[1:]} == {"red", "blue"}


def test_a_regression_target_trains_evaluates_and_is_gated_on_mae(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sklearn:diabetes (a quantity to predict): the task is inferred, a regressor trained,
    mae/rmse/r2 written as scikit-learn computes them, predictions id,label,prediction, and
    the gate tests a change's mae on them."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.metrics import mean_absolute_error
    from sklearn.model_selection import train_test_split

    project = make_project(tmp_path / "diabetes", commit=False)
    write_params(
        project,
        {
            "data": {"source": "sklearn:diabetes"},
            "prepare": {"test_size": 0.3, "seed": 42, "stratify": True},  # not for a quantity
            "train": {"model": "random_forest", "n_estimators": 50, "random_state": 0},
            "evaluate": {"slice_columns": []},
        },
        replace=True,
    )
    (project / "pyproject.toml").write_text(
        '[tool.mlgate]\nbase = "main"\npredictions = "eval/predictions.csv"\n\n'
        '[tool.mlgate.rules]\nmae = { direction = "lower", significance = 0.05 }\n'
    )
    dvc(project, "repro")
    card = json.loads((project / "models/model.json").read_text())
    assert card["task"] == "regression" and "classes" not in card
    assert card["estimator_class"] == "RandomForestRegressor"
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42)
    classic = RandomForestRegressor(n_estimators=50, random_state=0).fit(X_train, y_train)
    metrics = json.loads((project / "metrics.json").read_text())
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y_test, classic.predict(X_test)))
    assert set(metrics) == {"mae", "rmse", "r2", "data"}
    header = (project / "eval/predictions.csv").read_text().splitlines()[0]
    assert header == "id,label,prediction"
    assert (project / "eval/plots/predicted_actual.json").is_file()
    commit_all(project, "a regressor on main")

    git(project, "checkout", "-q", "-b", "shallow")
    write_params(project, {"train": {"max_depth": 1}})  # stumps: far worse
    dvc(project, "repro")
    assert mlgate_in(project, monkeypatch, "check") == 1
    out = capsys.readouterr().out
    assert "mae" in out and "regression, significant" in out and "paired bootstrap" in out


@pytest.mark.parametrize("library", ["lightgbm", "catboost"])  # XGBoost's: test_onnx_model.py
def test_a_boosted_model_is_trained_gated_released_and_deployed_compiled(
    reproduced_project: Path, library: str, monkeypatch, capsys
) -> None:
    """`train.model: lightgbm | xgboost | catboost` goes the forest's way: evaluated, gated
    against the forest, released, and deployed compiled to ONNX (parity checked on rows with
    holes); CatBoost writes no catboost_info/ folder into the project."""
    project = reproduced_project
    commit_all(project, "the forest")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"] = {"model": library, "n_estimators": 40, "random_state": 0}  # its own keys
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(project, "repro", "-q")
    card = json.loads((project / "models/model.json").read_text())
    assert card["estimator"] == library and card["estimator_class"].endswith("Classifier")
    assert mlgate_in(project, monkeypatch, "check") in (0, 1)  # a verdict, either way
    assert capsys.readouterr().out.startswith(("PASS", "FAIL"))
    commit_all(project, library)
    assert mlgate_in(project, monkeypatch, "release", "--force") == 0
    assert mlgate_in(project, monkeypatch, "deploy", "--model", "models/model.pkl") == 0
    out = capsys.readouterr().out
    assert "Runtime: onnx (agrees with the pickle on 4,005 rows" in out, out
    assert not (project / "catboost_info").exists()
