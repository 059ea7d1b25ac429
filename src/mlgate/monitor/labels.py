"""Late labels: a file of ``request_id,label`` (CSV or Parquet, any delay), joined to the rows
the server logged under those ids, from this machine's log and every replica's shipped
segments. Only the labelled rows are kept in memory: each segment's ids are matched against
the labels' as it is read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.artifacts import requestlog
from mlgate.deploy import environments
from mlgate.deploy.targets import SegmentStore
from mlgate.errors import MlgateError, first_line
from mlgate.monitor import live_metrics, logtable

if TYPE_CHECKING:
    import pandas as pd

REQUEST_ID, LABEL, PREDICTION = requestlog.REQUEST_ID, "label", requestlog.PREDICTION
COLUMNS = ("time", "version", REQUEST_ID, PREDICTION)


def read_labels(path: Path) -> pd.DataFrame:
    """The file's ``request_id`` and ``label`` columns as text, one row per id (the last
    label given for an id counts: a chargeback can be reversed)."""
    import pandas as pd

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path, columns=[REQUEST_ID, LABEL])
        else:
            frame = pd.read_csv(path, usecols=[REQUEST_ID, LABEL], dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise MlgateError(f"--labels {path}: no such file") from None
    except ImportError:
        raise MlgateError("reading Parquet needs pyarrow: pip install pyarrow") from None
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
        raise MlgateError(
            f"--labels {path} is not a table with the columns {REQUEST_ID} and {LABEL}: "
            f"{first_line(exc)[:200]}"
        ) from None
    frame = frame.astype(str)
    frame = frame[(frame[REQUEST_ID] != "") & (frame[LABEL] != "")]
    if frame.empty:
        raise MlgateError(f"--labels {path} has no labelled rows")
    return frame.drop_duplicates(REQUEST_ID, keep="last").reset_index(drop=True)


def logged_rows(
    env: environments.Environment,
    ids: Sequence[str] | pd.Series | None,
    since: str | None = None,
) -> pd.DataFrame:
    """The logged rows (time, version, request_id, prediction as text) whose request id is
    one of ``ids`` (None: every row with an id), logged at or after ``since``; one per version
    and id."""
    import pandas as pd

    parts: list[pd.DataFrame] = []
    if isinstance(env.target, SegmentStore):  # shipped Parquet: pyarrow, of the s3 extra
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        # one set of ids, built once, matched by pyarrow against every segment
        wanted = None if ids is None else pa.array(ids, pa.string(), from_pandas=True)
        keys = env.target.shipped_segments(since)
        fetched = logtable.fetch(env.target, keys, env.target.workdir() / logtable.CACHE)
        for key, path in fetched:
            try:
                if REQUEST_ID not in pq.read_schema(path).names:
                    continue  # shipped before request ids were logged
                table = pq.read_table(path, columns=list(COLUMNS))
            except (pa.ArrowException, ValueError, OSError) as exc:
                path.unlink(missing_ok=True)
                raise MlgateError(f"the shipped log segment {key} is not Parquet: {exc}") from None
            table = table.select(list(COLUMNS)).cast(pa.schema([(c, pa.string()) for c in COLUMNS]))
            mask = pc.is_valid(table.column(REQUEST_ID))
            if wanted is not None:
                mask = pc.and_(mask, pc.is_in(table.column(REQUEST_ID), value_set=wanted))
            if since is not None:
                mask = pc.and_(mask, pc.greater_equal(table.column("time"), since))
            parts.append(table.filter(pc.fill_null(mask, False)).to_pandas())
    files = requestlog.log_files(env.target.workdir(), since)
    local = requestlog.read(
        files, {REQUEST_ID: "text", PREDICTION: "text"}, since=since, fixed_columns=True
    )
    local = local[list(COLUMNS)].astype(str).where(local[list(COLUMNS)].notna(), None)
    if len(local):  # this machine's CSV log: pandas alone, so the serve extra suffices
        keep = local[REQUEST_ID].notna()
        if ids is not None:
            keep &= local[REQUEST_ID].isin(pd.Series(ids, dtype=object).dropna().astype(str))
        parts.append(local[keep.to_numpy()])
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))
    # A client's retry with the same id is logged again: its last answer counts, once.
    return frame.drop_duplicates(["version", REQUEST_ID], keep="last")


def labelled(logged: pd.DataFrame, labels: pd.DataFrame) -> dict[str, live_metrics.Labelled]:
    """Each version's logged rows that have a label, oldest first."""
    joined = logged.merge(labels, on=REQUEST_ID, how="inner").sort_values("time", kind="stable")
    joined = joined[joined[PREDICTION].notna()]
    return {
        str(version): live_metrics.Labelled(
            str(version),
            rows[PREDICTION].astype(str).tolist(),
            rows[LABEL].astype(str).tolist(),
            rows["time"].astype(str).tolist(),
            rows[REQUEST_ID].astype(str).tolist(),
        )
        for version, rows in joined.groupby("version", sort=False, observed=True)
    }
