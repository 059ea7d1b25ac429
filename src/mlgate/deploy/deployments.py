"""Deploy and roll back: a verified model version published to an environment's target and
switched to atomically, every attempt logged.

What a target holds (``deploy.targets`` says how each kind of storage keeps it safe)::

    versions/<version>/  the model file, its card (model.json), the training data's reference
                         profile (profile.json) when there is one, deployed.json (what it is),
                         model.onnx when the model compiles (mlgate.deploy.onnx_model)
    current              JSON: the deployment being served, replaced whole; with a canary (or
                         shadow) beside it, that deployment too, under ``canary``
    the log              one JSON record per deploy, rollback, canary, promotion or canary
                         removal, failed ones too

The model's md5 is checked against the release record (or dvc.lock) before it is unpickled: a
pickle from an unverified source is never loaded. Any failure leaves ``current`` as it was."""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlgate import defaults, git
from mlgate.artifacts.card import CARD_FILE, CARD_SUFFIX, Card, read_card
from mlgate.artifacts.deployment import (
    AUTO,
    CANARY,
    DEPLOY,
    ONNX,
    PICKLE,
    PROMOTE,
    REMOVE_CANARY,
    SERVED_ACTIONS,
    Deployment,
    RuntimeChoice,
    decode,
    encode,
)
from mlgate.artifacts.profile import PROFILE_FILE, PROFILE_SUFFIX
from mlgate.deploy import onnx_model
from mlgate.deploy.environments import Environment
from mlgate.deploy.modelfile import (
    NO_CARD,
    load_model,
    refusing_missing,
    refusing_unknown,
    smoke_test,
    verify,
)
from mlgate.deploy.resolve import Model, companion, fetch
from mlgate.deploy.targets.local import ignore_in_git
from mlgate.errors import MlgateError, Refused, first_line
from mlgate.files import atomic_path, file_md5
from mlgate.progress import SILENT, Progress

DEPLOYED_FILE = "deployed.json"
PREDICTIONS_FILE = "predictions.json"  # the evaluation-time predictions' profile
COMPILED_DIR = ".mlgate/compiled"  # models compiled to ONNX on this machine, by what they depend on
ONNX_SUFFIX = ".onnx"
NOT_COMPILED = "not_compiled"  # deployed.json: why the version has no model.onnx


DEFAULT_WAIT = defaults.DEPLOY_WAIT_SECONDS


def deploy(
    root: Path,
    model: Model,
    env: Environment,
    *,
    monitoring: bool,
    wait: float = DEFAULT_WAIT,
    who: str | None = None,
    predictions: dict[str, Any] | None = None,
    runtime: RuntimeChoice = AUTO,
    canary: float | None = None,
    shadow: bool = False,
    progress: Progress = SILENT,
) -> Deployment:
    """Fetch and verify the model, smoke-test it, copy it into ``versions/``, switch
    ``current``. On any failure ``current`` is untouched and the failure is logged.
    ``predictions``: the evaluation-time predictions' profile, kept with the version for
    `mlgate monitor`'s prediction drift. ``runtime``: ``auto`` compiles the model to ONNX and
    serves that when it matches the pickle (else the pickle, saying why), ``onnx`` refuses a
    model that does not compile, ``pickle`` does not try. ``canary`` (a percentage) or
    ``shadow``: install it beside the version serving, on that share of requests (a shadow:
    all of them, unless ``canary`` says otherwise) instead of switching to it. ``progress`` is
    told each step."""
    beside = canary is not None or shadow
    if canary is not None and not 0 < canary < 100:
        raise Refused(f"--canary {canary:g}: a share of requests, above 0 and below 100")
    progress.step(f"waiting for {env.name}'s lock")
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
            folder, unpickled = _install(root, model, env, record, predictions, runtime, progress)
            if beside and previous is not None:
                _check_same_columns(env, previous, folder)
            return folder, unpickled

        def served(done: Deployment) -> Deployment:
            return previous.replace(canary=done) if beside and previous else done

        return _switch_after_checks(env, record, previous, prepare, runtime, served, progress)


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
            record = canary.replace(
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
            record, served = _removal(canary, who or _who(), note), current.replace(canary=None)
        try:
            if promote:
                _verify_installed(env, canary)
            _write_current(env, served)
        except (MlgateError, OSError) as exc:
            reason = str(exc) if isinstance(exc, MlgateError) else _disk_problem(exc, env)
            unlogged = _log_failure(env, record.replace(outcome="failed", error=reason))
            raise Refused(f"{reason}; {_still(current, env)} with its canary{unlogged}") from None
        with contextlib.suppress(OSError):
            _append(env, record)
        return record


def _verify_installed(env: Environment, record: Deployment) -> None:
    """The version's files in the target are still the ones deployed."""
    folder = env.target.version_folder(record.version)
    what = f"{env.name} {record.version}"
    verify(folder / record.model_file, record.md5, what)
    if record.runtime == ONNX and record.onnx_md5:
        verify(folder / onnx_model.ONNX_FILE, record.onnx_md5, what)


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
        record = target.replace(
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
        runtime = AUTO if target.runtime == ONNX else PICKLE
        return _switch_after_checks(env, record, current, verified, runtime)


def _switch_after_checks(
    env: Environment,
    record: Deployment,
    previous: Deployment | None,
    prepare: Callable[[], tuple[Path, Any]],
    runtime: RuntimeChoice,
    served: Callable[[Deployment], Deployment] = lambda done: done,
    progress: Progress = SILENT,
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
            progress.step(f"loading {record.version}'s model")
            model = load_model(version_dir / record.model_file)
        progress.step(f"smoke-testing {record.version}")
        rows = smoke_test(model, card)
        checked = record.replace(
            smoke_rows=rows,
            refusing_missing=tuple(refusing_missing(model, card)),
            refusing_unknown=tuple(refusing_unknown(model, card)),
        )
        done = _choose_runtime(checked, model, version_dir, card, runtime, progress)
        progress.step(f"switching {env.name} to {record.version}")
        _write_current(env, served(done))
    except (MlgateError, OSError) as exc:  # OSError: a full disk, a read-only target
        reason = str(exc) if isinstance(exc, MlgateError) else _disk_problem(exc, env)
        unlogged = _log_failure(env, record.replace(outcome="failed", error=reason))
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
    return canary.replace(
        id=uuid.uuid4().hex, time=_now(), action=REMOVE_CANARY, who=who, note=note
    )


def _choose_runtime(
    record: Deployment,
    model: Any,
    folder: Path,
    card: Card,
    runtime: RuntimeChoice,
    progress: Progress = SILENT,
) -> Deployment:
    """The record with the runtime that will serve it: ONNX when the version has a compiled
    model that agrees with the pickle (checked here, on this machine), else the pickle (why:
    the reason install kept in deployed.json)."""
    if runtime == PICKLE:
        note = record.runtime_note if record.action == "rollback" else None
        return record.replace(
            runtime=PICKLE, onnx_md5=None, runtime_note=note or "--runtime pickle"
        )
    path = folder / onnx_model.ONNX_FILE
    try:
        if not path.is_file():
            said = (_read_json(folder / DEPLOYED_FILE) or {}).get(NOT_COMPILED)
            raise onnx_model.NotCompiled(
                said
                if isinstance(said, str)
                else f"{record.version} was deployed to this target before without a compiled "
                "model (--runtime pickle, or an mlgate that did not compile)"
            )
        if record.action == "rollback" and record.onnx_md5:
            verify(path, record.onnx_md5, f"{record.environment} {record.version}")
        progress.step(f"checking {record.version}'s ONNX model against its pickle")
        profile = _read_json(folder / PROFILE_FILE)
        onnx = onnx_model.load(path, card)
        rows = onnx_model.check_parity(
            model,
            onnx,
            onnx_model.parity_rows(card, profile),
            input_is_array=card.takes_array,
        )
    except onnx_model.NotCompiled as exc:
        if runtime == ONNX:
            raise Refused(f"--runtime onnx: {exc}") from None
        return record.replace(runtime=PICKLE, onnx_md5=None, runtime_note=str(exc))
    note = f"agrees with the pickle on {rows:,} rows: {onnx_model.agreement(onnx)}"
    return record.replace(runtime=ONNX, onnx_md5=file_md5(path), runtime_note=note)


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
        return decode(data)
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
            entries.append(decode(event))
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
    runtime: RuntimeChoice,
    progress: Progress,
) -> tuple[Path, Any]:
    """``versions/<version>/`` with the verified model, its card, deployed.json (with why the
    model did not compile, if it did not) and the model compiled to ONNX (unless ``runtime``
    is pickle), published all at once; or kept when it already holds the same model. And the
    model, when compiling it unpickled it (after checking its md5), else None."""
    if env.target.has_version(model.version):
        final = env.target.version_folder(model.version)
        progress.step(f"verifying the {model.version} installed in {env.name}")
        verify(final / record.model_file, model.md5, f"{env.name} {model.version}")
        return final, None
    unpickled = None

    def fill(staging: Path) -> None:
        nonlocal unpickled
        progress.step(f"fetching {model.path} (md5 {model.md5[:8]})")
        fetch(root, model, staging / record.model_file)
        card = companion(root, model, CARD_SUFFIX) or b"{}"
        (staging / CARD_FILE).write_bytes(card)
        why_not = None
        if runtime != PICKLE:
            progress.step(f"compiling {model.version} to ONNX")
            unpickled, why_not = _compile(
                root, staging / record.model_file, model.md5, staging / CARD_FILE
            )
        profile = companion(root, model, PROFILE_SUFFIX)
        if profile is not None:
            (staging / PROFILE_FILE).write_bytes(profile)
        description = {
            k: v
            for k, v in record.to_dict().items()
            if k in ("artifact", "version", "md5", "commit", "model_file")
        }
        if why_not:  # said by this deploy, and again by a later deploy of this version
            description[NOT_COMPILED] = why_not
        (staging / DEPLOYED_FILE).write_text(json.dumps(description, indent=2) + "\n")
        if predictions is not None:
            (staging / PREDICTIONS_FILE).write_text(json.dumps(predictions) + "\n")
        progress.step(f"publishing {model.version} to {env.target.location}")

    env.target.install_version(model.version, fill)
    return env.target.version_folder(model.version), unpickled


def _compile(root: Path, model_file: Path, md5: str, card_file: Path) -> tuple[Any, str | None]:
    """model.onnx beside the verified model file: (the model unpickled, why it did not
    compile or None). Compiled once per machine for a model, its card and the converters'
    versions (``.mlgate/compiled/``): promoting a version to the next environment does not
    convert it again. Parity is checked at every deploy all the same, so a cached file that
    is wrong is refused as a fresh one would be."""
    verify(model_file, md5, str(model_file.name))
    unpickled = load_model(model_file)
    card = card_file.read_bytes()
    cached = root / COMPILED_DIR / f"{_compiled_key(md5, card)}{ONNX_SUFFIX}"
    data = None
    with contextlib.suppress(OSError):
        data = cached.read_bytes()
    if data is not None and not onnx_model.readable(data):  # cut short by a crash or a disk
        data = None
    if data is None:
        try:
            data = onnx_model.compile_model(unpickled, read_card(card_file))
        except onnx_model.NotCompiled as exc:
            return unpickled, str(exc)
        with contextlib.suppress(OSError):  # a cache that cannot be written costs time only
            cached.parent.mkdir(parents=True, exist_ok=True)
            ignore_in_git(cached)
            with atomic_path(cached) as partial:
                partial.write_bytes(data)
    (model_file.parent / onnx_model.ONNX_FILE).write_bytes(data)
    return unpickled, None


def _compiled_key(md5: str, card: bytes) -> str:
    """What a compiled model depends on: the model, its card, the converters' versions and
    mlgate's conversion code."""
    from importlib import metadata

    versions = []
    # catboost exports its own models to ONNX; the other libraries' trees are read by onnxmltools
    for package in ("mlgate", "skl2onnx", "onnx", "onnxmltools", "scikit-learn", "catboost"):
        try:
            versions.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} absent")
    # mlgate's own conversion code too: its version number does not change with every fix
    converter = hashlib.sha256(Path(onnx_model.__file__).read_bytes()).hexdigest()
    parts = [md5, hashlib.sha256(card).hexdigest(), converter, *versions]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _write_current(env: Environment, done: Deployment) -> None:
    env.target.write_current(encode(done, indent=True))


def _recover(env: Environment) -> None:
    """After a crash: log the deployments ``current`` names (and its canary) if the log
    missed them, and clear half-published versions."""
    current = read_current(env)
    if current is not None:
        logged = {d.id for d in read_log(env)}
        for record in (current.replace(canary=None), current.canary):
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
    env.target.append_event(encode(record))


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
