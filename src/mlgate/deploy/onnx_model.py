"""Compiled models: a scikit-learn model converted to ONNX at deploy, checked against the pickle
it came from, and served by onnxruntime.

Why: scikit-learn predicts a row or a hundred through Python loops over its trees (15 ms for
one row of the default 200-tree forest here); onnxruntime runs the same trees compiled (under
0.1 ms), and an ONNX file holds no code, so a server that loads one never unpickles anything.

- **Conversion** (skl2onnx): the model takes one input per card column when it selects columns
  by name (a ``ColumnTransformer``, as the pipeline's models do), else one float matrix; numbers
  are fed as float32 (scikit-learn's trees compare float32 too), text as strings. ONNX strings
  hold no NaN, so a missing text value is fed as :data:`MISSING_TEXT`, and a fitted text
  imputer is converted as one that replaces that value.
- **Gradient-boosted trees** (LightGBM's, XGBoost's and CatBoost's scikit-learn estimators,
  alone or as a Pipeline's last step): onnxmltools' converters for the first two, and
  CatBoost's own ONNX export for the third, registered with skl2onnx for each library
  installed (``pip install 'mlgate[gbdt]'``), so a pipeline of scikit-learn steps and a
  boosted model converts as one graph. CatBoost exports numbers only: a CatBoost model given
  categorical features itself (``cat_features``) is served by its pickle, saying so; one
  behind the pipeline's one-hot encoder compiles.
- **Missing values** reach a scikit-learn tree's nodes as they reach the pickle's: each node's
  learned direction for NaN is carried into the ONNX tree ensemble.
- **Parity**: the ONNX model must give the same labels as the pickle, and probabilities within
  :data:`TOLERANCE`, on the card's input example and on :data:`PARITY_ROWS` rows drawn from the
  training data's profile (one in twenty values missing where the pickle accepts that). Any
  difference, any conversion error, an unsupported estimator: the pickle runtime serves, and
  the reason is said.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.artifacts.card import Card
from mlgate.artifacts.deployment import ONNX
from mlgate.artifacts.profile import NUMERIC, parse_profile
from mlgate.deploy.modelfile import one_label_each
from mlgate.errors import MlgateError, first_line

ONNX_FILE = "model.onnx"
TOLERANCE = 1e-4  # the largest difference allowed between the runtimes' probabilities
PARITY_ROWS = 2_000
MISSING_SHARE = 0.05
MISSING_TEXT = "\x00missing"  # a missing text value, as the ONNX model is fed it
TEXT_DTYPES = ("str", "string", "object", "category")
_OPSETS = {"": 17, "ai.onnx.ml": 3}
INSTALL = "pip install 'mlgate[serve]'"
CLASSES_KEY = "mlgate.classes"
PROFILE = "the training data's profile (profile.json)"  # the classifier's classes, in the ONNX file's metadata


class NotCompiled(MlgateError):
    """Why a model is served by its pickle: the reason, said in the deploy's output and log."""


@dataclass(frozen=True)
class Column:
    name: str
    text: bool


def columns_of(card: Card) -> list[Column]:
    if not card.features:
        raise NotCompiled("the model's card names no input columns")
    return [Column(f.name, f.dtype in TEXT_DTYPES) for f in card.features]


def compile_model(model: Any, card: Card) -> bytes:
    """The model as ONNX; NotCompiled with the reason when it cannot be converted."""
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    except ImportError:
        raise NotCompiled(f"skl2onnx is not installed ({INSTALL})") from None
    columns = columns_of(card)
    final = _final_step(model)
    boosted = _boosted_trees(type(final))
    if boosted is not None and not _register_boosted_trees():
        raise NotCompiled(
            f"{type(final).__name__} compiles with onnxmltools' converters: "
            f"pip install 'mlgate[gbdt]'"
        )
    if boosted is not None and boosted.startswith("CatBoost") and final.get_cat_feature_indices():
        raise NotCompiled(
            f"{type(final).__name__} was given categorical features itself (cat_features), "
            "which CatBoost's ONNX export cannot hold; one-hot encode them in front of it"
        )
    by_name = _selects_columns(model)
    if by_name:
        inputs = [
            (c.name, StringTensorType([None, 1]) if c.text else FloatTensorType([None, 1]))
            for c in columns
        ]
    elif any(c.text for c in columns):
        raise NotCompiled("the model takes text columns without naming them")
    else:
        inputs = [("input", FloatTensorType([None, len(columns)]))]
    converted = _text_imputers_as_strings(copy.deepcopy(model))
    final = _final_step(converted)
    if boosted is not None and boosted.startswith("XGBoost"):
        # onnxmltools names XGBoost's inputs f0, f1...: one fitted on a frame forgets its names
        # (the ONNX model's inputs are the card's columns anyway)
        final.get_booster().feature_names = None
    classifies = _classifies(final)
    options = {id(final): {"zipmap": False}} if classifies else None
    try:
        with _integer_tree_attributes():
            document = convert_sklearn(
                converted, initial_types=inputs, options=options, target_opset=_OPSETS
            )
    except Exception as exc:  # a converter can raise anything: the model is served as it is
        raise NotCompiled(
            f"skl2onnx cannot convert {type(final).__name__}: {first_line(exc)[:200].rstrip('.')}"
        ) from None
    _route_missing_values(document, final)
    if classifies:  # what the server counts predictions by
        entry = document.metadata_props.add()
        entry.key, entry.value = CLASSES_KEY, json.dumps(final.classes_.tolist())
    return bytes(document.SerializeToString())


# The boosted-tree estimators converted: (module, class) -> its skl2onnx alias.
BOOSTED_TREES = {
    ("lightgbm.sklearn", "LGBMClassifier"): "LightGbmLGBMClassifier",
    ("lightgbm.sklearn", "LGBMRegressor"): "LightGbmLGBMRegressor",
    ("xgboost.sklearn", "XGBClassifier"): "XGBoostXGBClassifier",
    ("xgboost.sklearn", "XGBRegressor"): "XGBoostXGBRegressor",
    ("catboost.core", "CatBoostClassifier"): "CatBoostCatBoostClassifier",
    ("catboost.core", "CatBoostRegressor"): "CatBoostCatBoostRegressor",
    # a bare lightgbm.Booster, as mlgate.deploy.boosters loads it
    ("mlgate.deploy.boosters", "LightGbmBoosterClassifier"): "LightGbmLGBMClassifier",
    ("mlgate.deploy.boosters", "LightGbmBoosterRegressor"): "LightGbmLGBMRegressor",
}


def _boosted_trees(kind: type) -> str | None:
    """skl2onnx's alias for ``kind`` when it is a boosted-tree estimator mlgate converts."""
    return BOOSTED_TREES.get((kind.__module__, kind.__name__))


@functools.cache
def _register_boosted_trees() -> bool:
    """Register the converters of LightGBM's and XGBoost's estimators (onnxmltools') and of
    CatBoost's (its own export) with skl2onnx, for the libraries installed; False when
    onnxmltools is not."""
    import importlib

    try:
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
        from skl2onnx import update_registered_converter
        from skl2onnx._supported_operators import sklearn_classifier_list
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )
    except ImportError:
        return False
    converters = {
        "LightGbm": convert_lightgbm,
        "XGBoost": convert_xgboost,
        "CatBoost": _convert_catboost,
    }
    for (module_name, class_name), alias in BOOSTED_TREES.items():
        try:
            kind = getattr(importlib.import_module(module_name), class_name)
        except ImportError:  # that library is not installed: nothing of it to convert
            continue
        classifier = class_name.endswith("Classifier")
        if classifier and kind not in sklearn_classifier_list:
            # skl2onnx's parser gives a label and probabilities to the classes it lists, and to
            # subclasses of scikit-learn's ClassifierMixin, which CatBoost's is not
            sklearn_classifier_list.append(kind)
        update_registered_converter(
            kind,
            alias,
            calculate_linear_classifier_output_shapes
            if classifier
            else calculate_linear_regressor_output_shapes,
            next(convert for prefix, convert in converters.items() if alias.startswith(prefix)),
            options={"nocl": [True, False], "zipmap": [True, False, "columns"]}
            if classifier
            else None,
        )
    return True


def _classifies(final: Any) -> bool:
    """A classifier (CatBoost's regressor has a ``classes_`` too)."""
    from sklearn.base import is_classifier

    return bool(is_classifier(final)) and hasattr(final, "classes_")


def _convert_catboost(scope: Any, operator: Any, container: Any) -> None:
    """A CatBoost estimator in skl2onnx's graph: CatBoost's own ONNX export of the fitted model
    (its oblivious trees as one tree ensemble, each node's direction for a missing value
    included), that ensemble's node placed between the operator's input and outputs."""
    from catboost.utils import convert_to_onnx_object
    from onnx.helper import get_attribute_value

    model = operator.raw_operator
    if model.get_cat_feature_indices():
        raise RuntimeError("CatBoost's ONNX export holds no categorical features (cat_features)")
    exported = convert_to_onnx_object(model)
    ensembles = [n for n in exported.graph.node if n.op_type in _TREE_ENSEMBLES]
    others = [
        n.op_type for n in exported.graph.node if n.op_type not in (*_TREE_ENSEMBLES, "ZipMap")
    ]
    if len(ensembles) != 1 or others or exported.graph.initializer:
        raise RuntimeError(
            f"CatBoost's ONNX export is not one tree ensemble ({others or ensembles})"
        )
    node = ensembles[0]
    container.add_node(
        node.op_type,
        [operator.inputs[0].full_name],
        [output.full_name for output in operator.outputs[: len(node.output)]],
        op_domain=node.domain,
        op_version=_OPSETS[node.domain],
        name=scope.get_unique_operator_name("CatBoost"),
        **{attribute.name: get_attribute_value(attribute) for attribute in node.attribute},
    )


def _route_missing_values(document: Any, final: Any) -> None:
    """Send a missing value down the branch scikit-learn's tree sends it. scikit-learn 1.4 and
    later trees route NaN per node (``missing_go_to_left``: learned where training had missing
    values, else towards the child with more samples); skl2onnx 1.20 leaves every node's
    ``nodes_missing_value_tracks_true`` at false, so rows with a missing value could take
    another path in ONNX. Copied node by node, only where the graph has the one tree ensemble
    of ``final`` with the trees' own numbering; otherwise left as converted, for parity to
    judge."""
    trees = _sklearn_trees(final)
    ensembles = [n for n in document.graph.node if n.op_type in _TREE_ENSEMBLES]
    if not trees or len(ensembles) != 1:
        return
    directions = [getattr(tree.tree_, "missing_go_to_left", None) for tree in trees]
    if any(d is None for d in directions):
        return  # a scikit-learn without missing-value support: nothing to carry
    attributes = {a.name: a for a in ensembles[0].attribute}
    if not {"nodes_treeids", "nodes_nodeids", "nodes_modes"} <= set(attributes):
        return
    tracks = []
    for tree, node, mode in zip(
        attributes["nodes_treeids"].ints,
        attributes["nodes_nodeids"].ints,
        attributes["nodes_modes"].strings,
        strict=True,
    ):
        if tree >= len(directions) or node >= len(directions[tree]):
            return  # not numbered as the trees are: leave it to parity
        tracks.append(0 if mode == b"LEAF" else int(directions[tree][node]))
    existing = attributes.get("nodes_missing_value_tracks_true")
    if existing is not None:
        del existing.ints[:]
        existing.ints.extend(tracks)
    else:
        from onnx import helper

        ensembles[0].attribute.append(
            helper.make_attribute("nodes_missing_value_tracks_true", tracks)
        )


_TREE_ENSEMBLES = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


def _sklearn_trees(final: Any) -> list[Any]:
    """The decision trees of a scikit-learn tree or forest (random or extra trees), in the
    order skl2onnx numbers them; none for any other estimator."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import BaseDecisionTree

    if isinstance(final, BaseDecisionTree):
        return [final]
    forests = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier,
               ExtraTreesRegressor)  # fmt: skip
    if isinstance(final, forests):
        return list(final.estimators_)
    return []


def readable(data: bytes) -> bool:
    """Whether ``data`` parses as an ONNX model (not whether it is right: parity says that)."""
    try:
        import onnx

        onnx.checker.check_model(onnx.load_from_string(data))
    except Exception:  # protobuf's and onnx's own error types
        return False
    return True


def _selects_columns(model: Any) -> bool:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    first = model.steps[0][1] if isinstance(model, Pipeline) else model
    return isinstance(first, ColumnTransformer)


def _final_step(model: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return _final_step(model.steps[-1][1]) if isinstance(model, Pipeline) else model


def _text_imputers_as_strings(model: Any) -> Any:
    """The model with each fitted imputer of text columns (missing = NaN) replacing
    MISSING_TEXT instead, the only form skl2onnx converts."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        model.steps = [(n, _text_imputers_as_strings(s)) for n, s in model.steps]
    elif isinstance(model, ColumnTransformer):
        model.transformers_ = [
            (n, _text_imputers_as_strings(s), c) for n, s, c in model.transformers_
        ]
    elif isinstance(model, SimpleImputer) and _imputes_text(model):
        model.missing_values = MISSING_TEXT
    return model


@contextlib.contextmanager
def _integer_tree_attributes() -> Iterator[None]:
    """skl2onnx 1.20 hands onnx a histogram-gradient-boosting tree's node flags as Python
    booleans (leaves) and NumPy unsigned integers (branches), which onnx refuses on protobuf 5
    and later ("Expected an int, got a boolean"): while converting, its node writer is given
    plain integers."""
    import numpy as np
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def plain(value: Any) -> Any:
        return int(value) if isinstance(value, (bool, np.bool_, np.integer)) else value

    def add_node(*args: Any, **kwargs: Any) -> Any:
        return original(*map(plain, args), **{k: plain(v) for k, v in kwargs.items()})

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original


def _imputes_text(imputer: Any) -> bool:
    statistics = getattr(imputer, "statistics_", None)
    return statistics is not None and statistics.dtype == object


class OnnxModel:
    """An ONNX model called as the server calls a scikit-learn one: ``predict(frame)``."""

    runtime = ONNX
    runs_inline = True  # a few rows take tens of microseconds: no worker thread for them

    def __init__(self, data: bytes, card: Card) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise MlgateError(f"onnxruntime is not installed ({INSTALL})") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # requests are the parallelism when serving
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                data, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own error types
            raise MlgateError(f"the ONNX model does not load: {first_line(exc)[:200]}") from None
        self.columns = columns_of(card)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        classes = self.session.get_modelmeta().custom_metadata_map.get(CLASSES_KEY)
        if classes is not None:
            self.classes_ = json.loads(classes)

    def _feed(self, rows: Any) -> dict[str, Any]:
        """The model's inputs from a request's rows (payload.Rows: one array per column) or a
        frame."""
        import numpy as np

        if self.inputs == ["input"]:
            matrix = np.asarray(rows.to_numpy(), dtype=np.float32)
            return {"input": matrix.reshape(len(matrix), -1)}
        feed = {}
        for column, name in zip(self.columns, self.inputs, strict=True):  # inputs in card order
            values = rows[column.name]  # (skl2onnx renames a column such as "a/b")
            if hasattr(values, "to_numpy"):  # a frame's column
                values = (
                    values.to_numpy(dtype=object)
                    if column.text
                    else values.to_numpy(dtype=np.float64, na_value=np.nan)
                )
            if column.text:
                array = np.array(
                    [
                        v if isinstance(v, str) else MISSING_TEXT if _missing(v) else str(v)
                        for v in values
                    ],
                    dtype=object,
                )
            else:
                array = np.asarray(values, dtype=np.float32)
            feed[name] = array.reshape(-1, 1)
        return feed

    def run(self, frame: Any) -> list[Any]:
        return list(self.session.run(None, self._feed(frame)))

    def predict(self, frame: Any) -> Any:
        return self.run(frame)[0].reshape(-1)

    def predict_proba(self, frame: Any) -> Any:
        return self.run(frame)[1]


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA."""
    return (
        value is None
        or (isinstance(value, float) and value != value)
        or type(value).__name__ == "NAType"
    )


def load(path: Path, card: Card) -> OnnxModel:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MlgateError(f"cannot read {path}: {exc.strerror or exc}") from None
    return OnnxModel(data, card)


def parity_rows(card: Card, profile: dict[str, Any] | None, seed: int = 0) -> list[Any]:
    """The frames parity is checked on: the card's input example, PARITY_ROWS rows drawn from
    the training data's profile (without one: around the example's values, each number
    anywhere from one range below its smallest to one above its largest), and the same rows
    with one value in twenty missing."""
    import numpy as np
    import pandas as pd

    columns = columns_of(card)
    example = list(card.input_example)
    if not example:
        raise NotCompiled("there are no rows to check it on: the card has no input example")
    try:
        given = pd.DataFrame(example)[[c.name for c in columns]]
    except (KeyError, ValueError, TypeError) as exc:
        raise NotCompiled(f"the card's input example is not its columns: {exc}") from None
    try:  # checked as monitor checks it: a profile edited by hand is named, not a traceback
        described = parse_profile(profile, PROFILE).columns if profile is not None else {}
    except MlgateError as exc:
        raise NotCompiled(str(exc)) from None
    rng = np.random.default_rng(seed)
    drawn = {}
    for column in columns:
        known = described.get(column.name)
        weights = np.asarray([n for _, n in known.counts] if known else [], dtype="float64")
        if known is not None and known.kind == NUMERIC:
            quantiles = np.asarray(known.quantiles, dtype="float64")
            levels = np.linspace(0, 1, len(quantiles))
            drawn[column.name] = np.interp(rng.random(PARITY_ROWS), levels, quantiles)
        elif known is not None and weights.sum() > 0:
            keys = [key for key, _ in known.counts]
            values = rng.choice(keys, PARITY_ROWS, p=weights / weights.sum())
            drawn[column.name] = values if column.text else values.astype("float64")
        elif column.text:
            seen = given[column.name].dropna().astype(str).tolist() or [""]
            drawn[column.name] = rng.choice(seen, PARITY_ROWS)
        else:
            numbers = pd.to_numeric(given[column.name], errors="coerce").dropna()
            low, high = (float(numbers.min()), float(numbers.max())) if len(numbers) else (0, 1)
            span = (high - low) or 1.0
            drawn[column.name] = rng.uniform(low - span, high + span, PARITY_ROWS)
    frame = pd.DataFrame(drawn)
    holes = frame.copy()
    for name in holes.columns:
        holes.loc[rng.random(PARITY_ROWS) < MISSING_SHARE, name] = np.nan
    return [given, frame, holes]


def agreement(compiled: OnnxModel) -> str:
    """What parity held the compiled model to, as the deploy says it."""
    if hasattr(compiled, "classes_"):
        return f"the same labels, probabilities within {TOLERANCE:g}"
    return f"predictions within {TOLERANCE:g} (relative to values above 1)"


def check_parity(
    model: Any, compiled: OnnxModel, frames: list[Any], input_is_array: bool = False
) -> int:
    """How many rows both runtimes agreed on; NotCompiled with the first difference found. A
    frame the pickle refuses (missing values it does not impute) is skipped."""
    import numpy as np

    checked = 0
    for frame in frames:
        given = frame.to_numpy() if input_is_array else frame
        try:
            labels = one_label_each(model.predict(given))
            probabilities = (
                np.asarray(model.predict_proba(given)) if hasattr(compiled, "classes_") else None
            )
        except Exception:  # rows the pickle itself refuses say nothing of parity
            continue
        try:
            outputs = compiled.run(frame)
        except Exception as exc:  # onnxruntime's own error types
            raise NotCompiled(f"the ONNX model failed on rows the pickle predicts: {exc}") from None
        theirs = outputs[0].reshape(-1)
        if probabilities is None:  # a regressor: values within the tolerance, relative
            scale = np.maximum(1.0, np.abs(labels.astype("float64")))
            worst = float(np.max(np.abs(theirs - labels) / scale)) if len(labels) else 0.0
            if worst > TOLERANCE:
                raise NotCompiled(f"the ONNX model's predictions differ by up to {worst:.2g}")
        else:
            differ = int(np.count_nonzero(theirs.astype(str) != labels.astype(str)))
            if differ:
                raise NotCompiled(
                    f"the ONNX model's labels differ from the pickle's on {differ} of "
                    f"{len(labels)} rows"
                )
            worst = float(np.max(np.abs(outputs[1] - probabilities))) if len(labels) else 0.0
            if worst > TOLERANCE:
                raise NotCompiled(
                    f"the ONNX model's probabilities differ from the pickle's by up to "
                    f"{worst:.2g} (allowed: {TOLERANCE:g})"
                )
        checked += len(frame)
    if not checked:
        raise NotCompiled("the pickle predicted none of the rows parity is checked on")
    return checked
