"""Releases: an annotated ``NAME@vX.Y.Z`` tag whose annotation records what was released.

A release is refused (nothing is tagged) on a dirty worktree, a stale pipeline, a version or
commit already released, or a gate failure against the previous release unless forced. With
``push``, a tag that another job pushed first is met by fetching the tags, planning again and
retrying, a bounded number of times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import __version__, defaults, dvcfiles, escape, git
from mlgate.artifacts import release_record
from mlgate.artifacts.card import card_path, models_with_cards, parse_card
from mlgate.artifacts.release_record import Record
from mlgate.errors import ConfigError, Refused
from mlgate.gate import compare, ranking
from mlgate.gate.judge import GateResult, Outcome, evaluate, show_number, show_value
from mlgate.progress import SILENT, Progress
from mlgate.registry import tags
from mlgate.registry.tags import Version
from mlgate.snapshot import Snapshot, read_policy, read_snapshot

BUMPS = defaults.BUMPS
FIRST_VERSION = Version(0, 1, 0)


@dataclass(frozen=True)
class Release:
    artifact: str
    version: Version
    commit: str
    previous: str | None  # the version released before, e.g. "v0.1.0"
    bump: str  # major, minor, patch, first or given
    reason: str
    record: Record
    message: str

    @property
    def tag(self) -> str:
        return str(tags.TagName(self.artifact, tags.REGISTER, version=str(self.version)))


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
    tags.check_name("artifact", artifact)
    refuse_uncommitted(root)
    _refuse_stale(root)
    commit = git.resolve_commit("HEAD", root)
    state = tags.read_registry(root).artifact(artifact)
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
    latest = tags.read_registry(root).artifact(artifact).latest()
    record = read_record(latest.message) if latest else None
    released_md5 = record.model.md5 if record else None
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
    progress: Progress = SILENT,
) -> Released:
    """Plan, tag and (optionally) push; on a push race, fetch tags and plan again."""
    planned, taken = tags.publish(
        root,
        lambda: plan(root, artifact, bump, version, force=force, message=message),
        push=push,
        remote=remote,
        progress=progress,
    )
    return Released(planned, pushed=push, taken=tuple(taken))


def read_record(message: str, where: str = "a release tag") -> Record | None:
    """The release record of an annotation (None for tags mlgate did not make)."""
    return release_record.read(message, where)


def _gate_against(root: Path, latest: tags.Event | None) -> tuple[Snapshot, GateResult]:
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
    state: tags.Artifact,
    latest: tags.Event | None,
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
    improved = [o for o in result.outcomes if ranking.improved(o)]
    if improved:
        names = ", ".join(o.metric or o.rule.key for o in improved)
        return current.bump("minor"), "minor", f"gated metrics improved: {names}"
    return current.bump("patch"), "patch", "no gated metric improved, same input signature"


def _signature(root: Path, artifact: str, commit: str) -> list[tuple[str, str]] | None:
    """Feature names and types from the model card next to the artifact (None: no card)."""
    revision = git.Revision(root, commit, commit[:8])
    path = dvcfiles.artifact_path(revision, artifact)
    if path is None:
        return None
    where = card_path(path)
    content = revision.read_one(where)
    record = dvcfiles.dvc_record(revision, path) if content is None else None
    if record is not None and (record.md5 or "").endswith(".dir"):  # a directory artifact
        files = dvcfiles.directory_files(root, record) or {}
        models = models_with_cards(files)
        if len(models) == 1:
            where = card_path(models[0])
            content = dvcfiles.read_cached(root, record, where)
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
) -> Record:
    outputs = dvcfiles.lock_outputs(dvcfiles.read_lock(head.revision))
    path, md5 = dvcfiles.artifact_file(head.revision, artifact, outputs)
    if path is not None and not md5:
        raise Refused(
            f"dvc.yaml's artifact {artifact} is {escape.one_line(path)!r}, but no stage in "
            "dvc.lock writes it, so its md5 is unknown and no deploy could verify it: declare "
            "a stage's output (and `dvc repro`)"
        )
    return Record(
        artifact=artifact,
        version=str(version),
        commit=head.revision.commit,
        previous=previous,
        bump=release_record.Bump(kind=bump, reason=reason),
        model=release_record.ModelFile(path=path, md5=md5),
        outputs=outputs,
        metrics=head.metrics,
        params=head.params,
        gate=release_record.Gate(
            against=f"{artifact}@{previous}" if previous else None,
            verdict="pass" if result.passed else "fail",
            rules=tuple(
                release_record.RuleResult(
                    metric=o.metric or o.rule.key,
                    file=o.path,
                    base=o.base,
                    head=o.head,
                    status=o.status,
                )
                for o in result.outcomes
            ),
            failed=tuple(
                release_record.Failure(metric=o.metric or o.rule.key, reason=o.reason)
                for o in result.failures
            ),
            forced=forced,
        ),
        mlgate=__version__,
    )


def _message(record: Record, message: str | None) -> str:
    lines = [f"Registering artifact {record.artifact} version {record.version}"]
    if message:
        lines += ["", message]
    lines += ["", f"Commit: {record.commit}", f"Version: {record.bump.reason}"]
    gate = record.gate
    verdict = (gate.verdict or "").upper() + (" (released with --force)" if gate.forced else "")
    against = gate.against or "the policy's bounds (first release)"
    lines.append(f"Gate against {against}: {verdict}")
    for rule in gate.rules:
        was = f" (was {_short(rule.base)})" if rule.base is not None else ""
        lines.append(f"  {escape.one_line(rule.metric)} {_short(rule.head)}{was}: {rule.status}")
    if record.model.md5:
        lines.append(f"Model: {record.model.path} md5 {record.model.md5}")
    return "\n".join([*lines, "", release_record.block(record)])


def _short(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return show_number(value)  # as the gate's table shows it: 0.9340, not 0.934
    return show_value(value) if isinstance(value, (int, float)) else str(value)


def _describe(failures: tuple[Outcome, ...]) -> str:
    return "; ".join(f"{o.metric or o.rule.key}: {o.reason}" for o in failures)
