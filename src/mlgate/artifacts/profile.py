"""The reference profile of a model's training data (``model.profile.json`` beside the model,
``profile.json`` in a deployed version): per column, 1,000 quantiles (all values too while there
are at most 1,000, so the K-S test is exact), or category counts, missing values counted apart.

The pipeline's train stage and ``mlgate describe`` write it; deploy copies it; ``mlgate monitor``
and the compiled model read it. Reading checks every number: a profile is a file anyone with the
bucket or the repository can write, and a NaN in it would make every drift test say "no drift".
Pure: NumPy and pandas are imported by the functions that profile data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlgate.errors import MlgateError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PROFILE_FILE = "profile.json"  # in a deployed version, beside model.json
PROFILE_SUFFIX = ".profile.json"  # next to the model in the repository: models/model.profile.json
ColumnKind = Literal["numeric", "categorical"]
NUMERIC: ColumnKind = "numeric"
CATEGORICAL: ColumnKind = "categorical"
SMALL_REFERENCE = 1_000  # rows: at most this many, every value is kept (exact p-value tests)
MAX_CATEGORY_VALUES = 5  # a numeric column with at most this many values is categorical
LEVELS = 1_000  # quantiles kept per numeric column


@dataclass(frozen=True)
class ColumnProfile:
    """What the training data looked like in one column."""

    name: str
    kind: ColumnKind
    rows: int  # values present (missing ones left out)
    missing: int
    quantiles: tuple[float, ...] = ()  # numeric: at levels (i + 0.5) / LEVELS
    values: tuple[float, ...] = ()  # numeric, at most SMALL_REFERENCE rows: all of them, sorted
    std: float = 0.0
    counts: tuple[tuple[str, int], ...] = ()  # categorical: (category, rows), most common first
    text: bool = False  # categorical: the categories are text (else numbers, such as 0 and 1)

    @property
    def numbers(self) -> bool:
        """Whether the column holds numbers (a categorical one may: flags such as 0 and 1)."""
        return self.kind == NUMERIC or not self.text

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"kind": self.kind, "rows": self.rows, "missing": self.missing}
        if self.kind == NUMERIC:
            document.update(std=self.std, quantiles=list(self.quantiles))
            if self.values:
                document["values"] = list(self.values)
        else:
            document.update(text=self.text, counts=dict(self.counts))
        return document

    @classmethod
    def from_json(cls, name: str, document: Any) -> ColumnProfile:
        """A column of a profile file, every number checked: counts are whole and not
        negative, quantiles finite and in order, the std finite and not negative. A profile is
        a file anyone with the bucket or the repository can write; a NaN in it would make every
        test say "no drift"."""
        try:
            kind = document["kind"]
            rows, missing = _count(document["rows"]), _count(document["missing"])
            if kind == NUMERIC:
                quantiles = tuple(_finite(q) for q in document["quantiles"])
                values = tuple(_finite(v) for v in document.get("values", ()))
                std = _finite(document["std"])
                if len(quantiles) != LEVELS or list(quantiles) != sorted(quantiles) or std < 0:
                    raise ValueError("quantiles or std")
                return cls(name, kind, rows, missing, quantiles, values, std)
            if kind == CATEGORICAL:
                counts = tuple((str(k), _count(v)) for k, v in document["counts"].items())
                if not isinstance(document["text"], bool):
                    raise ValueError("text")
                return cls(name, kind, rows, missing, counts=counts, text=document["text"])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            pass
        shown = quoted(name)
        raise MlgateError(
            f"the reference profile's column {shown} is malformed (a count that is not a whole "
            "number, or a quantile or std that is not a finite number): cannot judge drift"
        )


@dataclass(frozen=True)
class Profile:
    """The training data's columns, as a deployed model's reference."""

    rows: int
    columns: dict[str, ColumnProfile]


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("count")
    return value


def _finite(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("number")
    return number


def quoted(name: str) -> str:
    """A column's name quoted for a message (escaped where the message is printed)."""
    return repr(name)[:80]


def profile_frame(frame: pd.DataFrame, features: Sequence[str]) -> dict[str, Any]:
    """The reference profile document of ``frame``'s ``features`` (what the pipeline writes
    next to the model): a column of any non-numeric type is categorical."""
    import pandas as pd

    columns = {}
    for name in features:
        text = not pd.api.types.is_numeric_dtype(frame[name])
        columns[name] = profile_column(name, frame[name], text=text).to_json()
    return {"mlgate_profile": 1, "rows": len(frame), "columns": columns}


def parse_profile(document: Any, where: str) -> Profile:
    if not isinstance(document, dict) or not isinstance(document.get("columns"), dict):
        raise MlgateError(f"{where} is not a reference profile")
    columns = {
        name: ColumnProfile.from_json(name, column) for name, column in document["columns"].items()
    }
    return Profile(int(document.get("rows", 0)), columns)


def profile_column(name: str, values: Any, *, text: bool = False) -> ColumnProfile:
    """Profile one column of the training data (``text``: its values are categories)."""
    import numpy as np
    import pandas as pd

    column = pd.Series(values)
    present = column.dropna()
    missing = len(column) - len(present)
    if (
        not text
        and pd.api.types.is_numeric_dtype(present)
        and not pd.api.types.is_bool_dtype(present)
    ):
        numbers = np.sort(present.to_numpy(dtype="float64"))
        distinct = 1 + int(np.count_nonzero(np.diff(numbers))) if len(numbers) else 0
        if distinct > MAX_CATEGORY_VALUES:
            return _numeric_profile(name, numbers, missing)
    return _categorical_profile(
        name, category_counts(present), missing, text=text or present.dtype.kind not in "iufb"
    )


def predictions_column(name: str, values: Any) -> ColumnProfile:
    """Predictions as logged (text) profiled: a regression model's values (all numbers, more
    than MAX_CATEGORY_VALUES of them) as a distribution, a classifier's as categories."""
    import pandas as pd

    present = pd.Series(values, dtype="object").dropna().astype(str)
    numbers = pd.to_numeric(present, errors="coerce")
    if len(present) and numbers.notna().all() and numbers.nunique() > MAX_CATEGORY_VALUES:
        return profile_column(name, numbers)
    return profile_column(name, present, text=True)


def _numeric_profile(name: str, numbers: np.ndarray, missing: int) -> ColumnProfile:
    import numpy as np

    if len(numbers) == 0:
        raise MlgateError(f"column '{name}' has no values to profile")
    quantiles = quantiles_of_sorted(numbers)
    kept = tuple(numbers.tolist()) if len(numbers) <= SMALL_REFERENCE else ()
    return ColumnProfile(
        name,
        NUMERIC,
        len(numbers),
        missing,
        tuple(quantiles.tolist()),
        kept,
        float(np.std(numbers)),
    )


def _categorical_profile(
    name: str, counts: dict[str, int], missing: int, *, text: bool
) -> ColumnProfile:
    ordered = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return ColumnProfile(
        name, CATEGORICAL, sum(counts.values()), missing, counts=ordered, text=text
    )


def category_counts(present: pd.Series) -> dict[str, int]:
    """Rows per category, counted by pandas (hashing), then keys spelled one way."""
    counts: dict[str, int] = {}
    for value, count in present.value_counts(sort=False).items():
        if not count:  # a category with no row (the dtype keeps every category it knew)
            continue
        key = category_key(value)
        counts[key] = counts.get(key, 0) + int(count)
    return counts


def category_key(value: Any) -> str:
    """One spelling per category: ``1``, ``1.0`` and ``True`` are all "1"."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)) or hasattr(value, "item"):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def quantiles_of_sorted(numbers: np.ndarray) -> np.ndarray:
    """The values at levels (i + 0.5) / LEVELS of an ascending array (the inverse of its
    empirical distribution function, so a 10-row sample gives each value 100 times)."""
    import numpy as np

    levels = (np.arange(LEVELS) + 0.5) / LEVELS
    positions = np.minimum((levels * len(numbers)).astype(np.int64), len(numbers) - 1)
    return numbers[positions]
