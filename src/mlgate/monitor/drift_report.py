"""`mlgate monitor`: is the data a deployed model sees still the data it was trained on?

The reference is the profile the pipeline wrote of the training split (``models/model.profile.json``,
copied into the deployed version's folder as ``profile.json``). The current data is the
environment's monitoring log (the current version's rows, optionally only recent ones) or any
batch file. Each column is tested (see mlgate.monitor.drift); the dataset drifts when at least
``drift_share`` of its columns do. Fewer than ``min_rows`` rows is "not enough data", neither a
pass nor a failure.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlgate import dvcfiles, git
from mlgate.artifacts import requestlog
from mlgate.artifacts.deployment import Deployment
from mlgate.artifacts.profile import (
    NUMERIC,
    PROFILE_FILE,
    PROFILE_SUFFIX,
    ColumnProfile,
    Profile,
    parse_profile,
    predictions_column,
)
from mlgate.deploy import deployments, environments
from mlgate.deploy.targets import SegmentStore
from mlgate.errors import MlgateError, first_line
from mlgate.monitor import drift, logtable
from mlgate.policy import Monitoring
from mlgate.progress import SILENT, Progress
from mlgate.registry import release

if TYPE_CHECKING:
    import pandas as pd

Verdict = Literal["drift", "no drift", "not enough data"]
DRIFT: Verdict = "drift"
NO_DRIFT: Verdict = "no drift"
NOT_ENOUGH_DATA: Verdict = "not enough data"
_DURATION = re.compile(r"^(\d{1,12})\s*([smhdw])\Z")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Reference:
    profile: Profile
    label: str  # what it describes, for the report: "fraud-detector v0.2.0's training data"
    predictions: ColumnProfile | None = None  # the model's predictions at evaluation


@dataclass(frozen=True)
class Report:
    subject: str  # the data compared: "production (v0.2.0), requests since ..." or a file
    reference: str
    rows: int
    options: Monitoring
    columns: tuple[drift.ColumnDrift, ...]  # empty when there is not enough data
    # the served predictions against the evaluation-time ones: its own row, not in the share
    prediction: drift.ColumnDrift | None = None

    @property
    def drifted(self) -> list[str]:
        return [c.name for c in self.columns if c.drifted]

    @property
    def share(self) -> float:
        return len(self.drifted) / len(self.columns) if self.columns else 0.0

    @property
    def verdict(self) -> Verdict:
        if self.rows < self.options.min_rows or not self.columns:
            return NOT_ENOUGH_DATA
        return DRIFT if self.share >= self.options.drift_share else NO_DRIFT


MAX_SINCE = timedelta(days=36_525)


class NoReference(MlgateError):
    """The version has no reference profile: data drift cannot be computed."""


def parse_since(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``2w``."""
    found = _DURATION.match(text.strip().lower())
    if found is None or int(found[1]) == 0:
        raise MlgateError(f"--since {text!r} is not a duration such as 30m, 24h, 7d or 2w")
    try:
        span = timedelta(**{_UNITS[found[2]]: int(found[1])})
    except OverflowError:
        span = MAX_SINCE + MAX_SINCE
    if span > MAX_SINCE:
        raise MlgateError(f"--since {text!r} is longer than {MAX_SINCE.days:,} days (100 years)")
    return span


def deployed_reference(env: environments.Environment) -> tuple[Deployment, Reference]:
    """The environment's current deployment and its training data's profile."""
    current = deployments.read_current(env)
    if current is None:
        raise MlgateError(f"nothing is deployed in {env.name}: deploy a model first")
    path = env.target.version_folder(current.version) / PROFILE_FILE
    profile = _read_profile(path, f"{env.name} {current.version}")
    label = f"{current.artifact} {current.version}'s training data ({profile.rows:,} rows)"
    folder = env.target.version_folder(current.version)
    predictions = _read_predictions(folder / deployments.PREDICTIONS_FILE)
    return current, Reference(profile, label, predictions)


PREDICTION = "prediction"


def _read_predictions(path: Path) -> ColumnProfile | None:
    """The evaluation-time predictions' profile deploy kept with the version, if any."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        raise MlgateError(f"cannot read {path}: {first_line(exc)}") from None
    return ColumnProfile.from_json(PREDICTION, document)


def predictions_profile(content: bytes, where: str) -> dict[str, Any]:
    """A predictions file's ``prediction`` column (the evaluate stage's ``id,label,prediction,
    ...``) as a profile document, for deploy to keep with the version."""
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(content), usecols=[PREDICTION], dtype=str)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise MlgateError(f"{where} has no readable prediction column: {exc}") from None
    values = frame[PREDICTION].dropna()
    if values.empty:
        raise MlgateError(f"{where} has no predictions")
    return predictions_column(PREDICTION, values).to_json()


def workspace_reference(root: Path) -> Reference:
    """The profile the pipeline wrote next to the declared artifact's model in the workspace."""
    artifact = release.declared_artifact(root)
    path = artifact and dvcfiles.artifact_path(git.revision(git.WORKSPACE, root), artifact)
    if not path:
        raise MlgateError(
            "no model artifact is declared in dvc.yaml, so there is no reference: "
            "give --env to compare with a deployed model's"
        )
    profile_path = root / (str(Path(path).with_suffix("")) + PROFILE_SUFFIX)
    profile = _read_profile(profile_path, path)
    return Reference(profile, f"{path}'s training data in the workspace ({profile.rows:,} rows)")


def _read_profile(path: Path, what: str) -> Profile:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoReference(
            f"{what} has no reference profile ({path.name}): mlgate's train stage "
            "writes one with --profile, and `mlgate describe MODEL --data FILE` "
            "for a model trained otherwise; then deploy again"
        ) from None
    except (OSError, ValueError) as exc:
        raise MlgateError(f"cannot read the reference profile {path}: {exc}") from None
    return parse_profile(document, str(path))


def logged_data(
    env: environments.Environment,
    deployment: Deployment,
    reference: Reference,
    since: timedelta | None = None,
    progress: Progress = SILENT,
) -> tuple[logtable.Table, str]:
    """The current version's logged rows (since ``since`` ago), and a description of them;
    ``progress`` is told the bytes read and the segments fetched."""
    cutoff = None if since is None else requestlog.timestamp(datetime.now(timezone.utc) - since)
    if not deployment.monitoring:
        raise MlgateError(
            f"monitoring is off for {env.name}'s {deployment.version}: deploy it with "
            "--monitoring enable, then serve it, to log requests"
        )
    files = requestlog.log_files(env.target.workdir(), cutoff)
    total = sum(f.stat().st_size for f in files)
    done = 0
    progress.step(f"reading {env.name}'s monitoring log")

    def step(size: int) -> None:
        nonlocal done
        done += size
        progress.advance(done, total)

    cut: list[Path] = []
    kinds = logged_kinds(reference)
    frame = requestlog.read(files, kinds, deployment.version, cutoff, step, on_partial=cut.append)
    shipped = ""
    segments: list[logtable.Segment] = []
    if isinstance(env.target, SegmentStore):  # every replica's closed segments, from the bucket
        keys = env.target.shipped_segments(cutoff)
        cache = env.target.workdir() / logtable.CACHE
        fetched = logtable.fetch(env.target, keys, cache, progress)
        segments = logtable.open_segments(fetched, kinds, deployment.version, cutoff)
        replicas = len({key.rsplit("/", 2)[-2] for key in keys})
        shipped = (
            f" ({len(keys)} segment{'' if len(keys) == 1 else 's'} from {replicas} "
            f"replica{'' if replicas == 1 else 's'} in {env.target.location}, and this "
            "machine's own log)"
        )
    window = f" since {cutoff}" if cutoff else ""
    dropped = (
        f"; {len(cut)} row{'s' if len(cut) > 1 else ''} a crash cut short dropped" if cut else ""
    )
    return (
        logtable.Table(kinds, segments, frame),
        f"{env.name} ({deployment.artifact} {deployment.version}), "
        f"requests{window}{shipped}{dropped}",
    )


def batch_data(path: Path, reference: Reference) -> pd.DataFrame:
    """A CSV or Parquet file's rows, with the reference's columns (others ignored)."""
    import pandas as pd

    kinds = column_kinds(reference)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, low_memory=False, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise MlgateError(f"{path}: no such file") from None
    except ImportError:
        raise MlgateError("reading Parquet needs pyarrow: pip install pyarrow") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise MlgateError(f"{path} is not a table mlgate can read: {exc}") from None
    missing = [name for name in kinds if name not in frame.columns]
    if missing:
        raise MlgateError(
            f"{path} has no column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}, which the reference has"
        )
    return frame[list(kinds)]


def assess(
    frame: pd.DataFrame | logtable.Table, reference: Reference, subject: str, options: Monitoring
) -> Report:
    """Test each of the reference's columns in ``frame`` (a logtable.Table reads each column
    as its test starts, so only the columns being tested are in memory)."""
    import pandas as pd

    profiles = reference.profile.columns
    rows = len(frame)
    if rows < options.min_rows:
        return Report(subject, reference.label, rows, options, ())

    def test(name: str) -> drift.ColumnDrift:
        return drift.compare(profiles[name], frame[name])

    # NumPy's sorts and SciPy's tests release the GIL: columns are tested side by side.
    with ThreadPoolExecutor(max_workers=min(len(profiles), os.cpu_count() or 1) or 1) as pool:
        columns = tuple(pool.map(test, profiles))
    prediction = None
    if reference.predictions is not None and PREDICTION in frame:
        served = frame[PREDICTION].dropna()
        numeric = reference.predictions.kind == NUMERIC  # a regressor's values
        if len(served) and not numeric and not isinstance(served.dtype, pd.CategoricalDtype):
            served = served.astype(str)  # categories are logged text
        if len(served):
            prediction = drift.compare(reference.predictions, served)
    return Report(subject, reference.label, rows, options, columns, prediction)


def column_kinds(reference: Reference) -> dict[str, str]:
    """How the log's reader types each of the reference's columns."""
    return {
        name: ("numeric" if column.numbers else "text")
        for name, column in reference.profile.columns.items()
    }


def logged_kinds(reference: Reference) -> dict[str, str]:
    """column_kinds, and the logged prediction (as text, or numbers for a regressor's values)
    when there are evaluation-time predictions to compare it with."""
    kinds = column_kinds(reference)
    if reference.predictions is not None and PREDICTION not in kinds:
        kinds[PREDICTION] = "numeric" if reference.predictions.kind == NUMERIC else "text"
    return kinds


def outputs(report: Report, report_path: Path | None) -> dict[str, Any]:
    """The step outputs a workflow branches on."""
    return {
        "verdict": report.verdict.replace(" ", "-"),
        "drift": str(report.verdict == DRIFT).lower(),
        "drifted": ",".join(report.drifted),
        "share": f"{report.share:.2f}",
        "rows": str(report.rows),
        "report": str(report_path or ""),
    }


def evaluation_predictions(
    root: Path, path: str, commit: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The profile of a model's evaluation-time predictions (the policy's predictions file at
    the model's commit, or in the workspace), or why there is none: what deploy stores beside
    a version for the prediction drift of ``mlgate monitor``."""
    from mlgate.errors import DataError
    from mlgate.snapshot import read_recorded

    revision = git.revision(commit or git.WORKSPACE, root)
    try:
        content = read_recorded(revision, path)
    except DataError as exc:
        return None, str(exc)
    if content is None:
        return None, f"{path} is not at {revision.label}"
    try:
        return predictions_profile(content, f"{path} at {revision.label}"), None
    except MlgateError as exc:
        return None, str(exc)
