"""The release record: the machine-readable block of a release tag's annotation (``mlgate
release`` writes it between two marker lines; GTO and git show it as text). It says which model
file and md5 a version is, the metrics and params it was released with, and the gate's verdict.

Declared once, as msgspec ``Struct``s: anyone who can push a tag writes its annotation, so the
decoder checks every field's type and the grammar of those that name files, hashes, versions
and commits, and a block of the wrong shape is one DataError naming the tag and the field.
Every field may be absent: a record an older mlgate wrote reads as far as it goes.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec

from mlgate import valid
from mlgate.errors import DataError
from mlgate.names import SEMVER

BEGIN = "-----BEGIN MLGATE RELEASE RECORD-----"
END = "-----END MLGATE RELEASE RECORD-----"
SCHEMA = 1

Md5 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}\Z")]
# a file's md5, or a directory's (its `.dir` manifest's), as dvc.lock records an output
OutputMd5 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}(\.dir)?\Z")]
CommitId = Annotated[str, msgspec.Meta(pattern=r"^(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")]
ReleaseVersion = Annotated[str, msgspec.Meta(pattern=rf"^{SEMVER}\Z")]


class Bump(msgspec.Struct, frozen=True):
    kind: str | None = None  # major, minor, patch, first or given
    reason: str | None = None


class ModelFile(msgspec.Struct, frozen=True):
    path: str | None = None  # inside the repository
    md5: OutputMd5 | None = None

    def __post_init__(self) -> None:
        if self.path is not None and not _inside(self.path):
            raise ValueError("'model.path' must be a path inside the repository")


class RuleResult(msgspec.Struct, frozen=True):
    metric: str
    file: str | None = None
    base: Any = None
    head: Any = None
    status: str | None = None


class Failure(msgspec.Struct, frozen=True):
    metric: str
    reason: str | None = None


class Gate(msgspec.Struct, frozen=True):
    against: str | None = None  # artifact@version, or None: the policy's bounds alone
    verdict: str | None = None  # pass or fail
    rules: tuple[RuleResult, ...] = ()
    failed: tuple[Failure, ...] = ()
    forced: bool = False


class Record(msgspec.Struct, frozen=True, omit_defaults=False):
    schema: int = SCHEMA
    artifact: str | None = None
    version: ReleaseVersion | None = None
    commit: CommitId | None = None
    previous: str | None = None  # the version released before, e.g. "v0.1.0"
    bump: Bump = msgspec.field(default_factory=Bump)
    model: ModelFile = msgspec.field(default_factory=ModelFile)
    outputs: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    gate: Gate = msgspec.field(default_factory=Gate)
    mlgate: str | None = None  # the version of mlgate that wrote it

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


def _inside(path: str) -> bool:
    try:
        valid.relative_path(path, what="the record")
    except DataError:
        return False
    return True


def block(record: Record) -> str:
    """The record as it is written into the annotation: markers around sorted, indented JSON."""
    body = json.dumps(record.to_dict(), indent=2, sort_keys=True)
    return f"{BEGIN}\n{body}\n{END}\n"


def read(message: str, where: str = "a release tag") -> Record | None:
    """The record in an annotation (None for tags mlgate did not make)."""
    start, end = message.find(BEGIN), message.find(END)
    if start < 0 or end < start:
        return None
    body = message[start + len(BEGIN) : end]
    try:
        return msgspec.json.decode(body, type=Record, strict=True)
    except msgspec.ValidationError as exc:
        raise DataError(f"{where}: its release record {_plain(str(exc))}") from None
    except (msgspec.DecodeError, RecursionError):
        raise DataError(f"{where}: its release record is not valid JSON") from None


def _plain(message: str) -> str:
    what, _, at = message.partition(" - at `$")
    field = at.rstrip("`").lstrip(".")
    if what.startswith("'"):  # said by a __post_init__, naming its field
        return f"field {what}"
    if "matching regex" in what:
        what = f"is not a {field.rsplit('.', 1)[-1]} mlgate writes"
    elif what.startswith("Expected `object`") and not field:
        return "must be a JSON object"
    return f"field '{field}' {what}" if field else what
