"""Bare boosters (`lightgbm.train`, `xgboost.train`, CatBoost's `CatBoost`), pickled as a
project's own training script pickles them: described, served with labels, and compiled to
ONNX with parity, as their libraries' scikit-learn estimators are."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from mlgate import describe
from mlgate.artifacts.card import parse_card
from mlgate.artifacts.profile import profile_frame
from mlgate.deploy import modelfile, onnx_model
from mlgate.errors import MlgateError
from mlgate.pipeline import ingest, synthetic

OBJECTIVES = {  # (library, task) -> the library's objective
    ("lightgbm", "binary"): "binary",
    ("lightgbm", "multiclass"): "multiclass",
    ("lightgbm", "regression"): "regression",
    ("xgboost", "binary"): "binary:logistic",
    ("xgboost", "multiclass"): "multi:softprob",
    ("xgboost", "regression"): "reg:squarederror",
    ("catboost", "binary"): "Logloss",
    ("catboost", "multiclass"): "MultiClass",
    ("catboost", "regression"): "RMSE",
}


def data(task: str) -> tuple[pd.DataFrame, pd.Series]:
    if task == "binary":  # the fraud data's numbers, a tenth of them missing
        frame = synthetic.generate_transactions(2_000, seed=4)
        label = frame.pop(synthetic.TARGET)
        numbers = frame.select_dtypes("number").drop(columns=[synthetic.ID_COLUMN], errors="ignore")
        holes = np.random.default_rng(0).random(numbers.shape) < 0.1
        return numbers.astype("float64").mask(holes), label
    frame, meta = ingest._sklearn("wine" if task == "multiclass" else "diabetes")
    return frame.drop(columns=[meta["target"], meta["id_column"]]), frame[meta["target"]]


def booster(library: str, task: str, rows: pd.DataFrame, label: pd.Series) -> Any:
    objective = OBJECTIVES[(library, task)]
    classes = {"num_class": int(label.nunique())} if task == "multiclass" else {}
    if library == "lightgbm":
        import lightgbm

        params = {"objective": objective, "verbose": -1, "seed": 0, **classes}
        return lightgbm.train(params, lightgbm.Dataset(rows, label), num_boost_round=20)
    if library == "xgboost":
        import xgboost

        params = {"objective": objective, "seed": 0, **classes}
        return xgboost.train(params, xgboost.DMatrix(rows, label), num_boost_round=20)
    import catboost

    model = catboost.CatBoost(
        {"loss_function": objective, "iterations": 20, "random_seed": 0, "verbose": 0,
         "allow_writing_files": False}
    )  # fmt: skip
    return model.fit(rows, label)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "catboost"])
def test_a_bare_booster_is_described_served_and_compiled_as_its_estimator(
    library: str, task: str, tmp_path: Path
) -> None:
    rows, label = data(task)
    trained = booster(library, task, rows, label)
    model_file = tmp_path / "model.pkl"
    joblib.dump(trained, model_file)
    table = tmp_path / "rows.csv"
    rows.assign(label=label.to_numpy()).to_csv(table, index=False)

    described = describe.describe(model_file, table, target="label")
    model = modelfile.load_model(model_file)
    card = parse_card(__import__("json").loads(described.card.read_text()))
    assert described.task == ("regression" if task == "regression" else "classification")
    assert described.features == tuple(rows.columns) and not described.by_position
    served = modelfile.servable(model, card).predict(rows)
    if task == "regression":
        assert served.dtype.kind == "f" and described.score and described.score[0] == "r2"
    else:
        assert set(np.unique(served)) <= set(label.unique())  # labels, not probabilities
        assert described.classes == tuple(sorted(label.unique()))
        assert described.score and described.score[0] == "accuracy" and described.score[1] > 0.6

    compiled = onnx_model.OnnxModel(onnx_model.compile_model(model, card), card)
    frames = onnx_model.parity_rows(card, profile_frame(rows, list(rows.columns)))
    assert onnx_model.check_parity(model, compiled, [*frames, rows]) > len(rows)


def test_a_booster_that_ranks_is_refused_saying_why(tmp_path: Path) -> None:
    import lightgbm

    rows, label = data("binary")
    dataset = lightgbm.Dataset(rows, label, group=[len(rows)])
    ranker = lightgbm.train({"objective": "lambdarank", "verbose": -1}, dataset, 5)
    joblib.dump(ranker, tmp_path / "model.pkl")
    with pytest.raises(MlgateError, match="LightGBM booster trained for objective 'lambdarank'"):
        modelfile.load_model(tmp_path / "model.pkl")


def test_lightgbm_s_own_names_for_a_bare_matrix_are_positions(tmp_path: Path) -> None:
    import lightgbm

    rows, label = data("binary")
    trained = lightgbm.train(
        {"objective": "binary", "verbose": -1}, lightgbm.Dataset(rows.to_numpy(), label), 5
    )
    joblib.dump(trained, tmp_path / "model.pkl")
    model = modelfile.load_model(tmp_path / "model.pkl")
    assert not hasattr(model, "feature_names_in_") and model.n_features_in_ == rows.shape[1]


def test_a_booster_that_was_never_trained_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A user's mistake (the script pickled the model before fitting it) is said in one line,
    never a traceback from the library."""
    import catboost

    from mlgate.commands.main import main

    joblib.dump(catboost.CatBoost({"loss_function": "Logloss"}), tmp_path / "model.pkl")
    rows, label = data("binary")
    rows.assign(label=label.to_numpy()).head(50).to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(MlgateError, match="the model does not load: CatBoostError"):
        modelfile.load_model(tmp_path / "model.pkl")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # a project, as usual
    monkeypatch.chdir(tmp_path)
    code = main(["describe", "model.pkl", "--data", "rows.csv", "--target", "label"])
    err = capsys.readouterr().err
    assert code == 2 and "the model does not load" in err and "Traceback" not in err
