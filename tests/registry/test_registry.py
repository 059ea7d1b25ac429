"""The tag registry: GTO's grammar, versions, stages, read from real git tags in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import git, tag_at
from mlgate.errors import ConfigError
from mlgate.registry.tags import (
    ASSIGN,
    DEPRECATE,
    DEREGISTER,
    REGISTER,
    UNASSIGN,
    TagName,
    Version,
    parse_tag_name,
    read_registry,
)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("model@v1.2.3", TagName("model", REGISTER, version="v1.2.3")),
        ("model@v1.2.3#4", TagName("model", REGISTER, version="v1.2.3", counter=4)),
        ("model@v1.0.0-rc.1+build.5", TagName("model", REGISTER, version="v1.0.0-rc.1+build.5")),
        ("model@v1.2.3!#7", TagName("model", DEREGISTER, version="v1.2.3", counter=7)),
        ("model#prod#2", TagName("model", ASSIGN, stage="prod", counter=2)),
        ("model#prod!#3", TagName("model", UNASSIGN, stage="prod", counter=3)),
        ("model@deprecated#9", TagName("model", DEPRECATE, counter=9)),
        ("nn/fraud_v2#staging#1", TagName("nn/fraud_v2", ASSIGN, stage="staging", counter=1)),
        ("models=nn@v0.1.0", TagName("models:nn", REGISTER, version="v0.1.0")),
    ],
)
def test_gto_tag_names_parse_and_print_back(tag: str, expected: TagName) -> None:
    assert parse_tag_name(tag) == expected
    assert str(expected) == tag


@pytest.mark.parametrize(
    "tag",
    [
        "v1.0.0",
        "model@1.0.0",
        "model@v1.0",
        "model@v01.0.0",
        "-model@v1.0.0",
        "model#",
        "release-2024",
    ],
)
def test_other_tags_are_not_registry_tags(tag: str) -> None:
    assert parse_tag_name(tag) is None


def test_versions_sort_by_semver_precedence() -> None:
    texts = ["v1.10.0", "v1.0.0", "v1.0.0-rc.1", "v1.0.0-rc.10", "v1.0.0-beta", "v1.2.0", "v0.9.9"]
    ordered = [str(v) for v in sorted(Version.parse(t) for t in texts)]
    assert ordered == [
        "v0.9.9",
        "v1.0.0-beta",
        "v1.0.0-rc.1",
        "v1.0.0-rc.10",
        "v1.0.0",
        "v1.2.0",
        "v1.10.0",
    ]
    assert str(Version.parse("v1.4.2").bump("minor")) == "v1.5.0"
    assert str(Version.parse("v1.4.2").bump("major")) == "v2.0.0"


def test_a_bad_version_says_how_to_write_one() -> None:
    with pytest.raises(
        ConfigError, match=r"'1\.2' is not a version: write it as vMAJOR\.MINOR\.PATCH"
    ):
        Version.parse("1.2")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    for n in range(3):
        (root / "file.txt").write_text(str(n))
        git(root, "add", "file.txt")
        git(root, "commit", "-q", "-m", f"commit {n}")
        git(root, "tag", f"c{n}")
    return root


def test_registry_reads_annotated_tags_and_ignores_the_rest(repo: Path) -> None:
    tag_at(repo, "model@v0.1.0", "c0", 1)
    tag_at(repo, "nested/model@v0.1.0", "c0", 2)
    tag_at(repo, "model#prod#1", "c0", 3)
    git(repo, "tag", "model#prod#5", "c1")  # lightweight: GTO ignores it, but its counter counts
    git(repo, "tag", "-a", "-m", "unrelated", "release-2024", "c2")
    reg = read_registry(repo)
    assert [e.tag for e in reg.events] == ["model@v0.1.0", "nested/model@v0.1.0", "model#prod#1"]
    assert reg.ignored == ("model#prod#5",)
    assert reg.next_counter("model") == 6
    assert [a.name for a in reg.artifacts()] == ["model", "nested/model"]
    assert reg.artifact("model").stages() == {"prod": "v0.1.0"}
    assert reg.events[0].commit == git(repo, "rev-parse", "c0")


def test_stages_follow_the_newest_assignment_still_in_force(repo: Path) -> None:
    tag_at(repo, "model@v0.1.0", "c0", 1)
    tag_at(repo, "model@v0.2.0", "c1", 2)
    tag_at(repo, "model@v0.3.0", "c2", 3)
    tag_at(repo, "model#prod#1", "c0", 4)
    tag_at(repo, "model#prod#2", "c1", 5)
    tag_at(repo, "model#staging#3", "c2", 6)
    artifact = read_registry(repo).artifact("model")
    assert artifact.stages() == {"prod": "v0.2.0", "staging": "v0.3.0"}
    assert artifact.latest().name.version == "v0.3.0"

    tag_at(repo, "model#prod!#4", "c1", 7)  # v0.2.0 taken out of prod: v0.1.0 is there again
    tag_at(repo, "model@v0.3.0!#5", "c2", 8)  # v0.3.0 deregistered: out of staging and latest
    artifact = read_registry(repo).artifact("model")
    assert artifact.stages() == {"prod": "v0.1.0"}
    assert artifact.latest().name.version == "v0.2.0"
    assert not artifact.was_assigned("v0.2.0", "prod")
    assert artifact.was_assigned("v0.1.0", "prod")


def test_a_deprecated_artifact_is_hidden(repo: Path) -> None:
    tag_at(repo, "model@v0.1.0", "c0", 1)
    tag_at(repo, "other@v0.1.0", "c0", 2)
    tag_at(repo, "model@deprecated#1", "c0", 3)
    reg = read_registry(repo)
    assert [a.name for a in reg.artifacts()] == ["other"]
    assert reg.artifact("model").deprecated
