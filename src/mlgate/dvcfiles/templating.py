"""dvc.yaml's templating resolved as DVC 3 resolves it (``dvc/parsing``), without importing DVC:
``vars`` (the folder's params.yaml first when it exists, then each ``file[:key,...]`` or table
in order, a stage's own ``vars`` on top, none redefining another's key), ``${expr}`` with
``.key`` and ``[index]`` selection (the value itself when the whole string is one expression,
else its text: ``true``/``false`` for booleans, ``--key value`` flags for a table in ``cmd``),
``\\${`` for a literal ``${``, ``foreach``/``do`` (``NAME@KEY`` stages with ``item`` and, over a
table, ``key``) and ``matrix`` (``NAME@v1-v2``, ``item`` the combination, ``key`` its name).

``tests/dvcfiles/test_templating.py`` compares every result with DVC's own resolver.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mlgate.dvcfiles.params import DEFAULT_PARAMS_FILE, parse_data_file
from mlgate.errors import DataError

Reader = Callable[[str], bytes | None]  # a file's bytes at the revision, None when absent

_EXPRESSION = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")
_GRAMMAR = re.compile(r"[^.\[\]]+(?:\.[^.\[\]]+|\[[^.\[\]]+\])*")  # word(.word|[word])*
_PRIMITIVES = (int, float, str, bytes, bool)
_SECTIONS = ("metrics", "params", "plots", "datasets")


class TemplateError(DataError):
    """The template cannot be resolved; said as DVC says it, naming the entry."""


def is_templated(document: Mapping[str, Any]) -> bool:
    """Whether resolving changes anything: ``vars``, ``foreach``/``matrix`` or a ``${``."""
    if "vars" in document:
        return True
    stages = document.get("stages")
    if isinstance(stages, Mapping) and any(
        isinstance(s, Mapping) and ("foreach" in s or "matrix" in s) for s in stages.values()
    ):
        return True
    return _has_expression(document)


def _has_expression(data: Any) -> bool:
    if isinstance(data, str):
        return _EXPRESSION.search(data) is not None
    if isinstance(data, Mapping):
        return any(_has_expression(k) or _has_expression(v) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return any(_has_expression(v) for v in data)
    return False


Tracked = dict[str, tuple[str, ...]]  # a vars file -> the keys stages interpolate from it


def resolve(
    document: Mapping[str, Any], *, folder: str, read: Reader, where: str
) -> dict[str, Any]:
    """The dvc.yaml at ``folder`` (``""``: the repository's root) with every stage generated
    and every ``${}`` replaced; ``vars`` gone. ``read`` gives a file relative to the root."""
    return resolve_tracking(document, folder=folder, read=read, where=where)[0]


def resolve_tracking(
    document: Mapping[str, Any], *, folder: str, read: Reader, where: str
) -> tuple[dict[str, Any], Tracked]:
    """:func:`resolve`, and the keys stages took from each ``vars`` file (a plain value each,
    not a table, as DVC tracks them): ``dvc params diff`` shows them as that file's params."""
    context = _Context(read)
    top_vars = document.get("vars", [])
    _no_expressions(top_vars, "vars", where)
    try:
        context.load_vars(top_vars, folder, default=True, stage="")
    except TemplateError as exc:
        raise TemplateError(f"{where}: failed to parse 'vars': {exc}") from None
    resolved: dict[str, Any] = {
        key: value for key, value in document.items() if key not in ("vars", "stages")
    }
    stages: dict[str, Any] = {}
    for name, definition in (document.get("stages") or {}).items():
        if not isinstance(definition, Mapping):
            stages[name] = definition
            continue
        stages.update(_stage_group(context, str(name), definition, folder, where))
    if "stages" in document:
        resolved["stages"] = stages
    tracked = {path: tuple(keys) for path, keys in context.tracked.items()}
    for section in _SECTIONS:
        if isinstance(document.get(section), list):
            resolved[section] = [
                _top(context, item, f"{section}.{n}", where)
                for n, item in enumerate(document[section])
            ]
    if isinstance(document.get("artifacts"), Mapping):
        resolved["artifacts"] = {}
        for name, item in document["artifacts"].items():
            key = _top(context, name, f"artifacts.{name}", where)
            if not isinstance(key, str):
                raise TemplateError(
                    f"{where}: failed to resolve 'artifacts.{name}': expected str, got "
                    f"{type(key).__name__}"
                )
            resolved["artifacts"][key] = _top(context, item, f"artifacts.{name}", where)
    return resolved, tracked


def _top(context: _Context, data: Any, entry: str, where: str) -> Any:
    try:
        return context.resolve(data, key=None)
    except TemplateError as exc:
        raise TemplateError(f"{where}: failed to parse '{entry}': {exc}") from None


def _stage_group(
    context: _Context, name: str, definition: Mapping[str, Any], folder: str, where: str
) -> dict[str, Any]:
    with context.tracking():
        return _stage_members(context, name, definition, folder, where)


def _stage_members(
    context: _Context, name: str, definition: Mapping[str, Any], folder: str, where: str
) -> dict[str, Any]:
    if "matrix" in definition:
        template = {k: v for k, v in definition.items() if k != "matrix"}
        members = _matrix(context, name, definition["matrix"], where)
    elif "foreach" in definition:
        template = definition.get("do") or {}
        members = _foreach(context, name, definition["foreach"], where)
    else:
        return {name: _stage(context, name, definition, folder, where)}
    origins = _item_origins(definition.get("foreach"), members, "foreach" in definition)
    generated = {}
    for (key, values), origin in zip(members.items(), origins, strict=True):
        full = f"{name}@{key}"
        with context.temporarily(values, aliases={"item": origin} if origin else {}):
            generated[full] = _stage(context, full, template, folder, where)
    return generated


def _item_origins(data: Any, members: dict[str, dict[str, Any]], foreach: bool) -> list[str]:
    """Where each member's ``item`` came from (``data.splits.0``), when ``foreach`` is one
    ``${}`` of a file's list or table: a value ``${item}`` takes from it is that file's, as
    DVC tracks it. Empty strings otherwise."""
    match = _EXPRESSION.fullmatch(data) if foreach and isinstance(data, str) else None
    if match is None or not _GRAMMAR.fullmatch(match["inner"]):
        return [""] * len(members)
    base = _dotted(match["inner"])
    return [  # a table's member has its key; a list's, its place
        f"{base}.{values['key']}" if "key" in values else f"{base}.{n}"
        for n, values in enumerate(members.values())
    ]


def _foreach(context: _Context, name: str, data: Any, where: str) -> dict[str, dict[str, Any]]:
    try:
        iterable = context.resolve(data, key=None)
    except TemplateError as exc:
        raise TemplateError(f"{where}: failed to parse 'stages.{name}.foreach': {exc}") from None
    if isinstance(iterable, Mapping):
        return {_text(k): {"item": v, "key": _text(k)} for k, v in iterable.items()}
    if not isinstance(iterable, list):
        raise TemplateError(
            f"{where}: failed to resolve 'stages.{name}.foreach': expected list/dictionary, "
            f"got {type(iterable).__name__}"
        )
    if any(isinstance(v, (Mapping, list)) for v in iterable):
        return {str(n): {"item": v} for n, v in enumerate(iterable)}
    return {_text(v): {"item": v} for v in iterable}


def _matrix(context: _Context, name: str, data: Any, where: str) -> dict[str, dict[str, Any]]:
    try:
        matrix = context.resolve(data, key=None)
    except TemplateError as exc:
        raise TemplateError(f"{where}: failed to parse 'stages.{name}.matrix': {exc}") from None
    if not isinstance(matrix, Mapping) or not all(isinstance(v, list) for v in matrix.values()):
        raise TemplateError(
            f"{where}: failed to resolve 'stages.{name}.matrix': expected a table of lists"
        )
    members = {}
    axes = [list(enumerate(values)) for values in matrix.values()]
    for combination in itertools.product(*axes):
        item, fragments = {}, []
        for axis, (index, value) in zip(matrix, combination, strict=True):
            item[axis] = value
            composite = isinstance(value, (Mapping, list))
            fragments.append(f"{axis}{index}" if composite else _text(value))
        key = "-".join(fragments)
        members[key] = {"key": key, "item": item}
    return members


def _stage(
    context: _Context, name: str, template: Mapping[str, Any], folder: str, where: str
) -> dict[str, Any]:
    definition = copy.deepcopy(dict(template))
    wdir = folder
    if definition.get("wdir"):
        try:
            wdir = posixpath.normpath(
                posixpath.join(folder, _text(context.resolve(definition["wdir"], key="wdir")))
            )
        except TemplateError as exc:
            raise TemplateError(f"{where}: failed to parse 'stages.{name}.wdir': {exc}") from None
    stage_vars = definition.pop("vars", [])
    _no_expressions(stage_vars, f"stages.{name}.vars", where)
    local = context.clone() if stage_vars else context
    try:
        local.load_vars(stage_vars, wdir if wdir != "." else "", default=False, stage=name)
    except TemplateError as exc:
        raise TemplateError(f"{where}: failed to parse stage '{name}': {exc}") from None
    resolved = {}
    for key, value in definition.items():
        try:
            resolved[key] = local.resolve(value, key=key)
        except TemplateError as exc:
            raise TemplateError(f"{where}: failed to parse 'stages.{name}.{key}': {exc}") from None
    return resolved


def _no_expressions(data: Any, entry: str, where: str) -> None:
    if _has_expression(data):
        raise TemplateError(f"{where}: failed to parse '{entry}': interpolating is not allowed")


class _Context:
    """The values ``${}`` selects from, and which files were loaded (whole, or which keys)."""

    def __init__(self, read: Reader) -> None:
        self.read = read
        self.data: dict[str, Any] = {}
        self.imports: dict[str, list[str] | None] = {}
        self.reserved: set[str] = set()
        self.origin: dict[str, str] = {}  # a file's plain value's dotted path -> the file
        self.tracked: dict[str, dict[str, None]] = {}  # file -> keys interpolated, in order
        self._tracking = False
        self.aliases: dict[str, str] = {}  # item -> where a foreach member came from

    def clone(self) -> _Context:
        other = _Context(self.read)
        other.data = copy.deepcopy(self.data)
        other.imports = copy.deepcopy(self.imports)
        other.reserved = set(self.reserved)
        other.origin = dict(self.origin)
        other.tracked = self.tracked  # one record for the whole file
        other._tracking = self._tracking
        other.aliases = dict(self.aliases)
        return other

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        self._tracking = True
        try:
            yield
        finally:
            self._tracking = False

    def load_vars(self, entries: Any, folder: str, *, default: bool, stage: str) -> None:
        if default:
            path = posixpath.join(folder, DEFAULT_PARAMS_FILE) if folder else DEFAULT_PARAMS_FILE
            if self.read(path) is not None:
                self._merge_file(DEFAULT_PARAMS_FILE, folder)
        if not isinstance(entries, list):
            raise TemplateError("'vars' must be a list")
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                self._merge_file(entry, folder)
            elif isinstance(entry, Mapping):
                self._check_reserved(entry, f"vars[{index}]")
                source = f"{stage}{'.' if stage else ''}vars[{index}]"
                self._merge(self.data, copy.deepcopy(dict(entry)), source)
            else:
                raise TemplateError(f"'vars[{index}]' must be a file name or a table")

    def _merge_file(self, entry: str, folder: str) -> None:
        file, _, keys_text = entry.partition(":")
        path = (
            posixpath.normpath(posixpath.join(folder, file)) if folder else posixpath.normpath(file)
        )
        keys = [k for k in keys_text.split(",") if k] or None
        if path in self.imports:
            loaded = self.imports[path]
            if keys is None and loaded is None:
                return  # the whole file, again: allowed
            if keys is None and isinstance(loaded, list):
                raise TemplateError(f"cannot load '{entry}' as it's partially loaded already")
            if keys is not None and loaded is None:
                raise TemplateError(f"cannot partially load '{entry}' as it's already loaded.")
            if isinstance(loaded, list) and keys is not None and set(keys) & set(loaded):
                raise TemplateError(f"cannot load '{entry}' as it's partially loaded already")
        content = self.read(path)
        if content is None:
            raise TemplateError(f"'{path}' does not exist")
        data = parse_data_file(path, content, path)
        if not isinstance(data, Mapping):
            raise TemplateError(
                f"expected a dictionary, got '{type(data).__name__}' in file '{path}'"
            )
        if keys is not None:
            missing = [k for k in keys if k not in data]
            if missing:
                raise TemplateError(f"could not find '{missing[0]}' in '{path}'")
            data = {k: data[k] for k in keys}
        self._check_reserved(data, entry)
        self._merge(self.data, dict(data), path)
        self.origin.update(dict.fromkeys(_leaves(data), path))
        if path not in self.imports:
            self.imports[path] = keys
        elif keys:
            listed = self.imports[path]
            assert isinstance(listed, list)
            listed.extend(keys)

    def _check_reserved(self, data: Mapping[str, Any], entry: str) -> None:
        taken = sorted(self.reserved & set(data))
        if taken:
            raise TemplateError(f"attempted to modify reserved key {', '.join(taken)} in '{entry}'")

    def _merge(self, into: dict[str, Any], update: dict[str, Any], source: str) -> None:
        for key, value in update.items():
            if isinstance(into.get(key), dict) and isinstance(value, Mapping):
                self._merge(into[key], dict(value), source)
            elif key in into:
                raise TemplateError(f"cannot redefine '{key}' from '{source}' as it already exists")
            else:
                into[key] = copy.deepcopy(value)

    def temporarily(self, values: dict[str, Any], aliases: dict[str, str]) -> _Temporarily:
        return _Temporarily(self, values, aliases)

    def select(self, expression: str) -> Any:
        dotted = _dotted(expression)
        node: Any = self.data
        for index in dotted.split("."):
            try:
                if isinstance(node, list):
                    node = node[int(index)]
                elif isinstance(node, Mapping):
                    node = node[index]
                else:
                    raise TemplateError(f"Could not find '{expression}'")
            except (KeyError, IndexError, ValueError):
                raise TemplateError(f"Could not find '{expression}'") from None
        if self._tracking and not isinstance(node, (Mapping, list)):
            self._track(dotted)
        return node

    def _track(self, dotted: str) -> None:
        head, _, rest = dotted.partition(".")
        if head in self.aliases:  # ${item...} of a foreach over a file's list or table
            dotted = f"{self.aliases[head]}.{rest}" if rest else self.aliases[head]
        elif head in self.reserved:
            return
        source = self.origin.get(dotted)
        if source is not None:
            self.tracked.setdefault(source, {})[dotted] = None

    def resolve(self, data: Any, *, key: str | None) -> Any:
        if isinstance(data, str):
            return self._string(data, key)
        if isinstance(data, Mapping):
            return {self.resolve(k, key=key): self.resolve(v, key=key) for k, v in data.items()}
        if isinstance(data, list):
            return [self.resolve(v, key=key) for v in data]
        return data

    def _string(self, text: str, key: str | None) -> Any:
        matches = list(_EXPRESSION.finditer(text))
        if len(matches) == 1 and matches[0].group(0) == text:
            value = self.select(_checked(matches[0]["inner"]))
            _validate(value, key)
            return copy.deepcopy(value)
        out, last = [], 0
        for match in matches:
            value = self.select(_checked(match["inner"]))
            _validate(value, key)
            out.append(text[last : match.start()])
            out.append(_text(value))
            last = match.end()
        out.append(text[last:])
        return "".join(out).replace("\\${", "${")


class _Temporarily:
    def __init__(self, context: _Context, values: dict[str, Any], aliases: dict[str, str]) -> None:
        self.context, self.values, self.aliases = context, values, aliases
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        data = self.context.data
        self.saved = {k: data[k] for k in self.values if k in data}
        data.update(self.values)
        self.context.reserved |= set(self.values)
        self.context.aliases = self.aliases

    def __exit__(self, *_: object) -> None:
        data = self.context.data
        for key in self.values:
            data.pop(key, None)
        data.update(self.saved)
        self.context.reserved -= set(self.values)
        self.context.aliases = {}


def _dotted(expression: str) -> str:
    """``a[0].b`` as DVC names the value: ``a.0.b``."""
    return ".".join(p.strip() for p in expression.replace("[", ".").replace("]", "").split("."))


def _checked(inner: str) -> str:
    """An expression as DVC's grammar takes it: words joined by ``.word`` or ``[word]``."""
    if not _GRAMMAR.fullmatch(inner):
        raise TemplateError(f"${{{inner}}}: not a valid expression")
    return inner


def _validate(value: Any, key: str | None) -> None:
    """What ``${}`` may put where: anything in foreach/matrix data and top-level sections,
    only plain values in a stage's fields, and a table (as flags) in ``cmd``."""
    if value is None or isinstance(value, _PRIMITIVES) or key is None or "foreach" in key:
        return
    if isinstance(value, Mapping) and key == "cmd":
        return
    raise TemplateError(f"Cannot interpolate data of type '{type(value).__name__}'")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return _flags(value)
    return str(value)


def _flags(table: Mapping[str, Any]) -> str:
    """A table in ``cmd`` as DVC writes it: ``--key value`` per leaf (dotted keys), ``--flag``
    for true, nothing for false, a list's items after one ``--key``."""
    parts = []
    for key, value in _flatten(table).items():
        if isinstance(value, bool):
            if value:
                parts.append(f"--{key}")
        elif isinstance(value, str):
            parts.append(f"--{key} {shlex.quote(value)}")
        elif isinstance(value, list):
            for n, item in enumerate(value):
                if isinstance(item, (list, Mapping)):
                    raise TemplateError(f"Cannot interpolate nested iterable in '{key}'")
                shown = shlex.quote(item) if isinstance(item, str) else str(item)
                parts.append(f"--{key} {shown}" if n == 0 else shown)
        else:
            parts.append(f"--{key} {value}")
    return " ".join(parts)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _leaves(data: Any, prefix: str = "") -> list[str]:
    """The dotted paths of a table's plain values (``a.b``, ``inputs.0``), as DVC names them."""
    if isinstance(data, Mapping):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return [prefix]
    found = []
    for key, value in items:
        found += _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    return found
