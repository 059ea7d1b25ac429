"""Deploy and roll back: a verified model version published to an environment's target and
switched to atomically, every attempt logged.

What a target holds (``deploy.targets`` says how each kind of storage keeps it safe)::

    versions/<version>/  the model file, its card (model.json), the training data's reference
                         profile (profile.json) when there is one, deployed.json (what it is),
                         model.onnx when the model compiles (mlgate.deploy.compiled)
    current              JSON: the deployment being served, replaced whole; with a canary (or
                         shadow) beside it, that deployment too, under ``canary``
    the log              one JSON record per deploy, rollback, canary, promotion or canary
                         removal, failed ones too

The model's md5 is checked against the release record (or dvc.lock) before it is unpickled: a
pickle from an unverified source is never loaded. Any failure leaves ``current`` as it was."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlgate import defaults, git, valid
from mlgate.artifacts.card import CARD_FILE, CARD_SUFFIX, Card, read_card
from mlgate.artifacts.profile import PROFILE_FILE, PROFILE_SUFFIX
from mlgate.deploy import compiled
from mlgate.deploy.environments import Environment
from mlgate.deploy.modelfile import NO_CARD, load_model, refusing_missing, smoke_test, verify
from mlgate.deploy.resolve import Model, companion, fetch
from mlgate.errors import MlgateError, Refused, first_line
from mlgate.files import file_md5

DEPLOYED_FILE = "deployed.json"
PREDICTIONS_FILE = "predictions.json"  # the evaluation-time predictions' profile
NOT_COMPILED = "not_compiled"  # deployed.json: why the version has no model.onnx


DEFAULT_WAIT = defaults.DEPLOY_WAIT_SECONDS
DEPLOY, ROLLBACK, CANARY, PROMOTE, REMOVE_CANARY = (
    "deploy",
    "rollback",
    "canary",
    "promote",
    "remove-canary",
)
SERVED_ACTIONS = (DEPLOY, ROLLBACK, PROMOTE)  # what leaves a version as the one answering


@dataclass(frozen=True)
class Deployment:
    """One line of the log; ``current`` holds the last successful one."""

    id: str
    time: str
    environment: str
    action: str  # DEPLOY, ROLLBACK, CANARY, PROMOTE or REMOVE_CANARY
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
    runtime: str = compiled.PICKLE  # what serves it: the pickle, or model.onnx
    onnx_md5: str | None = None
    runtime_note: str | None = None  # the ONNX parity checked, or why the pickle serves
    # A canary: the share of requests (by a hash of their id) it answers, or, shadow, gets a
    # copy of without answering. None: not a canary.
    percent: float | None = None
    shadow: bool = False
    note: str | None = None  # why a canary was promoted or removed (its verdict)
    # the card's columns the model cannot predict without (modelfile.refusing_missing): a
    # request leaving one of them missing is a 400 naming it
    refusing_missing: tuple[str, ...] = ()
    canary: Deployment | None = None  # in ``current`` only: the canary beside this version


def deploy(
    root: Path,
    model: Model,
    env: Environment,
    *,
    monitoring: bool,
    wait: float = DEFAULT_WAIT,
    who: str | None = None,
    predictions: dict[str, Any] | None = None,
    runtime: str = compiled.AUTO,
    canary: float | None = None,
    shadow: bool = False,
) -> Deployment:
    """Fetch and verify the model, smoke-test it, copy it into ``versions/``, switch
    ``current``. On any failure ``current`` is untouched and the failure is logged.
    ``predictions``: the evaluation-time predictions' profile, kept with the version for
    `mlgate monitor`'s prediction drift. ``runtime``: ``auto`` compiles the model to ONNX and
    serves that when it matches the pickle (else the pickle, saying why), ``onnx`` refuses a
    model that does not compile, ``pickle`` does not try. ``canary`` (a percentage) or
    ``shadow``: install it beside the version serving, on that share of requests (a shadow:
    all of them, unless ``canary`` says otherwise) instead of switching to it."""
    beside = canary is not None or shadow
    if canary is not None and not 0 < canary < 100:
        raise Refused(f"--canary {canary:g}: a share of requests, above 0 and below 100")
    with env.target.lock(wait):
        _recover(env)
        previous = read_current(env)
        if beside:
            _check_canary_beside(env, previous, model.version)
        record = Deployment(
            uuid.uuid4().hex,
            _now(),
            env.name,
            CANARY if beside else DEPLOY,
            "deployed",
            model.artifact,
            model.version,
            model.md5,
            model.commit,
            Path(model.path).name,
            who or _who(),
            monitoring,
            previous.version if previous else None,
            percent=(100.0 if canary is None else float(canary)) if beside else None,
            shadow=shadow,
        )

        def prepare() -> tuple[Path, Any]:
            folder, unpickled = _install(root, model, env, record, predictions, runtime)
            if beside and previous is not None:
                _check_same_columns(env, previous, folder)
            return folder, unpickled

        def served(done: Deployment) -> Deployment:
            return _replace(previous, canary=done) if beside and previous else done

        return _switch_after_checks(env, record, previous, prepare, runtime, served)


def _check_canary_beside(env: Environment, current: Deployment | None, version: str) -> None:
    if current is None:
        raise Refused(
            f"nothing is deployed in {env.name}: a canary runs beside a deployed version; "
            "deploy one without --canary first"
        )
    if current.version == version:
        raise Refused(f"{version} is already the version in {env.name}: it cannot be its canary")


def _check_same_columns(env: Environment, current: Deployment, folder: Path) -> None:
    """A canary answers the same requests as the version beside it: the same columns."""
    served_card = read_card(env.target.version_folder(current.version) / CARD_FILE)
    served = [(f.name, f.kind) for f in served_card.features]
    new = [(f.name, f.kind) for f in read_card(folder / CARD_FILE).features]
    if served != new:
        raise Refused(
            f"a canary takes the requests {current.version} takes, and its card's columns "
            f"differ ({_columns(new)} against {_columns(served)}): deploy it without --canary"
        )


def _columns(features: Sequence[tuple[str, str]]) -> str:
    shown = ", ".join(f"{name} ({kind})" for name, kind in features[:6])
    return shown + (f" and {len(features) - 6} more" if len(features) > 6 else "") or "none"


def end_canary(
    env: Environment,
    *,
    promote: bool,
    wait: float = DEFAULT_WAIT,
    who: str | None = None,
    note: str | None = None,
    expected: str | None = None,
) -> Deployment:
    """Promote the canary (it becomes the version serving every request, its files verified
    again first) or remove it (the version beside it answers every request again); the log
    record of either (PROMOTE, REMOVE_CANARY). ``expected``: the canary's version the decision
    was made on (another canary out now is refused); ``note``: why (the verdict)."""
    with env.target.lock(wait):
        _recover(env)
        current = read_current(env)
        if current is None or current.canary is None:
            raise Refused(f"{env.name} has no canary (deploy one with --canary PERCENT)")
        canary = current.canary
        if expected is not None and canary.version != expected:
            raise Refused(
                f"{env.name}'s canary is now {canary.version}, not {expected}, which was "
                "judged: nothing was changed; judge it again"
            )
        if promote:
            record = _replace(
                canary,
                id=uuid.uuid4().hex,
                time=_now(),
                action=PROMOTE,
                who=who or _who(),
                previous=current.version,
                percent=None,
                shadow=False,
                note=note,
            )
            served = record
        else:
            record, served = _removal(canary, who or _who(), note), _replace(current, canary=None)
        try:
            if promote:
                _verify_installed(env, canary)
            _write_current(env, served)
        except (MlgateError, OSError) as exc:
            reason = str(exc) if isinstance(exc, MlgateError) else _disk_problem(exc, env)
            unlogged = _log_failure(env, _replace(record, outcome="failed", error=reason))
            raise Refused(f"{reason}; {_still(current, env)} with its canary{unlogged}") from None
        with contextlib.suppress(OSError):
            _append(env, record)
        return record


def _verify_installed(env: Environment, record: Deployment) -> None:
    """The version's files in the target are still the ones deployed."""
    folder = env.target.version_folder(record.version)
    what = f"{env.name} {record.version}"
    verify(folder / record.model_file, record.md5, what)
    if record.runtime == compiled.ONNX and record.onnx_md5:
        verify(folder / compiled.ONNX_FILE, record.onnx_md5, what)


def rollback(
    root: Path,
    env: Environment,
    to: str | None = None,
    wait: float = DEFAULT_WAIT,
    who: str | None = None,
) -> Deployment:
    """Switch back to the previous successful version (or ``to``), verified and smoke-tested
    again from its folder in ``versions/``."""
    with env.target.lock(wait):
        _recover(env)
        current = read_current(env)
        if current is None:
            raise Refused(f"nothing is deployed in {env.name}: nothing to roll back")
        target = _rollback_target(env, current, to)
        version_dir = env.target.version_folder(target.version)
        record = _replace(
            target,
            id=uuid.uuid4().hex,
            time=_now(),
            action="rollback",
            outcome="deployed",
            who=who or _who(),
            previous=current.version,
            error=None,
        )

        def verified() -> tuple[Path, None]:
            verify(version_dir / target.model_file, target.md5, f"{env.name} {target.version}")
            return version_dir, None

        # compiled before: checked again; served by its pickle before: so again
        runtime = compiled.AUTO if target.runtime == compiled.ONNX else compiled.PICKLE
        return _switch_after_checks(env, record, current, verified, runtime)


def _switch_after_checks(
    env: Environment,
    record: Deployment,
    previous: Deployment | None,
    prepare: Callable[[], tuple[Path, Any]],
    runtime: str,
    served: Callable[[Deployment], Deployment] = lambda done: done,
) -> Deployment:
    """``prepare`` the version's folder (verified; and the model, when preparing unpickled it
    already), smoke-test it, choose its runtime, then switch to it (``current`` becomes
    ``served(record)``); on any failure log the attempt and leave ``current`` alone."""
    try:
        version_dir, model = prepare()
        card = read_card(version_dir / CARD_FILE)
        if record.monitoring and not card.features:
            raise Refused(f"monitoring logs each request's columns, and {NO_CARD}")
        if model is None:
            model = load_model(version_dir / record.model_file)
        rows = smoke_test(model, card)
        checked = _replace(
            record, smoke_rows=rows, refusing_missing=tuple(refusing_missing(model, card))
        )
        done = _choose_runtime(checked, model, version_dir, card, runtime)
        _write_current(env, served(done))
    except (MlgateError, OSError) as exc:  # OSError: a full disk, a read-only target
        reason = str(exc) if isinstance(exc, MlgateError) else _disk_problem(exc, env)
        unlogged = _log_failure(env, _replace(record, outcome="failed", error=reason))
        raise Refused(f"{reason}; {_still(previous, env)}{unlogged}") from None
    # Switched. A log line that cannot be written now (the disk full) is written by the next
    # deploy or rollback, which logs whatever `current` names that the log lacks.
    with contextlib.suppress(OSError):
        _append(env, done)
        dropped = previous.canary if previous is not None else None
        if dropped is not None:  # a deploy or rollback replaces a canary too: logged as such
            why = f"replaced by the {done.action} of {done.version}"
            _append(env, _removal(dropped, done.who, why))
    return done


def _removal(canary: Deployment, who: str, note: str | None) -> Deployment:
    return _replace(
        canary, id=uuid.uuid4().hex, time=_now(), action=REMOVE_CANARY, who=who, note=note
    )


def _choose_runtime(
    record: Deployment,
    model: Any,
    folder: Path,
    card: Card,
    runtime: str,
) -> Deployment:
    """The record with the runtime that will serve it: ONNX when the version has a compiled
    model that agrees with the pickle (checked here, on this machine), else the pickle (why:
    the reason install kept in deployed.json)."""
    if runtime == compiled.PICKLE:
        note = record.runtime_note if record.action == "rollback" else None
        return _replace(
            record, runtime=compiled.PICKLE, onnx_md5=None, runtime_note=note or "--runtime pickle"
        )
    path = folder / compiled.ONNX_FILE
    try:
        if not path.is_file():
            said = (_read_json(folder / DEPLOYED_FILE) or {}).get(NOT_COMPILED)
            raise compiled.NotCompiled(
                said
                if isinstance(said, str)
                else f"{record.version} was deployed to this target before without a compiled "
                "model (--runtime pickle, or an mlgate that did not compile)"
            )
        if record.action == "rollback" and record.onnx_md5:
            verify(path, record.onnx_md5, f"{record.environment} {record.version}")
        profile = _read_json(folder / PROFILE_FILE)
        onnx = compiled.load(path, card)
        rows = compiled.check_parity(
            model,
            onnx,
            compiled.parity_rows(card, profile),
            input_is_array=card.takes_array,
        )
    except compiled.NotCompiled as exc:
        if runtime == compiled.ONNX:
            raise Refused(f"--runtime onnx: {exc}") from None
        return _replace(record, runtime=compiled.PICKLE, onnx_md5=None, runtime_note=str(exc))
    note = f"agrees with the pickle on {rows:,} rows: {compiled.agreement(onnx)}"
    return _replace(record, runtime=compiled.ONNX, onnx_md5=file_md5(path), runtime_note=note)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _disk_problem(exc: OSError, env: Environment) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc} in {env.target.location}{where}; nothing was switched"


def _log_failure(env: Environment, record: Deployment) -> str:
    """Log a failed attempt (its half-copied folder is gone by now, so there is room again as
    a rule); what to add to the error when even that cannot be written."""
    try:
        _append(env, record)
    except OSError as exc:
        return f" (the attempt could not be logged: {exc.strerror or exc})"
    return ""


def read_current(env: Environment) -> Deployment | None:
    data = env.target.read_current()
    if data is None:
        return None
    try:
        return _deployment(json.loads(data))
    except (ValueError, TypeError, RecursionError) as exc:
        raise MlgateError(
            f"{env.target.location}/current is unreadable ({_why(exc)}): restore it from the log"
        ) from None


def read_log(
    env: Environment, *, on_skipped: Callable[[str], None] | None = None
) -> list[Deployment]:
    """Every deployment record in the log. An entry that is not one (cut short by a crash, or
    edited by hand into JSON of another shape) is skipped, and ``on_skipped`` told why: an
    environment is never blocked by its log."""
    entries = []
    for where, event in env.target.read_events():
        try:
            entries.append(_deployment(json.loads(event.decode("utf-8", errors="replace"))))
        except (ValueError, TypeError, RecursionError) as exc:
            if on_skipped is not None:
                on_skipped(f"{where} is not a deployment record ({_why(exc)}): skipped")
    return entries


def _why(exc: BaseException) -> str:
    return first_line(exc)[:120]


def _install(
    root: Path,
    model: Model,
    env: Environment,
    record: Deployment,
    predictions: dict[str, Any] | None,
    runtime: str,
) -> tuple[Path, Any]:
    """``versions/<version>/`` with the verified model, its card, deployed.json (with why the
    model did not compile, if it did not) and the model compiled to ONNX (unless ``runtime``
    is pickle), published all at once; or kept when it already holds the same model. And the
    model, when compiling it unpickled it (after checking its md5), else None."""
    if env.target.has_version(model.version):
        final = env.target.version_folder(model.version)
        verify(final / record.model_file, model.md5, f"{env.name} {model.version}")
        return final, None
    unpickled = None

    def fill(staging: Path) -> None:
        nonlocal unpickled
        fetch(root, model, staging / record.model_file)
        card = companion(root, model, CARD_SUFFIX) or b"{}"
        (staging / CARD_FILE).write_bytes(card)
        why_not = None
        if runtime != compiled.PICKLE:
            unpickled, why_not = _compile(
                staging / record.model_file, model.md5, staging / CARD_FILE
            )
        profile = companion(root, model, PROFILE_SUFFIX)
        if profile is not None:
            (staging / PROFILE_FILE).write_bytes(profile)
        description = {
            k: v
            for k, v in asdict(record).items()
            if k in ("artifact", "version", "md5", "commit", "model_file")
        }
        if why_not:  # said by this deploy, and again by a later deploy of this version
            description[NOT_COMPILED] = why_not
        (staging / DEPLOYED_FILE).write_text(json.dumps(description, indent=2) + "\n")
        if predictions is not None:
            (staging / PREDICTIONS_FILE).write_text(json.dumps(predictions) + "\n")

    env.target.install_version(model.version, fill)
    return env.target.version_folder(model.version), unpickled


def _compile(model_file: Path, md5: str, card_file: Path) -> tuple[Any, str | None]:
    """model.onnx beside the verified model file: (the model unpickled, why it did not
    compile or None)."""
    verify(model_file, md5, str(model_file.name))
    unpickled = load_model(model_file)
    try:
        data = compiled.compile_model(unpickled, read_card(card_file))
    except compiled.NotCompiled as exc:
        return unpickled, str(exc)
    (model_file.parent / compiled.ONNX_FILE).write_bytes(data)
    return unpickled, None


def _write_current(env: Environment, done: Deployment) -> None:
    env.target.write_current((json.dumps(asdict(done), indent=2) + "\n").encode())


def _recover(env: Environment) -> None:
    """After a crash: log the deployments ``current`` names (and its canary) if the log
    missed them, and clear half-published versions."""
    current = read_current(env)
    if current is not None:
        logged = {d.id for d in read_log(env)}
        for record in (_replace(current, canary=None), current.canary):
            if record is not None and record.id not in logged:
                _append(env, record)
    env.target.recover()


def _rollback_target(env: Environment, current: Deployment, to: str | None) -> Deployment:
    succeeded = [d for d in read_log(env) if d.outcome == "deployed" and d.action in SERVED_ACTIONS]
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
    raise Refused(
        f"{env.name} has had no other version than {current.version}: nothing to roll back to"
    )


def _append(env: Environment, record: Deployment) -> None:
    env.target.append_event(json.dumps(asdict(record), separators=(",", ":")).encode())


_TEXT_FIELDS = (
    "id",
    "time",
    "environment",
    "action",
    "outcome",
    "artifact",
    "version",
    "md5",
    "model_file",
    "who",
)


_OPTIONAL_TEXT_FIELDS = ("commit", "previous", "error", "onnx_md5", "runtime_note", "note")


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
    if data.get("runtime", compiled.PICKLE) not in (compiled.PICKLE, compiled.ONNX):
        raise TypeError("'runtime' is neither pickle nor onnx")
    if data.get("runtime") == compiled.ONNX and not isinstance(data.get("onnx_md5"), str):
        raise TypeError("'onnx_md5' is missing for the onnx runtime")
    rows = data.get("smoke_rows", 0)
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise TypeError("'smoke_rows' is not a whole number")
    percent = data.get("percent")
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 < percent <= 100
    ):
        raise TypeError("'percent' is not a share of requests above 0 and up to 100")
    if not isinstance(data.get("shadow", False), bool):
        raise TypeError("'shadow' is not true or false")
    canary = data.get("canary")
    if canary is not None:
        if not isinstance(canary, dict) or canary.get("canary") is not None:
            raise TypeError("'canary' is not one deployment record")
        canary = _deployment(canary)
        if canary.percent is None:
            raise TypeError("'canary' has no 'percent'")
    _check_names(data)
    refusing = data.get("refusing_missing", [])
    if not isinstance(refusing, list) or not all(isinstance(c, str) for c in refusing):
        raise TypeError("'refusing_missing' is not a list of column names")
    data = {**data, "refusing_missing": tuple(refusing)}
    fields = Deployment.__dataclass_fields__
    return Deployment(**{**{k: v for k, v in data.items() if k in fields}, "canary": canary})


def _check_names(data: dict[str, Any]) -> None:
    """The fields that become folder names, keys and what replicas serve, each by its grammar:
    anyone who can write the bucket writes ``current`` and the log, and a version ``/victim``
    would have every replica delete and write that directory."""
    checks = {
        "version": valid.is_deployed_version,
        "artifact": valid.is_name,
        "environment": valid.is_name,
        "md5": valid.is_md5,
        "model_file": valid.is_file_name,
    }
    optional = {
        "previous": valid.is_deployed_version,
        "onnx_md5": valid.is_md5,
        "commit": valid.is_commit_id,
    }
    for name, check in checks.items():
        if not check(data.get(name)):
            raise TypeError(f"'{name}' is {repr(data.get(name))[:60]}, not a {name} mlgate writes")
    for name, check in optional.items():
        if data.get(name) is not None and not check(data[name]):
            raise TypeError(f"'{name}' is {repr(data[name])[:60]}, not a {name} mlgate writes")


def _replace(record: Deployment, **changes: Any) -> Deployment:
    return dataclasses.replace(record, **changes)


def _still(previous: Deployment | None, env: Environment) -> str:
    if previous is None:
        return f"nothing was deployed to {env.name}"
    return f"{previous.artifact} {previous.version} is still deployed in {env.name}"


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
