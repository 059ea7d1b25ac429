"""The model registry kept in git tags, in GTO's grammar, so ``gto show`` and mlgate agree.

    NAME@vX.Y.Z        register a version          NAME@vX.Y.Z!#N   deregister (deprecate) it
    NAME#STAGE#N       assign a version to a stage NAME#STAGE!#N    unassign it
    NAME@deprecated#N  deprecate the whole artifact

Only annotated tags count (GTO ignores lightweight ones; so does mlgate, with a warning). Every
tag is read in one ``git for-each-ref`` pass over the tags that can match, so unrelated tags cost
almost nothing. Events are ordered by tag time, then by counter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, total_ordering
from pathlib import Path
from typing import Protocol, TypeVar

from mlgate import git
from mlgate.errors import ConfigError, GitError, Refused
from mlgate.names import NAME, NAME_RE, SEMVER
from mlgate.progress import SILENT, Progress

REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE = (
    "register",
    "deregister",
    "assign",
    "unassign",
    "deprecate",
)

_ARTIFACT = rf"(?:[a-zA-Z0-9\-_./]+=)?{NAME}"  # "dir:name" is written "dir=name" in tags
_SEMVER = SEMVER
TAG_RE = re.compile(
    rf"^(?P<artifact>{_ARTIFACT})"
    rf"(?:(?:#(?P<stage>{NAME})|@(?P<version>{_SEMVER}))(?P<cancel>!?)|@(?P<deprecated>deprecated))"
    r"(?:#(?P<counter>[0-9]+))?\Z"
)
VERSION_RE = re.compile(rf"^{_SEMVER}\Z")
# for-each-ref globs that every registry tag matches ("**/" lets names contain "/").
TAG_GLOBS = ("refs/tags/**/*@*", "refs/tags/**/*#*")
_FIELDS = (
    "%(refname:strip=2)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objectname)",
    "%(taggerdate:iso-strict)",
    "%(taggername)",
    "%(taggeremail:trim)",
    "%(contents)",
)


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version as GTO writes it: ``v1.2.3``, ``v1.2.3-rc.1``."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        match = VERSION_RE.match(text)
        if not match:
            raise ConfigError(
                f"'{text}' is not a version: write it as vMAJOR.MINOR.PATCH, e.g. v1.2.0"
            )
        pre = tuple(match["pre"].split(".")) if match["pre"] else ()
        return cls(
            int(match["major"]), int(match["minor"]), int(match["patch"]), pre, match["build"] or ""
        )

    def bump(self, part: str) -> Version:
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        text = f"v{self.major}.{self.minor}.{self.patch}"
        text += f"-{'.'.join(self.pre)}" if self.pre else ""
        return text + (f"+{self.build}" if self.build else "")

    def _key(self) -> tuple[object, ...]:
        # SemVer precedence: a pre-release sorts before its release; numeric parts numerically.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, not self.pre, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()


@dataclass(frozen=True)
class TagName:
    """What a registry tag's name says."""

    artifact: str
    action: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None

    def __str__(self) -> str:
        name = self.artifact.replace(":", "=")
        if self.action == DEPRECATE:
            text = f"{name}@deprecated"
        elif self.stage is not None:
            text = f"{name}#{self.stage}{'!' if self.action == UNASSIGN else ''}"
        else:
            text = f"{name}@{self.version}{'!' if self.action == DEREGISTER else ''}"
        return text if self.counter is None else f"{text}#{self.counter}"


def parse_tag_name(name: str) -> TagName | None:
    """The registry meaning of a tag name, or None when it is not a registry tag."""
    match = TAG_RE.match(name)
    if not match:
        return None
    counter = int(match["counter"]) if match["counter"] else None
    artifact = match["artifact"].replace("=", ":")
    cancel = match["cancel"] == "!"
    if match["deprecated"]:
        return TagName(artifact, DEPRECATE, counter=counter)
    if match["stage"]:
        return TagName(
            artifact, UNASSIGN if cancel else ASSIGN, stage=match["stage"], counter=counter
        )
    return TagName(
        artifact, DEREGISTER if cancel else REGISTER, version=match["version"], counter=counter
    )


def check_name(kind: str, name: str) -> str:
    """Artifact and environment names follow GTO's rule; say so when one does not."""
    if not NAME_RE.match(name):
        raise ConfigError(
            f"invalid {kind} name '{name}': letters, digits, '-', '_' and '/' only, "
            "starting and ending with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Event:
    """One annotated registry tag."""

    tag: str
    name: TagName
    commit: str
    created_at: datetime
    author: str
    author_email: str
    message: str

    @property
    def artifact(self) -> str:
        return self.name.artifact

    @property
    def action(self) -> str:
        return self.name.action

    @property
    def order(self) -> tuple[datetime, int]:
        return (self.created_at, self.name.counter or 0)


class Artifact:
    """One artifact's versions and stages, computed once from its events (oldest first)."""

    def __init__(self, name: str, events: list[Event]) -> None:
        self.name = name
        self.events = events
        self.registrations: dict[str, Event] = {}
        last_direct: dict[str, str] = {}
        for event in events:
            version = event.name.version
            if event.action in (REGISTER, DEREGISTER) and version:
                last_direct[version] = event.action
                if event.action == REGISTER:
                    self.registrations.setdefault(version, event)
        self.active = {v for v, action in last_direct.items() if action == REGISTER}
        self.by_commit = {e.commit: v for v, e in self.registrations.items() if v in self.active}
        self._any_by_commit = {e.commit: v for v, e in self.registrations.items()}

    @property
    def deprecated(self) -> bool:
        return bool(self.events) and self.events[-1].action == DEPRECATE

    def versions(self, *, include_deprecated: bool = False) -> list[Event]:
        """Registrations, highest version first; deregistered ones only if asked."""
        kept = self.registrations if include_deprecated else self.active
        return sorted(
            (self.registrations[v] for v in kept),
            key=lambda e: Version.parse(e.name.version or ""),
            reverse=True,
        )

    def latest(self) -> Event | None:
        versions = self.versions()
        return versions[0] if versions else None

    def version_of(self, event: Event) -> str:
        """The version an event is about; a stage tag names it by its commit, as in GTO."""
        if event.name.version:
            return event.name.version
        return self.by_commit.get(event.commit) or self._any_by_commit.get(
            event.commit, event.commit
        )

    def stages(self) -> dict[str, str]:
        """Each stage's current version: the newest assignment still in force."""
        state: dict[tuple[str, str], str] = {}
        newest: dict[str, list[tuple[Event, str]]] = {}
        for event in self.events:
            if event.name.stage is None:
                continue
            version = self.version_of(event)
            state[(event.name.stage, version)] = event.action
            if event.action == ASSIGN:
                newest.setdefault(event.name.stage, []).append((event, version))
        current = {}
        for stage, assignments in sorted(newest.items()):
            for _, version in reversed(assignments):
                deregistered = version in self.registrations and version not in self.active
                if state[(stage, version)] == ASSIGN and not deregistered:
                    current[stage] = version
                    break
        return current

    def was_assigned(self, version: str, stage: str) -> bool:
        """Whether ``version`` reached ``stage`` and was not taken back from it."""
        actions = [
            e.action for e in self.events if e.name.stage == stage and self.version_of(e) == version
        ]
        return bool(actions) and actions[-1] == ASSIGN


@dataclass(frozen=True)
class Registry:
    events: tuple[Event, ...]  # every annotated registry tag, oldest first
    counters: dict[str, int] = field(default_factory=dict)  # artifact -> highest counter
    ignored: tuple[str, ...] = ()  # lightweight tags that look like registry tags

    @cached_property
    def _artifacts(self) -> dict[str, Artifact]:
        grouped: dict[str, list[Event]] = {}
        for event in self.events:
            grouped.setdefault(event.artifact, []).append(event)
        return {name: Artifact(name, events) for name, events in sorted(grouped.items())}

    def artifact(self, name: str) -> Artifact:
        return self._artifacts.get(name) or Artifact(name, [])

    def artifacts(self, *, include_deprecated: bool = False) -> list[Artifact]:
        return [a for a in self._artifacts.values() if include_deprecated or not a.deprecated]

    def stage_names(self) -> list[str]:
        return sorted({e.name.stage for e in self.events if e.name.stage})

    def next_counter(self, artifact: str) -> int:
        return self.counters.get(artifact, 0) + 1


def read_registry(root: Path) -> Registry:
    """Every registry tag of the repository at ``root``, in one git call."""
    output = git.run_git(
        "for-each-ref", "--format=" + "%00".join(_FIELDS) + "%00", *TAG_GLOBS, cwd=root
    )
    fields = output.split("\0")
    events: list[Event] = []
    ignored: list[str] = []
    counters: dict[str, int] = {}
    width = len(_FIELDS)
    for start in range(0, len(fields) - width + 1, width):
        record = fields[start : start + width]
        tag, objecttype, objectname, peeled, date, tagger, email, contents = record
        tag = tag.lstrip("\n")
        name = parse_tag_name(tag)
        if name is None:
            continue
        if name.counter is not None:
            counters[name.artifact] = max(counters.get(name.artifact, 0), name.counter)
        if objecttype != "tag":
            ignored.append(tag)
            continue
        events.append(
            Event(
                tag,
                name,
                peeled or objectname,
                datetime.fromisoformat(date),
                tagger,
                email.strip("<>"),
                contents,
            )
        )
    events.sort(key=lambda e: e.order)
    return Registry(tuple(events), counters, tuple(ignored))


def tag_exists(root: Path, name: str) -> bool:
    try:
        git.run_git("show-ref", "--verify", "--quiet", f"refs/tags/{name}", cwd=root)
    except GitError:
        return False
    return True


def create_tag(root: Path, name: str, commit: str, message: str) -> None:
    """An annotated tag; git itself refuses, creating nothing, when the name is taken."""
    git.run_git(
        "tag", "-a", "--cleanup=verbatim", "-F", "-", name, commit, cwd=root, input=message.encode()
    )


def delete_tag(root: Path, name: str) -> None:
    git.run_git("tag", "-d", name, cwd=root)


def push_tag(root: Path, name: str, remote: str = "origin") -> None:
    """Push just this tag; raises GitError (with git's reason) when the remote refuses it."""
    git.run_git("push", "--quiet", remote, f"refs/tags/{name}:refs/tags/{name}", cwd=root)


def fetch_tags(root: Path, remote: str = "origin") -> None:
    git.run_git("fetch", "--quiet", remote, "refs/tags/*:refs/tags/*", cwd=root)


class PlannedTag(Protocol):
    @property
    def tag(self) -> str: ...
    @property
    def commit(self) -> str: ...
    @property
    def message(self) -> str: ...


Planned = TypeVar("Planned", bound=PlannedTag)
PUSH_ATTEMPTS = 5


def publish(
    root: Path,
    plan: Callable[[], Planned],
    *,
    push: bool = False,
    remote: str = "origin",
    progress: Progress = SILENT,
) -> tuple[Planned, list[str]]:
    """Create the tag ``plan()`` decides on, and push it if asked.

    When the remote already has that tag (another job made it first), the local one is deleted,
    the remote's tags are fetched and ``plan()`` decides again, up to PUSH_ATTEMPTS times.
    Returns what was tagged and the tags others took meanwhile. A failure leaves no tag behind.
    """
    taken: list[str] = []
    for _ in range(PUSH_ATTEMPTS if push else 1):
        progress.step(f"planning again: {taken[-1]} was taken" if taken else "planning the tag")
        planned = plan()
        if tag_exists(root, planned.tag):
            raise Refused(f"tag {planned.tag} already exists")
        create_tag(root, planned.tag, planned.commit, planned.message)
        if not push:
            return planned, taken
        try:
            progress.step(f"pushing {planned.tag} to {remote}")
            push_tag(root, planned.tag, remote)
            return planned, taken
        except GitError as exc:
            delete_tag(root, planned.tag)
            if not _taken_on_remote(root, planned.tag, remote):
                raise GitError(f"pushing {planned.tag} failed, so it was not kept: {exc}") from None
            taken.append(planned.tag)
    raise GitError(f"{remote} kept taking the tag first ({', '.join(taken)}): try again")


def _taken_on_remote(root: Path, tag: str, remote: str) -> bool:
    try:
        fetch_tags(root, remote)
    except GitError:
        return False
    return tag_exists(root, tag)
