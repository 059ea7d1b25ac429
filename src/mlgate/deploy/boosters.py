"""Bare boosters, as ``lightgbm.train``, ``xgboost.train`` and CatBoost's ``CatBoost`` give
them, seen as the scikit-learn estimators of their library: a card names their columns and
classes, the smoke test and the server get labels from ``predict`` (a bare booster gives
probabilities or needs its own matrix type), and deploy compiles them with the same converters.

- XGBoost's ``Booster`` is loaded into XGBoost's own estimator (``XGBClassifier``,
  ``XGBRegressor``) through XGBoost's model format, and CatBoost's ``CatBoost`` becomes
  ``CatBoostClassifier`` or ``CatBoostRegressor`` by CatBoost's own ``to_classifier`` and
  ``to_regressor``: each chosen by the objective it was trained with.
- LightGBM has no such load: :class:`LightGbmBoosterClassifier` and
  :class:`LightGbmBoosterRegressor` answer as ``LGBMClassifier`` and ``LGBMRegressor`` do (a
  label above 0.5 for binary, the most probable class for several), from the booster's public
  API, and carry what onnxmltools' converter reads of one.

A booster with an objective none of these is (ranking, a custom objective) is refused, saying
which: its predictions are no label nor value mlgate can check.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from mlgate.errors import MlgateError

XGBOOST_CLASSIFYING = ("binary:", "multi:")
XGBOOST_REGRESSING = ("reg:", "count:", "survival:")
CATBOOST_CLASSIFYING = ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll")
LIGHTGBM_CLASSIFYING = ("binary", "multiclass", "multiclassova", "cross_entropy")
LIGHTGBM_REGRESSING = (
    "regression",
    "huber",
    "fair",
    "poisson",
    "quantile",
    "mape",
    "gamma",
    "tweedie",
)
_UNNAMED = re.compile(r"Column_\d+")  # LightGBM's names for the columns of a bare matrix


def as_estimator(model: Any) -> Any:
    """``model`` itself, or the estimator a bare booster is."""
    kind = (type(model).__module__, type(model).__name__)
    if kind == ("xgboost.core", "Booster"):
        return _xgboost(model)
    if kind == ("catboost.core", "CatBoost"):
        return _catboost(model)
    if kind == ("lightgbm.basic", "Booster"):
        return _lightgbm(model)
    return model


def _xgboost(booster: Any) -> Any:
    import xgboost

    objective = str(json.loads(booster.save_config())["learner"]["objective"]["name"])
    if objective.startswith(XGBOOST_CLASSIFYING):
        estimator = xgboost.XGBClassifier()
    elif objective.startswith(XGBOOST_REGRESSING):
        estimator = xgboost.XGBRegressor()
    else:
        raise _unsupported("an XGBoost", objective)
    estimator.load_model(bytearray(booster.save_raw("json")))
    return estimator


def _catboost(model: Any) -> Any:
    import catboost
    import numpy as np

    loss = str(model.get_all_params().get("loss_function", ""))
    if loss.split(":")[0] in CATBOOST_CLASSIFYING:
        estimator = catboost.to_classifier(model)
    elif loss:
        estimator = catboost.to_regressor(model)
    else:
        raise _unsupported("a CatBoost", "none")
    names = [str(n) for n in estimator.feature_names_ or ()]
    if names != [str(i) for i in range(len(names))]:  # CatBoost's names for a bare matrix
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    return estimator


def _lightgbm(booster: Any) -> Any:
    dumped = booster.dump_model(num_iteration=0)
    objective = str(dumped.get("objective") or booster.params.get("objective", ""))
    name = objective.split(" ")[0]
    if name in LIGHTGBM_CLASSIFYING:
        return LightGbmBoosterClassifier(booster, max(int(dumped.get("num_class", 1)), 2))
    if name in LIGHTGBM_REGRESSING:
        return LightGbmBoosterRegressor(booster)
    raise _unsupported("a LightGBM", objective or "none")


def _unsupported(which: str, objective: str) -> MlgateError:
    return MlgateError(
        f"the model is {which} booster trained for objective {objective!r}, which gives no "
        "label nor value mlgate can check (classification and regression objectives only)"
    )


class _LightGbmBooster(BaseEstimator):
    """A ``lightgbm.Booster`` answering as LightGBM's scikit-learn estimators do, with what
    onnxmltools' converter reads of one (``booster_``, ``boosting_type``)."""

    def __init__(self, booster: Any) -> None:
        import numpy as np

        self.booster = booster
        self.booster_ = booster
        self.boosting_type = str(booster.params.get("boosting", "gbdt"))
        names = [str(n) for n in booster.feature_name()]
        self.n_features_in_ = len(names)
        if names and not all(_UNNAMED.fullmatch(n) for n in names):
            self.feature_names_in_ = np.asarray(names, dtype=object)


class LightGbmBoosterClassifier(ClassifierMixin, _LightGbmBooster):
    """Classes 0 to ``classes - 1``, as the booster was trained on (its ``num_class``)."""

    def __init__(self, booster: Any, classes: int = 2) -> None:
        import numpy as np

        super().__init__(booster)
        self.classes = classes
        self.classes_ = np.arange(classes)

    def predict_proba(self, rows: Any) -> Any:
        import numpy as np

        raw = np.asarray(self.booster_.predict(rows))
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw

    def predict(self, rows: Any) -> Any:
        import numpy as np

        return self.classes_[np.argmax(self.predict_proba(rows), axis=1)]


class LightGbmBoosterRegressor(RegressorMixin, _LightGbmBooster):
    def predict(self, rows: Any) -> Any:
        import numpy as np

        return np.asarray(self.booster_.predict(rows))
