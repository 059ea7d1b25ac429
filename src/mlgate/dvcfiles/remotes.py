"""Is the data pushed? Whether a DVC remote holds the objects of a revision's cached outputs,
checked by content hash (what `dvc data status --not-in-remote` answers, without DVC).

DVC 3 keeps an object at ``<remote>/files/md5/<2 hex>/<30 hex>`` (DVC 2 at
``<remote>/<2>/<30>``; both are looked for). A directory output is its ``.dir`` manifest and
every file the manifest lists; the manifest is read from the local cache, else from the remote.
A remote kind is a class with ``exists`` and ``read``, registered by URL scheme: a local path
(or a mounted one) and S3-compatible storage are here; for others the check says it cannot
tell, and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from mlgate import objectstore
from mlgate.dvcfiles.cache import cached_object
from mlgate.dvcfiles.config import RemoteConfig, default_remote
from mlgate.errors import MlgateError

LAYOUTS = ("files/md5/{head}/{tail}", "{head}/{tail}")  # DVC 3, then DVC 2
_WORKERS = 16


class Remote(Protocol):
    def exists(self, key: str) -> bool: ...  # key: a path under the remote's root

    def read(self, key: str) -> bytes | None: ...


class LocalRemote:
    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None


class S3Remote:
    def __init__(self, url: str, options: Mapping[str, str]) -> None:
        bucket, _, prefix = url.split("://", 1)[1].partition("/")
        self.url, self.bucket, self.prefix = url, bucket, prefix.strip("/")
        keys = None
        if options.get("access_key_id") and options.get("secret_access_key"):
            keys = (options["access_key_id"], options["secret_access_key"])
        self.client = objectstore.client(
            what=f"the DVC remote {url}",
            endpoint=options.get("endpointurl"),
            profile=options.get("profile"),
            region=options.get("region"),
            keys=keys,
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, key: str) -> bool:
        try:
            objectstore.call(
                self.client, self.url, "head_object", Bucket=self.bucket, Key=self._key(key)
            )
        except objectstore.Missing:
            return False
        return True

    def read(self, key: str) -> bytes | None:
        try:
            answer = objectstore.call(
                self.client, self.url, "get_object", Bucket=self.bucket, Key=self._key(key)
            )
        except objectstore.Missing:
            return None
        return bytes(answer["Body"].read())


Opener = Callable[[RemoteConfig], Remote]
SCHEMES: dict[str, Opener] = {
    "": lambda config: LocalRemote(Path(config.url)),
    "s3": lambda config: S3Remote(config.url, config.options),
}


class CannotTell(Exception):
    """The remote is of a kind mlgate cannot check; the message says which."""


def open_remote(config: RemoteConfig) -> Remote:
    scheme = config.url.split("://", 1)[0].lower() if "://" in config.url else ""
    opener = SCHEMES.get(scheme)
    if opener is None:
        kinds = ", ".join(f"{s}://" if s else "a path" for s in SCHEMES)
        raise CannotTell(
            f"whether the data is in the DVC remote '{config.name}' ({scheme}://) is not "
            f"checked: mlgate checks {kinds}"
        )
    return opener(config)


def not_pushed(root: Path, remote: Remote, outputs: Mapping[str, str]) -> list[str]:
    """The outputs (path -> md5) some object of which the remote lacks, sorted."""
    from concurrent.futures import ThreadPoolExecutor  # requests in flight at once

    needed: dict[str, set[str]] = {path: {md5} for path, md5 in outputs.items()}
    present: dict[str, bool] = {}
    with ThreadPoolExecutor(_WORKERS) as pool:

        def look_up(hashes: list[str]) -> None:
            present.update(zip(hashes, pool.map(lambda h: _has(remote, h), hashes), strict=True))

        look_up(_hashes(needed))
        for path, md5 in outputs.items():
            if md5.endswith(".dir") and present.get(md5):
                needed[path] |= set(_listed(root, remote, md5))
        look_up([h for h in _hashes(needed) if h not in present])
    return sorted(path for path, hashes in needed.items() if not all(present[h] for h in hashes))


def _hashes(needed: Mapping[str, set[str]]) -> list[str]:
    return sorted({h for hashes in needed.values() for h in hashes})


def _has(remote: Remote, md5: str) -> bool:
    return any(remote.exists(_key(layout, md5)) for layout in LAYOUTS)


def _key(layout: str, md5: str) -> str:
    return layout.format(head=md5[:2], tail=md5[2:])


def _listed(root: Path, remote: Remote, md5: str) -> Iterable[str]:
    """The md5s a directory manifest lists: from the local cache, else from the remote."""
    cached = cached_object(root, md5)
    content = cached.read_bytes() if cached is not None else None
    for layout in LAYOUTS:
        if content is not None:
            break
        content = remote.read(_key(layout, md5))
    try:
        entries: Any = json.loads(content or b"[]")
    except (ValueError, RecursionError):
        raise MlgateError(f"the directory manifest {md5} is not JSON") from None
    if not isinstance(entries, list):
        raise MlgateError(f"the directory manifest {md5} is not a list of files")
    return [str(e["md5"]) for e in entries if isinstance(e, dict) and e.get("md5")]


def check_pushed(
    root: Path, outputs: Mapping[str, str], shared_config: bytes | None = None
) -> tuple[list[str], str | None, str]:
    """(outputs the default remote lacks, a note when it cannot be checked, the remote as
    reports name it). No remote configured: nothing to check. ``shared_config``: the
    committed .dvc/config to read the remote from (the base's, so a change cannot point the
    check elsewhere); None: the one on disk."""
    config = default_remote(root, shared_config)
    if config is None or not outputs:
        return [], None, ""
    shown = f"'{config.name}'"
    try:
        remote = open_remote(config)
    except CannotTell as exc:
        return [], str(exc), shown
    if isinstance(remote, LocalRemote) and not remote.root.is_dir():
        raise MlgateError(
            f"the DVC remote {shown} ({config.url}) is not there: mount it, or fix its url"
        )
    return not_pushed(root, remote, outputs), None, shown
