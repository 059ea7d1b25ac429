"""dvc.yaml: the pipeline files of a revision, their stages, the metrics, params, plots and artifacts they declare."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from mlgate.dvcfiles import templating
from mlgate.dvcfiles.params import DEFAULT_PARAMS_FILE
from mlgate.dvcfiles.paths import DVC_IGNORE, DVC_YAML, entries, folder_of, join, output_paths
from mlgate.dvcfiles.templating import Reader
from mlgate.dvcfiles.yaml12 import parse_yaml
from mlgate.errors import DataError
from mlgate.git import Revision


@dataclass(frozen=True)
class MetricsFile:
    path: str
    cached: bool  # True: the file lives in DVC's cache, not in git


@dataclass(frozen=True)
class Declarations:
    """The metrics and params files a dvc.yaml declares, as DVC's own show/diff collect them."""

    metrics: tuple[MetricsFile, ...] = ()
    # file -> the keys stages track (None: the whole file)
    params: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)


def pipeline_files(revision: Revision) -> list[str]:
    """Every dvc.yaml at ``revision``, the root's first: DVC's metrics, params and plots
    commands collect them all (stages in subfolders have their own dvc.yaml and dvc.lock),
    except in folders the root's ``.dvcignore`` leaves out."""
    found = revision.files_named(DVC_YAML)
    if all(path == DVC_YAML for path in found):
        return found  # the usual case: no .dvcignore to read
    ignored = [
        line
        for line in (revision.read_one(DVC_IGNORE) or b"").decode(errors="replace").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not ignored:
        return found
    import pathspec  # DVC's own dependency, and how DVC matches .dvcignore

    spec = pathspec.GitIgnoreSpec.from_lines(ignored)
    return [path for path in found if not spec.match_file(path)]


def read_declarations(revision: Revision) -> Declarations:
    """Parse every dvc.yaml at ``revision``; a revision without one declares nothing. Paths are
    the repository's (a subfolder's dvc.yaml declares them relative to itself)."""
    metrics: dict[str, bool] = {}
    params: dict[str, tuple[str, ...] | None] = {}
    artifacts: dict[str, dict[str, Any]] = {}
    tracked: dict[str, list[str]] = {}
    for pipeline in read_pipelines(revision):
        document, folder = pipeline.document, pipeline.folder
        for file, used in pipeline.tracked.items():
            tracked.setdefault(file, []).extend(used)
        metrics.update((join(folder, p), False) for p in output_paths(document.get("metrics")))
        params.update((join(folder, p), None) for p in output_paths(document.get("params")))
        for wdir, stage in pipeline.stages():
            for metric, options in entries(stage.get("metrics")):
                metrics[join(wdir, metric)] = bool((options or {}).get("cache", True))
            collect_stage_params(stage.get("params"), wdir, params)
        for name, spec in (document.get("artifacts") or {}).items():
            if isinstance(spec, dict) and "path" in spec:  # a subfolder's: "folder:name", as GTO
                spec = {**spec, "path": join(folder, str(spec["path"]))}
            artifacts[str(name) if folder == "." else f"{folder}:{name}"] = spec
    params[DEFAULT_PARAMS_FILE] = None  # DVC always shows the default params file whole
    # and the plain values stages interpolate from other vars files, as that file's params
    for file, interpolated in tracked.items():
        if file not in params:
            params[file] = tuple(dict.fromkeys(interpolated))
    return Declarations(
        metrics=tuple(MetricsFile(p, c) for p, c in metrics.items()),
        params=params,
        artifacts=artifacts,
    )


class Plot(NamedTuple):
    """One declared plot of one file: its x and y fields, and DVC's template (None: the
    default, a line), such as ``confusion`` for rows of actual and predicted labels."""

    x: str
    y: str
    template: str | None = None


def declared_plots(revision: Revision) -> dict[str, Plot]:
    """The plots every dvc.yaml declares with one x and one y field: the file's path (the
    repository's) -> its Plot. Top-level plots name their files as keys or in ``y``'s
    mapping; a stage's plots are its outputs."""
    found: dict[str, Plot] = {}
    for pipeline in read_pipelines(revision):
        declared = [
            (pipeline.folder, name, options)
            for name, options in entries(pipeline.document.get("plots"))
        ]
        for wdir, stage in pipeline.stages():
            declared += [(wdir, name, options) for name, options in entries(stage.get("plots"))]
        for where, name, options in declared:
            x, y = (options or {}).get("x"), (options or {}).get("y")
            template = (options or {}).get("template")
            template = template if isinstance(template, str) else None
            if isinstance(x, str) and isinstance(y, str):
                found[join(where, name)] = Plot(x, y, template)
            elif isinstance(x, str) and isinstance(y, dict):
                for file, field in y.items():
                    if isinstance(field, str):
                        found[join(where, str(file))] = Plot(x, field, template)
    return found


@dataclass(frozen=True)
class _Pipeline:
    """One dvc.yaml at a revision, parsed."""

    where: str  # "sub/dvc.yaml at main (1a2b3c4d)", for messages
    folder: str  # its folder: the one its paths are relative to
    content: bytes
    document: dict[str, Any]
    tracked: templating.Tracked = field(default_factory=dict)  # keys stages take from vars files

    def stages(self) -> list[tuple[str, dict[str, Any]]]:
        """Each stage with its working directory (the repository's path)."""
        return [
            (join(self.folder, str(stage.get("wdir", "."))), stage)
            for stage in stages_of(self.document, self.where).values()
        ]


def read_pipelines(
    revision: Revision,
    paths: list[str] | None = None,
    contents: dict[str, bytes | None] | None = None,
) -> list[_Pipeline]:
    """Every dvc.yaml at ``revision`` (``paths``, ``contents``: already found and read),
    parsed, the root's first."""
    paths = pipeline_files(revision) if paths is None else paths
    found = revision.read(paths) if contents is None else contents
    pipelines = []
    for path in paths:
        content = found[path]
        if content is None:
            continue
        where = f"{path} at {revision.label}"
        folder = folder_of(path)
        document, tracked = _resolved(
            _pipeline_document(content, where), folder, revision.read_one, where
        )
        pipelines.append(_Pipeline(where, folder, content, document, tracked))
    return pipelines


def resolved(document: dict[str, Any], folder: str, read: Reader, where: str) -> dict[str, Any]:
    """A dvc.yaml's document with its templating resolved as DVC resolves it (``vars``,
    ``${}``, ``foreach``, ``matrix``); as it is when it uses none. ``read``: a file at the
    revision, by its path in the repository (the params files ``vars`` names)."""
    return _resolved(document, folder, read, where)[0]


def _resolved(
    document: dict[str, Any], folder: str, read: Reader, where: str
) -> tuple[dict[str, Any], templating.Tracked]:
    if not templating.is_templated(document):
        return document, {}
    return templating.resolve_tracking(
        document, folder="" if folder == "." else folder, read=read, where=where
    )


def _pipeline_document(content: bytes, where: str) -> dict[str, Any]:
    document = parse_yaml(content, where) or {}
    if not isinstance(document, dict):
        raise DataError(f"{where} must be a mapping")
    return document


def stages_of(document: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    stages = document.get("stages") or {}
    if not isinstance(stages, dict):
        raise DataError(f"{where}: stages must be a mapping of stage names to stages")
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            raise DataError(f"{where}: stage '{name}' must be a mapping")
    return stages


def collect_stage_params(
    entries: Any, wdir: str, params: dict[str, tuple[str, ...] | None]
) -> None:
    """Add one stage's ``params`` entries to ``params``: file -> keys (None: the whole file)."""
    for entry in entries or []:
        if isinstance(entry, str):
            _track(params, join(wdir, DEFAULT_PARAMS_FILE), (entry,))
        elif isinstance(entry, dict):
            for path, keys in entry.items():
                _track(params, join(wdir, str(path)), tuple(keys) if keys else None)


def _track(
    params: dict[str, tuple[str, ...] | None], path: str, keys: tuple[str, ...] | None
) -> None:
    if path in params and (params[path] is None or keys is None):
        params[path] = None  # once the whole file is tracked, it stays whole
        return
    params[path] = (*(params.get(path) or ()), *keys) if keys else None
