"""dvc.yaml, dvc.lock and metrics/params files read as plain data, at any revision.

This is the fast path: no DVC import. A dvc.yaml that uses templating (``${...}``, ``foreach``,
``matrix``) cannot be resolved by reading YAML; callers then fall back to DVC itself.
"""

from __future__ import annotations

import functools
import json
import math
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import valid
from mlgate.errors import DataError, first_line
from mlgate.git import Revision

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DVC_IGNORE = ".dvcignore"
DEFAULT_PARAMS_FILE = "params.yaml"
# Bounds on a parsed data file, counting every value each alias expands to: a file of a few KB
# of nested YAML aliases ("billion laughs") would otherwise take gigabytes once walked.
MAX_VALUES = 1_000_000
MAX_DEPTH = 100


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
    templated: bool = False
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_yaml(text: bytes | str, where: str) -> Any:
    """YAML as DVC reads it: version 1.2, as ruamel.yaml resolves it (``1e-3`` is 0.001,
    ``yes`` and ``on`` are text, ``010`` is ten), with PyYAML's C parser for speed."""
    import yaml

    try:
        return check_bounded(yaml.load(text, Loader=_yaml12_loader()), where)
    except yaml.YAMLError as exc:
        raise DataError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise DataError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # an integer of more than 4,300 digits, say
        raise DataError(f"{where} is not valid YAML: {exc}") from None


@functools.cache
def _yaml12_loader() -> type:
    """PyYAML's safe loader with YAML 1.2's implicit types in place of YAML 1.1's, matching
    ruamel.yaml (what DVC uses) scalar for scalar (a test compares them)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    replaced = {_BOOL, _INT, _FLOAT}
    resolvers = {
        first: [(tag, rx) for tag, rx in pairs if tag not in replaced]
        for first, pairs in base.yaml_implicit_resolvers.items()
    }
    loader: Any = type("Yaml12Loader", (base,), {"yaml_implicit_resolvers": resolvers})
    loader.add_implicit_resolver(_BOOL, _YAML12_BOOL, list("tTfF"))
    loader.add_implicit_resolver(_FLOAT, _YAML12_FLOAT, list("-+0123456789."))
    loader.add_implicit_resolver(_INT, _YAML12_INT, list("-+0123456789"))
    loader.add_constructor(_BOOL, lambda load, node: load.construct_scalar(node).lower() == "true")
    loader.add_constructor(_INT, lambda load, node: _yaml12_int(load.construct_scalar(node)))
    loader.add_constructor(_FLOAT, lambda load, node: _yaml12_float(load.construct_scalar(node)))
    loader.add_constructor("tag:yaml.org,2002:map", _unique_mapping)
    return loader


def _unique_mapping(load: Any, node: Any) -> dict[Any, Any]:
    """A mapping whose keys are each written once, as ruamel.yaml (DVC's parser) requires: a
    duplicate key is an error there, never its last value (a metric written twice would be
    judged on whichever copy PyYAML kept). Keys brought in by a ``<<`` merge may be overridden,
    as YAML allows."""
    import yaml

    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = load.construct_object(key_node, deep=True)
        try:
            repeated = key in seen
        except TypeError:  # an unhashable key: PyYAML's own error follows
            continue
        if repeated:
            raise yaml.constructor.ConstructorError(
                None, None, f"found duplicate key {str(key)[:60]!r}", key_node.start_mark
            )
        seen.add(key)
    return dict(load.construct_mapping(node, deep=True))  # merges flattened there


_BOOL, _INT, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
# ruamel.yaml's resolvers for YAML 1.2 (ruamel/yaml/resolver.py), written out once here.
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)\Z")
_YAML12_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_YAML12_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o?[0-7_]+
    |[-+]?[0-9_]+
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)


def _yaml12_int(text: str) -> int:
    """``0b``, ``0o`` and ``0x`` prefixes; otherwise decimal, leading zeros and all."""
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


def _yaml12_float(text: str) -> float:
    value = text.replace("_", "").lower()
    if value.lstrip("+-") == ".inf":
        return -math.inf if value.startswith("-") else math.inf
    if value == ".nan":
        return math.nan
    return float(value)


def check_bounded(data: Any, where: str) -> Any:
    """``data`` itself, once it is known to hold at most MAX_VALUES values (each alias counted
    as often as it is used) nested at most MAX_DEPTH deep, with no alias inside itself; else
    DataError. Shared values are measured once, so this takes microseconds per distinct value
    whatever the file expands to."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (values, height)
    _measure(data, 0, measured, set(), where)
    return data


def _measure(
    value: Any, depth: int, measured: dict[int, tuple[int, int]], open_: set[int], where: str
) -> tuple[int, int]:
    if not isinstance(value, (dict, list)):
        return 1, 0
    key = id(value)
    if key in open_:
        raise DataError(f"{where} holds a YAML alias inside itself: refusing to read it")
    values, height = measured.get(key) or _measure_children(value, depth, measured, open_, where)
    if depth + height > MAX_DEPTH:
        raise DataError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)")
    return values, height


def _measure_children(
    value: dict[Any, Any] | list[Any],
    depth: int,
    measured: dict[int, tuple[int, int]],
    open_: set[int],
    where: str,
) -> tuple[int, int]:
    if depth >= MAX_DEPTH:
        raise DataError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)")
    open_.add(id(value))
    values, height = 1 + (len(value) if isinstance(value, dict) else 0), 0
    for child in value.values() if isinstance(value, dict) else value:
        child_values, child_height = _measure(child, depth + 1, measured, open_, where)
        values, height = values + child_values, max(height, child_height + 1)
        if values > MAX_VALUES:
            raise DataError(
                f"{where} expands to more than {MAX_VALUES:,} values (YAML aliases "
                "repeated within aliases?): refusing to read it"
            )
    open_.discard(id(value))
    measured[id(value)] = (values, height)
    return values, height


def parse_data_file(path: str, content: bytes, where: str) -> Any:
    """Parse a metrics or params file by its extension, as DVC does (JSON, YAML, TOML, Python)."""
    extension = posixpath.splitext(path)[1].lower()
    try:
        if extension == ".json":
            return check_bounded(json.loads(content), where)
        if extension == ".toml":
            return check_bounded(_toml_loads(content.decode()), where)
    except RecursionError:
        raise DataError(f"{where} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{where} is not valid {extension[1:].upper()}: {exc}") from None
    if extension in (".yaml", ".yml"):
        return parse_yaml(content, where)
    if extension == ".py":
        return check_bounded(parse_python_params(content, where), where)
    raise DataError(
        f"{where}: unsupported file format '{extension}' (use JSON, YAML, TOML or Python)"
    )


def parse_python_params(content: bytes, where: str) -> dict[str, Any]:
    """A Python params file read as DVC reads it, without running it: each top-level
    ``NAME = literal`` (or ``NAME: type = literal``), each class as a table of its own such
    assignments and of the ``self.NAME = literal`` ones in its ``__init__``. An assignment
    whose value is not a literal (a call, a name) is left out, as DVC leaves it out."""
    import ast

    try:
        tree = ast.parse(content, filename=where)
    except (SyntaxError, ValueError) as exc:
        raise DataError(f"{where} is not valid Python: {first_line(exc)}") from None
    except (RecursionError, MemoryError):
        raise DataError(f"{where} is nested too deeply to read") from None
    try:
        return _python_table(tree.body, in_init=False)
    except RecursionError:
        raise DataError(f"{where} is nested too deeply to read") from None


def _python_table(body: list[Any], *, in_init: bool) -> dict[str, Any]:
    import ast

    table: dict[str, Any] = {}
    for statement in body:
        if isinstance(statement, ast.ClassDef):
            table[statement.name] = _python_table(statement.body, in_init=False)
        elif isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
            table.update(_python_table(statement.body, in_init=True))
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = (
                [statement.target] if isinstance(statement, ast.AnnAssign) else statement.targets
            )
            name = _python_name(targets[0], in_init=in_init) if len(targets) == 1 else None
            if name is None or statement.value is None:
                continue
            try:
                table[name] = _python_value(ast.literal_eval(statement.value))
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                continue  # not a literal: DVC leaves it out too
    return table


def _python_name(target: Any, *, in_init: bool) -> str | None:
    """``NAME`` at the top of a module or class; ``self.NAME`` in ``__init__``."""
    import ast

    if isinstance(target, ast.Name) and not in_init:
        return target.id
    if in_init and isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
        return target.attr if target.value.id == "self" else None
    return None


def _python_value(value: Any) -> Any:
    """A literal as DVC keeps it (a tuple stays a tuple: `dvc params diff` shows it as a list
    where it shows a list as text); sets, bytes and complex numbers, which no params format
    has, as their text."""
    if isinstance(value, dict):
        return {
            key if isinstance(key, str) else str(key): _python_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_python_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_python_value(item) for item in value)
    if isinstance(value, (set, frozenset, bytes, complex)):
        return repr(value)
    return value


def _toml_loads(text: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


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


def stage_address(dvc_yaml: str, name: str) -> str:
    """How DVC names a stage: ``train`` in the root's dvc.yaml, ``sub/dvc.yaml:train`` elsewhere."""
    return name if dvc_yaml == DVC_YAML else f"{dvc_yaml}:{name}"


def folder_of(dvc_yaml: str) -> str:
    return posixpath.dirname(dvc_yaml) or "."


def read_declarations(revision: Revision) -> Declarations:
    """Parse every dvc.yaml at ``revision``; a revision without one declares nothing. Paths are
    the repository's (a subfolder's dvc.yaml declares them relative to itself)."""
    metrics: dict[str, bool] = {}
    params: dict[str, tuple[str, ...] | None] = {}
    artifacts: dict[str, dict[str, Any]] = {}
    for pipeline in _pipelines(revision):
        document, folder = pipeline.document, pipeline.folder
        if is_templated(pipeline.content, document):
            return Declarations(templated=True)
        metrics.update((join(folder, p), False) for p in _paths(document.get("metrics")))
        params.update((join(folder, p), None) for p in _paths(document.get("params")))
        for wdir, stage in pipeline.stages():
            for metric, options in entries(stage.get("metrics")):
                metrics[join(wdir, metric)] = bool((options or {}).get("cache", True))
            collect_stage_params(stage.get("params"), wdir, params)
        for name, spec in (document.get("artifacts") or {}).items():
            if isinstance(spec, dict) and "path" in spec:  # a subfolder's: "folder:name", as GTO
                spec = {**spec, "path": join(folder, str(spec["path"]))}
            artifacts[str(name) if folder == "." else f"{folder}:{name}"] = spec
    params[DEFAULT_PARAMS_FILE] = None  # DVC always shows the default params file whole
    return Declarations(
        metrics=tuple(MetricsFile(p, c) for p, c in metrics.items()),
        params=params,
        artifacts=artifacts,
    )


def declared_plots(revision: Revision) -> dict[str, tuple[str, str]]:
    """The plots every dvc.yaml declares with one x and one y field: the file's path (the
    repository's) -> (x, y). Top-level plots name their files as keys or in ``y``'s mapping;
    a stage's plots are its outputs."""
    found: dict[str, tuple[str, str]] = {}
    for pipeline in _pipelines(revision):
        if is_templated(pipeline.content, pipeline.document):
            continue
        declared = [
            (pipeline.folder, name, options)
            for name, options in entries(pipeline.document.get("plots"))
        ]
        for wdir, stage in pipeline.stages():
            declared += [(wdir, name, options) for name, options in entries(stage.get("plots"))]
        for where, name, options in declared:
            x, y = (options or {}).get("x"), (options or {}).get("y")
            if isinstance(x, str) and isinstance(y, str):
                found[join(where, name)] = (x, y)
            elif isinstance(x, str) and isinstance(y, dict):
                for file, field in y.items():
                    if isinstance(field, str):
                        found[join(where, str(file))] = (x, field)
    return found


@dataclass(frozen=True)
class _Pipeline:
    """One dvc.yaml at a revision, parsed."""

    where: str  # "sub/dvc.yaml at main (1a2b3c4d)", for messages
    folder: str  # its folder: the one its paths are relative to
    content: bytes
    document: dict[str, Any]

    def stages(self) -> list[tuple[str, dict[str, Any]]]:
        """Each stage with its working directory (the repository's path)."""
        return [
            (join(self.folder, str(stage.get("wdir", "."))), stage)
            for stage in _stages(self.document, self.where).values()
        ]


def _pipelines(
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
        document = _pipeline_document(content, where)
        pipelines.append(_Pipeline(where, folder_of(path), content, document))
    return pipelines


def _pipeline_document(content: bytes, where: str) -> dict[str, Any]:
    document = parse_yaml(content, where) or {}
    if not isinstance(document, dict):
        raise DataError(f"{where} must be a mapping")
    return document


def _stages(document: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    stages = document.get("stages") or {}
    if not isinstance(stages, dict):
        raise DataError(f"{where}: stages must be a mapping of stage names to stages")
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            raise DataError(f"{where}: stage '{name}' must be a mapping")
    return stages


def check_pipeline_files(revision: Revision) -> None:
    """Parse dvc.yaml, dvc.lock and every params file they name with the bounds above, before
    DVC reads them: DVC itself expands YAML aliases without a bound (gigabytes, minutes)."""
    declared = read_declarations(revision)
    read_lock(revision)
    paths = list(dict.fromkeys([*declared.params, DEFAULT_PARAMS_FILE]))
    for path, content in revision.read(paths).items():
        if content is not None:
            parse_data_file(path, content, f"{path} at {revision.label}")


def artifact_path(revision: Revision, artifact: str) -> str | None:
    """Where dvc.yaml's ``artifacts:`` section puts ``artifact`` at ``revision``."""
    declared = read_declarations(revision).artifacts.get(artifact)
    return str(declared["path"]) if isinstance(declared, dict) and "path" in declared else None


def artifact_file(
    revision: Revision, artifact: str, outputs: dict[str, Any] | None = None
) -> tuple[str | None, str | None]:
    """The artifact's path and the md5 dvc.lock records for it at ``revision``."""
    path = artifact_path(revision, artifact)
    if outputs is None:
        outputs = lock_outputs(read_lock(revision))
    return path, (outputs.get(path) or {}).get("md5") if path else None


@dataclass(frozen=True)
class DvcRecord:
    """Where DVC records a file that git does not hold: the file itself or a directory over it."""

    record: str  # the file that records it: "dvc.lock" or a .dvc file such as "data.dvc"
    output: str  # the recorded output: the file itself, or a directory holding it
    md5: str | None  # the output's hash (a directory's ends in ".dir")

    def describe(self) -> str:
        held = "" if self.md5 is None else f", md5 {self.md5[:8]}"
        return f"{self.record} records {self.output}{held}"


def dvc_record(revision: Revision, path: str) -> DvcRecord | None:
    """The dvc.lock output or .dvc file that tracks ``path`` at ``revision`` (exactly or as a
    directory holding it); None when DVC does not track it there."""
    outputs = lock_outputs(read_lock(revision))
    for output in _covering(path):
        if output in outputs:
            return DvcRecord(DVC_LOCK, output, outputs[output].get("md5"))
    candidates = [f"{output}.dvc" for output in _covering(path)]
    contents = revision.read(candidates)
    for record in candidates:
        content = contents[record]
        if content is None:
            continue
        document = parse_yaml(content, f"{record} at {revision.label}")
        folder = posixpath.dirname(record)
        for entry in (document.get("outs") or []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or "path" not in entry:
                continue
            output = join(folder, str(entry["path"]))
            if output in _covering(path):
                md5 = entry.get("md5")
                return DvcRecord(record, output, None if md5 is None else str(md5))
    return None


def _covering(path: str) -> list[str]:
    """``path`` and each folder above it, nearest first: the outputs that could hold it."""
    parts = posixpath.normpath(path).split("/")
    return ["/".join(parts[:end]) for end in range(len(parts), 0, -1)]


def cached_object(root: Path, md5: str, *, what: str = "DVC's record") -> Path | None:
    """The file DVC's local cache keeps for ``md5`` (3.x layout, then 2.x), if it is there.
    ``md5`` comes from a file a pull request (or a bucket) wrote: it is checked to be an md5
    before it becomes a path (valid.md5), a DataError naming ``what`` recorded it otherwise."""
    head, tail = valid.object_parts(valid.md5(md5, what=what))
    cache = root / ".dvc" / "cache"
    for candidate in (cache / "files" / "md5" / head / tail, cache / head / tail):
        if candidate.is_file():
            return candidate
    return None


def directory_lists(root: Path, record: DvcRecord, path: str) -> bool | None:
    """Whether the cached manifest of the directory output ``record`` lists ``path``; None when
    the manifest is not in the local cache (so nobody here can say)."""
    entries = _manifest(root, record)
    if entries is None:
        return None
    return _entry_md5(entries, record, path) is not None


def read_cached(root: Path, record: DvcRecord, path: str) -> bytes | None:
    """``path``'s bytes from DVC's local cache, read as DVC lays it out (a file output's object,
    or a directory's ``.dir`` manifest and then the file's object), without importing DVC;
    None when the cache does not hold them."""
    md5 = record.md5
    what = f"{record.record} (for {record.output})"
    if md5 is not None and record.output != path:
        entries = _manifest(root, record)
        md5 = None if entries is None else _entry_md5(entries, record, path)
        what = f"the cached manifest of {record.output} (for {path})"
    found = None if md5 is None or md5.endswith(".dir") else cached_object(root, md5, what=what)
    try:
        return None if found is None else found.read_bytes()
    except OSError:
        return None


def _manifest(root: Path, record: DvcRecord) -> list[Any] | None:
    if record.md5 is None:
        return None
    what = f"{record.record} (for {record.output})"
    if not valid.md5(record.md5, what=what).endswith(".dir"):
        return None
    manifest = cached_object(root, record.md5, what=what)
    if manifest is None:
        return None
    try:
        entries = json.loads(manifest.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    return entries if isinstance(entries, list) else None


def _entry_md5(entries: list[Any], record: DvcRecord, path: str) -> str | None:
    relative = posixpath.relpath(posixpath.normpath(path), record.output)
    for entry in entries:
        if isinstance(entry, dict) and entry.get("relpath") == relative:
            md5 = entry.get("md5")
            return str(md5) if md5 else None
    return None


def read_lock(revision: Revision) -> dict[str, Any]:
    """Every dvc.lock's stages at ``revision`` ({} when there is none), by the address DVC gives
    them (``sub/dvc.yaml:train``), each with the ``wdir`` its paths are relative to in the
    repository: dvc.lock records paths relative to the stage's wdir, which only dvc.yaml says."""
    pipelines = pipeline_files(revision)
    return lock_stages(pipelines, revision.read(with_locks(pipelines)), revision.label)


def with_locks(pipelines: list[str]) -> list[str]:
    """Each dvc.yaml and the dvc.lock beside it."""
    return [*pipelines, *(posixpath.join(posixpath.dirname(p), DVC_LOCK) for p in pipelines)]


def lock_stages(
    pipelines: list[str], contents: Mapping[str, bytes | None], label: str
) -> dict[str, Any]:
    """read_lock's answer from files already read (``contents`` holds with_locks(pipelines))."""
    stages: dict[str, Any] = {}
    for path in pipelines:
        lock_path = posixpath.join(posixpath.dirname(path), DVC_LOCK)
        lock = contents[lock_path]
        if lock is None:
            continue
        folder = folder_of(path)
        wdirs = _wdirs(contents[path], f"{path} at {label}")
        for name, stage in parse_lock(lock, f"{lock_path} at {label}").items():
            if isinstance(stage, dict):
                stage = {**stage, "wdir": join(folder, wdirs.get(str(name).split("@")[0], "."))}
            stages[stage_address(path, str(name))] = stage
    return stages


def _wdirs(content: bytes | None, where: str) -> dict[str, str]:
    """Each stage's wdir in a dvc.yaml (templated stages: their own folder)."""
    if not content or b"wdir" not in content:  # the usual case: no second parse of dvc.yaml
        return {}
    document = parse_yaml(content, where)
    if not isinstance(document, dict) or is_templated(content or b"", document):
        return {}
    return {
        str(name): str(stage.get("wdir", ".")) for name, stage in _stages(document, where).items()
    }


def parse_lock(content: bytes, where: str) -> dict[str, Any]:
    document = parse_yaml(content, where) or {}
    stages = document.get("stages", {}) if isinstance(document, dict) else {}
    return stages if isinstance(stages, dict) else {}


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


def entries(value: Any) -> list[tuple[str, dict[str, Any] | None]]:
    entries: list[tuple[str, dict[str, Any] | None]] = []
    for item in value or []:
        if isinstance(item, str):
            entries.append((item, None))
        elif isinstance(item, dict):
            entries.extend((str(p), o if isinstance(o, dict) else None) for p, o in item.items())
    return entries


def _paths(value: Any) -> list[str]:
    return [path for path, _ in entries(value)]


def join(wdir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(wdir, path))


def is_templated(content: bytes, document: dict[str, Any]) -> bool:
    if b"${" in content or "vars" in document:
        return True
    stages = document.get("stages") or {}
    return any(isinstance(s, dict) and ("foreach" in s or "matrix" in s) for s in stages.values())


@dataclass(frozen=True)
class DataChange:
    path: str
    old_md5: str | None
    new_md5: str | None
    old_size: int | None
    new_size: int | None


def lock_changes(old_lock: dict[str, Any], new_lock: dict[str, Any]) -> list[DataChange]:
    """Dependencies and outputs whose hash or size differs between two dvc.lock files."""
    old, new = _lock_entries(old_lock), _lock_entries(new_lock)
    changes = []
    for path in sorted(set(old) | set(new)):
        (old_md5, old_size), (new_md5, new_size) = (
            old.get(path, (None, None)),
            new.get(path, (None, None)),
        )
        if (old_md5, old_size) != (new_md5, new_size):
            changes.append(DataChange(path, old_md5, new_md5, old_size, new_size))
    return changes


def lock_outputs(stages: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every stage output recorded in dvc.lock: path -> {"md5", "size"[, "nfiles"]}."""
    outputs = {}
    for stage in stages.values():
        if not isinstance(stage, dict):
            continue
        wdir = str(stage.get("wdir", "."))
        for entry in stage.get("outs") or []:
            if isinstance(entry, dict) and "path" in entry:
                kept = {k: entry[k] for k in ("md5", "size", "nfiles") if k in entry}
                outputs[join(wdir, str(entry["path"]))] = kept
    return outputs


def _lock_entries(stages: dict[str, Any]) -> dict[str, tuple[str | None, int | None]]:
    entries: dict[str, tuple[str | None, int | None]] = {}
    for stage in stages.values():
        if not isinstance(stage, dict):
            continue
        wdir = str(stage.get("wdir", "."))
        for entry in [*(stage.get("deps") or []), *(stage.get("outs") or [])]:
            if isinstance(entry, dict) and "path" in entry:
                entries[join(wdir, str(entry["path"]))] = (entry.get("md5"), entry.get("size"))
    return entries


def cached_outputs(revision: Revision) -> dict[str, str]:
    """Every output DVC keeps in its cache at ``revision``, so ``dvc push`` sends to a remote:
    path -> md5 (a directory's ends in ``.dir``). Stage outputs (outs, metrics and plots not
    declared ``cache: false``) with the hash dvc.lock records, and ``.dvc`` files' outputs."""
    pipelines = pipeline_files(revision)
    contents = revision.read(with_locks(pipelines))
    cached: set[str] = set()
    for pipeline in _pipelines(revision, pipelines, contents):
        for wdir, stage in pipeline.stages():
            for section in ("outs", "metrics", "plots"):
                for out, options in entries(stage.get(section)):
                    if bool((options or {}).get("cache", True)):
                        cached.add(join(wdir, out))
    recorded = lock_outputs(lock_stages(pipelines, contents, revision.label))
    found = {
        path: str(entry["md5"])
        for path, entry in recorded.items()
        if path in cached and entry.get("md5")
    }
    records = revision.files_ending(".dvc")
    for record, content in revision.read(records).items():
        if content is None:
            continue
        document = parse_yaml(content, f"{record} at {revision.label}")
        for entry in (document.get("outs") or []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or not entry.get("cache", True):
                continue
            if entry.get("path") and entry.get("md5"):
                found[join(posixpath.dirname(record), str(entry["path"]))] = str(entry["md5"])
    return found


@dataclass(frozen=True)
class RemoteConfig:
    """A DVC remote as ``.dvc/config`` (and ``.dvc/config.local``) declare it."""

    name: str
    url: str
    options: dict[str, str]


def default_remote(root: Path, shared: bytes | None = None) -> RemoteConfig | None:
    """The project's default DVC remote (``core.remote``), None when it has none: from
    ``shared`` (the committed .dvc/config, as a revision holds it; None: the one on disk) and
    the machine's own .dvc/config.local over it, as DVC reads them. A relative local path is
    relative to the .dvc folder, as DVC resolves it."""
    import configparser

    sections: dict[str, dict[str, str]] = {}
    for name in ("config", "config.local"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            if name == "config" and shared is not None:
                text = shared.decode("utf-8")
            else:
                text = (root / ".dvc" / name).read_text(encoding="utf-8")
            parser.read_string(text)
        except FileNotFoundError:
            continue
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise DataError(f".dvc/{name} is not a valid DVC config: {first_line(exc)}") from None
        for section in parser.sections():
            key = " ".join(section.replace("'", " ").replace('"', " ").split())
            sections.setdefault(key, {}).update(parser[section])
    remote = sections.get("core", {}).get("remote")
    if not remote:
        return None
    options = sections.get(f"remote {remote}")
    if not options or not options.get("url"):
        raise DataError(f".dvc/config: core.remote names '{remote}', which has no url")
    options = dict(options)
    url = options.pop("url")
    if "://" not in url and not posixpath.isabs(url):
        url = str((root / ".dvc" / url).resolve())
    return RemoteConfig(remote, url, options)
