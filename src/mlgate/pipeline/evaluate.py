"""Stage ``evaluate``: score the model on the test split.

Writes the metrics (kept in git), per-example predictions ``id,label,prediction,score`` (one
``score_<class>`` column per class for multi-class problems) and ROC and precision-recall curves
for ``dvc plots``. A regression model (its card's ``task``) gets mae, rmse and r2, predictions
``id,label,prediction`` and its predicted values against the actual ones.

``evaluate.slice_columns`` in params.yaml: columns of the test data written beside each
prediction, so that the gate can judge a change on each of their slices
(``[tool.mlgate.slices]``). A column the test data lacks is named and left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.artifacts.card import parse_card
from mlgate.files import atomic_path, write_text
from mlgate.pipeline._common import (
    META_FILE,
    REGRESSION,
    StageError,
    load_params,
    read_json,
    run_stage,
    to_json,
)
from mlgate.pipeline.prepare import TEST_FILE

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_CURVE_POINTS = 200
ROC_FILE = "roc.json"
PRECISION_RECALL_FILE = "precision_recall.json"
PREDICTED_ACTUAL_FILE = "predicted_actual.json"


def score(model: Any, frame: pd.DataFrame, features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (class probabilities, predicted labels) for ``frame``."""
    estimator = model.named_steps.get("estimator") if hasattr(model, "named_steps") else model
    if "n_jobs" in estimator.get_params():
        # Parallel trees add their votes in completion order: the last bits would vary per run.
        estimator.set_params(n_jobs=1)
    try:
        probabilities = model.predict_proba(frame[features])
    except (KeyError, ValueError) as exc:
        raise StageError(f"the model cannot score the test data: {exc}") from None
    predicted = model.classes_[probabilities.argmax(axis=1)]
    return probabilities, predicted


def value_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """A regression model's measures: mae, rmse, r2 (scikit-learn's)."""
    from sklearn import metrics

    return {
        "mae": float(metrics.mean_absolute_error(labels, predicted)),
        "rmse": float(metrics.root_mean_squared_error(labels, predicted)),
        "r2": _defined(lambda: metrics.r2_score(labels, predicted)),
    }


def compute_metrics(
    labels: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray, classes: np.ndarray
) -> dict[str, float | None]:
    from sklearn import metrics

    binary = len(classes) == 2
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": classes[1]} if binary else {"average": "macro"}
    )
    scores = probabilities[:, 1] if binary else probabilities
    result: dict[str, float | None] = {
        "accuracy": metrics.accuracy_score(labels, predicted),
        "precision": metrics.precision_score(labels, predicted, zero_division=0, **averaging),
        "recall": metrics.recall_score(labels, predicted, zero_division=0, **averaging),
        "f1": metrics.f1_score(labels, predicted, zero_division=0, **averaging),
    }
    positives = labels == classes[1] if binary else _one_hot(labels, classes)
    result["roc_auc"] = _defined(
        lambda: metrics.roc_auc_score(positives, scores, **({} if binary else {"average": "macro"}))
    )
    result["average_precision"] = _defined(
        lambda: metrics.average_precision_score(positives, scores, average="macro")
    )
    result["log_loss"] = _defined(lambda: metrics.log_loss(labels, probabilities, labels=classes))
    return {k: (None if v is None else float(v)) for k, v in result.items()}


def predictions_frame(
    ids: pd.Series,
    labels: pd.Series,
    predicted: np.ndarray,
    probabilities: np.ndarray,
    classes: np.ndarray,
) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(
        {"id": ids.to_numpy(), "label": labels.to_numpy(), "prediction": predicted}
    )
    if len(classes) == 2:
        frame["score"] = probabilities[:, 1]
    else:
        for index, name in enumerate(classes):
            frame[f"score_{name}"] = probabilities[:, index]
    return frame


def curves(labels: np.ndarray, probabilities: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """ROC and precision-recall points (micro-averaged over classes for multi-class)."""
    from sklearn import metrics

    if len(classes) == 2:
        truth, scores = labels == classes[1], probabilities[:, 1]
    else:
        truth, scores = _one_hot(labels, classes).ravel(), probabilities.ravel()
    if truth.all() or not truth.any():
        return {"roc": [], "precision_recall": []}
    fpr, tpr, _ = metrics.roc_curve(truth, scores)
    precision, recall, _ = metrics.precision_recall_curve(truth, scores)
    return {
        "roc": _points(fpr=fpr, tpr=tpr),
        "precision_recall": _points(recall=recall, precision=precision),
    }


def _points(**columns: np.ndarray) -> list[dict[str, float]]:
    import numpy as np

    length = len(next(iter(columns.values())))
    keep = np.unique(np.linspace(0, length - 1, min(length, MAX_CURVE_POINTS)).round().astype(int))
    return [{name: round(float(values[i]), 6) for name, values in columns.items()} for i in keep]


def _one_hot(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    from sklearn.preprocessing import label_binarize

    return label_binarize(labels, classes=classes)


def _defined(compute: Any) -> float | None:
    """A metric that is undefined here (one class only in the test set) is null, not a crash."""
    import math

    try:
        value = float(compute())
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path, required=True, help="prepare's output dir")
    parser.add_argument("--model", type=Path, required=True, help="model file from train")
    parser.add_argument("--card", type=Path, required=True, help="model card from train")
    parser.add_argument("--metrics", type=Path, required=True, help="metrics file (JSON)")
    parser.add_argument("--predictions", type=Path, required=True, help="predictions (CSV)")
    parser.add_argument("--plots", type=Path, required=True, help="directory for plot data")
    parser.add_argument("--params", type=Path, default=None, help="params.yaml (slice columns)")


def _slice_columns(args: argparse.Namespace, test: pd.DataFrame, reserved: list[str]) -> list[str]:
    """The test data's columns params.yaml asks to write beside the predictions."""
    if args.params is None:
        return []
    wanted = load_params(args.params, "evaluate").get("slice_columns", [])
    if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
        raise StageError("evaluate.slice_columns must be a list of column names")
    clashing = [c for c in wanted if c in reserved or c.startswith("score_")]
    if clashing:
        raise StageError(
            f"evaluate.slice_columns names {clashing[0]}, a column of the predictions themselves"
        )
    missing = [c for c in wanted if c not in test.columns]
    if missing:
        print(f"evaluate: the test data has no {', '.join(missing)}: not written for slicing")
    return [c for c in wanted if c in test.columns]


def _main(args: argparse.Namespace) -> None:
    import joblib
    import pandas as pd

    meta = read_json(args.input / META_FILE)
    card = parse_card(read_json(args.card))
    features = card.feature_names
    test = pd.read_csv(args.input / TEST_FILE, low_memory=False)
    model = joblib.load(args.model)
    if card.task == REGRESSION:
        _evaluate_values(args, model, test, features, meta)
        return
    probabilities, predicted = score(model, test, features)
    labels = test[meta["target"]].to_numpy()
    classes = model.classes_
    metrics = compute_metrics(labels, probabilities, predicted, classes)
    data_stats: dict[str, Any] = {
        "train_rows": meta.get("train_rows"),
        "test_rows": len(test),
        "classes": len(classes),
    }
    if len(classes) == 2:
        data_stats["positive_rate"] = float((labels == classes[1]).mean())
    predictions = predictions_frame(
        test[meta["id_column"]], test[meta["target"]], predicted, probabilities, classes
    )
    for column in _slice_columns(args, test, list(predictions.columns)):
        predictions[column] = test[column].to_numpy()
    plot_data = curves(labels, probabilities, classes)

    with atomic_path(args.predictions) as tmp:
        predictions.to_csv(tmp, index=False, float_format="%.10g")
    with atomic_path(args.plots) as tmp:
        tmp.mkdir()
        (tmp / ROC_FILE).write_text(to_json({"roc": plot_data["roc"]}), encoding="utf-8")
        pr = {"precision_recall": plot_data["precision_recall"]}
        (tmp / PRECISION_RECALL_FILE).write_text(to_json(pr), encoding="utf-8")
    write_text(args.metrics, to_json({**metrics, "data": data_stats}))
    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if v is not None)
    print(f"evaluate: {len(test)} test rows: {shown}")


def _evaluate_values(
    args: argparse.Namespace,
    model: Any,
    test: pd.DataFrame,
    features: list[str],
    meta: dict[str, Any],
) -> None:
    """A regression model: its measures, its predicted values, predicted against actual."""
    import numpy as np
    import pandas as pd

    try:
        predicted = np.asarray(model.predict(test[features]), dtype=np.float64)
    except (KeyError, ValueError) as exc:
        raise StageError(f"the model cannot score the test data: {exc}") from None
    labels = test[meta["target"]].to_numpy(dtype=np.float64)
    metrics = value_metrics(labels, predicted)
    data_stats = {
        "train_rows": meta.get("train_rows"),
        "test_rows": len(test),
        "target_mean": float(labels.mean()),
    }
    predictions = pd.DataFrame(
        {"id": test[meta["id_column"]].to_numpy(), "label": labels, "prediction": predicted}
    )
    for column in _slice_columns(args, test, list(predictions.columns)):
        predictions[column] = test[column].to_numpy()
    order = np.argsort(labels, kind="stable")
    points = _points(actual=labels[order], predicted=predicted[order])
    with atomic_path(args.predictions) as tmp:
        predictions.to_csv(tmp, index=False, float_format="%.10g")
    with atomic_path(args.plots) as tmp:
        tmp.mkdir()
        (tmp / PREDICTED_ACTUAL_FILE).write_text(
            to_json({"predicted_actual": points}), encoding="utf-8"
        )
    write_text(args.metrics, to_json({**metrics, "data": data_stats}))
    shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if v is not None)
    print(f"evaluate: {len(test)} test rows: {shown}")


def main(argv: list[str] | None = None) -> int:
    return run_stage("evaluate", _add_arguments, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
