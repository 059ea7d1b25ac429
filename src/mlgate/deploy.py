"""Deployments: a verified model version copied into an environment's target directory and
switched to atomically, with an append-only log, and rollback.

A target directory holds::

    versions/<version>/model file, its card (model.json), the training data's reference profile
        (profile.json) when the pipeline wrote one, deployed.json (what it is)
    current              JSON: the deployment being served; replaced by a rename, never edited
    deployments.jsonl    one line per deploy or rollback, appended
    .lock                locked (flock) while a deploy or rollback changes the target

The model's md5 is checked against the release record (or dvc.lock) before it is unpickled: a
pickle from an unverified source is never loaded. Any failure leaves ``current`` as it was.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlgate import defaults, dvcfiles, escape, git
from mlgate.errors import ConfigError, MlgateError, Refused, first_line
from mlgate.files import file_md5
from mlgate.policy import Policy
from mlgate.registry import tags as registry
from mlgate.registry.lifecycle import parse_release_ref
from mlgate.registry.release import declared_artifact, read_record
from mlgate.serve import payload

LOCAL = defaults.LOCAL_ENVIRONMENT
DEFAULT_TARGETS = ".mlgate/deployments"
CURRENT, LOG, LOCK, VERSIONS = "current", "deployments.jsonl", ".lock", "versions"
DEPLOYED_FILE = "deployed.json"
CARD_FILE = "model.json"
PROFILE_FILE = "profile.json"  # the training data's reference profile, for `mlgate monitor`
PROFILE_SUFFIX = ".profile.json"  # next to the model in the repository: models/model.profile.json
DEFAULT_WAIT = defaults.DEPLOY_WAIT_SECONDS
_STAGE_REF = re.compile(r"^(?P<artifact>[^#@]+)#(?P<stage>[^#!]+)$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Environment:
    name: str
    target: Path
    options: Mapping[str, Any] = field(default_factory=dict)  # as the policy gives them


@dataclass(frozen=True)
class Model:
    """What ``--model`` names, resolved to a file whose md5 is known before it is read."""

    ref: str
    artifact: str
    version: str  # vX.Y.Z, or "md5-<first 12>" for a file that no release names
    commit: str | None  # None: the workspace
    path: str  # the model file's path in the repository
    md5: str


@dataclass(frozen=True)
class Deployment:
    """One line of the log; ``current`` holds the last successful one."""

    id: str
    time: str
    environment: str
    action: str  # deploy or rollback
    outcome: str  # deployed or failed
    artifact: str
    version: str
    md5: str
    commit: str | None
    model_file: str  # the file's name inside versions/<version>/
    who: str
    monitoring: bool
    previous: str | None  # the version served before
    error: str | None = None
    smoke_rows: int = 0  # rows of the input example predicted before switching


def environment(root: Path, policy: Policy, name: str) -> Environment:
    """The policy's environment ``name``. ``local``, and any name while the policy declares no
    environments (as promotions allow), deploy to ``.mlgate/deployments/<name>``."""
    registry.check_name("environment", name)
    declared = policy.environments.get(name)
    if declared is None and name != LOCAL and policy.environments:
        known = ", ".join([LOCAL, *policy.environments])
        raise ConfigError(
            f"unknown environment '{name}': declare [tool.mlgate.environments.{name}] with a "
            f"target directory (environments: {known})"
        )
    target = str((declared or {}).get("target") or f"{DEFAULT_TARGETS}/{name}")
    if "://" in target:
        raise ConfigError(
            f"environment '{name}': target {target} is a URL; deployments go to a local or "
            "mounted directory for now"
        )
    return Environment(name, (root / target).resolve(), declared or {})


def known_environments(root: Path, policy: Policy) -> list[Environment]:
    """``local``, the policy's environments, and any other that was deployed to by name."""
    names = [LOCAL, *policy.environments]
    if not policy.environments and (root / DEFAULT_TARGETS).is_dir():
        names += sorted(p.name for p in (root / DEFAULT_TARGETS).iterdir() if p.is_dir())
    return [environment(root, policy, name) for name in dict.fromkeys(names)]


def resolve(root: Path, ref: str, cwd: Path | None = None) -> Model:
    """``NAME@vX.Y.Z``, ``NAME#ENV#N``, ``NAME#ENV`` or a model file's path."""
    reg = registry.read_registry(root)
    tag = registry.parse_tag_name(ref)
    stage_ref = _STAGE_REF.match(ref)
    if tag is not None and tag.action == registry.ASSIGN and registry.tag_exists(root, ref):
        commit = git.resolve_commit(f"refs/tags/{ref}", root)
        version = reg.artifact(tag.artifact).by_commit.get(commit)
        if version is None:
            raise Refused(f"{ref} points at {commit[:8]}, which no active release of "
                          f"{tag.artifact} names")  # fmt: skip
        return _release(root, reg, ref, tag.artifact, version)
    if stage_ref is not None:  # NAME#ENV: the version there now
        artifact, stage = stage_ref["artifact"], stage_ref["stage"]
        version = reg.artifact(artifact).stages().get(stage)
        if version is None:
            raise Refused(f"no version of {artifact} is in {stage}")
        return _release(root, reg, ref, artifact, version)
    if tag is not None and tag.action == registry.ASSIGN:
        raise ConfigError(f"tag '{ref}' does not exist in this repository (fetch tags first?)")
    if "@" in ref and not Path(cwd or root, ref).exists():
        artifact, version = parse_release_ref(ref)
        return _release(root, reg, ref, artifact, version)
    return _workspace_file(root, reg, ref, cwd or root)


def deploy(
    root: Path, model: Model, env: Environment, monitoring: bool,
    wait: float = DEFAULT_WAIT, who: str | None = None,
) -> Deployment:  # fmt: skip
    """Fetch and verify the model, smoke-test it, copy it into ``versions/``, switch
    ``current``. On any failure ``current`` is untouched and the failure is logged."""
    with _locked(env.target, wait):
        _recover(env)
        previous = read_current(env)
        record = Deployment(
            uuid.uuid4().hex, _now(), env.name, "deploy", "deployed", model.artifact,
            model.version, model.md5, model.commit, Path(model.path).name, who or _who(),
            monitoring, previous.version if previous else None,
        )  # fmt: skip
        return _switch_after_checks(env, record, previous,
                                    lambda: _install(root, model, env, record))  # fmt: skip


def rollback(root: Path, env: Environment, to: str | None = None, wait: float = DEFAULT_WAIT,
             who: str | None = None) -> Deployment:  # fmt: skip
    """Switch back to the previous successful version (or ``to``), verified and smoke-tested
    again from its folder in ``versions/``."""
    with _locked(env.target, wait):
        _recover(env)
        current = read_current(env)
        if current is None:
            raise Refused(f"nothing is deployed in {env.name}: nothing to roll back")
        target = _rollback_target(env, current, to)
        version_dir = env.target / VERSIONS / target.version
        record = _replace(target, id=uuid.uuid4().hex, time=_now(), action="rollback",
                          outcome="deployed", who=who or _who(), previous=current.version,
                          error=None)  # fmt: skip

        def verified() -> Path:
            verify(version_dir / target.model_file, target.md5, f"{env.name} {target.version}")
            return version_dir

        return _switch_after_checks(env, record, current, verified)


def _switch_after_checks(env: Environment, record: Deployment, previous: Deployment | None,
                         prepare: Callable[[], Path]) -> Deployment:  # fmt: skip
    """``prepare`` the version's folder (verified), smoke-test it, then switch to it; on any
    failure log the attempt and leave ``current`` alone."""
    try:
        version_dir = prepare()
        card = read_card(version_dir / CARD_FILE)
        if record.monitoring and not payload.features_of(card):
            raise Refused(
                f"monitoring logs each request's columns, and {NO_CARD.format(card=CARD_FILE)}"
            )
        model = load_model(version_dir / record.model_file)
        rows = smoke_test(model, card)
        done = _replace(record, smoke_rows=rows)
        _write_current(env, done)
    except (MlgateError, OSError) as exc:  # OSError: a full disk, a read-only target
        reason = str(exc) if isinstance(exc, MlgateError) else _disk_problem(exc, env)
        unlogged = _log_failure(env, _replace(record, outcome="failed", error=reason))
        raise Refused(f"{reason}; {_still(previous, env)}{unlogged}") from None
    # Switched. A log line that cannot be written now (the disk full) is written by the next
    # deploy or rollback, which logs whatever `current` names that the log lacks.
    with contextlib.suppress(OSError):
        _append(env, done)
    return done


def _disk_problem(exc: OSError, env: Environment) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc} in {env.target}{where}; nothing was switched"


def _log_failure(env: Environment, record: Deployment) -> str:
    """Log a failed attempt (its half-copied folder is gone by now, so there is room again as
    a rule); what to add to the error when even that cannot be written."""
    try:
        _append(env, record)
    except OSError as exc:
        return f" (the attempt could not be logged: {exc.strerror or exc})"
    return ""


def read_current(env: Environment) -> Deployment | None:
    path = env.target / CURRENT
    try:
        return _deployment(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise MlgateError(f"{path} is unreadable ({exc}): restore it from the log") from None


def read_log(env: Environment, *, on_skipped: Callable[[str], None] | None = None) -> list[Deployment]:  # fmt: skip
    """Every deployment record in the log. A line that is not one (cut short by a crash, or
    edited by hand into JSON of another shape) is skipped, and ``on_skipped`` told why: an
    environment is never blocked by its log."""
    path = env.target / LOG
    try:
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise MlgateError(f"cannot read {path}: {exc.strerror or exc}") from None
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(_deployment(json.loads(line)))
        except (ValueError, TypeError, RecursionError) as exc:
            if on_skipped is not None:
                on_skipped(
                    f"{path} line {number} is not a deployment record ({_why(exc)}): skipped"
                )
    return entries


def _why(exc: BaseException) -> str:
    return first_line(exc)[:120]


# How a pickle (protocol 2 and up) or a joblib dump (plain, or zlib, gzip, bz2, xz, lzma or lz4
# compressed) begins. A file that begins otherwise is not a model and is never unpickled.
_MODEL_HEADERS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"\x78\x01", b"\x78\x5e",
                  b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00",
                  b"\x04\x22\x4d\x18", b"ZF")  # fmt: skip


def check_model_file(model_file: Path, shown: str | None = None) -> None:
    """Refuse a file that is no pickle or joblib dump (a CSV, a JSON file), before anything
    unpickles it."""
    try:
        with open(model_file, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise MlgateError(f"cannot read {shown or model_file}: {exc.strerror or exc}") from None
    if not head.startswith(_MODEL_HEADERS):
        raise Refused(f"{shown or model_file} is not a model file (it is no pickle or joblib "
                      "dump): only model artifacts are loaded")  # fmt: skip


def load_model(model_file: Path) -> Any:
    """Unpickle a model file; call only after its md5 was verified."""
    check_model_file(model_file)
    try:
        import joblib

        return joblib.load(model_file)
    except Exception as exc:  # an unpickling error can be anything the pickle raises
        raise MlgateError(f"the model does not load: {type(exc).__name__}: {exc}") from None


class ArrayInput:
    """A model fitted on a bare matrix (no column names), given the card's columns in their
    order as an array: a frame would only earn scikit-learn's feature-name warning."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, frame: Any) -> Any:
        return self.model.predict(frame.to_numpy())

    def __getattr__(self, name: str) -> Any:  # classes_, n_jobs...: the model's own
        return getattr(self.model, name)


def servable(model: Any, card: dict[str, Any]) -> Any:
    """The model as the server calls it: with a frame, or with an array when the card says its
    input is one (`mlgate describe` of a model fitted on a matrix)."""
    return ArrayInput(model) if card.get("input") == "array" else model


NO_CARD = ("the model has no card naming its input columns ({card} beside the model): write one "
           "with `mlgate describe MODEL --data FILE`, commit it and deploy again")  # fmt: skip


def smoke_test(model: Any, card: dict[str, Any]) -> int:
    """Predict the card's input example; the number of rows predicted (0: the card has none)."""
    example = card.get("input_example")
    if not example:
        return 0
    import pandas as pd

    features = [f["name"] for f in card.get("features", []) if isinstance(f, dict)]
    try:
        frame = pd.DataFrame(example)
        predictions = servable(model, card).predict(frame[features] if features else frame)
    except Exception as exc:
        raise MlgateError(
            f"the model failed its smoke test on the card's input example: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if len(predictions) != len(frame):
        raise MlgateError(
            f"the model's smoke test returned {len(predictions)} predictions for {len(frame)} rows"
        )
    return len(frame)


def read_card(card_file: Path) -> dict[str, Any]:
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def verify(path: Path, md5: str, what: str) -> None:
    """Refuse a file whose md5 is not the recorded one (before anything unpickles it)."""
    if not path.is_file():
        raise MlgateError(f"{what}: {path} is missing")
    actual = file_md5(path)
    if actual != md5:
        raise Refused(f"{what}: {path} has md5 {actual}, not the recorded {md5}: it was changed "
                      "after deployment, and was not loaded")  # fmt: skip


def _release(root: Path, reg: registry.Registry, ref: str, artifact: str, version: str) -> Model:
    state = reg.artifact(artifact)
    event = state.registrations.get(version)
    if event is None or version not in state.active:
        known = ", ".join(e.name.version or "" for e in state.versions()[:5]) or "none"
        raise Refused(f"{artifact}@{version} is not an active release (versions: {known})")
    model = (read_record(event.message, event.tag) or {}).get("model") or {}
    path, md5 = model.get("path"), model.get("md5")
    released = git.Revision(root, event.commit, ref)
    if not path or not md5:  # a release that another tool tagged: dvc.lock at its commit
        path, md5 = dvcfiles.artifact_file(released, artifact)
    if not path or not md5:
        raise Refused(f"{ref}: neither its release record nor dvc.lock at {event.commit[:8]} "
                      "gives the model file's md5, so it cannot be verified")  # fmt: skip
    # Anyone who can push a tag writes its record: the path must be an output dvc.lock records
    # at the release's commit (so inside the repository) before anything is copied from it.
    if str(path) not in dvcfiles.lock_outputs(dvcfiles.read_lock(released)):
        raise Refused(f"{ref}: its release record names {escape.one_line(str(path))!r}, which is "
                      f"not an output in dvc.lock at {event.commit[:8]}: nothing was copied")  # fmt: skip
    return Model(ref, artifact, version, event.commit, str(path), str(md5))


def _workspace_file(root: Path, reg: registry.Registry, ref: str, cwd: Path) -> Model:
    # The path as the workspace has it: a link into DVC's cache (cache.type symlink) is not
    # followed, since dvc.lock records the workspace path.
    file = Path(os.path.abspath(cwd / ref))
    if not file.is_file():
        raise ConfigError(f"'{ref}' is neither a release (NAME@vX.Y.Z), a promotion "
                          "(NAME#ENV#N, NAME#ENV) nor a model file")  # fmt: skip
    try:
        path = file.relative_to(root).as_posix()
    except ValueError:
        raise Refused(f"{ref} is outside the repository: mlgate deploys only models whose md5 "
                      "dvc.lock or a release records") from None  # fmt: skip
    workspace = git.revision(git.WORKSPACE, root)
    outputs = dvcfiles.lock_outputs(dvcfiles.read_lock(workspace))
    md5 = (outputs.get(path) or {}).get("md5")
    if not md5:
        raise Refused(f"{path} is not an output in dvc.lock: mlgate loads only models whose md5 "
                      "dvc.lock or a release records (`dvc repro` it first)")  # fmt: skip
    check_model_file(file, path)  # before it is copied anywhere
    artifacts = dvcfiles.read_declarations(workspace).artifacts
    named = [n for n, a in artifacts.items() if isinstance(a, dict) and a.get("path") == path]
    artifact = named[0] if named else (declared_artifact(root) or Path(path).stem)
    released = [e.name.version for e in reg.artifact(artifact).versions()
                if ((read_record(e.message, e.tag) or {}).get("model") or {}).get("md5") == md5]  # fmt: skip
    version = released[0] if released and released[0] else f"md5-{md5[:12]}"
    return Model(ref, artifact, version, None, path, md5)


def _install(root: Path, model: Model, env: Environment, record: Deployment) -> Path:
    """``versions/<version>/`` with the verified model, its card and deployed.json; built in a
    temporary folder and renamed into place, or kept when it already holds the same model."""
    versions = env.target / VERSIONS
    final = versions / model.version
    if final.is_dir():
        verify(final / record.model_file, model.md5, f"{env.name} {model.version}")
        return final
    versions.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{model.version}-", dir=versions))
    try:
        _fetch(root, model, staging / record.model_file)
        (staging / CARD_FILE).write_bytes(_companion(root, model, ".json") or b"{}")
        profile = _companion(root, model, PROFILE_SUFFIX)
        if profile is not None:
            (staging / PROFILE_FILE).write_bytes(profile)
        description = {k: v for k, v in asdict(record).items()
                       if k in ("artifact", "version", "md5", "commit", "model_file")}  # fmt: skip
        (staging / DEPLOYED_FILE).write_text(json.dumps(description, indent=2) + "\n")
        _fsync_tree(staging)
        staging.chmod(0o755)  # mkdtemp makes it private; a server may run as another user
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _fetch(root: Path, model: Model, destination: Path) -> None:
    """Copy the model's bytes from the first place that has the right ones (the workspace,
    DVC's cache, git, DVC's remote), hashing them as they are copied."""
    where = model.path if model.ref == model.path else f"{model.ref} ({model.path})"
    workspace = root / model.path
    for source in _local_sources(root, model):
        actual = _copy_hashed(source, destination)
        if actual == model.md5:
            return
        if source != workspace or model.commit is None:
            raise _not_recorded(where, actual, model.md5)
        # A release's file edited in the workspace: look for the released bytes elsewhere.
    content = (
        git.read_blobs(model.commit, [model.path], root).get(model.path) if model.commit else None
    )
    if content is None and model.commit:
        from mlgate import dvc

        content = dvc.read(git.Revision(root, model.commit, model.ref), model.path)
    if content is None:
        raise MlgateError(f"{where}: the model file is in neither the workspace, DVC's cache, "
                          "git nor a DVC remote (`dvc pull` or `dvc push` it)")  # fmt: skip
    actual = hashlib.md5(content).hexdigest()
    if actual != model.md5:
        raise _not_recorded(where, actual, model.md5)
    destination.write_bytes(content)


def _local_sources(root: Path, model: Model) -> list[Path]:
    """The workspace copy, then DVC's cache in its 3.x and 2.x layouts, where they exist."""
    cached = dvcfiles.cached_object(root, model.md5)
    return [c for c in (root / model.path, cached) if c is not None and c.is_file()]


def _copy_hashed(source: Path, destination: Path) -> str:
    """Copy ``source`` over ``destination``; the md5 of the bytes copied."""
    digest = hashlib.md5()
    with open(source, "rb") as reader, open(destination, "wb") as writer:
        for chunk in iter(lambda: reader.read(_CHUNK), b""):
            digest.update(chunk)
            writer.write(chunk)
    return digest.hexdigest()


def _not_recorded(where: str, actual: str, md5: str) -> Refused:
    return Refused(f"{where}: md5 {actual} is not the recorded {md5}: the file is not the one "
                   "released or reproduced, and was not loaded")  # fmt: skip


def _companion(root: Path, model: Model, suffix: str) -> bytes | None:
    """A file the pipeline writes next to the model (``models/model.json`` is the card), from
    the release's commit or, for a model file, the workspace."""
    path = str(Path(model.path).with_suffix("")) + suffix
    if model.commit:
        return git.read_blobs(model.commit, [path], root).get(path)
    return (root / path).read_bytes() if (root / path).is_file() else None


def _write_current(env: Environment, done: Deployment) -> None:
    """Point ``current`` at ``done``: write a sibling, rename it over; all or nothing."""
    text = json.dumps(asdict(done), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".current.", dir=env.target)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, env.target / CURRENT)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(env.target)


def _recover(env: Environment) -> None:
    """After a crash: log the deployment ``current`` names if the log missed it, and remove
    half-copied version folders."""
    current = read_current(env)
    if current is not None and current.id not in {d.id for d in read_log(env)}:
        _append(env, current)
    for leftover in (env.target / VERSIONS).glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _rollback_target(env: Environment, current: Deployment, to: str | None) -> Deployment:
    succeeded = [d for d in read_log(env) if d.outcome == "deployed"]
    if to is not None:
        matching = [d for d in succeeded if d.version == to]
        if not matching:
            known = ", ".join(dict.fromkeys(d.version for d in reversed(succeeded))) or "none"
            raise Refused(f"{to} was never deployed to {env.name} (deployed: {known})")
        if to == current.version:
            raise Refused(f"{to} is already the version in {env.name}")
        return matching[-1]
    position = max(
        (i for i, d in enumerate(succeeded) if d.id == current.id), default=len(succeeded)
    )
    for earlier in reversed(succeeded[:position]):
        if earlier.version != current.version:
            return earlier
    raise Refused(f"{env.name} has had no other version than {current.version}: nothing to "
                  "roll back to")  # fmt: skip


@contextlib.contextmanager
def _locked(target: Path, wait: float) -> Iterator[None]:
    """One deploy or rollback per target at a time. flock is released by the kernel when the
    holder dies, so a killed deploy never leaves a stale lock."""
    target.mkdir(parents=True, exist_ok=True)
    _ignore_in_git(target)
    deadline = time.monotonic() + wait
    with open(target / LOCK, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise MlgateError(
                        f"another deploy or rollback to {target} is running; waited {wait:g} s "
                        "(--wait to wait longer)"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _ignore_in_git(target: Path) -> None:
    """A target inside ``.mlgate/`` gets a ``.mlgate/.gitignore``, so deployments never show as
    untracked files."""
    for parent in target.parents:
        if parent.name == ".mlgate":
            ignore = parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n")
            return


def _append(env: Environment, record: Deployment) -> None:
    """One line for ``record``, always on a line of its own: a last line a crash cut short
    (deploys hold the environment's lock, so it is no other deploy's) is ended first, so it
    cannot swallow this record."""
    line = (json.dumps(asdict(record), separators=(",", ":")) + "\n").encode()
    fd = os.open(env.target / LOG, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        while line:
            line = line[os.write(fd, line) :]
        os.fsync(fd)
    finally:
        os.close(fd)


_TEXT_FIELDS = ("id", "time", "environment", "action", "outcome", "artifact", "version", "md5",
                "model_file", "who")  # fmt: skip
_OPTIONAL_TEXT_FIELDS = ("commit", "previous", "error")


def _deployment(data: Any) -> Deployment:
    """A record read back from the log or ``current``; TypeError for any other shape."""
    if not isinstance(data, dict):
        raise TypeError(f"a JSON {type(data).__name__}, not an object")
    for name in _TEXT_FIELDS:
        if not isinstance(data.get(name), str):
            raise TypeError(f"'{name}' is {'missing' if name not in data else 'not text'}")
    for name in _OPTIONAL_TEXT_FIELDS:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise TypeError(f"'{name}' is not text")
    if not isinstance(data.get("monitoring", False), bool):
        raise TypeError("'monitoring' is not true or false")
    rows = data.get("smoke_rows", 0)
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise TypeError("'smoke_rows' is not a whole number")
    fields = Deployment.__dataclass_fields__
    return Deployment(**{k: v for k, v in data.items() if k in fields})


def _replace(record: Deployment, **changes: Any) -> Deployment:
    return Deployment(**{**asdict(record), **changes})


def _still(previous: Deployment | None, env: Environment) -> str:
    if previous is None:
        return f"nothing was deployed to {env.name}"
    return f"{previous.artifact} {previous.version} is still deployed in {env.name}"


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _who() -> str:
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return f"{actor} (GitHub Actions)"
    with contextlib.suppress(MlgateError):
        email = git.run_git("config", "user.email").strip()
        if email:
            return email
    return getpass.getuser()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
