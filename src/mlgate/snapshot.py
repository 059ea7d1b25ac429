"""What a revision holds for the gate: its metrics and params, flattened with dots as DVC does,
and their diff; and its [tool.mlgate] policy (read_policy).

Files kept in git are read from git objects (or the workspace); metrics that live only in DVC's
cache are read through DVC's API, imported lazily. A templated dvc.yaml is resolved as DVC
resolves it (dvcfiles.templating), without DVC.
The diff follows ``dvc metrics diff --json`` / ``dvc params diff --json`` value for value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlgate import dvc, dvcfiles
from mlgate.errors import ConfigError, DataError
from mlgate.git import Revision
from mlgate.policy import POLICY_FILES, Policy, parse_policy
from mlgate.values import FileValues, flatten, metric_values


@dataclass(frozen=True)
class Snapshot:
    revision: Revision
    metrics: FileValues = field(default_factory=dict)
    params: FileValues = field(default_factory=dict)
    # Declared metrics files that do not exist at this revision.
    missing_metrics: tuple[str, ...] = ()
    # Notes on declared metrics files of another format (a TSV, a CSV) that DVC reads as YAML
    # and leaves out, with a warning, when they hold no table of values.
    skipped: tuple[str, ...] = ()


def read_snapshot(revision: Revision) -> Snapshot:
    """Read every declared metrics and params file at ``revision``.

    A file that exists but cannot be parsed raises DataError naming the file and the revision.
    """
    declared = dvcfiles.read_declarations(revision)
    paths = [m.path for m in declared.metrics] + list(declared.params)
    contents = revision.read(paths)
    metrics: FileValues = {}
    missing, skipped = [], []
    for metrics_file in declared.metrics:
        content = contents[metrics_file.path]
        if content is None:
            content = read_recorded(revision, metrics_file.path)
        if content is None:
            missing.append(metrics_file.path)
            continue
        if not dvcfiles.is_data_format(metrics_file.path):
            parsed, problem = _as_dvc_reads_other_files(metrics_file.path, content, revision)
            if problem:
                skipped.append(problem)
                continue
        else:
            parsed = _parse(metrics_file.path, content, revision)
        metrics[metrics_file.path] = flatten(metric_values(parsed) or {})
    params: FileValues = {}
    for path, keys in declared.params.items():
        content = contents[path]
        if content is not None:
            params[path] = _param_values(_select(_parse(path, content, revision), keys))
    return Snapshot(revision, metrics, params, tuple(missing), tuple(skipped))


def _as_dvc_reads_other_files(path: str, content: bytes, revision: Revision) -> tuple[Any, str]:
    """A metrics file of another extension (``scores.tsv``), read as DVC reads it: as YAML.
    DVC skips it, with a warning, when that is no table of values; so does mlgate, saying why
    (the second item), rather than stopping the comparison."""
    where = f"{path} at {revision.label}"
    try:
        parsed = dvcfiles.parse_yaml(content, where)
    except DataError:
        return None, f"{where} is no metrics file DVC can read (it reads it as YAML): left out"
    if not isinstance(parsed, dict):
        return None, f"{where} holds no metrics DVC can read (no YAML table of values): left out"
    return parsed, ""


def _parse(path: str, content: bytes, revision: Revision) -> Any:
    return dvcfiles.parse_data_file(path, content, f"{path} at {revision.label}")


def _select(data: Any, keys: tuple[str, ...] | None) -> Any:
    """Keep only the tracked top-level or dotted keys of a params file, nested as they were."""
    if keys is None or not isinstance(data, dict):
        return data
    selected: dict[str, Any] = {}
    for key in keys:
        source, target, parts = data, selected, key.split(".")
        for part in parts[:-1]:
            source = source.get(part, {}) if isinstance(source, dict) else {}
            target = target.setdefault(part, {})
        if isinstance(source, dict) and parts[-1] in source:
            target[parts[-1]] = source[parts[-1]]
    return selected


def _param_values(data: Any) -> dict[str, Any]:
    """DVC shows a list-valued param as its text: "[64, 32]"."""
    return {k: str(v) if isinstance(v, list) else v for k, v in flatten(data).items()}


def read_recorded(revision: Revision, path: str) -> bytes | None:
    """``path`` at ``revision`` wherever it is kept: git (or the workspace), else DVC's cache
    or remote when dvc.lock or a .dvc file tracks it there.

    None means the revision never had the file. A file the revision has but that cannot be read
    (the cache cleared, no remote) raises DataError naming the file, the revision and the fix:
    it is never taken for a missing one.
    """
    content = revision.read_one(path)
    if content is not None or revision.commit is None:
        return content
    record = dvcfiles.dvc_record(revision, path)
    if record is None:
        return None
    cached = dvcfiles.read_cached(revision.root, record, path)  # the fast path: no DVC import
    if cached is not None:
        return cached
    if record.output != path and dvcfiles.directory_lists(revision.root, record, path) is False:
        return None  # the directory's manifest says the file was never in it
    return dvc.read(revision, path, record)


def read_policy(revision: Revision) -> Policy:
    """The policy at ``revision``; an empty Policy when no file has a [tool.mlgate] table."""
    contents = revision.read(POLICY_FILES)
    key = tuple(contents[name] for name in POLICY_FILES)
    known = _POLICIES.get(key)
    if known is None:
        known = _POLICIES[key] = _parse_policy_files(contents, revision.label)
    return known


_POLICIES: dict[tuple[bytes | None, ...], Policy] = {}  # by the files' bytes: a check reads
# the same pyproject.toml at the base, the head and the workspace


def _parse_policy_files(contents: dict[str, bytes | None], label: str) -> Policy:
    for name in POLICY_FILES:
        content = contents[name]
        if content is None:
            continue
        where = f"{name} at {label}"
        table = _load_toml(content, where).get("tool", {}).get("mlgate")
        if table is not None:
            return parse_policy(table, where, name)
    return Policy()


def _load_toml(content: bytes, where: str) -> dict[str, Any]:
    try:
        table = dvcfiles.parse_data_file("pyproject.toml", content, where)
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    return table if isinstance(table, dict) else {}
