"""Distribution drift of one column: a reference profile of the training data, and the test that
compares new values with it.

The tests are the ones Evidently chooses by default, so a team that knows its reports reads
ours the same way:

- numeric columns (more than 5 distinct values in the reference): two-sample Kolmogorov-Smirnov,
  drift when p < 0.05, while the reference has at most 1,000 rows; past that, the Wasserstein
  distance divided by the reference's standard deviation, drift when >= 0.1;
- categorical columns (text, true/false, or numbers with at most 5 distinct values): chi-square,
  p < 0.05 (two categories: the z-test of two proportions), while the reference has at most
  1,000 rows; past that, the Jensen-Shannon distance, drift when >= 0.1. The chi-square test is
  the two-sample (homogeneity) form: the goodness-of-fit form takes the reference's shares as
  exact and, on a small reference, alarms far more often than 5% on identical distributions
  (18% over 200 draws of 800 and 400 rows from one mix, measured before this was changed).

The Population Stability Index is reported beside (bins: the reference's deciles, or its
categories), with its usual bands: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 major.

A profile keeps, per column, 1,000 quantiles (all values too while there are at most 1,000, so
the K-S test is exact), or category counts. The Wasserstein distance is computed between
quantile functions at the same 1,000 levels: its error is below 0.1% of the column's range.
Missing values are left out of every test and counted apart.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mlgate.errors import MlgateError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NUMERIC, CATEGORICAL = "numeric", "categorical"
SMALL_REFERENCE = 1_000  # rows: at most this many, p-value tests; more, distances
MAX_CATEGORY_VALUES = 5  # a numeric column with at most this many values is categorical
LEVELS = 1_000  # quantiles kept per numeric column
P_VALUE, DISTANCE = 0.05, 0.1  # default thresholds
P_VALUE_TEST, DISTANCE_TEST = "p-value", "distance"  # what a test's score is
PSI_BANDS = (0.1, 0.25)
HISTOGRAM_BINS = 12
_ZERO_SHARE = 1e-4  # an empty bin's share in PSI and Jensen-Shannon (a log of 0 is undefined)
_MIN_STD = 1e-3  # the Wasserstein distance's divisor for a constant reference


@dataclass(frozen=True)
class ColumnProfile:
    """What the training data looked like in one column."""

    name: str
    kind: str  # NUMERIC or CATEGORICAL
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
        shown = _quoted(name)
        raise MlgateError(
            f"the reference profile's column {shown} is malformed (a count that is not a whole "
            "number, or a quantile or std that is not a finite number): cannot judge drift"
        )


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict: which test, its score against its threshold, and PSI beside."""

    name: str
    kind: str
    test: str
    score: float
    threshold: float
    drifted: bool
    psi: float
    rows: int  # current values present
    missing: int
    bins: tuple[str, ...]  # histogram labels, and each side's share of rows per bin
    reference_shares: tuple[float, ...]
    current_shares: tuple[float, ...]

    @property
    def psi_band(self) -> str:
        low, high = PSI_BANDS
        return "stable" if self.psi < low else "moderate" if self.psi < high else "major"


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


def _quoted(name: str) -> str:
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
        name, _category_counts(present), missing, text=text or present.dtype.kind not in "iufb"
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
    quantiles = _quantiles_of_sorted(numbers)
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


def _category_counts(present: pd.Series) -> dict[str, int]:
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


@dataclass(frozen=True)
class Sample:
    """What a drift test compares: the reference profile and the current data's column, as
    sorted numbers (numeric) or as both sides' counts over the same categories (categorical)."""

    profile: ColumnProfile
    current: Any = None  # numeric: the present values, ascending
    keys: tuple[str, ...] = ()  # categorical: the reference's categories, then new ones
    reference_counts: Any = None  # categorical: rows per key, reference and current
    current_counts: Any = None


class DriftTest(Protocol):
    """One statistical test: the column kind it serves, when it applies, and its score."""

    @property
    def name(self) -> str: ...  # as reports show it: "K-S p-value"

    @property
    def kind(self) -> str: ...  # NUMERIC or CATEGORICAL

    @property
    def gives(self) -> str: ...  # P_VALUE (drift when below) or DISTANCE (drift at or above)

    def applies(self, sample: Sample) -> bool: ...

    def score(self, sample: Sample) -> float: ...


@dataclass(frozen=True)
class Test:
    """A drift test made of two functions."""

    name: str
    kind: str
    gives: str
    when: Callable[[Sample], bool]
    scorer: Callable[[Sample], float]

    def applies(self, sample: Sample) -> bool:
        return self.when(sample)

    def score(self, sample: Sample) -> float:
        return self.scorer(sample)


TESTS: list[DriftTest] = []  # tried in order: the first of the column's kind that applies


def register(test: DriftTest, *, first: bool = False) -> DriftTest:
    """Add a drift test; ``first`` puts it ahead of those already registered."""
    TESTS.insert(0, test) if first else TESTS.append(test)
    return test


def choose(sample: Sample) -> DriftTest:
    for test in TESTS:
        if test.kind == sample.profile.kind and test.applies(sample):
            return test
    raise MlgateError(f"no drift test applies to column '{sample.profile.name}'")


def compare(
    profile: ColumnProfile, values: Any, p_value: float = P_VALUE, distance: float = DISTANCE
) -> ColumnDrift:
    """Test ``values`` (the current data's column) against the reference ``profile``."""
    import numpy as np
    import pandas as pd

    column = pd.Series(values, copy=False)
    present = column.dropna()
    missing = len(column) - len(present)
    if len(present) == 0:
        raise MlgateError(f"column '{profile.name}' has no values in the current data")
    if profile.kind == CATEGORICAL:
        sample = _categorical_sample(profile, _category_counts(present))
    else:
        try:
            numbers = np.sort(present.to_numpy(dtype="float64"))
        except (TypeError, ValueError):
            raise MlgateError(
                f"column '{profile.name}' holds text where the reference has numbers"
            ) from None
        sample = Sample(profile, current=numbers)
    test = choose(sample)
    score = float(test.score(sample))
    if not math.isfinite(score):  # fail closed: NaN is neither drift nor no drift
        raise MlgateError(
            f"cannot judge drift in column {_quoted(profile.name)}: its {test.name} is "
            f"{score} (current values that are not finite numbers?)"
        )
    threshold = p_value if test.gives == P_VALUE_TEST else distance
    drifted = score < threshold if test.gives == P_VALUE_TEST else score >= threshold
    if profile.kind == CATEGORICAL:
        ref, cur = sample.reference_counts, sample.current_counts
        psi = _psi(_shares(ref), _shares(cur))
        bins, ref_shares = sample.keys, tuple((ref / ref.sum()).tolist())
        cur_shares, rows = tuple((cur / cur.sum()).tolist()), int(cur.sum())
    else:
        reference = np.asarray(profile.quantiles)
        psi = _psi(*_decile_shares(reference, sample.current))
        bins, ref_shares, cur_shares = _histogram(reference, sample.current)
        rows = len(sample.current)
    return ColumnDrift(
        profile.name,
        profile.kind,
        test.name,
        score,
        threshold,
        drifted,
        psi,
        rows,
        missing,
        bins,
        ref_shares,
        cur_shares,
    )


def _categorical_sample(profile: ColumnProfile, current_counts: dict[str, int]) -> Sample:
    import numpy as np

    reference_counts = dict(profile.counts)
    keys = [k for k, _ in profile.counts] + sorted(set(current_counts) - set(reference_counts))
    ref = np.array([reference_counts.get(k, 0) for k in keys], dtype="float64")
    cur = np.array([current_counts.get(k, 0) for k in keys], dtype="float64")
    return Sample(profile, keys=tuple(keys), reference_counts=ref, current_counts=cur)


def _small(sample: Sample) -> bool:
    return sample.profile.rows <= SMALL_REFERENCE


def _ks(sample: Sample) -> float:
    import numpy as np
    from scipy.stats import ks_2samp

    return float(ks_2samp(np.asarray(sample.profile.values), sample.current).pvalue)


def _wasserstein(sample: Sample) -> float:
    """Between quantile functions at the same levels, divided by the reference's spread."""
    import numpy as np

    reference = np.asarray(sample.profile.quantiles)
    distance = float(np.mean(np.abs(_quantiles_of_sorted(sample.current) - reference)))
    return distance / max(sample.profile.std, _MIN_STD)


def _z_test(sample: Sample) -> float:
    """Two-sided p-value that the first category's share is the same in both samples."""
    from scipy.stats import norm

    ref, cur = sample.reference_counts, sample.current_counts
    n_ref, n_cur = ref.sum(), cur.sum()
    pooled = (ref[0] + cur[0]) / (n_ref + n_cur)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    if spread == 0:
        return 1.0
    z = (cur[0] / n_cur - ref[0] / n_ref) / spread
    return float(2 * norm.sf(abs(z)))


def _chi_square(sample: Sample) -> float:
    """Pearson's chi-square test that both samples come from one distribution (the two-sample,
    homogeneity form: the reference's own sampling noise counts too)."""
    import numpy as np
    from scipy.stats import chi2_contingency

    table = np.vstack([sample.reference_counts, sample.current_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(chi2_contingency(table, correction=False).pvalue)


def _jensen_shannon(sample: Sample) -> float:
    from scipy.spatial.distance import jensenshannon

    ref, cur = sample.reference_counts, sample.current_counts
    return float(jensenshannon(_shares(ref), _shares(cur)))


register(
    Test(
        "K-S p-value",
        NUMERIC,
        P_VALUE_TEST,
        lambda s: _small(s) and bool(s.profile.values),
        _ks,
    )
)
register(Test("Wasserstein (normed)", NUMERIC, DISTANCE_TEST, lambda s: True, _wasserstein))
register(
    Test(
        "z-test p-value",
        CATEGORICAL,
        P_VALUE_TEST,
        lambda s: _small(s) and len(s.keys) == 2,
        _z_test,
    )
)
register(Test("chi-square p-value", CATEGORICAL, P_VALUE_TEST, _small, _chi_square))
register(
    Test("Jensen-Shannon distance", CATEGORICAL, DISTANCE_TEST, lambda s: True, _jensen_shannon)
)


def _shares(counts: np.ndarray) -> np.ndarray:
    """Each bin's share of rows, an empty bin given a small share (a log of 0 is undefined)."""
    return _shares_of(counts / counts.sum())


def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    import numpy as np

    return float(np.sum((current - reference) * np.log(current / reference)))


def _decile_shares(reference_quantiles: np.ndarray, current: np.ndarray) -> tuple[Any, Any]:
    """Each sample's share of rows in the bins the reference's deciles make (ties merged)."""
    import numpy as np

    edges = np.unique(reference_quantiles[LEVELS // 10 :: LEVELS // 10][:9])
    ref, cur = _bin_shares(reference_quantiles, current, edges)
    return _shares_of(ref), _shares_of(cur)


def _bin_shares(
    reference_quantiles: np.ndarray, current: np.ndarray, inner_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each side's share of rows in the bins between ``inner_edges`` (and beyond the first and
    the last), the reference's from its quantiles, the current's from its sorted values."""
    import numpy as np

    ref = np.diff(_cdf(reference_quantiles, inner_edges), prepend=0.0, append=1.0)
    cur = np.diff(
        np.searchsorted(current, inner_edges, side="right") / len(current), prepend=0.0, append=1.0
    )
    return ref, cur


def _shares_of(shares: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.where(shares <= 0, _ZERO_SHARE, shares)


def _cdf(reference_quantiles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The reference's share of rows at or below each point, from its quantiles."""
    import numpy as np

    return np.searchsorted(reference_quantiles, points, side="right") / LEVELS


def _histogram(reference_quantiles: np.ndarray, current: np.ndarray) -> tuple[Any, Any, Any]:
    """Equal-width bins over the reference's 1st to 99th percentile (the tails folded into the
    end bins; whole numbers over a short range get a bin each): labels, and each side's share of
    rows per bin."""
    import numpy as np

    low, high = reference_quantiles[LEVELS // 100], reference_quantiles[-LEVELS // 100 - 1]
    if high <= low:
        low, high = reference_quantiles[0], reference_quantiles[-1] + 1e-9
    whole = bool(np.all(reference_quantiles == np.round(reference_quantiles)))
    if whole and high - low < HISTOGRAM_BINS:
        inner = np.arange(low, high) + 0.5  # bins centred on each whole number
        labels = tuple(_short(v) for v in np.arange(low, high + 1))
    else:
        inner = np.linspace(low, high, HISTOGRAM_BINS + 1)[1:-1]
        edges = [low, *inner.tolist(), high]
        labels = tuple(f"{_short(a)}..{_short(b)}" for a, b in itertools.pairwise(edges))
    ref, cur = _bin_shares(reference_quantiles, current, inner)
    return labels, tuple(ref.tolist()), tuple(cur.tolist())


def _short(number: float) -> str:
    return f"{number:.3g}"


def _quantiles_of_sorted(numbers: np.ndarray) -> np.ndarray:
    """The values at levels (i + 0.5) / LEVELS of an ascending array (the inverse of its
    empirical distribution function, so a 10-row sample gives each value 100 times)."""
    import numpy as np

    levels = (np.arange(LEVELS) + 0.5) / LEVELS
    positions = np.minimum((levels * len(numbers)).astype(np.int64), len(numbers) - 1)
    return numbers[positions]
