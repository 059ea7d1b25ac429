"""A target in S3-compatible object storage: ``s3://bucket/prefix``.

Object storage has no rename, no append and no lock, so each guarantee is made another way::

    <prefix>/versions/<version>/<file>    a version's files, uploaded and checked by md5
    <prefix>/versions/<version>.json      its manifest (file -> md5, size), written last with
                                          If-None-Match: *; a version exists when it does
    <prefix>/current                      the pointer, replaced by compare-and-swap (If-Match
                                          on the ETag read under the lease)
    <prefix>/log/<time>-<id>.json         one immutable object per event, listed in key order
    <prefix>/lease                        the lock: created with If-None-Match: *, renewed
                                          while held, taken over (If-Match) once expired

The endpoint and credentials come from the environment (``mlgate.objectstore``).
A version's files are downloaded, checked by md5, into a local folder (``workdir``) to be
loaded: nothing is unpickled from the bucket directly.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlgate import objectstore, valid
from mlgate.deploy.targets.local import ignore_in_git
from mlgate.errors import ConfigError, MlgateError
from mlgate.files import file_md5
from mlgate.policy import EnvironmentOptions

LEASE_SECONDS = 60.0  # a lease not renewed for this long belongs to a dead holder
VERSIONS, CURRENT, LOG, LEASE, MONITORING = "versions", "current", "log", "lease", "monitoring"
MANIFEST_SUFFIX = ".json"
_CHUNK = 8 * 2**20


class S3Target:
    def __init__(self, url: str, workdir: Path, *, lease_seconds: float = LEASE_SECONDS) -> None:
        bucket, _, prefix = url.split("://", 1)[1].partition("/")
        if not bucket:
            raise ConfigError(f"target {url} names no bucket: write s3://BUCKET/PREFIX")
        self.url = url.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._workdir = workdir
        self.lease_seconds = lease_seconds
        self._client: Any = None
        self._current_etag: str | None = None  # of the pointer as last read: the swap's guard
        self._holder: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"S3Target({self.url!r})"

    @property
    def location(self) -> str:
        return self.url

    # --- the lock: a lease object ---------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait: float) -> Iterator[None]:
        deadline = time.monotonic() + wait
        holder = {
            "id": uuid.uuid4().hex,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "seconds": self.lease_seconds,
        }
        while not self._acquire(holder):
            if time.monotonic() >= deadline:
                raise MlgateError(
                    f"another deploy or rollback to {self.url} holds its lease "
                    f"({self._held_by()}); waited {wait:g} s (--wait to wait longer)"
                )
            time.sleep(0.2)
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew, args=(holder, stop), daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            self._release()

    def _acquire(self, holder: dict[str, Any]) -> bool:
        """Create the lease, or take over one whose holder stopped renewing it."""
        key = self._key(LEASE)
        if self._put(key, self._lease_body(holder), if_none_match=True) is not None:
            self._holder = holder
            return True
        found = self._get_written(key)
        if found is None:
            return False  # released just now: try again
        body, etag, written = found
        if time.time() < _expiry(body, written, self.lease_seconds):
            return False
        if self._put(key, self._lease_body(holder), if_match=etag) is None:
            return False  # another deployer took it over first
        self._holder = holder
        return True

    def _held_by(self) -> str:
        """Who holds the lease and until when, as far as its object says (escaped where it
        is printed: anyone with the bucket writes it)."""
        found = self._get_written(self._key(LEASE))
        if found is None:
            return "released since"
        try:
            lease = json.loads(found[0])
            who = f"{str(lease.get('host'))[:60]} pid {str(lease.get('pid'))[:12]}"
        except (ValueError, AttributeError, RecursionError):
            who = "a holder whose lease is not mlgate's"
        expiry = _expiry(found[0], found[2], self.lease_seconds)
        until = datetime.fromtimestamp(expiry, timezone.utc)
        return f"{who}, until {until.isoformat(timespec='seconds')} at the latest"

    def _lease_body(self, holder: dict[str, Any]) -> bytes:
        return json.dumps({**holder, "expires": time.time() + self.lease_seconds}).encode()

    def _renew(self, holder: dict[str, Any], stop: threading.Event) -> None:
        while not stop.wait(self.lease_seconds / 3):
            with contextlib.suppress(MlgateError):
                found = self._get(self._key(LEASE))
                if found is None or _lease_id(found[0]) != holder["id"]:
                    return  # lost: the pointer's compare-and-swap still guards the switch
                self._put(self._key(LEASE), self._lease_body(holder), if_match=found[1])

    def _release(self) -> None:
        holder, self._holder = self._holder, None
        with contextlib.suppress(MlgateError):
            found = self._get(self._key(LEASE))
            if found is not None and holder and _lease_id(found[0]) == holder["id"]:
                self._call("delete_object", Bucket=self.bucket, Key=self._key(LEASE))

    # --- the pointer ------------------------------------------------------------------------

    def read_current(self) -> bytes | None:
        found = self._get(self._key(CURRENT))
        if found is None:
            self._current_etag = None
            return None
        body, self._current_etag = found
        return body

    def current_stamp(self) -> object | None:
        try:
            return self._call("head_object", Bucket=self.bucket, Key=self._key(CURRENT))["ETag"]
        except objectstore.Missing:
            return None

    def write_current(self, data: bytes) -> None:
        """Compare-and-swap on the pointer as it was last read: a deploy that lost its lease
        and raced another one fails here rather than overwrite the other's switch."""
        key = self._key(CURRENT)
        if self._current_etag is None:
            etag = self._put(key, data, if_none_match=True)
        else:
            etag = self._put(key, data, if_match=self._current_etag)
        if etag is None:
            raise MlgateError(
                f"{self.url}/current changed while this deploy ran (another deploy switched "
                "it): nothing was switched"
            )
        self._current_etag = etag

    # --- the log: one object per event ------------------------------------------------------

    def append_event(self, event: bytes) -> None:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.json"
        if self._put(self._key(LOG, name), event, if_none_match=True) is None:
            raise MlgateError(f"{self.url}: log event {name} exists already")

    def read_events(self) -> list[tuple[str, bytes]]:
        """Every event, in order: one GET per event object, 16 at a time."""
        from concurrent.futures import ThreadPoolExecutor

        keys = sorted(self._list(self._key(LOG) + "/"))
        with ThreadPoolExecutor(16) as pool:
            found = list(pool.map(self._get, keys))
        return [
            (f"{self.url}/{key[len(self.prefix) :].lstrip('/')}", event[0])
            for key, event in zip(keys, found, strict=True)
            if event is not None
        ]

    # --- versions ---------------------------------------------------------------------------

    def has_version(self, version: str) -> bool:
        valid.deployed_version(version, what=self.location)
        return self._manifest(version) is not None

    def install_version(self, version: str, fill: Callable[[Path], None]) -> None:
        """``fill`` a local staging folder; upload each file, checking the md5 the store
        computed; then write the manifest, which makes the version exist."""
        valid.deployed_version(version, what=self.location)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=self._staging_root()))
        try:
            fill(staging)
            manifest = {}
            for path in sorted(p for p in staging.iterdir() if p.is_file()):
                md5 = file_md5(path)
                key = self._key(VERSIONS, version, path.name)
                with open(path, "rb") as body:
                    answer = self._call("put_object", Bucket=self.bucket, Key=key, Body=body)
                if answer.get("ETag", "").strip('"') != md5:
                    raise MlgateError(
                        f"{self.url}: {version}/{path.name} arrived with another checksum "
                        f"({answer.get('ETag')} instead of {md5}): nothing was switched"
                    )
                manifest[path.name] = {"md5": md5, "size": path.stat().st_size}
            document = json.dumps({"version": version, "files": manifest}, indent=2).encode()
            if self._put(self._manifest_key(version), document, if_none_match=True) is None:
                raise MlgateError(f"{self.url}: version {version} was published by another deploy")
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def version_folder(self, version: str) -> Path:
        """The version's files on this machine, downloaded once and checked against the
        manifest's md5s (a local copy that no longer matches is downloaded again)."""
        valid.deployed_version(version, what=self.location)
        manifest = self._manifest(version)
        if manifest is None:
            raise MlgateError(f"{self.url} has no version {version}")
        folder = self.workdir() / VERSIONS / version
        files = manifest.get("files", {})

        def whole() -> bool:
            return folder.is_dir() and all(
                (folder / name).is_file() and file_md5(folder / name) == entry.get("md5")
                for name, entry in files.items()
            )

        if whole():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=folder.parent))
        try:
            for name, entry in files.items():
                if "/" in name or name in ("", ".", ".."):
                    raise MlgateError(f"{self.url}: version {version} names a file {name!r}")
                answer = self._call(
                    "get_object", Bucket=self.bucket, Key=self._key(VERSIONS, version, name)
                )
                with open(staging / name, "wb") as out:
                    shutil.copyfileobj(answer["Body"], out, _CHUNK)
                if file_md5(staging / name) != entry.get("md5"):
                    raise MlgateError(
                        f"{self.url}: {version}/{name} does not match its manifest's md5"
                    )
            staging.chmod(0o755)
            if folder.exists() and not whole():  # a copy edited or cut short: replaced
                shutil.rmtree(folder, ignore_errors=True)
            try:
                os.rename(staging, folder)
            except OSError:  # another process on this machine placed it first
                shutil.rmtree(staging, ignore_errors=True)
                if not whole():
                    raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return folder

    def recover(self) -> None:
        """Delete the files of uploads a crash interrupted (under the lease: no deploy is
        uploading now); local leftovers too."""
        published = set()
        orphans = []
        for key in self._list(self._key(VERSIONS) + "/"):
            rest = key[len(self._key(VERSIONS)) + 1 :]
            if "/" not in rest and rest.endswith(MANIFEST_SUFFIX):
                published.add(rest[: -len(MANIFEST_SUFFIX)])
            elif "/" in rest:
                orphans.append((rest.split("/", 1)[0], key))
        for version, key in orphans:
            if version not in published:
                self._call("delete_object", Bucket=self.bucket, Key=key)
        for leftover in self._staging_root().glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    # --- replicas' request logs ---------------------------------------------------------

    def ship_segment(self, replica: str, name: str, data: bytes) -> None:
        """Upload a closed segment once (a second upload of the same name is a no-op)."""
        self._put(self._key(MONITORING, replica, name), data, if_none_match=True)

    def shipped_segments(self, since: str | None) -> list[str]:
        """Every replica's segments, oldest first; with ``since`` (a log timestamp), those
        closed from then on (a segment's name is its closing time)."""
        from mlgate.artifacts import requestlog

        keys = [k for k in self._list(self._key(MONITORING) + "/") if k.endswith(".parquet")]
        found = [(requestlog.closed_at(Path(k)), k) for k in keys]
        return [k for closed, k in sorted(found) if since is None or closed >= since]

    def read_segment(self, key: str) -> bytes:
        found = self._get(key)
        if found is None:
            raise MlgateError(f"{self.url}: the log segment {key} is gone")
        return found[0]

    def workdir(self) -> Path:
        """This machine's folder for the target, inside the repository's ``.mlgate/`` (which
        git is told to ignore)."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        ignore_in_git(self._workdir)
        return self._workdir

    # --- S3 calls ---------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _manifest_key(self, version: str) -> str:
        return self._key(VERSIONS, version + MANIFEST_SUFFIX)

    def _manifest(self, version: str) -> dict[str, Any] | None:
        found = self._get(self._manifest_key(version))
        if found is None:
            return None
        try:
            manifest = json.loads(found[0])
        except ValueError:
            raise MlgateError(f"{self.url}: the manifest of {version} is not JSON") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise MlgateError(f"{self.url}: the manifest of {version} is malformed")
        return manifest

    def _staging_root(self) -> Path:
        folder = self.workdir() / "staging"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _get(self, key: str) -> tuple[bytes, str] | None:
        found = self._get_written(key)
        return None if found is None else found[:2]

    def _get_written(self, key: str) -> tuple[bytes, str, float] | None:
        """An object's bytes, ETag, and when the store says it was last written (its clock,
        which a writer of the object cannot set)."""
        try:
            answer = self._call("get_object", Bucket=self.bucket, Key=key)
        except objectstore.Missing:
            return None
        written = answer.get("LastModified")
        when = written.timestamp() if isinstance(written, datetime) else time.time()
        return answer["Body"].read(), answer["ETag"], when

    def _put(
        self, key: str, body: bytes, *, if_none_match: bool = False, if_match: str | None = None
    ) -> str | None:
        """The new ETag, or None when the condition failed (412, or 409 for a concurrent
        conditional write)."""
        conditions: dict[str, str] = {}
        if if_none_match:
            conditions["IfNoneMatch"] = "*"
        if if_match is not None:
            conditions["IfMatch"] = if_match
        try:
            answer = self._call("put_object", Bucket=self.bucket, Key=key, Body=body, **conditions)
        except objectstore.Conflict:
            return None
        return str(answer["ETag"])

    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            answer = self._call("list_objects_v2", Bucket=self.bucket, Prefix=prefix, **token)
            keys += [item["Key"] for item in answer.get("Contents", [])]
            if not answer.get("IsTruncated"):
                return keys
            token = {"ContinuationToken": answer["NextContinuationToken"]}

    def _call(self, operation: str, **arguments: Any) -> Any:
        if self._client is None:
            self._client = objectstore.client(what=f"target {self.url}")
        return objectstore.call(self._client, self.url, operation, **arguments)


def _expiry(body: bytes, written: float, lease_seconds: float) -> float:
    """When a lease object expires: what it says, but never later than ``lease_seconds`` after
    the store last wrote it (a live holder renews it every third of that), so a lease written
    to expire in a year blocks deploys for one lease at most; 0 for an object that is not a
    lease mlgate wrote (expired)."""
    try:
        expires = float(json.loads(body)["expires"])
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError):
        return 0.0
    if not math.isfinite(expires):
        return 0.0
    return min(expires, written + lease_seconds)


def _lease_id(body: bytes) -> str | None:
    """Whose lease this is; None for an object that is no lease mlgate wrote."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document.get("id") if isinstance(document, dict) else None


def open_s3(text: str, root: Path, options: EnvironmentOptions) -> S3Target:
    """``s3://bucket/prefix``; its local files (downloaded versions, the request log) under
    ``.mlgate/targets/`` in the repository."""
    bucket, _, prefix = text.split("://", 1)[1].partition("/")
    local = root / ".mlgate" / "targets" / "s3" / bucket / prefix.strip("/")
    lease = options.lease_seconds
    return S3Target(text, local, lease_seconds=LEASE_SECONDS if lease is None else lease)
