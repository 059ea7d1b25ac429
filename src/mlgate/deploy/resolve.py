"""Which model a reference names (``NAME@vX.Y.Z``, ``NAME#ENV#N``, ``NAME#ENV``, a model file
that dvc.lock records) and where its bytes come from: the workspace, DVC's cache (either
layout), or DVC's remote; every copy hashed against the recorded md5."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import dvcfiles, escape, git, valid
from mlgate.artifacts.card import models_with_cards
from mlgate.deploy.modelfile import check_model_file
from mlgate.errors import ConfigError, MlgateError, Refused
from mlgate.registry import tags
from mlgate.registry.lifecycle import parse_release_ref
from mlgate.registry.release import declared_artifact, read_record

_STAGE_REF = re.compile(r"^(?P<artifact>[^#@]+)#(?P<stage>[^#!]+)\Z")


_CHUNK = 1 << 20


@dataclass(frozen=True)
class Model:
    """What ``--model`` names, resolved to a file whose md5 is known before it is read."""

    ref: str
    artifact: str
    version: str  # vX.Y.Z, or "md5-<first 12>" for a file that no release names
    commit: str | None  # None: the workspace
    path: str  # the model file's path in the repository
    md5: str
    # For a model inside a directory output: every file of the directory (repository path ->
    # md5), from its verified manifest; the card and profile beside the model are read by it.
    companions: Mapping[str, str] = field(default_factory=dict)


def resolve(root: Path, ref: str, cwd: Path | None = None) -> Model:
    """``NAME@vX.Y.Z``, ``NAME#ENV#N``, ``NAME#ENV`` or a model file's path."""
    reg = tags.read_registry(root)
    tag = tags.parse_tag_name(ref)
    stage_ref = _STAGE_REF.match(ref)
    if tag is not None and tag.action == tags.ASSIGN and tags.tag_exists(root, ref):
        if ref in reg.ignored:  # anyone who can push a ref can push one of these
            raise Refused(
                f"{ref} is a lightweight tag, which is never a promotion (GTO and mlgate "
                "count annotated tags only: `mlgate promote` writes one): nothing was deployed"
            )
        commit = git.resolve_commit(f"refs/tags/{ref}", root)
        version = reg.artifact(tag.artifact).by_commit.get(commit)
        if version is None:
            raise Refused(
                f"{ref} points at {commit[:8]}, which no active release of {tag.artifact} names"
            )
        return _release(root, reg, ref, tag.artifact, version)
    if stage_ref is not None:  # NAME#ENV: the version there now
        artifact, stage = stage_ref["artifact"], stage_ref["stage"]
        version = reg.artifact(artifact).stages().get(stage)
        if version is None:
            raise Refused(f"no version of {artifact} is in {stage}")
        return _release(root, reg, ref, artifact, version)
    if tag is not None and tag.action == tags.ASSIGN:
        raise ConfigError(f"tag '{ref}' does not exist in this repository (fetch tags first?)")
    if "@" in ref and not Path(cwd or root, ref).exists():
        artifact, version = parse_release_ref(ref)
        return _release(root, reg, ref, artifact, version)
    return _workspace_file(root, reg, ref, cwd or root)


def _release(root: Path, reg: tags.Registry, ref: str, artifact: str, version: str) -> Model:
    state = reg.artifact(artifact)
    event = state.registrations.get(version)
    if event is None or version not in state.active:
        known = ", ".join(e.name.version or "" for e in state.versions()[:5]) or "none"
        raise Refused(f"{artifact}@{version} is not an active release (versions: {known})")
    record = read_record(event.message, event.tag)
    path, md5 = (record.model.path, record.model.md5) if record else (None, None)
    released = git.Revision(root, event.commit, ref)
    if not path or not md5:  # a release that another tool tagged: dvc.lock at its commit
        path, md5 = dvcfiles.artifact_file(released, artifact)
    if not path or not md5:
        raise Refused(
            f"{ref}: neither its release record nor dvc.lock at {event.commit[:8]} "
            "gives the model file's md5, so it cannot be verified"
        )
    # Anyone who can push a tag writes its record: the path must be an output dvc.lock records
    # at the release's commit (so inside the repository), and the md5 the one dvc.lock records
    # for it there, before anything is read from the cache, let alone loaded.
    recorded = dvcfiles.lock_outputs(dvcfiles.read_lock(released)).get(str(path))
    if recorded is None:
        raise Refused(
            f"{ref}: its release record names {escape.one_line(str(path))!r}, which is "
            f"not an output in dvc.lock at {event.commit[:8]}: nothing was copied"
        )
    if str(recorded.get("md5", "")).endswith(".dir"):
        return _in_directory(root, ref, artifact, version, event.commit, str(path), recorded)
    locked = valid.file_md5(recorded.get("md5"), what=f"dvc.lock at {event.commit[:8]}")
    if str(md5) != locked:
        raise Refused(
            f"{ref}: its release record names md5 {escape.one_line(str(md5))[:40]!r} for "
            f"{path}, but dvc.lock at {event.commit[:8]} records {locked}: the tag does not "
            "describe its commit, and nothing was read"
        )
    return Model(ref, artifact, version, event.commit, str(path), locked)


def _in_directory(
    root: Path,
    ref: str,
    artifact: str,
    version: str,
    commit: str,
    directory: str,
    recorded: dict[str, Any],
) -> Model:
    """A release whose model is a directory output: its ``.dir`` manifest, from DVC's local
    cache, must hash to the md5 dvc.lock records; the model is the one file in it with its
    card beside it, each with the md5 the manifest gives (checked again when copied)."""
    where = f"dvc.lock at {commit[:8]}"
    manifest_md5 = valid.md5(recorded.get("md5"), what=where)
    shown = escape.one_line(directory)
    record = dvcfiles.DvcRecord(dvcfiles.DVC_LOCK, directory, manifest_md5)
    files = dvcfiles.directory_files(root, record)
    if files is None:
        raise Refused(
            f"{ref}: the manifest of its model directory {shown!r} ({manifest_md5}) is not in "
            "DVC's local cache (`dvc fetch` or `dvc pull` it): nothing was copied"
        )
    models = models_with_cards(files)
    if len(models) != 1:
        raise Refused(
            f"{ref}: its model {shown!r} is a directory holding {len(models)} model files with "
            "a card beside them (NAME.pkl and NAME.json): mlgate deploys one, so declare that "
            "file as the artifact"
        )
    [model] = models
    return Model(ref, artifact, version, commit, model, files[model], companions=files)


def _workspace_file(root: Path, reg: tags.Registry, ref: str, cwd: Path) -> Model:
    # The path as the workspace has it: a link into DVC's cache (cache.type symlink) is not
    # followed, since dvc.lock records the workspace path.
    file = Path(os.path.abspath(cwd / ref))
    if not file.is_file():
        raise ConfigError(
            f"'{ref}' is neither a release (NAME@vX.Y.Z), a promotion "
            "(NAME#ENV#N, NAME#ENV) nor a model file"
        )
    try:
        path = file.relative_to(root).as_posix()
    except ValueError:
        raise Refused(
            f"{ref} is outside the repository: mlgate deploys only models whose md5 "
            "dvc.lock or a release records"
        ) from None
    workspace = git.revision(git.WORKSPACE, root)
    outputs = dvcfiles.lock_outputs(dvcfiles.read_lock(workspace))
    md5 = (outputs.get(path) or {}).get("md5")
    if not md5:
        raise Refused(
            f"{path} is not an output in dvc.lock: mlgate loads only models whose md5 "
            "dvc.lock or a release records (`dvc repro` it first)"
        )
    check_model_file(file, path)  # before it is copied anywhere
    artifacts = dvcfiles.read_declarations(workspace).artifacts
    named = [n for n, a in artifacts.items() if isinstance(a, dict) and a.get("path") == path]
    artifact = named[0] if named else (declared_artifact(root) or Path(path).stem)
    released = [
        e.name.version
        for e in reg.artifact(artifact).versions()
        if (record := read_record(e.message, e.tag)) and record.model.md5 == md5
    ]
    version = released[0] if released and released[0] else f"md5-{md5[:12]}"
    return Model(ref, artifact, version, None, path, md5)


def fetch(root: Path, model: Model, destination: Path) -> None:
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
        raise MlgateError(
            f"{where}: the model file is in neither the workspace, DVC's cache, "
            "git nor a DVC remote (`dvc pull` or `dvc push` it)"
        )
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
    return Refused(
        f"{where}: md5 {actual} is not the recorded {md5}: the file is not the one "
        "released or reproduced, and was not loaded"
    )


def companion(root: Path, model: Model, suffix: str) -> bytes | None:
    """A file the pipeline writes next to the model (``models/model.json`` is the card), from
    the release's commit or, for a model file, the workspace."""
    path = str(Path(model.path).with_suffix("")) + suffix
    if path in model.companions:  # inside the model's directory: the manifest's md5
        return _verified_companion(root, path, model.companions[path])
    if model.commit:
        return git.read_blobs(model.commit, [path], root).get(path)
    return (root / path).read_bytes() if (root / path).is_file() else None


def _verified_companion(root: Path, path: str, md5: str) -> bytes:
    """A file of the model's directory, from the workspace or DVC's cache, with the md5 its
    verified manifest records."""
    for source in (root / path, dvcfiles.cached_object(root, md5)):
        if source is not None and source.is_file():
            content = source.read_bytes()
            if hashlib.md5(content).hexdigest() == md5:
                return content
    raise Refused(
        f"{path}: no copy in the workspace or DVC's cache is the one its manifest records "
        f"(md5 {md5})"
    )
