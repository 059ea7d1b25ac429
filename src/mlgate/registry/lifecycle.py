"""What happens to a released version afterwards: promotion to environments, deprecation, and
reading a pushed tag back (for CI jobs that act on it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.errors import ConfigError, Refused
from mlgate.policy import Policy
from mlgate.registry import tags
from mlgate.registry.tags import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, TagName

# What GTO's check-ref calls each event.
EVENT_NAMES = {
    REGISTER: "registration",
    DEREGISTER: "deregistration",
    ASSIGN: "assignment",
    UNASSIGN: "unassignment",
    DEPRECATE: "deprecation",
}
_RELEASE_REF = re.compile(r"^(?P<artifact>.+)@(?P<version>v\S+)\Z")


@dataclass(frozen=True)
class PlannedTag:
    tag: str
    commit: str
    message: str
    artifact: str
    version: str
    stage: str | None = None


def parse_release_ref(ref: str) -> tuple[str, str]:
    """``NAME@vX.Y.Z`` -> (NAME, vX.Y.Z), or a ConfigError that shows the form."""
    match = _RELEASE_REF.match(ref)
    if not match:
        raise ConfigError(f"'{ref}' is not a release: write it as NAME@vX.Y.Z, e.g. model@v1.2.0")
    artifact = tags.check_name("artifact", match["artifact"])
    return artifact, str(tags.Version.parse(match["version"]))


def plan_promotion(root: Path, ref: str, environment: str, policy: Policy) -> PlannedTag | None:
    """The ``NAME#ENV#N`` tag that puts a version in ``environment``; None when it is already there."""
    artifact_name, version = parse_release_ref(ref)
    tags.check_name("environment", environment)
    if not policy.allows_environment(environment):
        allowed = sorted(set(policy.environments) | set(policy.promotion_order))
        raise Refused(
            f"unknown environment '{environment}': the policy allows {', '.join(allowed)}"
        )
    reg = tags.read_registry(root)
    artifact = reg.artifact(artifact_name)
    registration = _active_registration(artifact, version)
    if artifact.stages().get(environment) == version:
        return None
    before = policy.environment_before(environment)
    if before is not None and not artifact.was_assigned(version, before):
        raise Refused(
            f"{ref} has not been in {before}: the policy's promotion order is "
            f"{' -> '.join(policy.promotion_order)} (promote it to {before} first)"
        )
    name = TagName(
        artifact_name, ASSIGN, stage=environment, counter=reg.next_counter(artifact_name)
    )
    message = f"Assigning stage {environment} to artifact {artifact_name} version {version}\n"
    return PlannedTag(str(name), registration.commit, message, artifact_name, version, environment)


@dataclass(frozen=True)
class Published:
    """A tag made (and pushed, if asked), and the tags others pushed first meanwhile."""

    planned: PlannedTag
    taken: tuple[str, ...] = ()


def promote(
    root: Path, ref: str, environment: str, policy: Policy, *, push: bool, remote: str
) -> Published | None:
    """Put release ``ref`` in ``environment`` with its promotion tag; planned again from the
    fetched tags when another job pushed the counter first. None: it is there already."""
    first = plan_promotion(root, ref, environment, policy)
    if first is None:
        return None
    plans = iter([first])

    def plan() -> PlannedTag:
        planned = next(plans, None) or plan_promotion(root, ref, environment, policy)
        if planned is None:
            raise Refused(f"{ref} was put in {environment} by someone else meanwhile")
        return planned

    planned, taken = tags.publish(root, plan, push=push, remote=remote)
    return Published(planned, tuple(taken))


def auto_promote(
    root: Path, ref: str, commit: str, *, push: bool, remote: str
) -> tuple[str, Published | None] | None:
    """After release ``ref`` (made at ``commit``): promote it to the environment the policy at
    that commit names (``[tool.mlgate.retrain] auto_promote``). None when it names none; else
    the environment, and what was tagged (None: the release is there already)."""
    from mlgate.snapshot import read_policy

    policy = read_policy(git.revision(commit, root))
    environment = policy.retrain.auto_promote
    if not environment:
        return None
    return environment, promote(root, ref, environment, policy, push=push, remote=remote)


def deprecate(root: Path, ref: str, *, push: bool, remote: str) -> Published:
    planned, taken = tags.publish(
        root, lambda: plan_deprecation(root, ref), push=push, remote=remote
    )
    return Published(planned, tuple(taken))


def plan_deprecation(root: Path, ref: str) -> PlannedTag:
    """The GTO tag ``NAME@vX.Y.Z!#N`` that withdraws a version."""
    artifact_name, version = parse_release_ref(ref)
    reg = tags.read_registry(root)
    registration = _active_registration(reg.artifact(artifact_name), version)
    name = TagName(
        artifact_name, DEREGISTER, version=version, counter=reg.next_counter(artifact_name)
    )
    message = f"Deregistering artifact {artifact_name} version {version}\n"
    return PlannedTag(str(name), registration.commit, message, artifact_name, version)


def _active_registration(artifact: tags.Artifact, version: str) -> tags.Event:
    ref = f"{artifact.name}@{version}"
    if artifact.deprecated:
        raise Refused(f"{artifact.name} is deprecated")
    if version not in artifact.registrations:
        known = ", ".join(e.name.version or "" for e in artifact.versions()[:5]) or "none"
        raise Refused(f"{ref} is not a registered version (versions: {known})")
    if version not in artifact.active:
        raise Refused(f"{ref} is deprecated")
    return artifact.registrations[version]


def check_ref(root: Path, ref: str) -> dict[str, str | None]:
    """What a pushed registry tag means: artifact, version, event, stage (for CI)."""
    tag = ref.removeprefix("refs/tags/")
    name = tags.parse_tag_name(tag)
    if name is None:
        raise ConfigError(
            f"'{ref}' is not a registry tag (NAME@vX.Y.Z, NAME#ENV#N, NAME@vX.Y.Z!#N, NAME@deprecated#N)"
        )
    if not tags.tag_exists(root, tag):
        raise ConfigError(f"tag '{tag}' does not exist in this repository (fetch tags first?)")
    commit = git.resolve_commit(f"refs/tags/{tag}", root)
    artifact = tags.read_registry(root).artifact(name.artifact)
    version = name.version or artifact.by_commit.get(commit)
    return {
        "artifact": name.artifact,
        "version": version,
        "event": EVENT_NAMES[name.action],
        "stage": name.stage,
        "tag": tag,
        "commit": commit,
    }


def summary(reg: tags.Registry) -> list[dict[str, Any]]:
    """One row per artifact: its latest version and the version in each environment."""
    stages = reg.stage_names()
    rows: list[dict[str, Any]] = []
    for artifact in reg.artifacts():
        latest = artifact.latest()
        current = artifact.stages()
        rows.append(
            {
                "artifact": artifact.name,
                "latest": latest.name.version if latest else None,
                "stages": {stage: current.get(stage) for stage in stages},
            }
        )
    return rows


def versions(reg: tags.Registry, name: str) -> list[dict[str, Any]]:
    """Every version of ``name``, highest first, with its record's metrics and its stages."""
    from mlgate.artifacts.release_record import Record
    from mlgate.registry.release import read_record

    artifact = _known(reg, name)
    current = artifact.stages()
    rows: list[dict[str, Any]] = []
    for event in artifact.versions(include_deprecated=True):
        version = event.name.version
        record = read_record(event.message, event.tag) or Record()
        rows.append(
            {
                "version": version,
                "commit": event.commit,
                "created_at": event.created_at.isoformat(),
                "author": event.author,
                "active": version in artifact.active,
                "stages": sorted(s for s, v in current.items() if v == version),
                "metrics": record.metrics,
                "gated": {rule.metric: rule.head for rule in record.gate.rules},
                "gate": record.gate.verdict,
            }
        )
    return rows


def history(reg: tags.Registry, name: str) -> list[dict[str, Any]]:
    """Every event of ``name`` in time order."""
    artifact = _known(reg, name)
    return [
        {
            "created_at": event.created_at.isoformat(),
            "event": EVENT_NAMES[event.action],
            "version": artifact.version_of(event) if event.action != DEPRECATE else None,
            "stage": event.name.stage,
            "tag": event.tag,
            "commit": event.commit,
            "author": event.author,
        }
        for event in artifact.events
    ]


def _known(reg: tags.Registry, name: str) -> tags.Artifact:
    artifact = reg.artifact(name)
    if not artifact.events:
        known = ", ".join(a.name for a in reg.artifacts(include_deprecated=True)) or "none yet"
        raise ConfigError(f"no artifact named '{name}' in the registry (artifacts: {known})")
    return artifact
