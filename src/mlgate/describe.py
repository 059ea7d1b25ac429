"""`mlgate describe`: the model card and reference profile of a model mlgate did not train.

mlgate's own train stage writes both beside the model; a project that trains with its own
script has neither, and then `serve` cannot validate a request, deploy's smoke test predicts
nothing and `monitor` has nothing to compare with. This writes them from the model and a data
file of the rows it takes (its training or test split), meant as a DVC stage after training:

- the card (``model.json`` beside ``model.pkl``): the input columns with their dtypes, the task
  and classes, the data file's md5, an input example of five rows, the libraries' versions;
- the profile (``model.profile.json``): each column's distribution, for `mlgate monitor`.

A model fitted on a DataFrame names its columns (``feature_names_in_``). One fitted on a bare
matrix (DVC's get-started model: a bag of words in a sparse matrix) does not: its columns are
named ``x0``, ``x1``... by position, and the server gives it an array in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import __version__
from mlgate.artifacts.card import CARD_SUFFIX, card_libraries, input_example, parse_card
from mlgate.artifacts.profile import PROFILE_SUFFIX, profile_frame
from mlgate.deploy import modelfile
from mlgate.errors import MlgateError, first_line
from mlgate.files import atomic_path, file_md5

if TYPE_CHECKING:
    import pandas as pd

EXAMPLE_ROWS = 5  # the card's input example, predicted by deploy's smoke test
MAX_ROWS = 200_000  # rows profiled and scored: a seeded sample of a larger file
TABLES = (".csv", ".tsv", ".parquet", ".pq")
ARRAYS = (".npy", ".pkl", ".pickle", ".joblib")


@dataclass(frozen=True)
class Described:
    card: Path
    profile: Path
    features: tuple[str, ...]
    by_position: bool  # the model takes an array: its columns are named x0, x1...
    rows: int
    task: str  # classification or regression
    classes: tuple[Any, ...]
    score: tuple[str, float] | None  # accuracy or r2 on the data, when a target was given


def describe(
    model_path: Path,
    data_path: Path,
    *,
    target: str | None = None,
    drop: Sequence[str] = (),
    root: Path | None = None,
) -> Described:
    """Write the card and profile of ``model_path`` beside it, from the rows of ``data_path``."""
    model = modelfile.load_model(model_path)
    if not callable(getattr(model, "predict", None)):
        raise MlgateError(
            f"{model_path} holds a {type(model).__name__}, not a model with predict()"
        )
    frame, by_position = read_rows(data_path)
    target_column = (
        _column(frame, target, by_position=by_position, path=data_path)
        if target is not None
        else None
    )
    dropped = {_column(frame, name, by_position=by_position, path=data_path) for name in drop}
    if target_column in dropped:
        raise MlgateError(f"--target {target} is also given to --drop")
    features, takes_array = _features(model, frame, target_column, dropped, data_path)
    rows = frame[features]
    if by_position:
        rows = rows.set_axis([f"x{i}" for i in range(len(features))], axis=1)
    sample = rows.sample(MAX_ROWS, random_state=0) if len(rows) > MAX_ROWS else rows
    example = rows.head(EXAMPLE_ROWS)
    classes = tuple(getattr(model, "classes_", ()))
    task = "classification" if classes else "regression"
    card = _card(
        model,
        rows,
        example,
        classes,
        task,
        target_column,
        takes_array=takes_array,
        data=_shown(data_path, root),
        md5=file_md5(data_path),
        count=len(frame),
    )
    parsed = parse_card(card)
    modelfile.smoke_test(model, parsed)  # what deploy and serve will check, before writing
    score = None
    if target_column is not None:
        servable = modelfile.servable(model, parsed)
        score = _score(servable, sample, frame.loc[sample.index, target_column], task)
    profile = profile_frame(sample, list(sample.columns))
    card_path = Path(str(model_path.with_suffix("")) + CARD_SUFFIX)
    profile_path = Path(str(model_path.with_suffix("")) + PROFILE_SUFFIX)
    for written in (card_path, profile_path):
        if written.resolve() in (model_path.resolve(), data_path.resolve()):
            raise MlgateError(f"{written} would overwrite the model or the data: rename the model")
    card_text, profile_text = _json(card), _json(profile)
    try:  # both or neither: each is written beside its place, then both are renamed into it
        with atomic_path(card_path) as card_tmp, atomic_path(profile_path) as profile_tmp:
            card_tmp.write_text(card_text, encoding="utf-8")
            profile_tmp.write_text(profile_text, encoding="utf-8")
    except OSError as exc:  # a full disk, a read-only folder
        raise MlgateError(
            f"cannot write {card_path.name} and {profile_path.name} beside the "
            f"model: {exc.strerror or exc}; neither was written"
        ) from None
    return Described(
        card_path,
        profile_path,
        tuple(map(str, rows.columns)),
        takes_array,
        len(frame),
        task,
        classes,
        score,
    )


def read_rows(path: Path) -> tuple[pd.DataFrame, bool]:
    """The file's rows as a frame, and whether its columns are positions (a matrix): CSV, TSV,
    Parquet; or an array, a sparse matrix or a DataFrame saved with NumPy, pickle or joblib
    (also as the first item of a tuple, as get-started's featurization saves it)."""
    import pandas as pd

    suffix = path.suffix.lower()
    if not path.is_file():
        raise MlgateError(f"{path}: no such file")
    if suffix not in TABLES + ARRAYS:
        raise MlgateError(
            f"{path}: mlgate reads {', '.join(TABLES + ARRAYS)} data files, "
            f"not {suffix or 'a file without an extension'}"
        )
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path), False
        if suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            return pd.read_csv(path, sep=sep, low_memory=False), False
        data = _load_array(path)
    except ImportError:
        raise MlgateError("reading Parquet needs pyarrow: pip install pyarrow") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise MlgateError(f"{path} is not a table mlgate can read: {first_line(exc)}") from None
    if isinstance(data, (tuple, list)) and data:
        data = data[0]
    if isinstance(data, pd.DataFrame):
        return data, False
    return _matrix_frame(data, path), True


def _load_array(path: Path) -> Any:
    if path.suffix.lower() == ".npy":
        import numpy as np

        return np.load(path, allow_pickle=False)
    import joblib  # reads plain pickles too; the file is the project's own, as its model is

    try:
        return joblib.load(path)
    except Exception as exc:  # an unpickling error can be anything the pickle raises
        raise ValueError(f"{type(exc).__name__}: {first_line(exc)}") from None


def _matrix_frame(data: Any, path: Path) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if hasattr(data, "toarray"):  # a SciPy sparse matrix
        if data.shape[0] > MAX_ROWS:
            data = data[:MAX_ROWS]
        data = data.toarray()
    array = np.asarray(data) if hasattr(data, "__array__") else None
    if array is None or array.ndim != 2 or array.dtype == object:
        raise MlgateError(
            f"{path} holds a {type(data).__name__}, not a table or a 2-D numeric matrix"
        )
    return pd.DataFrame(array)


def _column(frame: pd.DataFrame, name: str, *, by_position: bool, path: Path) -> Any:
    """A column by name, or by position in a matrix (``--target 1``)."""
    if by_position:
        if name.isdigit() and int(name) < frame.shape[1]:
            return int(name)
        raise MlgateError(
            f"{path} is a matrix of {frame.shape[1]} columns without names: "
            f"give a column by its position (0 to {frame.shape[1] - 1}), not {name!r}"
        )
    if name not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:10])) + ("..." if frame.shape[1] > 10 else "")
        raise MlgateError(f"{path} has no column {name!r} (it has {shown})")
    return name


def _features(
    model: Any, frame: pd.DataFrame, target: Any, dropped: set[Any], path: Path
) -> tuple[list[Any], bool]:
    """The model's input columns, in its order, and whether it takes them as an array."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        wanted = [str(name) for name in names]
        missing = [name for name in wanted if name not in frame.columns]
        if missing:
            raise MlgateError(
                f"{path} lacks {len(missing)} of the model's columns: "
                f"{', '.join(missing[:10])}{'...' if len(missing) > 10 else ''}"
            )
        return wanted, False
    features = [c for c in frame.columns if c != target and c not in dropped]
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and expected != len(features):
        hint = "" if target is not None else " (name the label with --target)"
        raise MlgateError(
            f"the model takes {expected} columns and {path} has {len(features)} "
            f"besides --target and --drop{hint}: --drop the others "
            "(an id column, say)"
        )
    return features, True


def _score(model: Any, rows: pd.DataFrame, truth: pd.Series, task: str) -> tuple[str, float] | None:
    """Accuracy or r2 on the data: a wrong --target or column order shows as a poor score."""
    from sklearn.metrics import accuracy_score, r2_score

    try:
        predicted = model.predict(rows)
        if task == "classification":
            return "accuracy", float(accuracy_score(truth.to_numpy(), predicted))
        return "r2", float(r2_score(truth.to_numpy(), predicted))
    except Exception:  # labels of another type than the classes: no score, the card stands
        return None


def _card(
    model: Any,
    rows: pd.DataFrame,
    example: pd.DataFrame,
    classes: tuple[Any, ...],
    task: str,
    target: Any,
    *,
    takes_array: bool,
    data: str,
    md5: str,
    count: int,
) -> dict[str, Any]:

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return {
        "estimator_class": type(final).__name__,
        "task": task,
        "target": None if target is None else str(target),
        "id_column": None,
        "features": [{"name": str(c), "dtype": str(rows[c].dtype)} for c in rows.columns],
        "input": "array" if takes_array else "frame",
        "classes": [c.item() if hasattr(c, "item") else c for c in classes],
        "training_data": {"file": data, "md5": md5, "rows": count},
        "libraries": card_libraries(),
        "input_example": input_example(example),
        "described_by": f"mlgate {__version__} describe",
    }


def _shown(path: Path, root: Path | None) -> str:
    try:
        return path.resolve().relative_to((root or Path.cwd()).resolve()).as_posix()
    except ValueError:
        return str(path)


def _json(data: Any) -> str:
    import json

    def plain(value: Any) -> Any:
        if hasattr(value, "item"):  # a NumPy scalar
            return value.item()
        raise TypeError(f"{type(value).__name__} is not JSON")

    try:
        return json.dumps(data, indent=2, default=plain, allow_nan=False) + "\n"
    except ValueError:  # Infinity in the input example: no JSON reader agrees on it
        raise MlgateError(
            "the data's first rows hold an infinite value: the card's input example must be finite"
        ) from None
