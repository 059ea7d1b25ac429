"""Stage ``prepare``: clean the raw data and split it into train and test sets.

Cleaning drops rows without a target, rows whose id repeats an earlier row, and rows with an
infinite number; the counts are written to a small report that DVC tracks as metrics.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.files import atomic_path, write_text
from mlgate.pipeline._common import (
    META_FILE,
    REGRESSION,
    StageError,
    infer_task,
    load_params,
    number,
    read_json,
    run_stage,
    to_json,
)

if TYPE_CHECKING:
    import pandas as pd

TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"


def clean(frame: pd.DataFrame, meta: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop unusable rows; return the clean frame and how many rows each rule dropped."""
    import numpy as np

    counts = {"rows_in": len(frame)}
    missing_target = frame[meta["target"]].isna()
    frame = frame[~missing_target]
    duplicate_id = frame[meta["id_column"]].duplicated(keep="first")
    frame = frame[~duplicate_id]
    numeric = frame.select_dtypes(include="number")
    infinite = np.isinf(numeric.to_numpy(dtype=float, na_value=0.0)).any(axis=1)
    frame = frame[~infinite]
    counts.update(
        dropped_missing_target=int(missing_target.sum()),
        dropped_duplicate_id=int(duplicate_id.sum()),
        dropped_infinite_value=int(infinite.sum()),
        rows_out=len(frame),
    )
    return frame, counts


def split(frame: pd.DataFrame, target: str, params: dict[str, Any]) -> tuple[pd.DataFrame, ...]:
    from sklearn.model_selection import train_test_split

    test_size = number(params, "test_size", 0.2, "prepare.test_size")
    if not 0 < test_size < 1:
        raise StageError(f"prepare.test_size must be between 0 and 1, got {test_size}")
    quantity = infer_task(frame[target]) == REGRESSION  # a quantity has no classes to keep
    stratify = frame[target] if params.get("stratify", True) and not quantity else None
    if stratify is not None and stratify.value_counts().min() < 2:
        raise StageError(
            "cannot stratify: a class has fewer than 2 rows; set prepare.stratify: false"
        )
    try:
        parts = train_test_split(
            frame,
            test_size=test_size,
            random_state=number(params, "seed", 0, "prepare.seed", whole=True),
            stratify=stratify,
        )
    except ValueError as exc:
        raise StageError(f"cannot split the data: {exc}") from None
    return tuple(parts)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--input", type=Path, required=True, help="ingest's output (data/raw)")
    parser.add_argument("--out", type=Path, required=True, help="output dir (data/processed)")
    parser.add_argument("--report", type=Path, required=True, help="cleaning counts (JSON)")


def _main(args: argparse.Namespace) -> None:
    import pandas as pd

    params = load_params(args.params, "prepare")
    meta = read_json(args.input / META_FILE)
    frame = pd.read_csv(args.input / "data.csv", low_memory=False)
    frame, counts = clean(frame, meta)
    if counts["rows_out"] == 0:
        raise StageError(f"no usable rows left after cleaning: {counts}")
    train, test = split(frame, meta["target"], params)
    counts.update(train_rows=len(train), test_rows=len(test))
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        train.to_csv(tmp / TRAIN_FILE, index=False)
        test.to_csv(tmp / TEST_FILE, index=False)
        (tmp / META_FILE).write_text(to_json({**meta, **counts}), encoding="utf-8")
    write_text(args.report, to_json(counts))
    print(
        f"prepare: {counts['rows_out']} of {counts['rows_in']} rows kept "
        f"({counts['dropped_missing_target']} without target, "
        f"{counts['dropped_duplicate_id']} duplicate ids, "
        f"{counts['dropped_infinite_value']} with infinite values); "
        f"train {len(train)}, test {len(test)}"
    )


def main(argv: list[str] | None = None) -> int:
    return run_stage("prepare", _add_arguments, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
