"""The deployment record: one line of an environment's log, and ``current`` (the last successful
one, with the canary beside it). Deploy writes it; serve, monitor and the registry's history
read it.

The record is declared once, as a msgspec ``Struct``: its field types and the grammar of every
field that becomes a folder's name, a key or what replicas serve are the schema, checked by the
decoder. Anyone who can write the bucket writes ``current`` and the log, and a version
``/victim`` would have every replica delete and write that directory; the decoder refuses it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from mlgate.names import DEPLOYED_VERSION_RE, NAME_RE

Action = Literal["deploy", "rollback", "canary", "promote", "remove-canary"]
DEPLOY: Action = "deploy"
ROLLBACK: Action = "rollback"
CANARY: Action = "canary"
PROMOTE: Action = "promote"
REMOVE_CANARY: Action = "remove-canary"
SERVED_ACTIONS: tuple[Action, ...] = (DEPLOY, ROLLBACK, PROMOTE)  # what leaves a version serving
Outcome = Literal["deployed", "failed"]
Runtime = Literal["pickle", "onnx"]
# what deploy is asked for: auto is ONNX when the model compiles and agrees with its pickle
RuntimeChoice = Literal["auto", "onnx", "pickle"]
PICKLE: Runtime = "pickle"
ONNX: Runtime = "onnx"
AUTO: RuntimeChoice = "auto"

Version = Annotated[str, msgspec.Meta(pattern=DEPLOYED_VERSION_RE.pattern)]
Name = Annotated[str, msgspec.Meta(pattern=NAME_RE.pattern)]
Md5 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}\Z")]
CommitId = Annotated[str, msgspec.Meta(pattern=r"^(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")]
# one file's name: no folder, not "." or "..", no NUL or line break
FileName = Annotated[str, msgspec.Meta(pattern=r"^(?!\.\.?\Z)[^/\\\x00\n\r]+\Z")]
Percent = Annotated[float, msgspec.Meta(gt=0, le=100)]


class Deployment(msgspec.Struct, frozen=True):
    """One line of the log; ``current`` holds the last successful one."""

    id: str
    time: str
    environment: Name
    action: Action
    outcome: Outcome
    artifact: Name
    version: Version
    md5: Md5
    commit: CommitId | None
    model_file: FileName  # the file's name inside versions/<version>/
    who: str
    monitoring: bool
    previous: Version | None  # the version served before
    error: str | None = None
    smoke_rows: int = 0  # rows of the input example predicted before switching
    runtime: Runtime = PICKLE  # what serves it: the pickle, or model.onnx
    onnx_md5: Md5 | None = None
    runtime_note: str | None = None  # the ONNX parity checked, or why the pickle serves
    # A canary: the share of requests (by a hash of their id) it answers, or, shadow, gets a
    # copy of without answering. None: not a canary.
    percent: Percent | None = None
    shadow: bool = False
    note: str | None = None  # why a canary was promoted or removed (its verdict)
    # the card's columns the model cannot predict without (modelfile.refusing_missing): a
    # request leaving one of them missing is a 400 naming it
    refusing_missing: tuple[str, ...] = ()
    # the card's text columns where the model refuses a category training did not have
    # (modelfile.refusing_unknown): the server takes only the profile's categories there
    refusing_unknown: tuple[str, ...] = ()
    canary: Deployment | None = None  # in ``current`` only: the canary beside this version

    def __post_init__(self) -> None:
        if self.runtime == ONNX and self.onnx_md5 is None:
            raise ValueError("'onnx_md5' is missing for the onnx runtime")
        if self.canary is not None and (
            self.canary.canary is not None or self.canary.percent is None
        ):
            raise ValueError("'canary' is not one canary's deployment record")

    def replace(self, **changes: Any) -> Deployment:
        return msgspec.structs.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


def decode(data: bytes | str) -> Deployment:
    """A record read back from the log or ``current``; ValueError naming the field for
    anything that is not JSON of this shape."""
    try:
        return msgspec.json.decode(data, type=Deployment, strict=True)
    except msgspec.ValidationError as exc:
        raise ValueError(_plain(str(exc))) from None


def _plain(message: str) -> str:
    """msgspec's ``Expected `str` matching regex '...' - at `$.version``` as one short line:
    ``'version' is not a version mlgate writes``."""
    what, _, where = message.partition(" - at `$")
    field = where.rstrip("`").lstrip(".") or "the record"
    if "matching regex" in what:
        return f"'{field}' is not a {field.rsplit('.', 1)[-1]} mlgate writes"
    return f"'{field}': {what}" if where else what


def encode(record: Deployment, *, indent: bool = False) -> bytes:
    """The record as JSON: one line for the log, indented for ``current``."""
    data = msgspec.json.encode(record)
    return msgspec.json.format(data, indent=2) + b"\n" if indent else data
