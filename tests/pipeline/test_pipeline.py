"""The pipeline stages' logic, without DVC: generator, cleaning, estimators, metrics."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgate.files import atomic_path
from mlgate.measures import HIGHER, MEASURES, VALUES
from mlgate.pipeline import evaluate, ingest, prepare, synthetic, train
from mlgate.pipeline._common import StageError


def test_synthetic_data_is_seeded_and_about_two_percent_fraud() -> None:
    first = synthetic.generate_transactions(50_000, seed=3)
    assert first.equals(synthetic.generate_transactions(50_000, seed=3))
    assert not first.equals(synthetic.generate_transactions(50_000, seed=4))
    assert 0.015 < first[synthetic.TARGET].mean() < 0.025
    assert first[synthetic.ID_COLUMN].is_unique


def test_drift_shifts_feature_distributions() -> None:
    calm = synthetic.generate_transactions(20_000, seed=1)
    drifted = synthetic.generate_transactions(20_000, seed=1, drift=1.0)
    assert np.log(drifted.amount).mean() - np.log(calm.amount).mean() == pytest.approx(
        0.5, abs=0.05
    )
    assert (drifted.merchant_category == "online_retail").mean() > 0.25


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "sklearn:mnist"}, "unknown data.source 'sklearn:mnist'"),
        ({"rows": 0}, "data.rows must be positive"),
        ({"rows": "many"}, "data.rows must be a whole number"),
        ({"drift": -1}, "data.drift must be 0 or more"),
    ],
)
def test_ingest_rejects_bad_params(params: dict, message: str, tmp_path) -> None:
    with pytest.raises(StageError, match=message):
        ingest.ingest(params, tmp_path)


def test_ingest_reads_parquet_and_uses_declared_id(tmp_path) -> None:
    frame = pd.DataFrame({"row": [10, 11, 12], "x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    frame.to_parquet(tmp_path / "d.parquet")
    loaded, meta = ingest.ingest({"source": "d.parquet", "target": "y", "id": "row"}, tmp_path)
    assert meta["id_column"] == "row" and meta["target"] == "y" and len(loaded) == 3


def test_ingest_refuses_an_id_column_it_would_overwrite(tmp_path) -> None:
    (tmp_path / "d.csv").write_text("id,x,target\n1,2,0\n")
    with pytest.raises(StageError, match="has a column named 'id'"):
        ingest.ingest({"source": "d.csv"}, tmp_path)


def test_ingest_rejects_empty_csv(tmp_path) -> None:
    (tmp_path / "d.csv").write_text("")
    with pytest.raises(StageError, match="is empty"):
        ingest.ingest({"source": "d.csv"}, tmp_path)


def test_text_column_of_words_is_categorical_not_garbage(tmp_path) -> None:
    (tmp_path / "d.csv").write_text("colour,target\n" + "red,0\nblue,1\n" * 20)
    frame, _ = ingest.ingest({"source": "d.csv"}, tmp_path)
    assert list(frame.colour[:2]) == ["red", "blue"]


def test_clean_counts_what_it_drops() -> None:
    frame = pd.DataFrame(
        {"id": [1, 2, 2, 3, 4], "x": [1.0, 2.0, 2.0, np.inf, 5.0], "y": [0, 1, 1, 0, None]}
    )
    cleaned, counts = prepare.clean(frame, {"target": "y", "id_column": "id"})
    assert list(cleaned.id) == [1, 2]
    assert counts == {
        "rows_in": 5,
        "dropped_missing_target": 1,
        "dropped_duplicate_id": 1,
        "dropped_infinite_value": 1,
        "rows_out": 2,
    }


def test_split_is_seeded_and_stratified() -> None:
    frame = synthetic.generate_transactions(2_000, seed=0)
    train_a, test_a = prepare.split(frame, "is_fraud", {"test_size": 0.25, "seed": 5})
    train_b, _ = prepare.split(frame, "is_fraud", {"test_size": 0.25, "seed": 5})
    assert list(train_a.transaction_id) == list(train_b.transaction_id)
    assert len(test_a) == 500
    assert test_a.is_fraud.mean() == pytest.approx(frame.is_fraud.mean(), abs=0.002)


@pytest.mark.parametrize("test_size", [0, 1, 1.5])
def test_split_rejects_bad_test_size(test_size: float) -> None:
    frame = pd.DataFrame({"x": range(10), "y": [0, 1] * 5})
    with pytest.raises(StageError, match="test_size must be between 0 and 1"):
        prepare.split(frame, "y", {"test_size": test_size})


def test_unknown_hyperparameter_lists_valid_ones() -> None:
    with pytest.raises(
        StageError, match=r"train.n_trees is not a hyperparameter of random_forest.*n_estimators"
    ):
        train.make_estimator({"model": "random_forest", "n_trees": 3})


def test_a_boosting_library_that_is_not_installed_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # as if it were not installed
    with pytest.raises(StageError, match=r"needs lightgbm, which is not installed: pip install"):
        train.make_estimator({"model": "lightgbm"})


def test_lightgbm_is_quiet_unless_asked_and_its_own_keys_are_checked() -> None:
    assert train.make_estimator({"model": "lightgbm"}).get_params()["verbose"] == -1
    assert train.make_estimator({"model": "lightgbm", "verbose": 1}).get_params()["verbose"] == 1
    with pytest.raises(StageError, match=r"train\.n_trees is not a hyperparameter of lightgbm"):
        train.make_estimator({"model": "lightgbm", "n_trees": 3})


def test_each_model_trains_on_mixed_columns() -> None:
    frame = synthetic.generate_transactions(1_500, seed=2)
    meta = {"target": "is_fraud", "id_column": "transaction_id"}
    features = train.feature_columns(frame, meta)
    for name in train.ESTIMATORS:
        model = train.make_pipeline(frame, features, {"model": name})
        model.fit(frame[features], frame.is_fraud)
        assert model.predict_proba(frame[features].head(3)).shape == (3, 2), name


def test_multiclass_metrics_are_macro_averaged() -> None:
    labels = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2]])
    predicted = np.array([0, 1, 2, 0])
    result = evaluate.compute_metrics(labels, probabilities, predicted, np.array([0, 1, 2]))
    assert result["accuracy"] == 0.75
    assert result["recall"] == pytest.approx((1 + 1 + 0.5) / 3)
    log_loss = result["log_loss"]
    assert result["roc_auc"] is not None and log_loss is not None and log_loss > 0
    # the stage writes every classification measure of the table
    assert list(result) == [m for m, measure in MEASURES.items() if measure.reads != VALUES]


def test_a_measure_the_pipeline_writes_is_one_gate_rules_know_by_its_direction() -> None:
    """measures' directions against scikit-learn's own (a score is better higher, a loss
    lower): a perfect model's value beats a coin's in the direction the table says."""
    labels = np.array([0, 1, 0, 1, 1, 0])
    perfect = np.eye(2)[labels] * 0.98 + 0.01
    coin = np.full((6, 2), 0.5)
    classes = np.array([0, 1])
    good = evaluate.compute_metrics(labels, perfect, labels, classes)
    poor = evaluate.compute_metrics(labels, coin, 1 - labels, classes)
    for name, measure in MEASURES.items():
        if measure.reads == VALUES:
            continue  # a regressor's measures: not of a classifier's predictions
        assert (good[name] > poor[name]) == (measure.better == HIGHER), name  # type: ignore[operator]


def test_metric_undefined_on_one_class_is_null() -> None:
    labels = np.array([0, 0, 0])
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6]])
    result = evaluate.compute_metrics(labels, probabilities, np.array([0, 0, 1]), np.array([0, 1]))
    assert result["roc_auc"] is None


def test_atomic_path_leaves_nothing_when_the_block_fails(tmp_path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old").write_text("kept")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "half").write_text("partial")
        raise RuntimeError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in target.iterdir()] == ["old"]


@pytest.mark.faults
@pytest.mark.parametrize(
    ("stage", "params", "message"),
    [
        ("ingest", "data: {drift: x}", "data.drift must be a number, got 'x'"),
        ("ingest", "data: {drift: .nan}", "data.drift must be a number, got nan"),
        ("ingest", "data: {drift: .inf}", "data.drift must be a number, got inf"),
        ("ingest", "data: {rows: .inf}", "data.rows must be a whole number, got inf"),
        ("ingest", "data: {rows: 100, seed: .nan}", "data.seed must be a whole number, got nan"),
        ("prepare", "prepare: {test_size: .nan}", "prepare.test_size must be a number, got nan"),
        ("prepare", "prepare: {seed: x}", "prepare.seed must be a whole number, got 'x'"),
    ],
)
def test_a_bad_param_value_is_one_line_and_exit_2(
    tmp_path: Path, stage: str, params: str, message: str
) -> None:
    """Issue 19.10: the stages as dvc repro runs them, fed values YAML reads as text, NaN or
    infinity: one line naming the param, never a traceback."""
    import subprocess
    import sys

    (tmp_path / "params.yaml").write_text(params + "\n")
    data = tmp_path / "raw"
    if stage == "prepare":  # a real ingest output to prepare
        (tmp_path / "ok.yaml").write_text("data: {rows: 200}\n")
        subprocess.run(
            [sys.executable, "-m", "mlgate.pipeline.ingest", "--params", "ok.yaml", "--out", "raw"],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
    args = {
        "ingest": ["--out", "raw2"],
        "prepare": ["--input", str(data), "--out", "processed", "--report", "r.json"],
    }[stage]
    result = subprocess.run(
        [sys.executable, "-m", f"mlgate.pipeline.{stage}", "--params", "params.yaml", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"{stage}: error: {message}"


def test_the_task_is_inferred_from_the_target_or_named_in_params() -> None:
    from mlgate.pipeline._common import infer_task, task_of
    from mlgate.pipeline.train import make_estimator

    assert infer_task(pd.Series([0, 1, 1, 0])) == "classification"
    assert infer_task(pd.Series(["cat", "dog"])) == "classification"
    assert infer_task(pd.Series([1.5, 2.25, 3.0])) == "regression"  # fractions: a quantity
    assert infer_task(pd.Series(range(100))) == "regression"  # more than 20 whole values
    assert task_of({"task": "classification"}, pd.Series(range(100))) == "classification"
    with pytest.raises(StageError, match=r"train\.task must be one of classification, regression"):
        task_of({"task": "ranking"}, pd.Series([0, 1]))
    with pytest.raises(StageError, match=r"unknown train\.model 'ridge' for classification"):
        make_estimator({"model": "ridge"}, "classification")
    assert (
        type(make_estimator({"model": "ridge", "task": "regression"}, "regression")).__name__
        == "Ridge"
    )


def test_the_synthetic_risk_source_is_a_learnable_quantity_beside_the_same_transactions() -> None:

    from mlgate.pipeline._common import infer_task

    fraud, _ = ingest._synthetic({"rows": 3000, "seed": 4})
    risk, meta = ingest._synthetic({"rows": 3000, "seed": 4}, risk=True)
    assert meta["target"] == "risk_score" and infer_task(risk["risk_score"]) == "regression"
    features = train.feature_columns(risk, meta)
    pd.testing.assert_frame_equal(fraud[features], risk[features])  # the same transactions
    model = train.make_pipeline(risk, features, {"model": "ridge"}, "regression")
    model.fit(risk[features].iloc[:2000], risk["risk_score"].iloc[:2000])
    assert model.score(risk[features].iloc[2000:], risk["risk_score"].iloc[2000:]) > 0.5
