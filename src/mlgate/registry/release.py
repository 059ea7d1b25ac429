"""Releases: an annotated ``NAME@vX.Y.Z`` tag whose annotation records what was released.

A release is refused (nothing is tagged) on a dirty worktree, a stale pipeline, a version or
commit already released, or a gate failure against the previous release unless forced. With
``push``, a tag that another job pushed first is met by fetching the tags, planning again and
retrying, a bounded number of times.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import __version__, defaults, dvcfiles, escape, git, valid
from mlgate.artifacts.card import card_path, parse_card
from mlgate.errors import ConfigError, DataError, Refused
from mlgate.gate import compare
from mlgate.gate.judge import FAIL, GateResult, Outcome, evaluate, show_number, show_value
from mlgate.registry import tags as registry
from mlgate.registry.tags import Version
from mlgate.snapshot import Snapshot, read_policy, read_snapshot

BUMPS = defaults.BUMPS
FIRST_VERSION = Version(0, 1, 0)
RECORD_BEGIN = "-----BEGIN MLGATE RELEASE RECORD-----"
RECORD_END = "-----END MLGATE RELEASE RECORD-----"
RECORD_SCHEMA = 1


@dataclass(frozen=True)
class Release:
    artifact: str
    version: Version
    commit: str
    previous: str | None  # the version released before, e.g. "v0.1.0"
    bump: str  # major, minor, patch, first or given
    reason: str
    record: dict[str, Any]
    message: str

    @property
    def tag(self) -> str:
        return str(registry.TagName(self.artifact, registry.REGISTER, version=str(self.version)))


@dataclass(frozen=True)
class Released:
    release: Release
    pushed: bool = False
    taken: tuple[str, ...] = ()  # tags another job pushed first, so this one planned again


def default_artifact(root: Path) -> str:
    """The model artifact dvc.yaml declares, else the policy's ``model`` name."""
    artifact = declared_artifact(root)
    if artifact is None:
        raise ConfigError(f"no artifact to release: {NO_ARTIFACT_HINT}, or name it")
    return artifact


NO_ARTIFACT_HINT = (
    "declare one in dvc.yaml, such as `artifacts: {model: {path: model.pkl, type: model}}`, "
    "or set `model` in [tool.mlgate]"
)


def declared_artifact(root: Path) -> str | None:
    """As default_artifact, but None when nothing is declared (several is still an error)."""
    workspace = git.revision(git.WORKSPACE, root)
    artifacts = dvcfiles.read_declarations(workspace).artifacts
    models = [n for n, a in artifacts.items() if isinstance(a, dict) and a.get("type") == "model"]
    candidates = models or list(artifacts)
    if len(candidates) == 1:
        return candidates[0]
    policy_model = read_policy(workspace).model
    if policy_model:
        return policy_model
    if candidates:
        raise ConfigError(
            f"dvc.yaml declares several artifacts ({', '.join(candidates)}): name the one to use"
        )
    return None


def plan(
    root: Path,
    artifact: str,
    bump: str = "auto",
    version: str | None = None,
    *,
    force: bool = False,
    message: str | None = None,
) -> Release:
    """Decide the version and write the record for releasing HEAD; refuse what must not be."""
    registry.check_name("artifact", artifact)
    refuse_uncommitted(root)
    _refuse_stale(root)
    commit = git.resolve_commit("HEAD", root)
    state = registry.read_registry(root).artifact(artifact)
    if state.deprecated:
        raise Refused(f"{artifact} is deprecated: its registry takes no new versions")
    if commit in state.by_commit:
        raise Refused(
            f"HEAD ({commit[:8]}) is already released as {artifact}@{state.by_commit[commit]}"
        )
    latest = state.latest()
    previous = latest.name.version if latest else None
    head, result = _gate_against(root, latest)
    against = f"{artifact}@{previous}" if previous else "the policy's bounds (first release)"
    if result.failures and not force:
        raise Refused(
            f"the gate fails against {against}: {_describe(result.failures)} "
            "(fix the model, or --force to release anyway; the annotation records it)"
        )
    chosen, kind, reason = _choose_version(
        root, commit, artifact, state, latest, result, bump, version
    )
    record = _record(
        head, artifact, chosen, previous, result, forced=force, bump=kind, reason=reason
    )
    return Release(
        artifact, chosen, commit, previous, kind, reason, record, _message(record, message)
    )


def unchanged_since(root: Path, artifact: str) -> str | None:
    """The latest release whose model file HEAD has byte for byte (same md5 in dvc.lock), as
    ``NAME@vX.Y.Z``; None when HEAD's model differs, or there is no release to compare with."""
    latest = registry.read_registry(root).artifact(artifact).latest()
    record = read_record(latest.message) if latest else None
    released_md5 = ((record or {}).get("model") or {}).get("md5")
    if latest is None or not released_md5:
        return None
    _, md5 = dvcfiles.artifact_file(git.revision("HEAD", root), artifact)
    return f"{artifact}@{latest.name.version}" if md5 == released_md5 else None


def release(
    root: Path,
    artifact: str,
    bump: str = "auto",
    version: str | None = None,
    *,
    force: bool = False,
    message: str | None = None,
    push: bool = False,
    remote: str = "origin",
) -> Released:
    """Plan, tag and (optionally) push; on a push race, fetch tags and plan again."""
    planned, taken = registry.publish(
        root,
        lambda: plan(root, artifact, bump, version, force=force, message=message),
        push=push,
        remote=remote,
    )
    return Released(planned, pushed=push, taken=tuple(taken))


def read_record(message: str, where: str = "a release tag") -> dict[str, Any] | None:
    """The machine-readable block of a release annotation (None for tags mlgate did not make).

    Anyone who can push a tag can write its annotation: a block of the wrong shape raises
    DataError naming ``where`` and the field, so no caller meets a string for a table."""
    start, end = message.find(RECORD_BEGIN), message.find(RECORD_END)
    if start < 0 or end < start:
        return None
    try:
        record = json.loads(message[start + len(RECORD_BEGIN) : end])
    except (ValueError, RecursionError):
        raise DataError(f"{where}: its release record is not valid JSON") from None
    if not isinstance(record, dict):
        raise DataError(f"{where}: its release record must be a JSON object")
    _check_record(record, where)
    return record


_RECORD_TABLES = ("model", "gate", "bump", "outputs", "metrics", "params")
_RECORD_TEXTS = ("artifact", "version", "commit", "previous")


def _check_record(record: dict[str, Any], where: str) -> None:
    def refuse(field: str, wanted: str) -> DataError:
        shown = escape.one_line(repr(record_value(field)))[:60]
        return DataError(f"{where}: release record field '{field}' must be {wanted}, not {shown}")

    def record_value(field: str) -> Any:
        value: Any = record
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    for name in _RECORD_TABLES:
        if record.get(name) is not None and not isinstance(record[name], dict):
            raise refuse(name, "an object")
    for name in (*_RECORD_TEXTS, "model.path", "model.md5", "gate.verdict"):
        value = record_value(name)
        if value is not None and not isinstance(value, str):
            raise refuse(name, "text")
    # the fields that name files and hashes, each by its one rule (mlgate.valid): a record
    # is written by whoever pushed its tag
    md5, path = record_value("model.md5"), record_value("model.path")
    if md5 is not None and not valid.is_md5(md5):
        raise refuse("model.md5", "32 hexadecimal digits")
    if path is not None:
        try:
            valid.relative_path(path, what=where)
        except DataError:
            raise refuse("model.path", "a path inside the repository") from None
    version = record_value("version")
    if version is not None and not registry.VERSION_RE.match(version):
        raise refuse("version", "a version vX.Y.Z")
    commit = record_value("commit")
    if commit is not None and not valid.is_commit_id(commit):
        raise refuse("commit", "a commit's full hexadecimal id")
    rules = record_value("gate.rules")
    if rules is not None and not (
        isinstance(rules, list)
        and all(isinstance(r, dict) and isinstance(r.get("metric"), str) for r in rules)
    ):
        raise refuse("gate.rules", "a list of objects with a metric name")


def _gate_against(root: Path, latest: registry.Event | None) -> tuple[Snapshot, GateResult]:
    """HEAD judged against the latest release, or against the policy's bounds alone."""
    if latest is not None:
        check = compare.check(root, base=latest.tag, head="HEAD", merge_base=False)
        return check.comparison.head, check.gate
    head = read_snapshot(git.revision("HEAD", root))
    return head, evaluate(read_policy(head.revision), {}, head.metrics)


def refuse_uncommitted(root: Path, advice: str = "commit them first") -> None:
    """Refuse to act on a worktree whose tracked files differ from HEAD."""
    changed = git.uncommitted(root)
    if changed:
        paths = ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")
        raise Refused(f"the worktree has uncommitted changes ({paths}): {advice}")


def _refuse_stale(root: Path) -> None:
    from mlgate import dvc

    stale = dvc.stale_stages(root)
    if stale:
        raise Refused(
            f"the pipeline is stale ({'; '.join(f'{s}: {why}' for s, why in stale.items())}): "
            "run `dvc repro` and commit dvc.lock"
        )


def _choose_version(
    root: Path,
    commit: str,
    artifact: str,
    state: registry.Artifact,
    latest: registry.Event | None,
    result: GateResult,
    bump: str,
    version: str | None,
) -> tuple[Version, str, str]:
    current = Version.parse(latest.name.version or "") if latest else None
    if version is not None:
        chosen = Version.parse(version if version.startswith("v") else f"v{version}")
        if current is not None and not current < chosen:
            raise Refused(f"{chosen} is not above the latest version {artifact}@{current}")
        if str(chosen) in state.registrations:
            raise Refused(f"{artifact}@{chosen} already exists")
        return chosen, "given", "the version was given"
    if current is None or latest is None:
        return FIRST_VERSION, "first", "the first release"
    if bump != "auto":
        return current.bump(bump), bump, f"--bump {bump}"
    old_signature = _signature(root, artifact, latest.commit)
    new_signature = _signature(root, artifact, commit)
    if old_signature != new_signature:
        return current.bump("major"), "major", "the model's input signature changed"
    improved = [o for o in result.outcomes if _improved(o)]
    if improved:
        names = ", ".join(o.metric or o.rule.key for o in improved)
        return current.bump("minor"), "minor", f"gated metrics improved: {names}"
    return current.bump("patch"), "patch", "no gated metric improved, same input signature"


def _improved(outcome: Outcome) -> bool:
    change, direction = outcome.change, outcome.rule.direction
    if change is None or direction is None or outcome.status == FAIL:
        return False
    return change > 0 if direction == "higher" else change < 0


def _signature(root: Path, artifact: str, commit: str) -> list[tuple[str, str]] | None:
    """Feature names and types from the model card next to the artifact (None: no card)."""
    revision = git.Revision(root, commit, commit[:8])
    path = dvcfiles.artifact_path(revision, artifact)
    if path is None:
        return None
    where = card_path(path)
    content = revision.read_one(where)
    if content is None:
        return None
    card = parse_card(dvcfiles.parse_data_file(where, content, f"{where} at {revision.label}"))
    if not card.features:
        return None
    return [(f.name, f.dtype) for f in card.features]


def _record(
    head: Snapshot,
    artifact: str,
    version: Version,
    previous: str | None,
    result: GateResult,
    *,
    forced: bool,
    bump: str,
    reason: str,
) -> dict[str, Any]:
    outputs = dvcfiles.lock_outputs(dvcfiles.read_lock(head.revision))
    path, md5 = dvcfiles.artifact_file(head.revision, artifact, outputs)
    return {
        "schema": RECORD_SCHEMA,
        "artifact": artifact,
        "version": str(version),
        "commit": head.revision.commit,
        "previous": previous,
        "bump": {"kind": bump, "reason": reason},
        "model": {"path": path, "md5": md5},
        "outputs": outputs,
        "metrics": head.metrics,
        "params": head.params,
        "gate": {
            "against": f"{artifact}@{previous}" if previous else None,
            "verdict": "pass" if result.passed else "fail",
            "rules": [
                {
                    "metric": o.metric or o.rule.key,
                    "file": o.path,
                    "base": o.base,
                    "head": o.head,
                    "status": o.status,
                }
                for o in result.outcomes
            ],
            "failed": [
                {"metric": o.metric or o.rule.key, "reason": o.reason} for o in result.failures
            ],
            "forced": forced,
        },
        "mlgate": __version__,
    }


def _message(record: dict[str, Any], message: str | None) -> str:
    lines = [f"Registering artifact {record['artifact']} version {record['version']}"]
    if message:
        lines += ["", message]
    lines += ["", f"Commit: {record['commit']}", f"Version: {record['bump']['reason']}"]
    gate = record["gate"]
    verdict = gate["verdict"].upper() + (" (released with --force)" if gate["forced"] else "")
    against = gate["against"] or "the policy's bounds (first release)"
    lines.append(f"Gate against {against}: {verdict}")
    for rule in gate["rules"]:
        was = f" (was {_short(rule['base'])})" if rule["base"] is not None else ""
        lines.append(
            f"  {escape.one_line(rule['metric'])} {_short(rule['head'])}{was}: {rule['status']}"
        )
    if record["model"]["md5"]:
        lines.append(f"Model: {record['model']['path']} md5 {record['model']['md5']}")
    body = json.dumps(record, indent=2, sort_keys=True)
    return "\n".join([*lines, "", RECORD_BEGIN, body, RECORD_END, ""])


def _short(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return show_number(value)  # as the gate's table shows it: 0.9340, not 0.934
    return show_value(value) if isinstance(value, (int, float)) else str(value)


def _describe(failures: tuple[Outcome, ...]) -> str:
    return "; ".join(f"{o.metric or o.rule.key}: {o.reason}" for o in failures)
