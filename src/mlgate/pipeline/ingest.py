"""Stage ``ingest``: produce ``data/raw/`` (``data.csv`` and ``meta.json``) from ``data.source``.

Sources: ``synthetic-fraud`` (seeded card transactions), ``synthetic-risk`` (the same transactions
with a quantity to predict: the fraud model's log-odds), ``sklearn:iris``, ``sklearn:breast_cancer``,
``sklearn:wine``, ``sklearn:diabetes`` (a regression target; all shipped with scikit-learn, no
network), or a path to a CSV or Parquet file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import first_line
from mlgate.files import atomic_path
from mlgate.pipeline._common import (
    META_FILE,
    StageError,
    load_params,
    number,
    run_stage,
    to_json,
)

if TYPE_CHECKING:
    import pandas as pd

SYNTHETIC_SOURCE = "synthetic-fraud"
SYNTHETIC_RISK_SOURCE = "synthetic-risk"
SKLEARN_DATASETS = ("iris", "breast_cancer", "wine", "diabetes")
DATA_FILE = "data.csv"
DEFAULT_ID_COLUMN = "id"
# A column whose values are this share numbers is numeric; anything else in it is garbage.
_NUMERIC_SHARE = 0.9


def ingest(params: dict[str, Any], params_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load the configured source and return the frame and its meta (target, id column, source)."""
    source = str(params.get("source", SYNTHETIC_SOURCE))
    if source in (SYNTHETIC_SOURCE, SYNTHETIC_RISK_SOURCE):
        frame, meta = _synthetic(params, risk=source == SYNTHETIC_RISK_SOURCE)
    elif source.startswith("sklearn:"):
        frame, meta = _sklearn(source.removeprefix("sklearn:"))
    else:
        frame, meta = _user_file(params_dir / source, params)
    _reject_non_numeric_garbage(frame, meta)
    meta["source"] = source
    meta["rows"] = len(frame)
    meta["columns"] = list(frame.columns)
    return frame, meta


def _synthetic(
    params: dict[str, Any], *, risk: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from mlgate.pipeline import synthetic

    rows = _positive_int(params.get("rows", 50_000), "data.rows")
    seed = number(params, "seed", 0, "data.seed", whole=True)
    drift = number(params, "drift", 0.0, "data.drift")
    if drift < 0:
        raise StageError(f"data.drift must be 0 or more, got {drift}")
    frame = synthetic.generate_transactions(rows, seed=seed, drift=drift, risk=risk)
    target = synthetic.RISK_TARGET if risk else synthetic.TARGET
    return frame, {"target": target, "id_column": synthetic.ID_COLUMN}


def _sklearn(name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    from sklearn import datasets

    if name not in SKLEARN_DATASETS:
        valid = ", ".join(f"sklearn:{n}" for n in SKLEARN_DATASETS)
        raise StageError(f"unknown data.source 'sklearn:{name}'; valid sklearn sources: {valid}")
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame
    frame.insert(0, DEFAULT_ID_COLUMN, range(len(frame)))
    return frame, {"target": "target", "id_column": DEFAULT_ID_COLUMN}


def _user_file(path: Path, params: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    frame = _read_table(path)
    target = str(params.get("target", "target"))
    if target not in frame.columns:
        raise StageError(
            f"{path}: target column '{target}' not found (set data.target); "
            f"columns are: {', '.join(map(str, frame.columns))}"
        )
    id_column = params.get("id")
    if id_column is None:
        if DEFAULT_ID_COLUMN in frame.columns:
            raise StageError(
                f"{path} has a column named '{DEFAULT_ID_COLUMN}': set data.id to use it as "
                "the row id, or rename it"
            )
        id_column = DEFAULT_ID_COLUMN
        frame.insert(0, DEFAULT_ID_COLUMN, range(len(frame)))
    elif id_column not in frame.columns:
        raise StageError(f"{path}: id column '{id_column}' (data.id) not found")
    return frame, {"target": target, "id_column": str(id_column)}


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise StageError(f"data.source file not found: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, low_memory=False)
    except ImportError as exc:
        raise StageError(f"reading {path} needs an extra library: {exc}") from None
    except pd.errors.EmptyDataError:
        raise StageError(f"{path} is empty") from None
    except (ValueError, OSError) as exc:
        raise StageError(f"cannot read {path}: {first_line(exc)}") from None


def _reject_non_numeric_garbage(frame: pd.DataFrame, meta: dict[str, Any]) -> None:
    """Fail on a mostly numeric text column: it names the column and the first bad data row."""
    import pandas as pd

    if frame.empty:
        raise StageError("the data source has no rows")
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        present = values.dropna()
        as_numbers = pd.to_numeric(present, errors="coerce")
        bad = as_numbers.isna()
        if len(present) and bad.any() and (~bad).mean() >= _NUMERIC_SHARE:
            position = frame.index.get_loc(bad[bad].index[0])
            raise StageError(
                f"column '{column}', data row {position + 1} (line {position + 2} of a CSV): "
                f"'{present[bad].iloc[0]}' is not a number"
            )


def _positive_int(value: Any, name: str) -> int:
    count: int = number({"value": value}, "value", 0, name, whole=True)
    if count <= 0:
        raise StageError(f"{name} must be positive, got {count}")
    return count


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, required=True, help="output directory (data/raw)")


def _main(args: argparse.Namespace) -> None:
    params = load_params(args.params, "data")
    frame, meta = ingest(params, args.params.resolve().parent)
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        frame.to_csv(tmp / DATA_FILE, index=False)
        (tmp / META_FILE).write_text(to_json(meta), encoding="utf-8")
    print(f"ingest: {meta['rows']} rows from {meta['source']} -> {args.out}")


def main(argv: list[str] | None = None) -> int:
    return run_stage("ingest", _add_arguments, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
