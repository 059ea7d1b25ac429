"""The deployment target contract (``deploy.targets.base``), held against every kind of target:
what ``deploy.deployments`` relies on, tested on the storage itself. A new kind of target joins
``TARGETS`` and passes the same tests."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from mlgate.deploy import targets
from mlgate.deploy.targets import LocalTarget, S3Target, Target
from mlgate.errors import ConfigError, MlgateError

LEASE = 1.5  # seconds: an S3 lease not renewed for this long is a dead holder's


def open_target(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Target:
    """A target of ``kind``: a directory, or a prefix of a real S3 server's bucket."""
    if kind == "local":
        return LocalTarget(tmp_path / "env")
    return S3Target(request.getfixturevalue("s3"), tmp_path / "work", lease_seconds=LEASE)


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    return open_target(request.param, tmp_path, request)


def test_current_is_absent_then_replaced_whole_and_its_stamp_changes(target: Target) -> None:
    assert target.read_current() is None and target.current_stamp() is None
    with target.lock(1):
        target.write_current(b'{"version": "v1.0.0"}\n')
    first = target.current_stamp()
    assert target.read_current() == b'{"version": "v1.0.0"}\n' and first is not None
    with target.lock(1):
        target.write_current(b'{"version": "v2.0.0", "longer": true}\n')
    assert target.read_current() == b'{"version": "v2.0.0", "longer": true}\n'
    assert target.current_stamp() not in (None, first)


def test_events_come_back_in_order_and_a_cut_one_never_swallows_the_next(target: Target) -> None:
    with target.lock(1):
        target.append_event(b'{"n": 1}')
        target.append_event(b'{"n": 2}')
    if isinstance(target, LocalTarget):  # a crash cut the last line short (a local log only)
        with open(target.path / "deployments.jsonl", "ab") as log:
            log.write(b'{"n": 3, "cut')
    with target.lock(1):
        target.append_event(b'{"n": 4}')
    events = [event for _, event in target.read_events()]
    assert events[:2] == [b'{"n": 1}', b'{"n": 2}'] and events[-1] == b'{"n": 4}'
    assert all(event.startswith(b"{") for event in events)


def test_a_version_is_published_whole_or_not_at_all(target: Target) -> None:
    def half(folder: Path) -> None:
        (folder / "model.pkl").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with target.lock(1), pytest.raises(OSError):
        target.install_version("v1.0.0", half)
    assert not target.has_version("v1.0.0")

    def whole(folder: Path) -> None:
        (folder / "model.pkl").write_bytes(b"model")
        (folder / "model.json").write_text("{}")

    with target.lock(1):
        target.recover()
        target.install_version("v1.0.0", whole)
    assert target.has_version("v1.0.0")
    folder = target.version_folder("v1.0.0")
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.pkl"]
    assert (folder / "model.pkl").read_bytes() == b"model"


def test_recover_clears_what_a_killed_install_left(tmp_path: Path) -> None:
    target = LocalTarget(tmp_path / "env")
    leftover = target.path / "versions" / ".tmp-v1.0.0-abc"
    leftover.mkdir(parents=True)
    (leftover / "model.pkl").write_bytes(b"half")
    assert not target.has_version("v1.0.0")
    target.recover()
    assert not leftover.exists()


def _hold(target: Target, ready: Any) -> None:
    if isinstance(target, S3Target):
        target = S3Target(target.url, target.workdir(), lease_seconds=target.lease_seconds)
    with target.lock(1):
        ready.set()
        os.kill(os.getpid(), 9)  # dies holding the lock


def test_the_lock_is_exclusive_and_a_dead_holders_lock_is_free(target: Target) -> None:
    busy = pytest.raises(MlgateError, match="another deploy or rollback")
    with target.lock(1), busy, target.lock(0.2):
        pass
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    holder = context.Process(target=_hold, args=(target, ready))
    holder.start()
    holder.join(30)
    assert ready.is_set() and holder.exitcode == -9
    # flock dies with its holder; an S3 lease expires once its holder stops renewing it
    with target.lock(LEASE * 4):
        pass


def test_an_s3_switch_that_lost_the_race_fails_and_leaves_the_winners_pointer(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("s3")
    first, second = (S3Target(url, tmp_path / name) for name in ("a", "b"))
    assert first.read_current() is None and second.read_current() is None
    first.write_current(b"first")
    with pytest.raises(MlgateError, match="changed while this deploy ran"):
        second.write_current(b"second")
    assert second.read_current() == b"first"
    second.write_current(b"second")  # read again: the swap's guard is the pointer it saw
    with pytest.raises(MlgateError, match="changed while this deploy ran"):
        first.write_current(b"third")
    assert first.read_current() == b"second"


def test_an_s3_upload_cut_short_is_no_version_and_recover_removes_its_files(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target = S3Target(request.getfixturevalue("s3"), tmp_path / "work", lease_seconds=LEASE)

    def some(folder: Path) -> None:
        (folder / "model.pkl").write_bytes(b"model")

    target.install_version("v1.0.0", some)
    # as a deploy killed between its uploads and its manifest leaves them
    target._call(
        "put_object", Bucket=target.bucket, Key=target._key("versions", "v2.0.0", "a"), Body=b"x"
    )
    assert not target.has_version("v2.0.0") and target.has_version("v1.0.0")
    with target.lock(1):
        target.recover()
    keys = target._list(target._key("versions") + "/")
    assert sorted(k.rsplit("/", 2)[-2] + "/" + k.rsplit("/", 1)[-1] for k in keys) == [
        "v1.0.0/model.pkl",
        "versions/v1.0.0.json",
    ]
    # a local copy that no longer matches the manifest is fetched again
    folder = target.version_folder("v1.0.0")
    (folder / "model.pkl").write_bytes(b"tampered")
    assert (target.version_folder("v1.0.0") / "model.pkl").read_bytes() == b"model"


def test_targets_open_by_scheme_and_an_unknown_scheme_is_a_config_error(tmp_path: Path) -> None:
    local = targets.open_target("deployed/prod", tmp_path, environment="prod")
    assert isinstance(local, LocalTarget) and local.path == tmp_path / "deployed" / "prod"
    with pytest.raises(ConfigError, match=r"target gs://b/m is a URL mlgate cannot deploy to"):
        targets.open_target("gs://b/m", tmp_path, environment="prod")
    opened: list[str] = []

    def open_memory(text: str, root: Path, options: object) -> Target:
        opened.append(text)
        return LocalTarget(root / "memory")

    targets.register("mem", open_memory)
    try:
        assert isinstance(targets.open_target("MEM://x", tmp_path, environment="e"), LocalTarget)
    finally:
        del targets.SCHEMES["mem"]
    assert opened == ["MEM://x"]


def test_a_lease_overwritten_with_garbage_is_let_go_quietly(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Someone (or something) writes over the lease while a deploy holds it: the deploy ends
    without a traceback, and the garbage, which is no lease, is taken over by the next one."""
    target = S3Target(request.getfixturevalue("s3"), tmp_path / "work", lease_seconds=LEASE)
    with target.lock(1):
        target._call("put_object", Bucket=target.bucket, Key=target._key("lease"), Body=b"\x00[")
    with target.lock(1):
        assert target.read_current() is None


@pytest.mark.faults
def test_a_lease_written_to_expire_in_a_year_blocks_one_lease_at_most_and_says_whose(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Issue 31: anyone with the bucket could write a lease expiring in a year, which blocked
    every deploy for a year with a message that named neither holder nor expiry. The store's
    own time of the write bounds it: one lease_seconds after that, it is a dead holder's."""
    import json
    import time

    from mlgate.errors import MlgateError

    target = S3Target(request.getfixturevalue("s3"), tmp_path / "work", lease_seconds=LEASE)
    forged = {"id": "x", "host": "evil\x1bhost", "pid": 1, "expires": time.time() + 365 * 86400}
    target._call(
        "put_object", Bucket=target.bucket, Key=target._key("lease"), Body=json.dumps(forged)
    )
    held_by = r"holds its lease \(evil.host pid 1, until 20"
    with pytest.raises(MlgateError, match=held_by) as held, target.lock(0.1):
        pass
    assert "at the latest" in str(held.value)
    started = time.monotonic()
    with target.lock(LEASE + 3):  # taken over once one lease has passed since it was written
        pass
    assert time.monotonic() - started < LEASE + 3
