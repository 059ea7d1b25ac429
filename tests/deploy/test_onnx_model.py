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
