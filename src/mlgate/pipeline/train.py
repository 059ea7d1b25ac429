"""Stage ``train``: fit the estimator named by ``train.model`` and write the model, its card and
the reference profile of the training data that `mlgate monitor` compares production data with.

Every key of the ``train`` section other than ``model`` and ``task`` is a hyperparameter of that
estimator; an unknown one is an error that lists the valid ones. ``task`` (``classification`` or
``regression``) is inferred from the target when not given: a numeric target with fractions or
more than 20 distinct values is a quantity to predict. Numeric columns are imputed (and scaled for
linear models); text columns are imputed and one-hot encoded, so the saved model takes raw rows.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.artifacts.card import card_libraries, input_example
from mlgate.artifacts.profile import profile_frame
from mlgate.files import atomic_path, file_md5, write_text
from mlgate.pipeline._common import (
    CLASSIFICATION,
    META_FILE,
    REGRESSION,
    StageError,
    load_params,
    read_json,
    run_stage,
    task_of,
    to_json,
)
from mlgate.pipeline.prepare import TRAIN_FILE

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

ESTIMATORS = {
    "random_forest": "sklearn.ensemble:RandomForestClassifier",
    "extra_trees": "sklearn.ensemble:ExtraTreesClassifier",
    "hist_gradient_boosting": "sklearn.ensemble:HistGradientBoostingClassifier",
    "gradient_boosting": "sklearn.ensemble:GradientBoostingClassifier",
    "logistic_regression": "sklearn.linear_model:LogisticRegression",
    "lightgbm": "lightgbm:LGBMClassifier",
    "xgboost": "xgboost:XGBClassifier",
    "catboost": "catboost:CatBoostClassifier",
}
REGRESSORS = {
    "random_forest": "sklearn.ensemble:RandomForestRegressor",
    "extra_trees": "sklearn.ensemble:ExtraTreesRegressor",
    "hist_gradient_boosting": "sklearn.ensemble:HistGradientBoostingRegressor",
    "gradient_boosting": "sklearn.ensemble:GradientBoostingRegressor",
    "ridge": "sklearn.linear_model:Ridge",
    "lightgbm": "lightgbm:LGBMRegressor",
    "xgboost": "xgboost:XGBRegressor",
    "catboost": "catboost:CatBoostRegressor",
}
# Gradient-boosted trees from their own libraries, an optional extra: the package to install.
OPTIONAL = {"lightgbm": "lightgbm", "xgboost": "xgboost", "catboost": "catboost"}
# Defaults of ours where a library's own would be wrong here: LightGBM prints a line per
# warning to stdout, which would go into DVC's log of every run; CatBoost prints a line per
# iteration and writes a catboost_info/ folder into the stage's working directory (an output
# DVC does not know of).
OWN_DEFAULTS: dict[str, dict[str, Any]] = {
    "lightgbm": {"verbose": -1},
    "catboost": {"verbose": 0, "allow_writing_files": False},
}
_SCALED = {"logistic_regression", "ridge"}
INPUT_EXAMPLE_ROWS = 5


def feature_columns(frame: pd.DataFrame, meta: dict[str, Any]) -> list[str]:
    return [c for c in frame.columns if c not in (meta["target"], meta["id_column"])]


def make_estimator(params: dict[str, Any], task: str = CLASSIFICATION) -> Any:
    """Build the estimator named by ``params['model']`` for ``task``, with the other keys as
    hyperparameters."""
    name = str(params.get("model", "random_forest"))
    known = REGRESSORS if task == REGRESSION else ESTIMATORS
    if name not in known:
        raise StageError(
            f"unknown train.model '{name}' for {task}; valid models: {', '.join(known)}"
        )
    module_name, class_name = known[name].split(":")
    try:
        estimator_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError:
        raise StageError(
            f"train.model '{name}' needs {OPTIONAL.get(name, module_name)}, which is not "
            "installed: pip install 'mlgate[gbdt]'"
        ) from None
    given = {k: v for k, v in params.items() if k not in ("model", "task")}
    hyperparameters = {**OWN_DEFAULTS.get(name, {}), **given}
    # CatBoost's get_params lists only what was set: its constructor names the rest
    valid = set(estimator_class().get_params()) | _constructor_keywords(estimator_class)
    own = OWN_DEFAULTS.get(name, {})  # the library's own keys, even where it does not list them
    unknown = sorted(set(given) - set(valid) - set(own))
    if unknown:
        raise StageError(
            f"train.{unknown[0]} is not a hyperparameter of {name} ({class_name}); "
            f"valid ones: {', '.join(sorted(valid))}"
        )
    try:
        return estimator_class(**hyperparameters)
    except (TypeError, ValueError) as exc:
        raise StageError(f"invalid hyperparameters for {name}: {exc}") from None


def _constructor_keywords(kind: type) -> set[str]:
    import inspect

    parameters = inspect.signature(kind).parameters.values()
    return {
        p.name for p in parameters if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD
    } - {"self"}


def make_pipeline(
    frame: pd.DataFrame, features: list[str], params: dict[str, Any], task: str = CLASSIFICATION
) -> Pipeline:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.pipeline import make_pipeline as chain
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in features if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in features if c not in numeric]
    numeric_steps: list[Any] = [SimpleImputer(strategy="median")]
    if params.get("model") in _SCALED:
        numeric_steps.append(StandardScaler())
    transformers = []
    if numeric:
        transformers.append(("numeric", chain(*numeric_steps), numeric))
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        categorical_steps = chain(SimpleImputer(strategy="most_frequent"), encoder)
        transformers.append(("categorical", categorical_steps, categorical))
    columns = ColumnTransformer(transformers)
    return Pipeline([("columns", columns), ("estimator", make_estimator(params, task))])


def model_card(
    frame: pd.DataFrame,
    features: list[str],
    model: Pipeline,
    meta: dict[str, Any],
    params: dict[str, Any],
    train_md5: str,
) -> dict[str, Any]:

    example = frame[features].head(INPUT_EXAMPLE_ROWS)
    from sklearn.base import is_classifier

    # not hasattr(classes_): CatBoost's regressor has one
    regression = not is_classifier(model.named_steps["estimator"])
    return {
        "estimator": params.get("model", "random_forest"),
        "estimator_class": type(model.named_steps["estimator"]).__name__,
        "task": REGRESSION if regression else CLASSIFICATION,
        "target": meta["target"],
        "id_column": meta["id_column"],
        "features": [{"name": c, "dtype": str(frame[c].dtype)} for c in features],
        **({} if regression else {"classes": model.classes_.tolist()}),
        "params": params,
        "training_data": {"file": TRAIN_FILE, "md5": train_md5, "rows": len(frame)},
        "libraries": card_libraries(),
        "input_example": input_example(example),
    }


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--input", type=Path, required=True, help="prepare's output dir")
    parser.add_argument("--model", type=Path, required=True, help="model file (joblib pickle)")
    parser.add_argument("--card", type=Path, required=True, help="model card (JSON)")
    parser.add_argument(
        "--profile", type=Path, help="reference profile of the training data, for `mlgate monitor`"
    )


def _main(args: argparse.Namespace) -> None:
    import joblib
    import pandas as pd

    params = load_params(args.params, "train")
    meta = read_json(args.input / META_FILE)
    frame = pd.read_csv(args.input / TRAIN_FILE, low_memory=False)
    features = feature_columns(frame, meta)
    if not features:
        raise StageError("the training data has no feature columns besides the id and target")
    model = make_pipeline(frame, features, params, task_of(params, frame[meta["target"]]))
    try:
        model.fit(frame[features], frame[meta["target"]])
    except ValueError as exc:
        raise StageError(f"training failed: {exc}") from None
    card = model_card(frame, features, model, meta, params, file_md5(args.input / TRAIN_FILE))
    with atomic_path(args.model) as tmp:
        joblib.dump(model, tmp)
    write_text(args.card, to_json(card))
    if args.profile:
        write_text(args.profile, to_json(profile_frame(frame, features)))
    print(f"train: {card['estimator_class']} on {len(frame)} rows -> {args.model}")


def main(argv: list[str] | None = None) -> int:
    return run_stage("train", _add_arguments, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
