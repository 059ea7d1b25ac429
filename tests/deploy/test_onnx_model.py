"""The models the pipeline trains compile to ONNX and agree with their pickles; what does not
compile, or compiles into a model that disagrees, is said and served by its pickle."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlgate.artifacts.card import parse_card
from mlgate.artifacts.profile import profile_frame
from mlgate.deploy import onnx_model
from mlgate.pipeline import ingest, synthetic, train

HYPERPARAMETERS = {
    "random_forest": {"n_estimators": 15, "min_samples_leaf": 5, "random_state": 0},
    "extra_trees": {"n_estimators": 15, "min_samples_leaf": 5, "random_state": 0},
    "hist_gradient_boosting": {"max_iter": 20, "random_state": 0},
    "gradient_boosting": {"n_estimators": 15, "random_state": 0},
    "logistic_regression": {"max_iter": 500},
    "lightgbm": {"n_estimators": 20, "random_state": 0},
    "xgboost": {"n_estimators": 20, "random_state": 0},
    "catboost": {"n_estimators": 20, "random_state": 0},
}


def trained(source: str, model: str):  # type: ignore[no-untyped-def]
    """(fitted pipeline, card, profile) as the train stage makes them."""
    if source == "fraud":  # binary, numeric and text columns, some values missing
        frame = synthetic.generate_transactions(1_500, seed=3)
        meta = {"target": synthetic.TARGET, "id_column": synthetic.ID_COLUMN}
        frame.loc[frame.index[::17], "merchant_category"] = None
        frame.loc[frame.index[::13], "amount"] = np.nan
    else:  # three classes, numbers only
        frame, meta = ingest._sklearn(source)
    features = train.feature_columns(frame, meta)
    params = {"model": model, **HYPERPARAMETERS[model]}
    pipeline = train.make_pipeline(frame, features, params)
    pipeline.fit(frame[features], frame[meta["target"]])
    card = parse_card(train.model_card(frame, features, pipeline, meta, params, "0" * 32))
    return pipeline, card, profile_frame(frame, features)


@pytest.mark.parametrize("model", sorted(train.ESTIMATORS))
@pytest.mark.parametrize("source", ["fraud", "wine"])
def test_every_model_the_pipeline_trains_compiles_and_agrees(source: str, model: str) -> None:
    pipeline, card, profile = trained(source, model)
    onnx = onnx_model.OnnxModel(onnx_model.compile_model(pipeline, card), card)
    frames = onnx_model.parity_rows(card, profile)
    rows = onnx_model.check_parity(pipeline, onnx, frames)
    assert rows == sum(len(f) for f in frames) == 5 + 2 * onnx_model.PARITY_ROWS
    assert onnx.classes_ == pipeline.classes_.tolist()
    if source == "fraud":  # missing text and numbers in the rows checked
        assert frames[-1]["merchant_category"].isna().any() and frames[-1]["amount"].isna().any()


REGRESSOR_PARAMETERS = {
    "random_forest": {"n_estimators": 15, "random_state": 0},
    "extra_trees": {"n_estimators": 15, "random_state": 0},
    "hist_gradient_boosting": {"max_iter": 20, "random_state": 0},
    "gradient_boosting": {"n_estimators": 15, "random_state": 0},
    "ridge": {},
    "lightgbm": {"n_estimators": 20, "random_state": 0},
    "xgboost": {"n_estimators": 20, "random_state": 0},
    "catboost": {"n_estimators": 20, "random_state": 0},
}


@pytest.mark.parametrize("model", sorted(train.REGRESSORS))
def test_every_regressor_the_pipeline_trains_compiles_and_agrees(model: str) -> None:
    frame, meta = ingest._sklearn("diabetes")
    features = train.feature_columns(frame, meta)
    params = {"model": model, **REGRESSOR_PARAMETERS[model]}
    pipeline = train.make_pipeline(frame, features, params, "regression")
    pipeline.fit(frame[features], frame[meta["target"]])
    card = parse_card(train.model_card(frame, features, pipeline, meta, params, "0" * 32))
    onnx = onnx_model.OnnxModel(onnx_model.compile_model(pipeline, card), card)
    assert not hasattr(onnx, "classes_") and card.task == "regression"
    frames = onnx_model.parity_rows(card, profile_frame(frame, features))
    assert onnx_model.check_parity(pipeline, onnx, frames) == 5 + 2 * onnx_model.PARITY_ROWS
    assert onnx_model.agreement(onnx).startswith("predictions within")


def test_a_model_that_disagrees_with_its_pickle_is_caught() -> None:
    pipeline, card, profile = trained("fraud", "random_forest")
    other, _, _ = trained("fraud", "logistic_regression")
    onnx = onnx_model.OnnxModel(onnx_model.compile_model(other, card), card)
    with pytest.raises(onnx_model.NotCompiled, match="differ from the pickle's"):
        onnx_model.check_parity(pipeline, onnx, onnx_model.parity_rows(card, profile))


def test_an_estimator_skl2onnx_does_not_know_is_not_compiled_and_says_which() -> None:
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Threshold(ClassifierMixin, BaseEstimator):
        def fit(self, x, y):  # type: ignore[no-untyped-def]
            self.classes_ = np.unique(y)
            return self

        def predict(self, x):  # type: ignore[no-untyped-def]
            return (np.asarray(x)[:, 0] > 0).astype(int)

    model = Threshold().fit(np.zeros((2, 2)), [0, 1])
    card = parse_card(
        {"features": [{"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "float64"}]}
    )
    with pytest.raises(onnx_model.NotCompiled, match="skl2onnx cannot convert Threshold"):
        onnx_model.compile_model(model, card)


def test_without_a_card_naming_columns_or_rows_to_check_nothing_is_compiled() -> None:
    pipeline, card, _ = trained("wine", "logistic_regression")
    with pytest.raises(onnx_model.NotCompiled, match="names no input columns"):
        onnx_model.compile_model(pipeline, parse_card({}))
    with pytest.raises(onnx_model.NotCompiled, match="no input example"):
        onnx_model.parity_rows(dataclasses.replace(card, input_example=()), None)


def test_a_profile_edited_by_hand_is_a_reason_not_a_traceback() -> None:
    """parity_rows reads the version's profile.json: one that is not a profile, or whose
    column is malformed, is why the pickle serves (deploy says it), never an exception."""
    _, card, profile = trained("fraud", "logistic_regression")
    broken = {
        **profile,
        "columns": {**profile["columns"], "amount": {"kind": "numeric", "quantiles": "oops"}},
    }
    with pytest.raises(onnx_model.NotCompiled, match="column 'amount' is malformed"):
        onnx_model.parity_rows(card, broken)
    with pytest.raises(onnx_model.NotCompiled, match="is not a reference profile"):
        onnx_model.parity_rows(card, {"columns": 5})


@pytest.mark.parametrize("library", ["lightgbm", "xgboost", "catboost"])
def test_a_boosted_model_fed_missing_values_routes_them_as_its_library_does(library: str) -> None:
    """No imputer in front: the trees themselves send a missing value down the branch their
    library learned for it, and the ONNX model must send it the same way."""
    import pandas as pd

    frame = synthetic.generate_transactions(3_000, seed=5)
    numeric = [c for c in frame.columns if c not in (synthetic.TARGET, synthetic.ID_COLUMN)
               and pd.api.types.is_numeric_dtype(frame[c])]  # fmt: skip
    rng = np.random.default_rng(0)
    data = frame[numeric].astype("float64")
    data = data.mask(rng.random(data.shape) < 0.2)  # a fifth of every column missing
    model = train.make_estimator({"model": library, "n_estimators": 30, "random_state": 0})
    model.fit(data, frame[synthetic.TARGET])
    card = parse_card(
        {
            "features": [{"name": c, "dtype": "float64"} for c in numeric],
            "classes": [0, 1],
            "input_example": data.head(5).to_dict(orient="records"),
        }
    )
    onnx = onnx_model.OnnxModel(onnx_model.compile_model(model, card), card)
    holes = data.sample(2_000, random_state=1).reset_index(drop=True)
    assert holes.isna().any(axis=None)
    assert onnx_model.check_parity(model, onnx, [holes]) == 2_000


def test_a_catboost_model_given_categories_itself_is_served_by_its_pickle_saying_why() -> None:
    """CatBoost's ONNX export holds numbers only: a model that took `cat_features` itself is
    not compiled, and the reason says what to do instead."""
    frame = synthetic.generate_transactions(500, seed=2)
    columns = ["amount", "merchant_category"]
    model = train.make_estimator({"model": "catboost", "n_estimators": 5, "random_state": 0})
    model.set_params(cat_features=["merchant_category"])
    model.fit(frame[columns], frame[synthetic.TARGET])
    card = parse_card(
        {
            "features": [
                {"name": "amount", "dtype": "float64"},
                {"name": "merchant_category", "dtype": "object"},
            ],
            "classes": [0, 1],
            "input_example": frame[columns].head(5).to_dict(orient="records"),
        }
    )
    with pytest.raises(onnx_model.NotCompiled, match=r"categorical features itself.*one-hot"):
        onnx_model.compile_model(model, card)


def test_catboosts_three_classes_are_one_label_per_row_on_either_runtime() -> None:
    """CatBoost's multi-class classifier predicts a column of labels (shape (n, 1)): the pickle
    runtime answers one label per row, as the compiled one does, not a list per row."""
    from mlgate.deploy import modelfile

    pipeline, card, profile = trained("wine", "catboost")
    [example, *_] = onnx_model.parity_rows(card, profile)
    assert np.asarray(pipeline.predict(example)).shape == (5, 1)  # CatBoost's own shape
    served = modelfile.servable(pipeline, card).predict(example)
    assert served.shape == (5,) and served.tolist() == pipeline.predict(example)[:, 0].tolist()


def test_a_boosted_model_without_onnxmltools_says_what_to_install(monkeypatch) -> None:
    pipeline, card, _ = trained("wine", "lightgbm")
    monkeypatch.setattr(onnx_model, "_register_boosted_trees", lambda: False)
    with pytest.raises(onnx_model.NotCompiled, match=r"onnxmltools.*mlgate\[gbdt\]"):
        onnx_model.compile_model(pipeline, card)


@pytest.mark.parametrize(
    "estimator",
    ["RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier",
     "RandomForestRegressor"],
)  # fmt: skip
@pytest.mark.parametrize("trained_on_holes", [True, False])
def test_a_scikit_learn_forest_fed_missing_values_routes_them_as_the_pickle_does(
    estimator: str, trained_on_holes: bool
) -> None:
    """scikit-learn's trees take NaN themselves (no imputer, as DVC's get-started forest):
    each node sends it where training learned to, or towards its larger child."""
    import sklearn.ensemble
    import sklearn.tree

    frame = synthetic.generate_transactions(3_000, seed=5)
    numeric = ["amount", "hour", "velocity_24h", "account_age_days", "distance_from_home_km"]
    rng = np.random.default_rng(0)
    data = frame[numeric].astype("float64")
    fitted_on = data.mask(rng.random(data.shape) < 0.1) if trained_on_holes else data
    kind = getattr(sklearn.ensemble, estimator, None) or getattr(sklearn.tree, estimator)
    options = {"random_state": 0} | ({} if "Decision" in estimator else {"n_estimators": 10})
    model = kind(**options).fit(fitted_on, frame[synthetic.TARGET])
    regression = estimator.endswith("Regressor")
    card = parse_card(
        {
            "features": [{"name": c, "dtype": "float64"} for c in numeric],
            **({} if regression else {"classes": [0, 1]}),
            "input_example": data.head(5).to_dict(orient="records"),
        }
    )
    onnx = onnx_model.OnnxModel(onnx_model.compile_model(model, card), card)
    holes = data.mask(rng.random(data.shape) < 0.2).sample(2_000, random_state=1)
    assert onnx_model.check_parity(model, onnx, [holes.reset_index(drop=True)]) == 2_000
