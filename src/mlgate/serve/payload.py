"""Scoring requests in MLflow's protocol, checked against the model card and turned into the
frame the model was trained on.

JSON bodies hold one of ``dataframe_split``, ``dataframe_records``, ``instances`` or ``inputs``
(MLflow 2's ``params`` is ignored); ``text/csv`` bodies have a header row. Columns the card does
not name are dropped; missing ones are an error. Casts are the safe ones only: a whole number
into a float column, a float with no fraction into an integer column, an integer into a text
column. Messages name the column and row, never the value, so data does not leak into logs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlgate.artifacts.card import Feature
from mlgate.errors import MlgateError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

JSON_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_NUMBER_KINDS = {"f": "float", "i": "integer", "u": "integer", "b": "integer"}
# The largest magnitude a feature may have: float32's, which scikit-learn's trees cast to (a
# larger value, or an infinity, fails inside the model: the client's error, not the server's).
LARGEST = 3.4028234663852886e38
_RANGE = "numbers from -3.4e38 to 3.4e38"
_KNOWN_CATEGORY = "a category the model was trained on (it refuses others)"


class BadRequest(MlgateError):
    """The body cannot be scored (HTTP 400)."""


class UnsupportedMediaType(MlgateError):
    """Neither JSON nor CSV (HTTP 415)."""


class Rows:
    """A request's rows as one NumPy array per column, in the card's order. The compiled model
    takes the arrays as they are; a scikit-learn model gets ``frame()``, built when asked."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self._columns = columns
        self._length = len(next(iter(columns.values()))) if columns else 0
        self._frame: pd.DataFrame | None = None

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            import pandas as pd

            self._frame = pd.DataFrame(self._columns, copy=False)
        return self._frame

    def to_numpy(self) -> np.ndarray:
        return self.frame().to_numpy()

    @classmethod
    def concat(cls, parts: Sequence[Rows]) -> Rows:
        import numpy as np

        names = parts[0].columns
        return cls({name: np.concatenate([part[name] for part in parts]) for name in names})


def parse(body: bytes, content_type: str, features: Sequence[Feature]) -> Rows:
    """The request's rows, with exactly ``features``' columns, in order."""
    media = content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return _checked(*_json_columns(body, features), features, from_text=False)
    if media == "text/csv":
        return _checked(*_csv_columns(body), features, from_text=True)
    raise UnsupportedMediaType(  # what was sent is never echoed: it may be anything
        "unsupported content type: send application/json or text/csv"
    )


Columns = dict[str, Any]  # a column's name -> its values (a list, or a NumPy array)


def _json_columns(body: bytes, features: Sequence[Feature]) -> tuple[Columns, int]:
    try:
        document = json.loads(body)
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise BadRequest(f"the JSON body must be an object with one of {', '.join(JSON_KEYS)}")
    given = [k for k in JSON_KEYS if k in document]
    if len(given) != 1:
        raise BadRequest(f"the JSON body must have exactly one of {', '.join(JSON_KEYS)}")
    key, value = given[0], document[given[0]]
    names = [f.name for f in features]
    table = f"{key} does not describe a table (rows of equal length)"
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise BadRequest('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
        data = value["data"]
        columns = value.get("columns") or names[: _width(data)]
        _check_widths(data, len(columns) if isinstance(columns, list) else 0)
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise BadRequest(table)
        return _transposed(data, columns), len(data)
    if key == "dataframe_records":
        return _records(value, names, key, features)
    # instances and inputs: records, rows in the card's column order, or a column mapping
    if isinstance(value, dict):
        mapping = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        if len({len(v) for v in mapping.values()}) > 1:
            raise BadRequest(table)
        return mapping, len(next(iter(mapping.values()))) if mapping else 0
    return _records(value, names, key, features)


def _transposed(rows: list[list[Any]], names: Sequence[str]) -> Columns:
    """Rows of values as columns (every row has one value per name: checked before)."""
    if not rows:
        return {name: [] for name in names}
    return dict(zip(names, (list(column) for column in zip(*rows, strict=True)), strict=True))


def _records(
    value: Any, names: list[str], key: str, features: Sequence[Feature]
) -> tuple[Columns, int]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{key} must be a non-empty list of rows")
    if all(isinstance(row, dict) for row in value):
        _check_fields(value, features)
        present = [name for name in names if any(name in row for row in value)]
        return {name: [row.get(name) for row in value] for name in present}, len(value)
    if all(isinstance(row, list) for row in value):
        if {len(row) for row in value} != {len(names)}:
            raise BadRequest(
                f"{key} rows given as lists must have the model's {len(names)} "
                f"columns in order: {', '.join(names)}"
            )
        return _transposed(value, names), len(value)
    raise BadRequest(f"{key} must be a list of objects or a list of lists")


def _width(rows: list[Any]) -> int:
    return len(rows[0]) if rows and isinstance(rows[0], list) else 0


def _check_widths(rows: list[Any], width: int) -> None:
    """Every row of ``dataframe_split`` has a value per column (pandas would fill in NaN)."""
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != width:
            have = (
                f"{len(row)} value{'s' if len(row) != 1 else ''}"
                if isinstance(row, list)
                else "no list"
            )
            raise BadRequest(f"row {number} has {have} for {width} columns")


def _check_fields(records: list[dict[str, Any]], features: Sequence[Feature]) -> None:
    """Every record names every column the card does not mark nullable (a record that leaves one
    out would be scored with NaN in its place)."""
    required = [f.name for f in features if not f.nullable]
    for number, record in enumerate(records, start=1):
        lacking = [name for name in required if name not in record]
        if lacking:
            raise BadRequest(f"row {number} lacks {', '.join(lacking)}")


def _csv_columns(body: bytes) -> tuple[Columns, int]:
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        raise BadRequest("the body is not a CSV table with a header row") from None
    return {name: frame[name].to_numpy(dtype=object) for name in frame.columns}, len(frame)


def _checked(columns: Columns, rows: int, features: Sequence[Feature], *, from_text: bool) -> Rows:
    if not rows or not columns:
        raise BadRequest("the request has no rows")
    missing = [f.name for f in features if f.name not in columns]
    if missing:
        raise BadRequest(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    if not features:
        return Rows({name: _array(values) for name, values in columns.items()})
    # NumPy, not pandas: a pandas operation costs tens of microseconds even on one row, and a
    # small request's time is mostly this.
    return Rows({f.name: _cast(_array(columns[f.name]), f, from_text=from_text) for f in features})


def _array(values: Any) -> np.ndarray:
    """A column's values as NumPy would type them for pandas: int64 or float64 when they are
    all numbers (no bools among them), bool when all are, else objects as given."""
    import numpy as np

    if isinstance(values, np.ndarray):
        return values
    kinds = {type(v) for v in values}
    if kinds and kinds <= {int, float}:
        try:
            return np.array(values, dtype="float64" if float in kinds else "int64")
        except OverflowError:  # an integer beyond int64: kept as it is, for _cast to judge
            pass
    elif kinds == {bool}:
        return np.array(values, dtype=bool)
    array = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):  # element by element: a value may be a list
        array[index] = value
    return array


def _cast(values: np.ndarray, feature: Feature, *, from_text: bool) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if feature.kind == "text":
        text = _as_text(values, feature)
        if not feature.takes_missing:
            _reject_missing(np.array([v is None or v != v for v in text], dtype=bool), feature)
        if feature.categories is not None:
            known = feature.categories
            unseen = [isinstance(v, str) and v not in known for v in text]
            _reject_rows(np.array(unseen, dtype=bool), feature, _KNOWN_CATEGORY)
        return text
    if from_text:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.dtype.kind != "f":  # integers too large for int64 stay Python objects
            numbers = _floats(numbers, feature)
        _reject_rows(np.isnan(numbers) & ~pd.isna(values), feature, "numbers")
    elif values.dtype.kind == "b":  # true/false: a flag column takes them as 1/0
        _reject_rows(np.full(len(values), feature.kind == "float"), feature, "numbers")
        numbers = values.astype("int64")
    elif values.dtype.kind in _NUMBER_KINDS:
        numbers = values
    else:
        bad = [not (v is None or _is_number(v)) for v in values]
        _reject_rows(np.array(bad, dtype=bool), feature, "numbers")
        numbers = _floats(values, feature)  # None becomes NaN
    if numbers.dtype.kind == "f":
        _reject_rows(np.abs(numbers) > LARGEST, feature, _RANGE)  # infinities too; not NaN
    elif numbers.dtype.kind in "iu" and len(numbers):
        _reject_rows(np.abs(numbers.astype("float64")) > LARGEST, feature, _RANGE)
    missing = np.isnan(numbers) if numbers.dtype.kind == "f" else np.zeros(len(numbers), bool)
    if not feature.takes_missing:
        _reject_missing(missing, feature)
    if feature.kind == "integer" and numbers.dtype.kind == "f":
        _reject_rows(~missing & (numbers != np.round(numbers)), feature, "whole numbers")
    if feature.kind == "float" or missing.any():
        return numbers.astype("float64", copy=False)
    return numbers


def _floats(values: Any, feature: Feature) -> np.ndarray:
    """Numbers as float64, None as NaN; an integer beyond a float's range is the client's
    error, named by column and row."""
    import numpy as np

    try:
        return np.array(values, dtype="float64")
    except OverflowError:
        bad = []
        for value in values:
            try:
                bad.append(value is not None and not math.isfinite(float(value)))
            except (OverflowError, TypeError, ValueError):
                bad.append(True)
        _reject_rows(np.array(bad, dtype=bool), feature, _RANGE)
        raise  # not reached: some value overflowed


def _as_text(values: np.ndarray, feature: Feature) -> np.ndarray:
    import numpy as np

    if values.dtype.kind in "iu":
        return values.astype(str).astype(object)
    bad = [
        not (
            v is None
            or isinstance(v, str)
            or (isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(v, float) and math.isnan(v))
        )
        for v in values
    ]
    _reject_rows(np.array(bad, dtype=bool), feature, "text")
    return np.array([str(v) if isinstance(v, int) else v for v in values], dtype=object)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reject_missing(missing: np.ndarray, feature: Feature) -> None:
    if bool(missing.any()):
        rows = [int(i) + 1 for i in missing.nonzero()[0][:3]]
        more = ", ..." if int(missing.sum()) > 3 else ""
        raise BadRequest(
            f"column '{feature.name}' has no value (row {', '.join(map(str, rows))}{more}), and "
            "this model takes no missing value there (it has no imputer for it)"
        )


def _reject_rows(bad: np.ndarray, feature: Feature, what: str) -> None:
    if bool(bad.any()):
        rows = [int(i) + 1 for i in bad.nonzero()[0][:3]]
        more = ", ..." if int(bad.sum()) > 3 else ""
        raise BadRequest(
            f"column '{feature.name}' must hold {what} (row {', '.join(map(str, rows))}{more})"
        )
